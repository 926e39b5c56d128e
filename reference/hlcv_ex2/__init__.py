"""Reference of the ``hlcv-ex2`` pack: ``two_layernet`` (numpy network, loss, gradients, SGD with
momentum), ``toy`` (the published toy problem and a self-check) and ``mlp`` (the PyTorch MLP). Torch
is imported only by ``mlp``, so the numpy parts stay light."""
