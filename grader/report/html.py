"""The instructor's HTML report: one self-contained file (inline CSS and SVG, no script, no links out).

Everything from a result file is escaped with :func:`html.escape` before it is placed in the page
(SECURITY-NOTES G2): feedback quotes student output, and a student can make it say ``<script>``. As a
second line of defence the page's Content-Security-Policy allows no script and no network at all.
Hidden checks are shown in full: this report is for the instructor, never for students.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone

from grader.batch import similarity
from grader.report import analysis, charts
from grader.report.collect import ClassResults
from grader.results import GradeResult
from grader.writers._text import format_points

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 70rem; padding: 0 1rem; color: #222; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.25rem; margin-top: 2.2rem; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: 0.8rem 0; font-size: 0.9rem; }
th, td { border: 1px solid #ddd; padding: 0.3rem 0.6rem; text-align: left; vertical-align: top; }
th { background: #f4f4f4; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
.muted { color: #666; } .warn { color: #a33; } svg { max-width: 100%; height: auto; }
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _table(headers: Sequence[str], rows: Iterable[Sequence[object]], numeric: Sequence[int] = ()) -> str:
    out = ["<table>", "<thead><tr>" + "".join(f"<th>{_e(h)}</th>" for h in headers) + "</tr></thead>", "<tbody>"]
    for row in rows:
        cells = "".join(
            f"<td class='num'>{_e(cell)}</td>" if i in numeric else f"<td>{_e(cell)}</td>" for i, cell in enumerate(row)
        )
        out.append(f"<tr>{cells}</tr>")
    out.append("</tbody></table>")
    return "\n".join(out)


def _points(value: float | None) -> str:
    return "-" if value is None else format_points(value)


def render_html(data: ClassResults, *, generated_at: datetime | None = None) -> str:
    """The whole report as one HTML document."""
    results = list(data.results.values())
    generated_at = generated_at or datetime.now(timezone.utc)
    versions = sorted({(r.assignment, r.assignment_version, r.grader_version) for r in results})
    title = "Class report" + (f": {versions[0][0]}" if len({v[0] for v in versions}) == 1 else "")
    body = [f"<h1>{_e(title)}</h1>"]
    shown = "; ".join(f"{a} {av} (grader {gv})" for a, av, gv in versions) or "no results"
    body.append(
        f"<p class='muted'>{len(results)} results &middot; {_e(shown)} &middot; "
        f"generated {_e(generated_at.strftime('%Y-%m-%d %H:%M UTC'))}</p>"
    )
    if len(versions) > 1:
        body.append("<p class='warn'>The results come from more than one assignment or grader version.</p>")
    body += _distribution(results)
    body += _checks(results)
    body += _mistakes(results)
    body += _duplicates(data)
    body += _problems(data)
    body += _slowest(data)
    body += _everyone(data)
    if data.unreadable:
        body.append("<h2 id='unreadable'>Files that are not valid results</h2>")
        body.append(_table(["File", "Reason"], data.unreadable))
    return (
        "<!DOCTYPE html>\n<html lang='en'>\n<head>\n<meta charset='utf-8'>\n"
        f"<meta http-equiv='Content-Security-Policy' content=\"{CSP}\">\n"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>\n"
        f"<title>{_e(title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
        + "\n".join(body)
        + "\n</body>\n</html>\n"
    )


def _distribution(results: list[GradeResult]) -> list[str]:
    dist = analysis.distribution(results)
    stats = [
        ("Submissions", dist.count),
        ("Mean", _points(dist.mean)),
        ("Median", _points(dist.median)),
        ("Lowest", _points(dist.minimum)),
        ("Highest", _points(dist.maximum)),
        ("Points available", _points(dist.max_score)),
    ]
    return [
        "<h2 id='distribution'>Score distribution</h2>",
        _table([name for name, _ in stats], [[value for _, value in stats]], numeric=range(len(stats))),
        charts.histogram(dist),
    ]


def _graded(results: list[GradeResult]) -> list[GradeResult]:
    # A rejected submission, or one the grader failed on, ran no check: counting its checks as
    # failures would say something about intake, not about what the class understood.
    return [r for r in results if r.status == "graded"]


def _not_counted(results: list[GradeResult]) -> str:
    left_out = len(results) - len(_graded(results))
    if not left_out:
        return ""
    return f"<p class='muted'>{left_out} rejected or errored submissions are not counted here (see below).</p>"


def _checks(results: list[GradeResult]) -> list[str]:
    stats = analysis.check_stats(_graded(results))
    rows = [
        (
            s.column.title,
            s.column.name,
            format_points(s.column.max_score),
            s.passed,
            s.failed,
            s.skipped,
            f"{s.pass_rate:.0%}" if s.pass_rate is not None else "n/a",
        )
        for s in stats
    ]
    return [
        "<h2 id='checks'>Pass rate per check</h2>",
        _not_counted(results),
        charts.pass_rates(stats) if stats else "<p>No checks.</p>",
        _table(["Check", "Name", "Points", "Passed", "Failed", "Skipped", "Pass rate"], rows, numeric=(2, 3, 4, 5, 6)),
    ]


def _mistakes(results: list[GradeResult]) -> list[str]:
    mistakes = analysis.common_mistakes(_graded(results))
    out = ["<h2 id='mistakes'>Most common mistakes</h2>"]
    if not mistakes:
        return out + ["<p>No recognised mistakes in these results.</p>"]
    return out + [_table(["Mistake", "Check", "Submissions"], mistakes, numeric=(2,))]


def _duplicates(data: ClassResults) -> list[str]:
    """Identical submissions (same content hash) and near-identical code, for a person to look at."""
    out = ["<h2 id='duplicates'>Identical and near-identical submissions</h2>"]
    hashes = {sid: r.submission_sha256 for sid, r in data.results.items() if r.status == "graded"}
    groups = similarity.identical(hashes)
    if groups:
        rows = [(len(ids), ", ".join(ids), hashes[ids[0]][:12]) for ids in groups]
        out.append(_table(["Students", "Who", "Content hash"], rows, numeric=(0,)))
    else:
        out.append("<p>No two graded submissions have the same content.</p>")
    if data.fingerprints is None:
        out.append(
            "<p class='muted'>Near-identical code is compared by <code>grade batch</code>; no fingerprints here.</p>"
        )
        return out
    prints = {sid: fp for sid, fp in data.fingerprints.students.items() if sid in hashes}
    pairs = similarity.near_identical(prints)
    out.append(
        f"<p class='muted'>Near-identical: the same code in at least {similarity.NEAR_IDENTICAL:.0%} of "
        f"their {similarity.SHINGLE}-token runs, leaving out runs that more than "
        f"{similarity.COMMON_FRACTION:.0%} of the class shares (the handout); comments and layout do not count.</p>"
    )
    if pairs:
        out.append(
            _table(
                ["Student", "Student", "Similarity"], [(m.first, m.second, f"{m.similarity:.0%}") for m in pairs], (2,)
            )
        )
    else:
        out.append("<p>No near-identical pairs.</p>")
    return out


def _problems(data: ClassResults) -> list[str]:
    found = analysis.problems(data)
    out = ["<h2 id='problems'>Errors and time-outs</h2>"]
    if not found:
        return out + ["<p>Every submission was graded without errors or time-outs.</p>"]
    rows = [(p.student_id, p.kind, p.checks or "all", p.detail) for p in found]
    return out + [_table(["Student", "What happened", "Checks", "Details (first check)"], rows, numeric=(2,))]


def _slowest(data: ClassResults) -> list[str]:
    rows = [
        (student_id, f"{r.duration_s:.1f}", format_points(r.score), r.status)
        for student_id, r in analysis.slowest(data)
    ]
    return [
        "<h2 id='slowest'>Slowest submissions</h2>",
        _table(["Student", "Seconds", "Score", "Status"], rows, (1, 2)),
    ]


def _everyone(data: ClassResults) -> list[str]:
    rows = [
        (student_id, format_points(r.score), format_points(r.max_score), r.status, r.message)
        for student_id, r in sorted(data.results.items())
    ]
    return [
        "<h2 id='students'>All submissions</h2>",
        _table(["Student", "Score", "Of", "Status", "Message"], rows, (1, 2)),
    ]
