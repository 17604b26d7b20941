"""chainer.run"""
