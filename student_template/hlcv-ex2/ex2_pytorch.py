"""hlcv-ex2, part 2: a multi-layer perceptron in PyTorch.

Fill in every block marked TODO (delete the ``raise NotImplementedError`` line
when you do). Importing this file must not train anything or load any data:
put experiments in a notebook or under ``if __name__ == "__main__":``.
"""

# The skeleton names values for your code to use; until the TODOs are filled they are unused.
# ruff: noqa: F841

import numpy as np
import torch
from torch import nn


class MultiLayerPerceptron(nn.Module):
    """Linear, ReLU, Linear, ReLU, ..., Linear.

    ``MultiLayerPerceptron(input_size, hidden_layers, num_classes)`` where
    ``hidden_layers`` is a list of hidden widths, e.g. ``[50]`` or ``[256, 128]``;
    an empty list gives a single Linear layer. ``forward`` returns the logits
    (no softmax: ``nn.CrossEntropyLoss`` applies it).

    Create the layers in the order they are applied, so that ``parameters()``
    yields weight, bias of the first Linear, then of the second, and so on:
    the grader loads weights by this order.
    """

    def __init__(self, input_size, hidden_layers, num_classes):
        super().__init__()
        # ---------------------------------------------------------------------------
        # TODO: create the layers (nn.Linear, nn.ReLU; nn.Sequential may help).
        # ---------------------------------------------------------------------------
        raise NotImplementedError("TODO: build the layers in MultiLayerPerceptron.__init__")

    def forward(self, x):
        """Logits of shape (N, num_classes) for inputs x of shape (N, input_size)."""
        # ---------------------------------------------------------------------------
        # TODO: apply the layers.
        # ---------------------------------------------------------------------------
        raise NotImplementedError("TODO: MultiLayerPerceptron.forward")


def train_mlp(
    model,
    X_train,
    y_train,
    X_val,
    y_val,
    epochs,
    batch_size,
    learning_rate,
    weight_decay=0.0,
    optimizer="adam",
    seed=0,
):
    """Train ``model`` in place with minibatches and nn.CrossEntropyLoss.

    Inputs:
    - model: a MultiLayerPerceptron.
    - X_train, y_train: numpy arrays (N, D) and (N,) of training data and labels.
    - X_val, y_val: validation data and labels.
    - epochs: passes over the training data.
    - batch_size: samples per step.
    - learning_rate, weight_decay: passed to the optimizer.
    - optimizer: "adam" (torch.optim.Adam) or "sgd" (torch.optim.SGD);
      anything else raises ValueError.
    - seed: seeds the shuffling.

    Returns a dict with ``loss_history`` (the loss of every step, as floats)
    and ``val_acc_history`` (the validation accuracy after every epoch).
    """
    # GIVEN: seeding and one permutation per epoch, so that runs are reproducible.
    torch.manual_seed(seed)
    X_train = torch.as_tensor(np.asarray(X_train), dtype=torch.float32)
    y_train = torch.as_tensor(np.asarray(y_train), dtype=torch.long)
    X_val = torch.as_tensor(np.asarray(X_val), dtype=torch.float32)
    y_val = torch.as_tensor(np.asarray(y_val), dtype=torch.long)

    # ---------------------------------------------------------------------------
    # TODO: create the loss (nn.CrossEntropyLoss) and the optimizer chosen by
    # ``optimizer`` with ``learning_rate`` and ``weight_decay``.
    # ---------------------------------------------------------------------------
    raise NotImplementedError("TODO: train_mlp: create the loss and the optimizer")

    loss_history = []
    val_acc_history = []
    for _ in range(epochs):
        model.train()
        order = torch.randperm(len(X_train))
        for start in range(0, len(order), batch_size):
            batch = order[start : start + batch_size]
            X_batch, y_batch = X_train[batch], y_train[batch]
            # -----------------------------------------------------------------------
            # TODO: one training step on X_batch, y_batch: zero the
            # gradients, forward, loss, backward, optimizer step; append the
            # loss (a float, e.g. loss.item()) to loss_history.
            # -----------------------------------------------------------------------
            raise NotImplementedError("TODO: train_mlp: one training step")

        # -----------------------------------------------------------------------
        # TODO: switch to model.eval() and, without tracking gradients, append the
        # accuracy on (X_val, y_val) to val_acc_history.
        # -----------------------------------------------------------------------
        raise NotImplementedError("TODO: train_mlp: validation accuracy")

    return {"loss_history": loss_history, "val_acc_history": val_acc_history}
