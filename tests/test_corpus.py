"""The shared submission corpus graded end to end through ``grade run`` in real sandboxes.

Every case (``good``, ``buggy/*``, ``hostile/*``, ``archives/*.zip``) is graded once under bwrap
and, where the isolation is what is tested (``good``, ``hostile/*``), under docker too; the tests then
read the result. Those cases go through the command line (``grade run``) in a fresh working folder.
Buggy cases and archives, where what is tested is the mistake named or how an archive is taken in,
are graded in this process by ``grade()``, what ``grade run`` and a batch worker call, with the warm
sandbox workers a batch has. Expectations
come from each case's ``expect.json`` and from the assignment (which check covers which mistake,
which checks a disruption leaves alone), never from an earlier run of the grader.

The corpus lives beside the project (``../shared/corpus``) or at ``BACKPROP_GRADER_CORPUS``. A
sandbox that cannot run here skips its cases with the reason, unless
``BACKPROP_GRADER_REQUIRE_BWRAP=1`` / ``BACKPROP_GRADER_REQUIRE_DOCKER=1`` (CI) make that a failure.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from held_slots import held_slot

from grader.engine.grading import DATA_ENV, GradeOptions, grade
from grader.results import GradeResult, load_result
from grader.sandbox import SandboxUnavailable, backend_class
from grader.sandbox.runtime import UID_BASE

REPO = Path(__file__).resolve().parents[1]
CORPUS = Path(os.environ.get("BACKPROP_GRADER_CORPUS", REPO.parent / "shared" / "corpus"))
SANDBOXES = ("bwrap", "docker")
REQUIRED_BY = {"bwrap": "BACKPROP_GRADER_REQUIRE_BWRAP", "docker": "BACKPROP_GRADER_REQUIRE_DOCKER"}
#: Wall-clock ceiling for grading one case from the command line; far above the slowest case.
CASE_TIMEOUT_S = 900

#: For each buggy case: the check that covers the mistake, and words its diagnosis must contain.
BUGGY = {
    "decay-every-iteration": ("test_loss_history", r"decay"),
    "forward-python-loop": ("test_vectorised_forward", r"loop"),
    "grad-not-averaged": ("test_toy_gradients", r"averaged|1/N"),
    "half-reg-consistent": ("test_toy_loss", r"0\.5\s*\*\s*reg"),
    "mlp-no-relu": ("test_mlp_layers", r"ReLU"),
    "momentum-ascent": ("test_sgd_momentum_step", r"ascent"),
    "reg-grad-missing-2": ("test_toy_gradients", r"2\s*\*\s*reg\s*\*\s*W"),
    "softmax-no-max-shift": ("test_stable_softmax", r"max"),
}

#: For each disrupt case: checks that never call the disrupted code, so they must still pass.
#: output-flood prints from ``loss`` (and ``predict``/``train`` call ``loss``); segfault-in-predict
#: crashes ``predict`` (and ``train`` calls ``predict`` for its accuracy history).
UNTOUCHED = {
    "output-flood": {
        "test_initialisation",
        "test_sgd_momentum_step",
        "test_mlp_layers",
        "test_mlp_parameter_order",
        "test_mlp_forward",
        "test_train_mlp",
    },
    "segfault-in-predict": {
        "test_initialisation",
        "test_toy_probabilities",
        "test_toy_loss",
        "test_loss_data_term_and_regulariser",
        "test_vectorised_forward",
        "test_stable_softmax",
        "test_toy_gradients",
        "test_hidden_gradients",
        "test_sgd_momentum_step",
        "test_mlp_layers",
        "test_mlp_parameter_order",
        "test_mlp_forward",
        "test_train_mlp",
    },
}

#: For each archive that must be refused: words the one-line reason must contain.
REFUSED_ARCHIVES = {
    "absolute-path": r"absolute",
    "empty": r"empty|no files|nothing",
    "not-a-zip": r"not a (valid )?zip",
    "symlink-entry": r"link",
    "zip-bomb": r"too large|larger than|limit|bomb|ratio",
    "zip-slip": r"\.\.|outside|travers",
}
GOOD_ARCHIVES = ("good", "good-nested-folder")

#: Files whose appearance means a submission wrote outside its sandbox.
ESCAPE_EVIDENCE = (
    "/tmp/results.json",
    "/tmp/zip-slip-marker.py",
    "/autograder",
    str(Path.home() / "results.json"),
)


def _cases() -> list[tuple[str, str, Path]]:
    if not CORPUS.is_dir():
        return []
    found = [("good", "good", CORPUS / "good")]
    for kind in ("buggy", "hostile"):
        found += [(kind, p.name, p) for p in sorted((CORPUS / kind).iterdir()) if p.is_dir()]
    found += [("archives", p.stem, p) for p in sorted((CORPUS / "archives").glob("*.zip"))]
    return found


CASES = _cases()
pytestmark = [
    pytest.mark.sandbox,
    pytest.mark.slow,
    pytest.mark.skipif(not CASES, reason=f"no submission corpus at {CORPUS} (set BACKPROP_GRADER_CORPUS)"),
]


def _tree_digest(path: Path) -> str:
    """Digest of a case's bytes and names, to prove grading never modified it."""
    digest = hashlib.sha256()
    items = sorted(path.rglob("*")) if path.is_dir() else [path]
    for item in items:
        digest.update(str(item.relative_to(path.parent)).encode())
        if item.is_file() and not item.is_symlink():
            digest.update(item.read_bytes())
    return digest.hexdigest()


