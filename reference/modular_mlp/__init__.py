"""Reference solution of the ``modular-mlp`` assignment (trusted side only, never in a sandbox).

- ``modules``: numpy layers with ``forward``/``backward`` (Linear, ELU, ReLU, SoftMax, CrossEntropy);
- ``mlp_numpy``: the modular numpy MLP, one SGD step, training on a prepared data folder;
- ``mlp_pytorch``: the same network in PyTorch, optionally with batch normalisation;
- ``custom_batchnorm``: batch normalisation through autograd and with a hand-written backward;
- ``data``: the data folder the students' ``train`` reads (prepared by the grader from CIFAR-10);
- ``toy``: the small problems and the numbers the handout publishes.
"""
