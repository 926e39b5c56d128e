"""hlcv-ex2, part 1: a two-layer fully connected network in numpy.

Network::

    z2 = X W1 + b1        W1: (D, H)   b1: (H,)
    a2 = relu(z2)
    z3 = a2 W2 + b2       W2: (H, C)   b2: (C,)
    p  = softmax(z3)      row-wise
    J  = mean_i(-log p[i, y_i]) + reg * (sum(W1**2) + sum(W2**2))

The regulariser has no 1/2, so its gradient is 2 * reg * W.

Fill in every block marked TODO (delete the ``raise NotImplementedError`` line
when you do). Code marked GIVEN must stay as it is: the grader replays your
training with a fixed random seed and compares it with the reference step by
step, which only works if the random draws happen in the same order.
Use numpy only, and no Python loop over the samples.
"""

# The skeleton names values for your code to use; until the TODOs are filled they are unused.
# ruff: noqa: F841

import numpy as np


def sgd_momentum_step(params, grads, velocity, learning_rate, momentum):
    """One step of stochastic gradient descent with momentum, in place.

    For every key k of ``params``::

        velocity[k] = momentum * velocity[k] - learning_rate * grads[k]
        params[k]   = params[k] + velocity[k]

    Inputs:
    - params: dict of parameter arrays (updated in place).
    - grads: dict of gradients, same keys and shapes as params.
    - velocity: dict of velocities, same keys and shapes (updated in place).
    - learning_rate, momentum: floats.

    Returns nothing.
    """
    # ---------------------------------------------------------------------------
    # TODO: update velocity[k] and params[k] for every key k, as above.
    # ---------------------------------------------------------------------------
    raise NotImplementedError("TODO: sgd_momentum_step: velocity and parameter update")


class TwoLayerNet:
    """Input - fully connected - ReLU - fully connected - softmax."""

    def __init__(self, input_size, hidden_size, output_size, std=1e-4):
        """GIVEN. Small random weights (W1 drawn before W2) and zero biases.

        Inputs:
        - input_size: the dimension D of the input data.
        - hidden_size: the number of neurons H in the hidden layer.
        - output_size: the number of classes C.
        - std: scale of the initial weights.
        """
        self.params = {}
        self.params["W1"] = std * np.random.randn(input_size, hidden_size)
        self.params["b1"] = np.zeros(hidden_size)
        self.params["W2"] = std * np.random.randn(hidden_size, output_size)
        self.params["b2"] = np.zeros(output_size)

    def loss(self, X, y=None, reg=0.0):
        """Class probabilities, or the loss and its gradients.

        Inputs:
        - X: array of shape (N, D), one sample per row.
        - y: array of shape (N,) with integer labels in [0, C), or None.
        - reg: regularisation strength.

        Returns:
        - if y is None: the probabilities, an array of shape (N, C);
        - otherwise a tuple (loss, grads): the loss as a float and a dict
          with the gradients of the loss for W1, b1, W2, b2 (same shapes as
          self.params).
        """
        W1, b1 = self.params["W1"], self.params["b1"]
        W2, b2 = self.params["W2"], self.params["b2"]
        N, D = X.shape

        # ---------------------------------------------------------------------------
        # TODO 1: forward pass. Compute the class probabilities ``probs``, shape (N, C).
        # Make the softmax numerically stable: subtract each row's maximum first.
        # ---------------------------------------------------------------------------
        probs = None
        raise NotImplementedError("TODO: forward pass in TwoLayerNet.loss")

        if y is None:
            return probs

        # ---------------------------------------------------------------------------
        # TODO 2: loss. Mean cross-entropy over the N samples plus
        # reg * (sum(W1**2) + sum(W2**2)).
        # ---------------------------------------------------------------------------
        loss = None
        raise NotImplementedError("TODO: loss in TwoLayerNet.loss")

        # ---------------------------------------------------------------------------
        # TODO 3: backward pass. Fill grads["W1"], grads["b1"], grads["W2"],
        # grads["b2"] with the gradients of the loss above (remember 2 * reg * W).
        # ---------------------------------------------------------------------------
        grads = {}
        raise NotImplementedError("TODO: backward pass in TwoLayerNet.loss")

        return loss, grads

    def train(
        self,
        X,
        y,
        X_val,
        y_val,
        learning_rate=1e-3,
        learning_rate_decay=0.95,
        reg=5e-6,
        num_iters=100,
        batch_size=200,
        momentum=0.0,
        verbose=False,
    ):
        """GIVEN. Minibatch SGD with momentum; uses your loss, sgd_momentum_step and predict.

        Inputs:
        - X: (N, D) training data; y: (N,) training labels.
        - X_val: (N_val, D) validation data; y_val: (N_val,) validation labels.
        - learning_rate: initial step size.
        - learning_rate_decay: factor applied to the learning rate after each epoch.
        - reg: regularisation strength.
        - num_iters: number of steps.
        - batch_size: number of samples per step.
        - momentum: momentum coefficient (0 gives plain SGD).
        - verbose: print the loss now and then.

        Returns a dict with loss_history, train_acc_history and val_acc_history.
        """
        num_train = X.shape[0]
        iterations_per_epoch = max(num_train // batch_size, 1)
        velocity = {k: np.zeros_like(v) for k, v in self.params.items()}

        loss_history = []
        train_acc_history = []
        val_acc_history = []

        for it in range(num_iters):
            # GIVEN: one random minibatch per iteration, drawn with replacement.
            # Do not change this line: the grader relies on this exact draw.
            idx = np.random.choice(num_train, batch_size, replace=True)
            X_batch = X[idx]
            y_batch = y[idx]

            loss, grads = self.loss(X_batch, y=y_batch, reg=reg)
            loss_history.append(loss)

            # The parameter update is your sgd_momentum_step (TODO above).
            sgd_momentum_step(self.params, grads, velocity, learning_rate, momentum)

            if verbose and it % 100 == 0:
                print(f"iteration {it} / {num_iters}: loss {loss:f}")

            # GIVEN: once per epoch (and at iteration 0) record the accuracies and decay the learning rate.
            if it % iterations_per_epoch == 0:
                train_acc_history.append((self.predict(X_batch) == y_batch).mean())
                val_acc_history.append((self.predict(X_val) == y_val).mean())
                learning_rate *= learning_rate_decay

        return {
            "loss_history": loss_history,
            "train_acc_history": train_acc_history,
            "val_acc_history": val_acc_history,
        }

    def predict(self, X):
        """Predicted labels for the rows of X.

        Inputs:
        - X: array of shape (N, D).

        Returns an integer array of shape (N,) with the most probable class of each row.
        """
        # ---------------------------------------------------------------------------
        # TODO: predict the labels (you may use self.loss).
        # ---------------------------------------------------------------------------
        raise NotImplementedError("TODO: predict in TwoLayerNet.predict")