#: A sandbox slot of this test run's own (a root grader runs student code as UID_BASE + slot), so
#: that graders running beside the tests on the same machine cannot be mistaken for survivors.
SLOT = held_slot()


def _sandbox_processes() -> list[str]:
    """Processes running as this test run's sandbox uid."""
    found = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            text = status.read_text()
        except OSError:
            continue
        uid = int(re.search(r"^Uid:\s+(\d+)", text, re.M).group(1))
        if uid == UID_BASE + SLOT:
            found.append(f"pid {status.parent.name} uid {uid}")
    return found


def _markers() -> set[str]:
    found = {str(p) for p in Path("/tmp").glob("*marker*")}
    return found | {p for p in ESCAPE_EVIDENCE if os.path.lexists(p)}


@dataclasses.dataclass
class Graded:
    """What one ``grade run`` of a case left behind."""

    returncode: int
    result: GradeResult
    stderr: str
    leftovers_in_cwd: list[str]
    case_changed: bool
    new_markers: set[str]
    sandbox_processes: list[str]
    containers: list[str]

    def check(self, name: str) -> dict:
        return next(t.model_dump() for t in self.result.tests if t.name == name)


_graded: dict[tuple[str, str], Graded] = {}


def _require(sandbox: str) -> None:
    try:
        backend_class(sandbox).check_available()
    except (SandboxUnavailable, ImportError) as exc:
        if os.environ.get(REQUIRED_BY[sandbox]) == "1":
            pytest.fail(f"{REQUIRED_BY[sandbox]}=1 but the {sandbox} sandbox cannot run: {exc}")
        pytest.skip(f"the {sandbox} sandbox cannot run here: {exc}")


def _leftover_containers(sandbox: str) -> list[str]:
    if sandbox != "docker":
        return []
    from grader.sandbox.docker import leftover_containers

    # Containers whose grader has exited: those of graders still running beside the tests are theirs.
    return leftover_containers()


def grade_case(sandbox: str, kind: str, name: str, path: Path, tmp_root: Path) -> Graded:
    """Grade one case (cached per sandbox and case): through the command line where the sandbox
    matters, else in this process."""
    key = (sandbox, f"{kind}/{name}")
    if key in _graded:
        return _graded[key]
    _require(sandbox)
    work = tmp_root / f"{sandbox}-{kind}-{name}"
    (work / "cwd").mkdir(parents=True)
    before_digest, before_markers = _tree_digest(path), _markers()
    if kind in SANDBOX_MATTERS:
        returncode, result, stderr = _grade_on_the_command_line(sandbox, path, work)
    else:
        returncode, result, stderr = 0, _grade_here(sandbox, path), ""
    graded = Graded(
        returncode=returncode,
        result=result,
        stderr=stderr,
        leftovers_in_cwd=sorted(p.name for p in (work / "cwd").iterdir()),
        case_changed=_tree_digest(path) != before_digest,
        new_markers=_markers() - before_markers,
        sandbox_processes=_sandbox_processes(),
        containers=_leftover_containers(sandbox),
    )
    _graded[key] = graded
    return graded


