"""Realistic submissions for measuring the hlcv-ex2 rubric: correct solutions in other styles, and
one-mistake variants written the way students make them.

They are kept apart from the rubric's own mistake catalogue (``grader/assignments/hlcv_ex2/mutants.py``)
and from the pack's ``MISTAKES``: each variant is a source edit of a student-style solution
(``two_layernet_student.py``, ``ex2_pytorch_student.py``), not of the reference, so the rubric is
measured on code it was not written against. ``benchmarks/bench_rubric.py`` grades them all;
``tests/test_rubric_variants.py`` grades a few of them.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

HERE = Path(__file__).resolve().parent
NUMPY = "two_layernet.py"
TORCH = "ex2_pytorch.py"
#: Student file name -> the student-style solution it starts from.
BASES = {NUMPY: HERE / "two_layernet_student.py", TORCH: HERE / "ex2_pytorch_student.py"}


@dataclasses.dataclass(frozen=True)
class Variant:
    """One submission: ``edits`` are (file, old, new) replacements of the student-style solution (``old``
    must occur exactly once). A mistake names the ``check`` that covers it and a regular expression its
    diagnosis must match; a correct variant has neither, ships both files and must get full marks.
    ``files`` are the student files shipped (a mistake ships only its own file, which keeps grading quick)."""

    name: str
    files: tuple[str, ...]
    edits: tuple[tuple[str, str, str], ...] = ()
    check: str | None = None
    diagnosis: str | None = None

    @property
    def correct(self) -> bool:
        return self.check is None

    def write(self, dest: Path) -> Path:
        """Write the variant's files into the empty folder ``dest`` and return it."""
        for file in self.files:
            text = BASES[file].read_text()
            for target, old, new in self.edits:
                if target != file:
                    continue
                if text.count(old) != 1:
                    raise ValueError(f"variant {self.name}: {old!r} occurs {text.count(old)} times in {file}")
                text = text.replace(old, new)
            (dest / file).write_text(text)
        return dest


def _n(name: str, check: str, diagnosis: str, *edits: tuple[str, str]) -> Variant:
    return Variant(name, (NUMPY,), tuple((NUMPY, old, new) for old, new in edits), check, diagnosis)


def _t(name: str, check: str, diagnosis: str, *edits: tuple[str, str]) -> Variant:
    return Variant(name, (TORCH,), tuple((TORCH, old, new) for old, new in edits), check, diagnosis)


SEQUENTIAL_INIT = """        layers = []
        in_features = input_size
        for width in hidden_layers:
            layers.append(nn.Linear(in_features, width))
            layers.append(nn.ReLU())
            in_features = width
        layers.append(nn.Linear(in_features, num_classes))
        self.layers = nn.Sequential(*layers)
"""
SEQUENTIAL_FORWARD = """        out = self.layers(x)
        return out
"""
MOMENTUM = """        velocity[k] = momentum * velocity[k] - learning_rate * grads[k]
        params[k] = params[k] + velocity[k]
"""
DECAY = """            if it % iterations_per_epoch == 0:
                train_acc_history.append((self.predict(X_batch) == y_batch).mean())
                val_acc_history.append((self.predict(X_val) == y_val).mean())
                learning_rate *= learning_rate_decay
"""

