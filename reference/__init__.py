"""Trusted reference implementation for the ``hlcv-ex2`` assignment.

Modules: ``two_layernet`` (numpy network, loss, gradients, SGD with momentum),
``gradcheck`` (numerical gradients, relative error), ``toy`` (the published toy
problem and a self-check), ``mlp`` (PyTorch multi-layer perceptron) and
``cifar10`` (loader for the local CIFAR-10 release). Torch is imported only by
``reference.mlp``, so the numpy parts stay light.
"""