def _grade_on_the_command_line(sandbox: str, path: Path, work: Path) -> tuple[int, GradeResult, str]:
    out = work / "result.json"
    env = {k: v for k, v in os.environ.items() if k != DATA_ENV}
    command = [sys.executable, "-m", "grader.cli", "run", str(path), "--sandbox", sandbox, "--out", str(out)]
    command += ["--slot", str(SLOT), "--quiet"]
    proc = subprocess.run(command, cwd=work / "cwd", env=env, capture_output=True, text=True, timeout=CASE_TIMEOUT_S)
    return proc.returncode, load_result(out), proc.stderr


def _grade_here(sandbox: str, path: Path) -> GradeResult:
    # What `grade run` does between reading its options and writing the result, without CIFAR-10 as above.
    data_dir = os.environ.pop(DATA_ENV, None)
    try:
        return grade(path, GradeOptions(sandbox=sandbox, slot=SLOT))
    finally:
        if data_dir is not None:
            os.environ[DATA_ENV] = data_dir


@pytest.fixture(scope="module")
def tmp_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("corpus")


def _ids(case: tuple[str, str, Path]) -> str:
    return f"{case[0]}/{case[1]}"


#: Kinds of case graded under every sandbox: where the isolation itself is what is tested. Buggy
#: cases and archives are graded under bwrap only; which mistake is named, or how an archive is
#: taken in, does not depend on the sandbox (intake runs before any sandbox starts).
SANDBOX_MATTERS = ("good", "hostile")


def _per_sandbox(cases: list[tuple[str, str, Path]]) -> list:
    """``(sandbox, case)`` pairs: every sandbox where the sandbox matters, bwrap alone elsewhere."""
    return [
        pytest.param(sandbox, case, id=f"{sandbox}-{_ids(case)}")
        for case in cases
        for sandbox in SANDBOXES
        if sandbox == "bwrap" or case[0] in SANDBOX_MATTERS
    ]


@pytest.mark.parametrize(("sandbox", "case"), _per_sandbox(CASES))
def test_every_case_ends_cleanly(sandbox: str, case: tuple[str, str, Path], tmp_root: Path) -> None:
    """Exit 0, a valid result, nothing written outside the work folder, nothing left running."""
    graded = grade_case(sandbox, *case, tmp_root)
    assert graded.returncode == 0, graded.stderr
    assert 0 <= graded.result.score <= graded.result.max_score
    assert graded.result.max_score == 100
    assert graded.result.sandbox == sandbox and graded.result.isolated
    assert graded.leftovers_in_cwd == [], "the submission wrote into the grader's working folder"
    assert not graded.case_changed, "grading modified the submission itself"
    assert graded.new_markers == set(), "a submission wrote outside its sandbox"
    assert graded.sandbox_processes == [], "a process of the submission survived the grading"
    assert graded.containers == [], "a container survived the grading"


GOOD = [c for c in CASES if c[0] == "good"]
BUGGY_CASES = [c for c in CASES if c[0] == "buggy"]
FORGE_CASES = [
    c for c in CASES if c[0] == "hostile" and json.loads((c[2] / "expect.json").read_text())["kind"] == "forge"
]
DISRUPT_CASES = [c for c in CASES if c[0] == "hostile" and c not in FORGE_CASES]


def _assert_full_numeric_marks(result: GradeResult) -> None:
    """Every check passes with full points, except accuracy checks skipped for want of CIFAR-10."""
    for test in result.tests:
        if test.status == "skipped":
            assert "CIFAR-10" in test.output, test
            continue
        assert (test.status, test.score) == ("passed", test.max_score), test


@pytest.mark.parametrize("sandbox", SANDBOXES)
def test_good_submission_gets_every_numeric_point(sandbox: str, tmp_root: Path) -> None:
    graded = grade_case(sandbox, *GOOD[0], tmp_root)
    assert graded.result.status == "graded"
    _assert_full_numeric_marks(graded.result)