CORRECT = [
    Variant("student-style", (NUMPY, TORCH)),
    Variant(
        "modulelist-functional-relu",
        (NUMPY, TORCH),
        (
            (
                TORCH,
                SEQUENTIAL_INIT,
                """        widths = [input_size] + list(hidden_layers) + [num_classes]
        self.linears = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths[:-1], widths[1:]))
""",
            ),
            (
                TORCH,
                SEQUENTIAL_FORWARD,
                """        for i, layer in enumerate(self.linears):
            x = layer(x)
            if i < len(self.linears) - 1:
                x = torch.nn.functional.relu(x)
        return x
""",
            ),
        ),
    ),
    Variant(
        "one-relu-reused",
        (NUMPY, TORCH),
        (
            (
                TORCH,
                SEQUENTIAL_INIT,
                """        self.relu = nn.ReLU()
        sizes = [input_size, *hidden_layers]
        self.hidden = nn.ModuleList([nn.Linear(sizes[i], sizes[i + 1]) for i in range(len(hidden_layers))])
        self.out = nn.Linear(sizes[-1], num_classes)
""",
            ),
            (
                TORCH,
                SEQUENTIAL_FORWARD,
                """        for layer in self.hidden:
            x = self.relu(layer(x))
        return self.out(x)
""",
            ),
        ),
    ),
    Variant(
        "functional-loss-and-setattr-layers",
        (NUMPY, TORCH),
        (
            (
                TORCH,
                SEQUENTIAL_INIT,
                """        self.depth = len(hidden_layers) + 1
        widths = [input_size, *hidden_layers, num_classes]
        for i in range(self.depth):
            setattr(self, f"fc{i}", nn.Linear(widths[i], widths[i + 1]))
""",
            ),
            (
                TORCH,
                SEQUENTIAL_FORWARD,
                """        for i in range(self.depth):
            x = getattr(self, f"fc{i}")(x)
            if i + 1 < self.depth:
                x = x.clamp(min=0)
        return x
""",
            ),
            (
                TORCH,
                "            loss = criterion(outputs, y_batch)\n",
                "            loss = torch.nn.functional.cross_entropy(outputs, y_batch)\n",
            ),
            (TORCH, "            opt.zero_grad()\n", "            model.zero_grad(set_to_none=False)\n"),
        ),
    ),
    Variant(
        "in-place-momentum-onehot-matrix",
        (NUMPY, TORCH),
        (
            (
                NUMPY,
                MOMENTUM,
                """        velocity[k] *= momentum
        velocity[k] -= learning_rate * grads[k]
        params[k] += velocity[k]
""",
            ),
            (
                NUMPY,
                """        correct_logprobs = -np.log(probs[np.arange(N), y])
        data_loss = np.sum(correct_logprobs) / N
""",
                """        onehot = np.zeros_like(probs)
        onehot[np.arange(N), y] = 1
        data_loss = -np.sum(onehot * np.log(probs)) / N
""",
            ),
            (
                NUMPY,
                """        dscores = probs.copy()
        dscores[np.arange(N), y] -= 1
        dscores /= N
""",
                """        dscores = (probs - onehot) / N
""",
            ),
            (NUMPY, "        dhidden[z2 <= 0] = 0\n", "        dhidden = dhidden * (z2 > 0)\n"),
            (
                NUMPY,
                """        probs = self.loss(X)
        y_pred = np.argmax(probs, axis=1)
""",
                """        hidden = np.maximum(0, X @ self.params["W1"] + self.params["b1"])
        y_pred = np.argmax(hidden @ self.params["W2"] + self.params["b2"], axis=1)
""",
            ),
        ),
    ),
    Variant(
        "matmul-logsumexp",
        (NUMPY, TORCH),
        (
            (NUMPY, "        z2 = X.dot(W1) + b1\n", "        z2 = np.matmul(X, W1) + b1[None, :]\n"),
            (NUMPY, "        a2 = np.maximum(0, z2)\n", "        a2 = np.where(z2 > 0, z2, 0.0)\n"),
            (
                NUMPY,
                """        correct_logprobs = -np.log(probs[np.arange(N), y])
        data_loss = np.sum(correct_logprobs) / N
""",
                """        log_z = np.log(np.sum(exp_scores, axis=1))
        data_loss = np.mean(log_z - scores[np.arange(N), y])
""",
            ),
            (
                NUMPY,
                "        reg_loss = reg * (np.sum(W1 * W1) + np.sum(W2 * W2))\n",
                "        reg_loss = reg * (np.linalg.norm(W1) ** 2 + np.linalg.norm(W2) ** 2)\n",
            ),
            (NUMPY, '        grads["b2"] = np.sum(dscores, axis=0)\n', '        grads["b2"] = dscores.sum(0)\n'),
            (
                NUMPY,
                '        grads["W2"] = a2.T.dot(dscores) + 2 * reg * W2\n',
                '        grads["W2"] = np.einsum("nh,nc->hc", a2, dscores) + 2 * reg * W2\n',
            ),
        ),
    ),
]

