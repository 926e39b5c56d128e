"""Random inputs for the checks, computed on the trusted side (numpy only, no side effects on import)."""

from __future__ import annotations

import numpy as np


def random_problem(
    seed: int, n: int, d: int, h: int, c: int, scale: float = 1.0
) -> tuple[dict, np.ndarray, np.ndarray]:
    """Random weights, inputs and labels for a network of the given sizes (trusted side)."""
    rng = np.random.default_rng(seed)
    params = {
        "W1": rng.normal(0, 0.5, (d, h)),
        "b1": rng.normal(0, 0.1, h),
        "W2": rng.normal(0, 0.5, (h, c)),
        "b2": rng.normal(0, 0.1, c),
    }
    X = scale * rng.normal(0, 1, (n, d))
    y = rng.integers(0, c, n)
    # Every class present, so no gradient row is trivially zero.
    y[:c] = np.arange(c)
    return params, X, y
