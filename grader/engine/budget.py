"""Time budgets of one grading: a total per kind of check, and one per check.

The per-call limits (``check_seconds``, ``train_seconds``) bound one call into the submission, not how
many calls a check makes: a submission that takes just under the limit on every call could hold a
grading slot for as long as the rubric has calls. So every grading has two totals, one for numeric
checks and one for training checks, and every check a budget of its own. Before each request to the
worker, :meth:`CheckBudget.clip` shortens the request's time limit to what is left; when nothing is
left the request is not sent and the check fails with the reason, as does every later check of that
kind. Wall-clock time from the start of a check to its end is what is spent.

The budgets follow from the assignment's per-call limits (``grader/assignments/*/assignment.toml``):

========================  =======================  ===============================
budget                    formula                  hlcv-ex2 (20 s / 300 s limits)
========================  =======================  ===============================
one numeric check         3 x check_seconds        60 s
all numeric checks        15 x check_seconds       300 s
one training check        2 x train_seconds + 60   660 s
all training checks       4 x train_seconds        1200 s
========================  =======================  ===============================
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

from grader.boundary.rpc import WorkerFailure

NUMERIC_CHECK_FACTOR = 3
NUMERIC_TOTAL_FACTOR = 15
TRAINING_CHECK_FACTOR = 2
TRAINING_CHECK_EXTRA_S = 60
TRAINING_TOTAL_FACTOR = 4


class BudgetExhausted(WorkerFailure):
    """A check, or all checks of its kind, used up their time budget; the message says which."""

    def __init__(self, message: str) -> None:
        super().__init__("budget", message)


@dataclasses.dataclass(frozen=True)
class BudgetSettings:
    """Seconds of wall-clock time: per check and in total, numeric and training checks apart."""

    numeric_check_s: float
    numeric_total_s: float
    training_check_s: float
    training_total_s: float

    @classmethod
    def from_limits(cls, check_seconds: float, train_seconds: float) -> BudgetSettings:
        """The budgets of the module docstring's table, from an assignment's per-call limits."""
        return cls(
            numeric_check_s=NUMERIC_CHECK_FACTOR * check_seconds,
            numeric_total_s=NUMERIC_TOTAL_FACTOR * check_seconds,
            training_check_s=TRAINING_CHECK_FACTOR * train_seconds + TRAINING_CHECK_EXTRA_S,
            training_total_s=TRAINING_TOTAL_FACTOR * train_seconds,
        )


class CheckBudget:
    """What one check may still spend: the earlier of its own end and its kind's total end."""

    def __init__(
        self, kind: str, check_end: float, total_end: float, check_s: float, total_s: float, clock: Callable[[], float]
    ) -> None:
        self.kind = kind
        self._check_end = check_end
        self._total_end = total_end
        self._check_s = check_s
        self._total_s = total_s
        self._clock = clock

    def reason(self) -> str:
        """Why nothing is left: this check's budget or the kind's total."""
        if self._total_end <= self._check_end:
            return (
                f"the grading's time budget for {self.kind} checks ({self._total_s:g} s in total) is used up; "
                "this check was not run to the end"
            )
        return f"this check used up its time budget ({self._check_s:g} s); the submission is too slow"

    def clip(self, timeout: float) -> tuple[float, bool]:
        """``(timeout, clipped)``: the request's limit shortened to what is left; raises when nothing is."""
        left = min(self._check_end, self._total_end) - self._clock()
        if left <= 0:
            raise BudgetExhausted(self.reason())
        return (left, True) if left < timeout else (timeout, False)


class GradingBudget:
    """The budgets of one grading; :meth:`start` one :class:`CheckBudget` per check, :meth:`finish` it."""

    def __init__(self, settings: BudgetSettings, clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self._clock = clock
        self.spent: dict[str, float] = {"numeric": 0.0, "training": 0.0}
        self._running: dict[int, float] = {}

    def start(self, training: bool) -> CheckBudget:
        """A check's budget; raises :class:`BudgetExhausted` when its kind's total is already spent."""
        kind = "training" if training else "numeric"
        check_s = self.settings.training_check_s if training else self.settings.numeric_check_s
        total_s = self.settings.training_total_s if training else self.settings.numeric_total_s
        now = self._clock()
        budget = CheckBudget(kind, now + check_s, now + total_s - self.spent[kind], check_s, total_s, self._clock)
        self._running[id(budget)] = now
        if self.spent[kind] >= total_s:
            self._running.pop(id(budget))
            raise BudgetExhausted(budget.reason())
        return budget

    def finish(self, budget: CheckBudget) -> None:
        """Add the check's wall-clock time to its kind's total."""
        started = self._running.pop(id(budget), None)
        if started is not None:
            self.spent[budget.kind] += self._clock() - started
