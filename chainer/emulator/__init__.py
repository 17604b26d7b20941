"""chainer.emulator"""
