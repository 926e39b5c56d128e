"""Trusted reference of the ``torch-backprop`` assignment: manual backpropagation and SGD in PyTorch.

Modules: ``net`` (``MyNet``, the activations and their derivatives, the squared-error loss and
``backpropagation``), ``training`` (``train_manual_update`` with ``torch.optim.SGD`` semantics,
``train`` with a ``torch.optim`` optimizer, data loaders) and ``cifar2`` (the airplane-vs-bird
subset of CIFAR-10, its normalisation and split, and accuracy from a network's arrays).
Everything runs in float64.
"""
