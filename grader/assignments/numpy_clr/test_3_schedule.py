"""The cyclical (triangular) learning rate at the handout's published points and on a hidden sweep."""

from __future__ import annotations

import numpy as np

from grader.pack import CheckFailed, as_float, hidden, needs, points, title
from reference.numpy_clr import cyclical_eta

from .fixtures import FILE, MODULE
from .mutants import ETA_MUTANTS

pytestmark = needs(FILE)

ETA_MIN, ETA_MAX, N_S = 1e-5, 1e-1, 500


def etas_of(student, ts: list[int], eta_min: float, eta_max: float, n_s: int) -> np.ndarray:
    """The student's schedule at every ``t`` (one call per value: t is a plain int)."""
    out = []
    for t in ts:
        value, _ = student.call(MODULE, "cyclical_eta", t, eta_min, eta_max, n_s)
        out.append(as_float(value, f"cyclical_eta({t}, ...)"))
    return np.array(out)


def grade_schedule(check, got: np.ndarray, ts: list[int], eta_min, eta_max, n_s, limit) -> list[int]:
    """The ``t`` where the student's value misses the reference's; names the mistake if one matches."""
    expected = np.array([cyclical_eta(t, eta_min, eta_max, n_s) for t in ts])
    wrong = [t for t, g, e in zip(ts, got, expected, strict=True) if not abs(g - e) <= limit * abs(e)]
    if wrong:
        for name, mutant in ETA_MUTANTS:
            if np.allclose(got, [mutant(t, eta_min, eta_max, n_s) for t in ts], rtol=1e-9, atol=0):
                check.diagnose(name)
                break
    return wrong


@points(8)
@title("cyclical_eta at t = 0, n_s/2, n_s, 3n_s/2, 2n_s, 5n_s/2 and next to them (eta 1e-5..1e-1, n_s = 500)")
def test_published_points(student, check, settings):
    published = [0, N_S // 2, N_S, 3 * N_S // 2, 2 * N_S, 5 * N_S // 2]
    # One update on either side of each turning point too: an off-by-one shows there, and a lookup
    # table of the published values does not pass.
    ts = sorted({*published, 1, N_S - 1, N_S + 1, 2 * N_S - 1, 2 * N_S + 1})
    got = etas_of(student, ts, ETA_MIN, ETA_MAX, N_S)
    # All or nothing: the schedule is one formula, and partial credit would pay for a lookup table.
    wrong = grade_schedule(check, got, ts, ETA_MIN, ETA_MAX, N_S, settings.eta_tolerance)
    if wrong:
        shown = ", ".join(
            f"t={t}: {got[ts.index(t)]:.6g} (expected {cyclical_eta(t, ETA_MIN, ETA_MAX, N_S):.6g})" for t in wrong
        )
        raise CheckFailed(shown)


def boundary_points(n_s: int, cycles: int = 4) -> list[int]:
    """Around the end of each of the first ``cycles`` cycles (2k n_s - 1 .. 2k n_s + 2) and its next
    peak ((2k + 1) n_s +- 1)."""
    points = []
    for k in range(1, cycles + 1):
        end, peak = 2 * k * n_s, (2 * k + 1) * n_s
        points += [end - 1, end, end + 1, end + 2, peak - 1, peak + 1]
    return points


@points(6)
@hidden
@title("cyclical_eta on a hidden sweep: random points, and next to every turning point from 2n_s to 9n_s")
def test_hidden_sweep(student, check, hidden_seed, settings):
    rng = np.random.default_rng(hidden_seed + 1)
    n_s = int(rng.integers(3, 40))
    eta_min = float(10 ** rng.uniform(-6, -3))
    eta_max = float(10 ** rng.uniform(-2, 0))
    # The points next to the later cycles' turning points always: a cycle index off by a fraction of
    # a cycle (l = t // (2 n_s + 1)) is first wrong at t = 4 n_s + 1, which random points rarely hit.
    ts = sorted({0, n_s, 2 * n_s, *boundary_points(n_s), *(int(t) for t in rng.integers(0, 6 * n_s, 14))})
    got = etas_of(student, ts, eta_min, eta_max, n_s)
    wrong = grade_schedule(check, got, ts, eta_min, eta_max, n_s, settings.eta_tolerance)
    if wrong:
        raise CheckFailed(f"{len(wrong)} of {len(ts)} values differ from the triangular schedule")