TL, TG, TP = "test_toy_loss", "test_toy_gradients", "test_toy_probabilities"
MISTAKES = [
    _n("grad-not-averaged", TG, r"1/N|averaged", ("        dscores /= N\n", "")),
    _n(
        "loss-and-grad-summed",
        TL,
        r"summed",
        ("        data_loss = np.sum(correct_logprobs) / N\n", "        data_loss = np.sum(correct_logprobs)\n"),
        ("        dscores /= N\n", ""),
    ),
    _n("reg-grad-no-2", TG, r"reg\*W instead of 2\*reg\*W", ("2 * reg * W2", "reg * W2"), ("2 * reg * W1", "reg * W1")),
    _n(
        "half-reg",
        TL,
        r"0\.5\*reg",
        ("        reg_loss = reg * (", "        reg_loss = 0.5 * reg * ("),
        ("2 * reg * W2", "reg * W2"),
        ("2 * reg * W1", "reg * W1"),
    ),
    _n(
        "reg-on-biases",
        TG,
        r"biases",
        ("np.sum(W2 * W2))", "np.sum(W2 * W2) + np.sum(b1 * b1) + np.sum(b2 * b2))"),
        ("np.sum(dscores, axis=0)\n", "np.sum(dscores, axis=0) + 2 * reg * b2\n"),
        ("np.sum(dhidden, axis=0)\n", "np.sum(dhidden, axis=0) + 2 * reg * b1\n"),
    ),
    _n("relu-mask-missing", TG, r"ReLU mask missing", ("        dhidden[z2 <= 0] = 0\n", "")),
    _n(
        "relu-mask-from-gradient",
        TG,
        r"upstream",
        ("        dhidden[z2 <= 0] = 0\n", "        dhidden[dhidden <= 0] = 0\n"),
    ),
    _n("no-onehot", TG, r"one-hot", ("        dscores[np.arange(N), y] -= 1\n", "")),
    _n("onehot-columns", TG, r"columns", ("        dscores[np.arange(N), y] -= 1\n", "        dscores[:, y] -= 1\n")),
    _n(
        "bias-grad-mean",
        TG,
        r"bias gradients averaged",
        ("np.sum(dscores, axis=0)", "np.mean(dscores, axis=0)"),
        ("np.sum(dhidden, axis=0)", "np.mean(dhidden, axis=0)"),
    ),
    _n(
        "bias-grad-missing",
        TG,
        r"bias gradients missing",
        ("np.sum(dscores, axis=0)", "np.zeros_like(b2)"),
        ("np.sum(dhidden, axis=0)", "np.zeros_like(b1)"),
    ),
    _n("reg-grad-missing", TG, r"regularisation gradient missing", (" + 2 * reg * W2", ""), (" + 2 * reg * W1", "")),
    _n(
        "reg-loss-missing",
        TL,
        r"regulariser missing",
        ("        loss = data_loss + reg_loss\n", "        loss = data_loss\n"),
    ),
    _n("reg-w1-only", TL, r"W1 only", (" + np.sum(W2 * W2))", ")"), (" + 2 * reg * W2", "")),
    _n(
        "reg-over-n",
        TL,
        r"divided by N",
        ("np.sum(W2 * W2))\n", "np.sum(W2 * W2)) / N\n"),
        ("2 * reg * W2", "2 * reg * W2 / N"),
        ("2 * reg * W1", "2 * reg * W1 / N"),
    ),
    _n(
        "l1-reg",
        TL,
        r"L1",
        ("reg * (np.sum(W1 * W1) + np.sum(W2 * W2))", "reg * (np.sum(np.abs(W1)) + np.sum(np.abs(W2)))"),
        ("2 * reg * W2", "reg * np.sign(W2)"),
        ("2 * reg * W1", "reg * np.sign(W1)"),
    ),
    _n("log10", TL, r"log10", ("-np.log(probs[", "-np.log10(probs[")),
    _n(
        "loss-log-epsilon",
        TL,
        r"epsilon added inside the log",
        ("-np.log(probs[np.arange(N), y])", "-np.log(probs[np.arange(N), y] + 1e-8)"),
    ),
    _n(
        "loss-unshifted-logsumexp",
        "test_stable_softmax",
        r"raw scores",
        (
            """        correct_logprobs = -np.log(probs[np.arange(N), y])
        data_loss = np.sum(correct_logprobs) / N
""",
            """        data_loss = np.mean(np.log(np.sum(np.exp(z3), axis=1)) - z3[np.arange(N), y])
""",
        ),
    ),
    _n("no-relu-forward", TP, r"without ReLU", ("        a2 = np.maximum(0, z2)\n", "        a2 = z2\n")),
    _n("sigmoid-forward", TP, r"sigmoid", ("        a2 = np.maximum(0, z2)\n", "        a2 = 1 / (1 + np.exp(-z2))\n")),
    _n("b2-missing-forward", TP, r"b2 left out", ("        z3 = a2.dot(W2) + b2\n", "        z3 = a2.dot(W2)\n")),
    _n(
        "softmax-axis-0",
        TP,
        r"axis 0",
        ("np.max(z3, axis=1, keepdims=True)", "np.max(z3, axis=0, keepdims=True)"),
        ("np.sum(exp_scores, axis=1, keepdims=True)", "np.sum(exp_scores, axis=0, keepdims=True)"),
    ),
    _n(
        "float32",
        TG,
        r"float32",
        (
            "        N, D = X.shape\n",
            "        N, D = X.shape\n        X = X.astype(np.float32)\n"
            "        W1, W2 = W1.astype(np.float32), W2.astype(np.float32)\n",
        ),
    ),
    _n(
        "no-max-shift",
        "test_stable_softmax",
        r"max",
        ("        scores = z3 - np.max(z3, axis=1, keepdims=True)\n", "        scores = z3\n"),
    ),
    _n(
        "forward-loop",
        "test_vectorised_forward",
        r"loop",
        ("        z2 = X.dot(W1) + b1\n", "        z2 = np.array([x.dot(W1) + b1 for x in X])\n"),
    ),
    _n(
        "momentum-ascent",
        "test_sgd_momentum_step",
        r"ascent",
        ("- learning_rate * grads[k]", "+ learning_rate * grads[k]"),
    ),
    _n(
        "momentum-ignored",
        "test_sgd_momentum_step",
        r"momentum ignored",
        ("momentum * velocity[k] - learning_rate * grads[k]", "-learning_rate * grads[k]"),
    ),
    _n(
        "nesterov",
        "test_sgd_momentum_step",
        r"Nesterov",
        (
            MOMENTUM,
            """        velocity[k] = momentum * velocity[k] - learning_rate * grads[k]
        params[k] = params[k] + momentum * velocity[k] - learning_rate * grads[k]
""",
        ),
    ),
    _n(
        "lr-outside-velocity",
        "test_sgd_momentum_step",
        r"learning rate outside",
        (
            MOMENTUM,
            """        velocity[k] = momentum * velocity[k] + grads[k]
        params[k] = params[k] - learning_rate * velocity[k]
""",
        ),
    ),
    _n(
        "velocity-not-stored",
        "test_sgd_momentum_step",
        r"not stored",
        (
            MOMENTUM,
            """        v = momentum * velocity[k] - learning_rate * grads[k]
        params[k] = params[k] + v
""",
        ),
    ),
    _n(
        "decay-every-iteration",
        "test_loss_history",
        r"every iteration",
        (
            "                learning_rate *= learning_rate_decay\n",
            "            learning_rate *= learning_rate_decay\n",
        ),
    ),
    _n(
        "decay-off-by-one",
        "test_loss_history",
        r"end of each epoch",
        ("            if it % iterations_per_epoch == 0:\n", "            if (it + 1) % iterations_per_epoch == 0:\n"),
    ),
    _n(
        "velocity-reset",
        "test_loss_history",
        r"reset",
        (
            "            idx = np.random.choice",
            "            velocity = {k: np.zeros_like(v) for k, v in self.params.items()}\n"
            "            idx = np.random.choice",
        ),
    ),
    _n("predict-argmin", "test_predict", r"argmin", ("np.argmax(probs, axis=1)", "np.argmin(probs, axis=1)")),
    _n("predict-argmax-axis0", "test_predict", r"axis 0", ("np.argmax(probs, axis=1)", "np.argmax(probs, axis=0)")),
    _t("mlp-no-relu", "test_mlp_layers", r"without ReLU", ("            layers.append(nn.ReLU())\n", "")),
    _t(
        "mlp-relu-last",
        "test_mlp_layers",
        r"last",
        ("        self.layers = nn.Sequential(*layers)\n", "        self.layers = nn.Sequential(*layers, nn.ReLU())\n"),
    ),
    _t(
        "mlp-sigmoid",
        "test_mlp_layers",
        r"sigmoid",
        ("            layers.append(nn.ReLU())\n", "            layers.append(nn.Sigmoid())\n"),
    ),
    _t(
        "mlp-softmax-output",
        "test_mlp_forward",
        r"probabilities",
        ("        out = self.layers(x)\n", "        out = torch.softmax(self.layers(x), dim=1)\n"),
    ),
    _t(
        "mlp-no-bias",
        "test_mlp_parameter_order",
        r"bias",
        ("nn.Linear(in_features, width)", "nn.Linear(in_features, width, bias=False)"),
        ("nn.Linear(in_features, num_classes)", "nn.Linear(in_features, num_classes, bias=False)"),
    ),
    _t(
        "mlp-dropout",
        "test_mlp_forward",
        r"dropout",
        (
            "            layers.append(nn.ReLU())\n",
            "            layers.append(nn.ReLU())\n            layers.append(nn.Dropout(0.5))\n",
        ),
    ),
    _t("no-zero-grad", "test_train_mlp", r"zero_grad", ("            opt.zero_grad()\n", "")),
    _t("always-adam", "test_train_mlp", r"'sgd' ignored", ('    if optimizer == "adam":\n', "    if True:\n")),
    _t(
        "weight-decay-ignored",
        "test_train_mlp",
        r"weight_decay not passed",
        (
            "torch.optim.Adam(model.parameters(), lr=learning_rate, weight_decay=weight_decay)",
            "torch.optim.Adam(model.parameters(), lr=learning_rate)",
        ),
        (
            "torch.optim.SGD(model.parameters(), lr=learning_rate, weight_decay=weight_decay)",
            "torch.optim.SGD(model.parameters(), lr=learning_rate)",
        ),
    ),
    _t(
        "softmax-before-ce",
        "test_train_mlp",
        r"softmax applied before",
        ("criterion(outputs, y_batch)", "criterion(torch.softmax(outputs, dim=1), y_batch)"),
    ),
    _t(
        "mlp-sgd-momentum",
        "test_train_mlp",
        r"momentum=0\.9",
        (
            "torch.optim.SGD(model.parameters(), lr=learning_rate, weight_decay=weight_decay)",
            "torch.optim.SGD(model.parameters(), lr=learning_rate, momentum=0.9, weight_decay=weight_decay)",
        ),
    ),
    _t(
        "mlp-optimizer-per-epoch",
        "test_train_mlp",
        r"anew in every epoch",
        (
            "        model.train()\n",
            """        model.train()
        if optimizer == "adam":
            opt = torch.optim.Adam(model.parameters(), lr=learning_rate, weight_decay=weight_decay)
""",
        ),
    ),
    _t(
        "mlp-loss-history-tensors",
        "test_train_mlp",
        r"loss\.item\(\)",
        ("            loss_history.append(loss.item())\n", "            loss_history.append(loss)\n"),
    ),
    _t(
        "mlp-val-acc-count",
        "test_train_mlp",
        r"count",
        ("(predicted == y_val).float().mean().item()", "(predicted == y_val).sum().item()"),
    ),
    _n(
        "loss-default-reg-nonzero",
        "test_loss_data_term_and_regulariser",
        r"default reg",
        ("    def loss(self, X, y=None, reg=0.0):\n", "    def loss(self, X, y=None, reg=5e-6):\n"),
    ),
    _t(
        "mlp-default-optimizer-sgd",
        "test_train_mlp",
        r"defaults differ",
        ('weight_decay=0.0, optimizer="adam", seed=0', 'weight_decay=0.0, optimizer="sgd", seed=0'),
    ),
]

VARIANTS = CORRECT + MISTAKES
