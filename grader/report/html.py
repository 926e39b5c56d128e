"""The instructor's HTML report: one self-contained file (inline CSS, SVG and one script, no network).

Everything from a result file is escaped with :func:`html.escape` before it is placed in the page
(SECURITY-NOTES G2): feedback quotes student output, and a student can make it say ``<script>``. As a
second line of defence the page's Content-Security-Policy allows no network at all and runs exactly one
script, the table sorter below, named by its SHA-256 (anything else, injected or not, is refused).
The only links are relative ones to the students' feedback files beside the report.
Hidden checks are shown in full: this report is for the instructor, never for students.
"""

from __future__ import annotations

import base64
import hashlib
import html
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone

from grader.batch import similarity
from grader.report import analysis, charts
from grader.report.collect import ClassResults
from grader.results import GradeResult
from grader.writers._text import format_points

#: Click a column header to sort by it (numbers as numbers), click again to reverse. The only script.
SORTER = """
document.querySelectorAll('table.sortable th').forEach(function (th) {
  th.addEventListener('click', function () {
    var table = th.closest('table'), body = table.tBodies[0], col = th.cellIndex;
    var down = th.getAttribute('aria-sort') !== 'ascending';
    table.querySelectorAll('th').forEach(function (h) { h.removeAttribute('aria-sort'); });
    th.setAttribute('aria-sort', down ? 'ascending' : 'descending');
    var key = function (row) {
      var cell = row.cells[col], text = cell ? (cell.dataset.sort || cell.textContent.trim()) : '';
      var number = parseFloat(text);
      return isNaN(number) ? text.toLowerCase() : number;
    };
    Array.from(body.rows).sort(function (a, b) {
      var x = key(a), y = key(b), order = (typeof x === typeof y) ? (x < y ? -1 : x > y ? 1 : 0)
        : (typeof x === 'number' ? -1 : 1);
      return down ? order : -order;
    }).forEach(function (row) { body.appendChild(row); });
  });
});
"""
_SORTER_HASH = base64.b64encode(hashlib.sha256(SORTER.encode("utf-8")).digest()).decode("ascii")
CSP = f"default-src 'none'; style-src 'unsafe-inline'; img-src data:; script-src 'sha256-{_SORTER_HASH}'"
STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 70rem; padding: 0 1rem; color: #222; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.25rem; margin-top: 2.2rem; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: 0.8rem 0; font-size: 0.9rem; }
th, td { border: 1px solid #ddd; padding: 0.3rem 0.6rem; text-align: left; vertical-align: top; }
th { background: #f4f4f4; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
.muted { color: #666; } .warn { color: #a33; } svg { max-width: 100%; height: auto; }
table.sortable th { cursor: pointer; } th[aria-sort=ascending]::after { content: " \\25B2"; }
th[aria-sort=descending]::after { content: " \\25BC"; }
table.heat td.cell { text-align: center; min-width: 2.4rem; } table.heat th.check { writing-mode: vertical-rl; }
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _table(headers: Sequence[str], rows: Iterable[Sequence[object]], numeric: Sequence[int] = ()) -> str:
    out = [
        "<table class='sortable'>",
        "<thead><tr>" + "".join(f"<th>{_e(h)}</th>" for h in headers) + "</tr></thead>",
        "<tbody>",
    ]
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
    body.append(_counted(data))
    body += _distribution(results)
    body += _checks(results)
    body += _heatmap(data)
    body += _mistakes(data)
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
        + f"\n<script>{SORTER}</script>\n</body>\n</html>\n"
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


def _counted(data: ClassResults) -> str:
    """One sentence on what every figure below counts, so no two sections disagree silently."""
    statuses = [r.status for r in data.results.values()]
    failed = len(data.summary.by_outcome("failed")) if data.summary is not None else 0
    return (
        f"<p id='counted'>{len(statuses)} results: {statuses.count('graded')} graded, "
        f"{statuses.count('rejected')} rejected (not taken in), {statuses.count('error')} grader errors"
        + (f"; {failed} submissions failed to grade and have no result" if failed else "")
        + ". The score distribution and the table of everyone count every result; pass rates, score "
        "distributions per check, the heat map and the mistakes count the graded ones only.</p>"
    )


def _checks(results: list[GradeResult]) -> list[str]:
    stats = analysis.check_stats(_graded(results))
    rows = [
        (
            s.column.title,
            s.column.name,
            format_points(s.column.max_score),
            s.passed,
            s.partial,
            s.failed - s.partial,
            s.skipped,
            _points(s.mean_points),
            f"{s.pass_rate:.0%}" if s.pass_rate is not None else "n/a",
        )
        for s in stats
    ]
    headers = ["Check", "Name", "Points", "Full marks", "Partial", "No points", "Skipped", "Mean points", "Pass rate"]
    return [
        "<h2 id='checks'>Pass rate and score distribution per check</h2>",
        _not_counted(results),
        charts.pass_rates(stats) if stats else "<p>No checks.</p>",
        _table(headers, rows, numeric=range(2, 9)),
    ]


_HEAT = {"full": "#b7e1b0", "partial": "#f7dc8b", "none": "#f2b8b5", "skipped": "#e6e6e6"}


def _heat_class(score: float, max_score: float, status: str) -> str:
    if status == "skipped":
        return "skipped"
    if score >= max_score:
        return "full"
    return "partial" if score > 0 else "none"


def _heatmap(data: ClassResults) -> list[str]:
    """Students by checks, each cell the points and coloured by them; names link to the feedback."""
    graded = {sid: r for sid, r in sorted(data.results.items()) if r.status == "graded"}
    columns = analysis.check_columns(list(graded.values()))
    out = ["<h2 id='heatmap'>Every student, every check</h2>"]
    if not graded:
        return out + ["<p>No graded submissions.</p>"]
    legend = " ".join(
        f"<span style='background:{colour};padding:0 0.4rem'>{_e(name)}</span>" for name, colour in _HEAT.items()
    )
    head = "".join(f"<th class='check' title='{_e(c.title)}'>{_e(c.label)}</th>" for c in columns)
    rows = []
    for sid, result in graded.items():
        by_name = {c.name: c for c in result.tests}
        cells = []
        for column in columns:
            check = by_name.get(column.name)
            if check is None:
                cells.append("<td class='cell' data-sort='-1'>-</td>")
                continue
            kind = _heat_class(check.score, check.max_score, check.status)
            cells.append(
                f"<td class='cell' style='background:{_HEAT[kind]}' data-sort='{check.score:g}' "
                f"title='{_e(column.title)}: {_e(check.status)}'>{_e(format_points(check.score))}</td>"
            )
        link = f"<a href='feedback/{_e(sid)}.md'>{_e(sid)}</a>"
        rows.append(f"<tr><td>{link}</td><td class='num'>{_e(format_points(result.score))}</td>{''.join(cells)}</tr>")
    return out + [
        f"<p class='muted'>{legend} &middot; a name opens that student's feedback file.</p>",
        "<table class='sortable heat'><thead><tr><th>Student</th><th>Total</th>" + head + "</tr></thead>",
        "<tbody>" + "\n".join(rows) + "</tbody></table>",
    ]


def _mistakes(data: ClassResults) -> list[str]:
    graded = {sid: r for sid, r in data.results.items() if r.status == "graded"}
    mistakes = analysis.common_mistakes(graded)
    out = ["<h2 id='mistakes'>Most common mistakes</h2>"]
    if not mistakes:
        return out + ["<p>No recognised mistakes in these results.</p>"]
    rows = [(m.diagnosis, ", ".join(m.checks), len(m.students), ", ".join(m.students)) for m in mistakes]
    return out + [_table(["Mistake", "Seen in", "Students", "Who"], rows, numeric=(2,))]


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
        (student_id, format_points(r.score), format_points(r.max_score), r.status, f"{r.duration_s:.1f}", r.message)
        for student_id, r in sorted(data.results.items())
    ]
    return [
        "<h2 id='students'>All submissions</h2>",
        _table(["Student", "Score", "Of", "Status", "Seconds", "Message"], rows, (1, 2, 4)),
    ]