@pytest.mark.parametrize("sandbox", SANDBOXES)
def test_grading_twice_gives_identical_scores_and_feedback(sandbox: str, tmp_root: Path) -> None:
    # Once with `grade run`, once again in this process, where earlier gradings left workers warm.
    first = grade_case(sandbox, *GOOD[0], tmp_root)
    second = _grade_here(sandbox, GOOD[0][2])

    def stable(result: GradeResult) -> list[tuple]:
        return [(t.name, t.score, t.status, t.output, t.diagnosis) for t in result.tests]

    assert stable(first.result) == stable(second)
    assert first.result.submission_sha256 == second.submission_sha256


@pytest.mark.parametrize("case", BUGGY_CASES, ids=_ids)
def test_buggy_case_loses_points_on_its_check_with_the_mistake_named(
    case: tuple[str, str, Path], tmp_root: Path
) -> None:
    check_name, words = BUGGY[case[1]]
    graded = grade_case("bwrap", *case, tmp_root)
    check = graded.check(check_name)
    assert check["score"] < check["max_score"], check
    assert re.search(words, check["diagnosis"] or "", re.I), check
    assert graded.result.score < graded.result.max_score - 10  # the two accuracy checks skip: 90 at most


@pytest.mark.parametrize("sandbox", SANDBOXES)
@pytest.mark.parametrize("case", FORGE_CASES, ids=_ids)
def test_forging_case_scores_exactly_zero(sandbox: str, case: tuple[str, str, Path], tmp_root: Path) -> None:
    graded = grade_case(sandbox, *case, tmp_root)
    assert graded.result.score == 0
    assert all(t.score == 0 for t in graded.result.tests)


@pytest.mark.parametrize("sandbox", SANDBOXES)
@pytest.mark.parametrize("case", DISRUPT_CASES, ids=_ids)
def test_disruption_leaves_untouched_checks_passing(sandbox: str, case: tuple[str, str, Path], tmp_root: Path) -> None:
    graded = grade_case(sandbox, *case, tmp_root)
    for name in UNTOUCHED[case[1]]:
        check = graded.check(name)
        assert (check["status"], check["score"]) == ("passed", check["max_score"]), check
    assert any(t.status != "passed" and t.status != "skipped" for t in graded.result.tests), "nothing was disrupted?"


ARCHIVES = [c for c in CASES if c[0] == "archives"]


@pytest.mark.parametrize("case", [c for c in ARCHIVES if c[1] in REFUSED_ARCHIVES], ids=_ids)
def test_bad_archive_is_refused_with_a_clear_reason(case: tuple[str, str, Path], tmp_root: Path) -> None:
    graded = grade_case("bwrap", *case, tmp_root)
    assert graded.result.status == "rejected"
    assert graded.result.score == 0
    assert "\n" not in graded.result.message
    assert re.search(REFUSED_ARCHIVES[case[1]], graded.result.message, re.I), graded.result.message


@pytest.mark.parametrize("case", [c for c in ARCHIVES if c[1] in GOOD_ARCHIVES], ids=_ids)
def test_good_archive_is_graded_like_the_folder(case: tuple[str, str, Path], tmp_root: Path) -> None:
    graded = grade_case("bwrap", *case, tmp_root)
    assert graded.result.status == "graded"
    _assert_full_numeric_marks(graded.result)


def test_missing_file_zeroes_its_checks_and_names_the_file(tmp_root: Path) -> None:
    case = next(c for c in ARCHIVES if c[1] == "missing-files")
    graded = grade_case("bwrap", *case, tmp_root)
    missing = [t for t in graded.result.tests if "is missing from the submission" in t.output]
    assert missing, [t.output for t in graded.result.tests]
    assert all(t.score == 0 and re.search(r"\w+\.py is missing", t.output) for t in missing)


def test_syntax_error_names_file_and_line(tmp_root: Path) -> None:
    case = next(c for c in ARCHIVES if c[1] == "syntax-error")
    graded = grade_case("bwrap", *case, tmp_root)
    text = graded.result.message + " ".join(t.output for t in graded.result.tests)
    assert re.search(r"SyntaxError", text) and re.search(r"\w+\.py.{0,12}line \d+", text), text
    assert graded.result.score < graded.result.max_score / 2
