import numpy as np


def evaluate_classifier(X, W1, b1, W2, b2):
    return np.zeros((W1.shape[0], 1_000_000)), np.zeros((W2.shape[0], X.shape[1]))


def compute_gradients(X, Y, H, P, W1, W2, lam):
    nested = []
    for _ in range(10_000):
        nested = [nested]
    return nested, nested, nested, nested


def cyclical_eta(t, eta_min, eta_max, n_s):
    return np.zeros(9_000_000)
