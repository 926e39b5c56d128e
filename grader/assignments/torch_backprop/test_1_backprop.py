"""``backpropagation``: dL_dw and dL_db of every layer against ``loss.backward()`` on the same model."""

from __future__ import annotations

import numpy as np

from grader.pack import (
    Check,
    CheckFailed,
    Student,
    StudentException,
    as_array,
    describe,
    hidden,
    needs,
    points,
    preload,
    title,
)

from .fixtures import FILE, MODULE, Problem, gradient_names, make_problem, relative_error, student_net
from .mutants import GRADIENT_MUTANTS, first_match

pytestmark = [needs(FILE), preload("torch")]

#: Visible architectures: every activation; square layers make a transposed gradient or a layer
#: index off by one shape-correct, so the mistake shows in the values and can be named.
ARCHITECTURES = [
    ((3, 5, 4, 2), ("relu", "sigmoid", "identity"), 8),
    ((4, 6, 6, 3), ("tanh", "tanh", "sigmoid"), 7),
    ((5, 5, 5, 5), ("sigmoid", "relu", "tanh"), 6),
]
ACTIVATIONS = ("relu", "sigmoid", "tanh", "identity")
#: A hidden problem's gradients must each have an entry above this (zeros must never be the answer).
INFORMATIVE = 1e-6
MAX_DRAWS = 1000


def expected_gradients(problem: Problem) -> list[np.ndarray]:
    from reference.torch_backprop.net import autograd_gradients

    return autograd_gradients(problem.sizes, problem.activations, problem.arrays, problem.X, problem.Y)


def raw_gradients(student: Student, problem: Problem) -> list[object]:
    """Run the student's forward and backpropagation; return dL_dw[l], dL_db[l] as they came back."""
    model = student_net(student, problem)
    y_pred = as_array(model.forward(problem.X), "model.forward(x)", problem.Y.shape)
    student.call(MODULE, "backpropagation", model.ref, problem.Y, y_pred, as_tensor=True)
    raw = []
    for layer in range(1, problem.depth + 1):
        for kind in ("dL_dw", "dL_db"):
            try:
                raw.append(model.get(kind, layer))
            except StudentException:
                raise CheckFailed(f"model.{kind}[{layer}] was not set by backpropagation") from None
    return raw


def layer_failures(raw: list[object], expected: list[np.ndarray], depth: int, limit: float) -> list[list[str]]:
    """For every layer, what is wrong with its two gradients (an empty list: the layer is right)."""
    names = gradient_names(depth)
    out: list[list[str]] = []
    for layer in range(depth):
        wrong = []
        for index in (2 * layer, 2 * layer + 1):
            got, want = raw[index], expected[index]
            if type(got) is not np.ndarray or got.dtype.kind != "f" or got.shape != want.shape:
                wrong.append(f"{names[index]} is {describe(got)}, expected a float array of shape {want.shape}")
                continue
            error, where = relative_error(got.astype(np.float64), want)
            if not error < limit:
                wrong.append(f"{names[index]}: max relative error {error:.1e} at {where} (limit {limit:.0e})")
        out.append(wrong)
    return out


def grade_problems(student: Student, check: Check, problems: list[Problem], limit: float) -> None:
    """Compare every layer of every problem; partial credit per correct layer, the mistake named."""
    total, good, messages = 0, 0, []
    for problem in problems:
        raw = raw_gradients(student, problem)
        per_layer = layer_failures(raw, expected_gradients(problem), problem.depth, limit)
        total += len(per_layer)
        good += sum(not wrong for wrong in per_layer)
        wrong = [w for layer in per_layer for w in layer]
        if not wrong:
            continue
        messages.append(f"{problem.describe()}: " + "; ".join(wrong[:2]))
        if check.diagnosis is None:
            candidates = [
                (name, fn(problem.activations, problem.arrays, problem.X, problem.Y)) for name, fn in GRADIENT_MUTANTS
            ]
            mistake = first_match(raw, candidates)
            if mistake:
                check.diagnose(mistake)
    check.partial(good / total)
    if messages:
        raise CheckFailed(f"{good} of {total} layers correct. " + " | ".join(messages))


@points(30)
@title("backpropagation: dL_dw, dL_db of every layer match autograd (3 networks, every activation)")
def test_gradients(student, check, settings):
    problems = [make_problem(s, a, n, seed=i) for i, (s, a, n) in enumerate(ARCHITECTURES)]
    grade_problems(student, check, problems, settings.gradient_tolerance)


@points(10)
@hidden
@title("backpropagation on a hidden network and batch")
def test_hidden_gradients(student, check, settings, hidden_seed):
    grade_problems(student, check, [hidden_problem(hidden_seed)], settings.gradient_tolerance)


def hidden_problem(seed: int) -> Problem:
    """A random network and batch whose every gradient array has an entry far from zero.

    A draw whose last activation is a ReLU that is off for the whole batch has only zero gradients,
    and then a backpropagation that returns zeros would be right: such draws are skipped (the next
    draw of the same generator, so the problem stays fixed for a given seed).
    """
    rng = np.random.default_rng(seed)
    for _ in range(MAX_DRAWS):
        depth = int(rng.integers(2, 5))
        sizes = tuple(int(v) for v in rng.integers(2, 8, depth + 1))
        activations = tuple(str(v) for v in rng.choice(ACTIVATIONS, depth))
        problem = make_problem(sizes, activations, int(rng.integers(3, 20)), seed=int(rng.integers(1 << 30)))
        if all(np.abs(g).max() > INFORMATIVE for g in expected_gradients(problem)):
            return problem
    raise RuntimeError(f"no informative hidden network in {MAX_DRAWS} draws")
