"""Make the data folder that both train functions read, from the CIFAR-10 python release.

    python prepare_data.py path/to/cifar-10-batches-py cifar_folder

Writes X_train/y_train (the first 45,000 training images), X_val/y_val (the last 5,000) and
X_test/y_test (the test batch) as .npy files: float32 rows of 3072 values in (row, column, channel)
order, minus the mean training image, divided by the standard deviation of all training pixels.
This is exactly what the grader gives your code (without the test files).
"""

import os
import pickle
import sys

import numpy as np


def read_batch(path):
    with open(path, "rb") as handle:
        batch = pickle.load(handle, encoding="bytes")  # your own download: trusted
    images = np.asarray(batch[b"data"], dtype=np.float64).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return images.reshape(len(images), -1), np.asarray(batch[b"labels"], dtype=np.int64)


def main(release, out):
    parts = [read_batch(os.path.join(release, f"data_batch_{i}")) for i in range(1, 6)]
    x_all = np.concatenate([x for x, _ in parts])
    y_all = np.concatenate([y for _, y in parts])
    x_test, y_test = read_batch(os.path.join(release, "test_batch"))
    n_train = len(y_all) - len(y_all) // 10
    mean = x_all[:n_train].mean(axis=0)
    scale = (x_all[:n_train] - mean).std()
    os.makedirs(out, exist_ok=True)
    arrays = {
        "X_train": x_all[:n_train],
        "y_train": y_all[:n_train],
        "X_val": x_all[n_train:],
        "y_val": y_all[n_train:],
        "X_test": x_test,
        "y_test": y_test,
    }
    for name, array in arrays.items():
        if name.startswith("X"):
            array = ((array - mean) / scale).astype(np.float32)
        np.save(os.path.join(out, name + ".npy"), array)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
