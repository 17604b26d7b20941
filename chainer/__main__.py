from chainer.cli.main import main

main()
