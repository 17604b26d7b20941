"""chainer.review"""
