"""The handout's small problems. The published numbers live in the handout's README and in
``grader/assignments/modular_mlp``'s ``check_reference``; tests reproduce them independently."""

from __future__ import annotations

import numpy as np
import torch

from reference.modular_mlp.mlp_numpy import MLP

#: ``np.random.seed(INIT_SEED); LinearModule(3072, 128, input_layer=True)`` and ``input_layer=False``.
INIT_SEED = 42
INIT_SHAPE = (3072, 128)

#: The toy MLP: ``np.random.seed(0); MLP(4, [5], 3)``; data ``np.random.seed(1); X = randn(6, 4)``.
TOY_SIZES = (4, [5], 3)
TOY_LABELS = np.array([0, 1, 2, 0, 1, 2])

#: Batch-norm toy input: feature j of sample i is (i + 1) * (j + 1); gamma ones, beta zeros.
BN_TOY = np.array([[(i + 1.0) * (j + 1.0) for j in range(3)] for i in range(4)])


def toy_mlp() -> MLP:
    """The toy network, drawn as the handout says."""
    np.random.seed(0)
    return MLP(*TOY_SIZES)


def toy_data() -> tuple[np.ndarray, np.ndarray]:
    np.random.seed(1)
    return np.random.randn(6, 4), TOY_LABELS.copy()


def bn_toy_tensor() -> torch.Tensor:
    return torch.tensor(BN_TOY, dtype=torch.float64)
