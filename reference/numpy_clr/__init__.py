"""Reference of the numpy-clr assignment: a two-layer network in column-major numpy, trained by
mini-batch gradient descent with a cyclical (triangular) learning rate.

Conventions (the handout's): ``X`` is ``d x n`` (one image per column), ``Y`` one-hot ``K x n``,
``y`` the ``n`` integer labels, ``W1`` ``m x d``, ``b1`` ``m x 1``, ``W2`` ``K x m``, ``b2`` ``K x 1``.
"""

from reference.numpy_clr.network import (
    GRADIENT_NAMES,
    Weights,
    compute_accuracy,
    compute_cost,
    compute_gradients,
    compute_grads_num_slow,
    evaluate_classifier,
    init_weights,
    one_hot,
)
from reference.numpy_clr.training import HISTORY_KEYS, TrainParams, cyclical_eta, mini_batch_gd

__all__ = [
    "GRADIENT_NAMES",
    "HISTORY_KEYS",
    "TrainParams",
    "Weights",
    "compute_accuracy",
    "compute_cost",
    "compute_gradients",
    "compute_grads_num_slow",
    "cyclical_eta",
    "evaluate_classifier",
    "init_weights",
    "mini_batch_gd",
    "one_hot",
]
