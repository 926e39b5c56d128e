"""``grade report``: gradebook, instructor HTML and student feedback from a folder of real result files.

The class is built by hand (real :class:`GradeResult` files, written as the batch writes them), so
every expected number below is worked out from the checks listed here, not taken from the code.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import os
import re
import shutil
import struct
import subprocess
import zlib
from datetime import datetime, timezone
from html.parser import HTMLParser
from pathlib import Path

import pytest
from classroom import run_grade
from click.testing import CliRunner

from grader.batch.run import SUMMARY_NAME, BatchItem, BatchSummary
from grader.cli.app import main
from grader.report.gradebook import render_gradebook
from grader.results import CheckResult, GradeResult, write_atomic

SECRET = "SECRET-HIDDEN-INPUT-7431"
SCRIPT = '<script>document.title="pwned"</script><img src=x onerror=alert(1)>'
# Intake quotes entry names from the archive, so a student can put markup into a rejection message.
REJECTION = f"refused: {SCRIPT!r} is a symbolic link"
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)


def _check(name: str, title: str, score: float, max_score: float, status: str, **extra: object) -> CheckResult:
    fields: dict[str, object] = {"output": "", **extra}
    return CheckResult(name=name, title=title, score=score, max_score=max_score, status=status, **fields)


def _result(checks: list[CheckResult], *, duration: float, status: str = "graded", message: str = "") -> GradeResult:
    return GradeResult.build(
        assignment="hlcv-ex2",
        assignment_version="1.0.0",
        grader_version="0.1.0",
        submission_sha256="ab" * 32,
        sandbox="bwrap",
        isolated=True,
        tests=checks,
        status=status,
        message=message,
        started_at=NOW,
        duration_s=duration,
    )


def _class() -> dict[str, GradeResult]:
    return {
        "alice": _result(
            [
                _check("test_forward", "Forward pass", 4, 4, "passed"),
                _check("test_backprop", "Backprop", 0, 6, "failed", output="dW1 off", diagnosis="missing 1/N"),
                _check(
                    "test_hidden",
                    "Hidden gradients",
                    0,
                    8,
                    "failed",
                    visibility="hidden",
                    output=f"on hidden input {SECRET}",
                    diagnosis="reg*W instead of 2*reg*W",
                ),
            ],
            duration=12.5,
        ),
        "bob": _result(
            [
                _check("test_forward", "Forward pass", 4, 4, "passed"),
                _check("test_backprop", "Backprop", 6, 6, "passed"),
                _check("test_hidden", "Hidden gradients", 8, 8, "passed", visibility="hidden"),
            ],
            duration=3.0,
        ),
        "carol": _result(
            [
                _check("test_forward", "Forward pass", 0, 4, "error", output="loss(X) did not finish within 20 s"),
                _check("test_backprop", "Backprop", 2.5, 6, "failed", output=SCRIPT, diagnosis="missing 1/N"),
                _check(
                    "test_hidden",
                    "Hidden gradients",
                    0,
                    8,
                    "error",
                    visibility="hidden",
                    output="loss(X) did not finish within 20 s",
                ),
            ],
            duration=40.0,
        ),
        "dave": _result(
            [
                _check(n, t, 0, m, "error", output=f"submission not graded: {REJECTION}")
                for n, t, m in (
                    ("test_forward", "Forward pass", 4),
                    ("test_backprop", "Backprop", 6),
                    ("test_hidden", "Hidden gradients", 8),
                )
            ],
            duration=2.0,
            status="rejected",
            message=REJECTION,
        ),
    }


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A results folder as ``grade batch`` leaves it, and ``grade report`` run on it."""
    results = tmp_path_factory.mktemp("results")
    for student_id, result in _class().items():
        write_atomic(results / f"{student_id}.json", result.to_json())
    (results / "zed.json").write_text("{ not json")
    summary = BatchSummary(
        assignment="hlcv-ex2",
        assignment_version="1.0.0",
        grader_version="0.1.0",
        executor="serial",
        started_at=NOW,
        duration_s=60,
        total=5,
        graded=4,
        skipped=0,
        failed=1,
        items=[BatchItem(student_id="erin", path="/x/erin", outcome="failed", reason="KilledWorker: workers died")],
    )
    write_atomic(results / SUMMARY_NAME, summary.model_dump_json())
    done = run_grade("report", str(results), "--out", str(results / "report"))
    assert done.returncode == 0, done.stderr
    assert "zed.json" in done.stderr  # the broken file is named, not silently dropped
    return results / "report"


