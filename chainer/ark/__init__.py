"""chainer.ark"""
