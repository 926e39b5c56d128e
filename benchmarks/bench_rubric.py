"""Measure the hlcv-ex2 rubric on realistic submissions: do correct solutions get full marks, and is
every one-mistake variant caught on the check that covers it and named there?

Grades every variant of ``benchmarks/rubric_variants`` in this process with one sandbox
(:func:`grader.engine.grading.grade`; CIFAR-10 is never given, so the two accuracy checks skip) and
prints one row per variant and the totals:

- correct variants at full marks (every check that ran, at its maximum);
- mistakes that lose points on the check that covers them;
- mistakes named correctly (that check's diagnosis matches the variant's expected words);
- mistakes named wrongly (that check names a different mistake).

    python benchmarks/bench_rubric.py                    # all variants, bwrap
    python benchmarks/bench_rubric.py --sandbox docker -k momentum --json rubric.json
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "benchmarks")]
os.environ.pop("BACKPROP_GRADER_DATA_DIR", None)

from rubric_variants import VARIANTS, Variant  # noqa: E402

from grader.engine.grading import GradeOptions, grade  # noqa: E402
from grader.results import GradeResult  # noqa: E402
from grader.sandbox import backend_class  # noqa: E402


def outcome(variant: Variant, result: GradeResult) -> dict:
    """What the grade says about one variant (see the module docstring for the measures)."""
    ran = [t for t in result.tests if t.status != "skipped"]
    row: dict = {"name": variant.name, "correct": variant.correct, "score": result.score}
    if variant.correct:
        lost = [t.name for t in ran if t.score < t.max_score]
        row.update(full_marks=not lost, lost=lost)
        return row
    covering = next((t for t in result.tests if t.name == variant.check), None)
    diagnosis = covering.diagnosis if covering else None
    named = bool(diagnosis and re.search(variant.diagnosis or "", diagnosis))
    row.update(
        check=variant.check,
        loses=bool(covering and covering.score < covering.max_score),
        named=named,
        wrong_name=bool(diagnosis and not named),
        diagnosis=diagnosis,
        output=(covering.output.splitlines() or [""])[0][:100] if covering else "",
    )
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sandbox", default="bwrap", help="sandbox backend (default bwrap)")
    parser.add_argument("-k", dest="only", default="", help="grade only variants whose name contains this")
    parser.add_argument("--json", type=Path, help="also write the rows as JSON")
    parser.add_argument(
        "--slot", type=int, default=0, help="sandbox slot (its own uid): keep apart from other graders on the host"
    )
    args = parser.parse_args()
    sandbox = backend_class(args.sandbox)()
    rows, start = [], time.monotonic()
    for variant in [v for v in VARIANTS if args.only in v.name]:
        with tempfile.TemporaryDirectory(prefix="rubric-variant-") as tmp:
            folder = Path(tmp) / "submission"
            folder.mkdir()
            result = grade(variant.write(folder), GradeOptions(assignment="hlcv-ex2", sandbox=sandbox, slot=args.slot))
        row = outcome(variant, result)
        rows.append(row)
        if variant.correct:
            verdict = "full marks" if row["full_marks"] else f"LOST POINTS on {', '.join(row['lost'])}"
        else:
            verdict = (
                f"{'loses' if row['loses'] else 'DOES NOT LOSE'} on {variant.check}; "
                f"{'named' if row['named'] else 'WRONG NAME' if row['wrong_name'] else 'NOT NAMED'}: "
                f"{row['diagnosis'] or row['output']}"
            )
        print(f"{variant.name:36} {verdict}", flush=True)
    correct = [r for r in rows if r["correct"]]
    mistakes = [r for r in rows if not r["correct"]]
    named = sum(r["named"] for r in mistakes)
    print()
    print(f"correct variants at full marks: {sum(r['full_marks'] for r in correct)} / {len(correct)}")
    print(f"mistakes that lose points on their check: {sum(r['loses'] for r in mistakes)} / {len(mistakes)}")
    print(f"mistakes named correctly: {named} / {len(mistakes)} ({named / max(len(mistakes), 1):.0%})")
    print(f"mistakes named wrongly: {sum(r['wrong_name'] for r in mistakes)}")
    print(f"wall time: {time.monotonic() - start:.0f} s for {len(rows)} gradings ({args.sandbox})")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