def test_gradebook_has_one_row_per_student_with_total_and_one_column_per_check(report: Path) -> None:
    text = (report / "gradebook.csv").read_bytes().decode("utf-8")
    assert "\r\n" in text  # RFC 4180 line ends, as LMS importers expect
    rows = list(csv.reader(io.StringIO(text)))
    assert rows == [
        ["student_id", "total", "Forward pass", "Backprop", "Hidden gradients"],
        ["alice", "4", "4", "0", "0"],
        ["bob", "18", "4", "6", "8"],
        ["carol", "2.5", "0", "2.5", "0"],
        ["dave", "0", "0", "0", "0"],
    ]


def test_gradebook_cells_cannot_become_spreadsheet_formulas() -> None:
    result = _result([_check("test_x", '=HYPERLINK("http://x")', 1, 1, "passed")], duration=1)
    header = next(csv.reader(io.StringIO(render_gradebook({"s1": result}))))
    assert header[2] == '\'=HYPERLINK("http://x")'


class _Structure(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attributes: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attributes += [name for name, _ in attrs]

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_html_report_is_self_contained_and_shows_student_text_literally(report: Path) -> None:
    page = (report / "report.html").read_text(encoding="utf-8")
    parsed = _Structure()
    parsed.feed(page)
    assert not {"link", "img", "iframe", "object", "embed"} & set(parsed.tags)
    assert not [a for a in parsed.attributes if a == "src" or a.startswith("on")]
    assert parsed.tags.count("svg") == 2  # distribution and pass rates, inline
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    assert SCRIPT in "".join(parsed.text)  # shown as text, exactly as the student wrote it
    # One script, the table sorter, allowed by its hash and nothing else; links only to feedback files.
    scripts = re.findall(r"<script>(.*?)</script>", page, re.S)
    assert parsed.tags.count("script") == len(scripts) == 1
    digest = base64.b64encode(hashlib.sha256(scripts[0].encode("utf-8")).digest()).decode()
    assert re.search(r"script-src 'sha256-([^']+)'", page).group(1) == digest
    assert "'unsafe-inline'" not in re.search(r"script-src[^;\"]*", page).group(0)
    links = re.findall(r"href='([^']*)'", page)
    assert links == [f"feedback/{sid}.md" for sid in ("alice", "bob", "carol")]  # graded ones, in the heat map
    assert all((report / link).is_file() for link in links)


def _section(page: str, anchor: str) -> str:
    start = page.index(f"id='{anchor}'")
    end = page.find("<h2", start)
    return page[start : end if end > 0 else None]


def test_html_report_sections_say_what_happened_in_the_class(report: Path) -> None:
    page = (report / "report.html").read_text(encoding="utf-8")
    distribution = _section(page, "distribution")
    # Totals 4, 18, 2.5, 0: mean 6.125, median 3.25.
    assert "<td class='num'>4</td><td class='num'>6.12</td><td class='num'>3.25</td>" in distribution
    checks = _section(page, "checks")
    # Pass rates among the three graded submissions (the rejected one is left out): 2/3, 1/3, 1/3.
    assert "Forward pass</td><td>test_forward</td><td class='num'>4.0</td><td class='num'>2</td>" in checks
    assert "<td class='num'>67%</td>" in checks and checks.count("<td class='num'>33%</td>") == 2
    assert "1 rejected or errored submissions are not counted" in checks
    # Backprop: bob full marks, carol partial credit (2.5 of 6), alice none; mean (6 + 2.5 + 0) / 3.
    backprop = "".join(f"<td class='num'>{v}</td>" for v in ("6.0", 1, 1, 1, 0, "2.83", "33%"))
    assert "<td>Backprop</td><td>test_backprop</td>" + backprop in checks
    counted = _section(page, "counted")
    assert "4 results: 3 graded, 1 rejected (not taken in), 0 grader errors; 1 submissions failed to grade" in counted
    heat = _section(page, "heatmap")
    assert "<a href='feedback/carol.md'>carol</a>" in heat and "dave" not in heat
    assert "data-sort='2.5' title='Backprop: failed'>2.5</td>" in heat  # partial credit, its own colour
    mistakes = _section(page, "mistakes")
    assert "<td>missing 1/N</td><td>Backprop</td><td class='num'>2</td><td>alice, carol</td>" in mistakes
    assert "<td>reg*W instead of 2*reg*W</td><td>Hidden gradients</td><td class='num'>1</td><td>alice</td>" in mistakes
    assert (
        "<td>carol</td><td class='num'>2.5</td><td class='num'>18.0</td><td>graded</td><td class='num'>40.0</td>"
        in (_section(page, "students"))
    )
    problems = _section(page, "problems")
    assert (
        "<td>erin</td><td>failed to grade</td><td class='num'>all</td><td>KilledWorker: workers died</td>" in problems
    )
    # Both of carol's time-outs make one row, naming the first.
    carol = "<td>carol</td><td>timed out</td><td class='num'>2</td><td>Forward pass: loss(X) did not finish within 20 s"
    assert carol in problems and problems.count("<td>carol</td>") == 1
    assert (
        "<td>dave</td><td>rejected</td><td class='num'>all</td><td>refused: &#x27;&lt;script&gt;document.title="
        in problems
    )
    slowest = _section(page, "slowest")
    assert slowest.index("<td>carol</td>") < slowest.index("<td>alice</td>") < slowest.index("<td>bob</td>")
    assert "zed.json" in _section(page, "unreadable")


def test_feedback_files_show_points_but_not_hidden_details(report: Path) -> None:
    files = sorted(p.name for p in (report / "feedback").iterdir())
    assert files == ["alice.md", "bob.md", "carol.md", "dave.md"]
    alice = (report / "feedback" / "alice.md").read_text(encoding="utf-8")
    assert alice.startswith("# Feedback for alice\n")
    assert "| Hidden gradients | 0.0 / 8.0 | failed | Hidden check. |" in alice
    assert "Likely mistake: missing 1/N" in alice  # a visible check's diagnosis is feedback
    assert SECRET not in alice and "reg\\*W instead" not in alice and "reg*W instead" not in alice
    carol = (report / "feedback" / "carol.md").read_text(encoding="utf-8")
    assert "<script>" not in carol and "&lt;script&gt;" in carol


@pytest.mark.parametrize(
    "content, says",
    [
        ({}, "is empty; grade a class first"),
        ({"alice.zip": b"PK", "bob/two_layernet.py": b"x = 1\n"}, "holds submissions, not results"),
        ({"alice.json": b'{"score": "full"}'}, "no readable result in"),
        ({"notes.txt": b"hello"}, "no result files (<student_id>.json"),
    ],
    ids=["empty", "submissions", "broken-results", "other-files"],
)
def test_report_of_a_folder_without_results_writes_nothing_and_says_why(
    tmp_path: Path, content: dict[str, bytes], says: str
) -> None:
    for name, data in content.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(data)
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    done = CliRunner().invoke(main, ["report", str(tmp_path)], prog_name="grade")
    assert done.exit_code == 2
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and says in lines[0], done.stderr
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before  # no report folder


# -- in a real browser ------------------------------------------------------------------------------


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if os.environ.get("BACKPROP_GRADER_REQUIRE_CHROMIUM") == "1":
            pytest.fail("BACKPROP_GRADER_REQUIRE_CHROMIUM=1 but chromium is not installed")
        pytest.skip("chromium is not installed (apt-get install chromium) to check the report in a browser")
    return found


def _headless(browser: str, *args: str) -> subprocess.CompletedProcess[str]:
    # --no-sandbox: Chromium refuses to run as root with its own sandbox; the page has no script anyway.
    argv = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run", *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=120)


def _png_pixels(data: bytes) -> tuple[int, int, list[bytes]]:
    """Decode an 8-bit RGB or RGBA PNG into rows of raw pixels (enough for a screenshot)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, b"", b""
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        chunk = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            header = chunk
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    width, height, depth, colour = struct.unpack(">IIBB", header[:10])
    assert depth == 8 and colour in (2, 6) and header[12] == 0  # not interlaced
    channels = 3 if colour == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * channels
    rows: list[bytes] = []
    previous = bytearray(stride)
    for y in range(height):
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up, corner = previous[i], previous[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                line[i] = (line[i] + (left if pa <= pb and pa <= pc else up if pb <= pc else corner)) & 0xFF
        rows.append(bytes(line))
        previous = line
    return width, channels, rows


def test_report_renders_in_a_real_browser(report: Path, tmp_path: Path) -> None:
    browser = _chromium()
    page = (report / "report.html").resolve().as_uri()
    shot = tmp_path / "report.png"
    done = _headless(browser, f"--screenshot={shot}", "--window-size=1000,1400", page)
    assert shot.is_file() and shot.stat().st_size > 0, done.stderr[-2000:]
    width, channels, rows = _png_pixels(shot.read_bytes())
    pixels = {row[i : i + 3] for row in rows[::4] for i in range(0, width * channels, channels * 4)}
    white = bytes([255, 255, 255])
    assert len(pixels - {white}) > 20, "the screenshot is blank"
    bar = bytes([0x4E, 0x79, 0xA7])  # the histogram's bar colour: the inline SVG was drawn
    assert bar in pixels

    dom = _headless(browser, "--dump-dom", page)
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert "<title>Class report: hlcv-ex2</title>" in dom.stdout  # the student's script did not retitle it
    assert dom.stdout.count("<script") == 1 and "<img" not in dom.stdout  # only the table sorter
    assert '&lt;script&gt;document.title="pwned"&lt;/script&gt;' in dom.stdout
