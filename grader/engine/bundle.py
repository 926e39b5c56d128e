"""``grade pack bundle``: a student distribution of one assignment that never contains a solution.

The bundle is a small Python distribution of its own (package ``backprop_grader_student``) holding:

- the engine parts the self-check needs (intake, sandboxes, worker, rubric runner, results, writers,
  ``grade check`` and the CI publisher), copied from this grader under the new package name;
- the pack's *visible, freezable* checks as code (their comparisons and feedback, unchanged), its
  ``fixtures.py`` and ``assignment.toml``, and its settings model;
- for each of those checks, the trusted values they use, frozen as data (``frozen.json`` and
  ``frozen.npz``, see :mod:`grader.engine.frozen`), recorded by running the checks against the
  pack's example, its handout and each declared mistake;
- for each visible check that is not freezable, a stub with its title and points that is skipped
  ("checked only by the instructor's grader");
- beside the package (not installed): the handout and a README.

It never holds the reference, hidden checks, the pack's other modules (input generators, mistake
catalogue, example) or any secret: those modules are served to the shipped checks as frozen modules.
A check is freezable when it carries ``@freezable`` (see :mod:`grader.pack`) and is not ``hidden``.
"""

from __future__ import annotations

import ast
import contextlib
import dataclasses
import importlib
import importlib.metadata
import importlib.util
import os
import pkgutil
import re
import secrets
import shutil
import sys
import tempfile
import textwrap
import types
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from grader import __version__
from grader.engine import frozen
from grader.engine.packs import Assignment, load_assignment
from grader.sandbox import Sandbox

#: The package name of every student bundle (distinct from ``grader``: both can share one venv).
PACKAGE = "backprop_grader_student"
#: The engine files a bundle carries, relative to ``grader/`` (folders are copied whole, no caches).
ENGINE_FILES = (
    "__init__.py",
    "pack.py",
    "results.py",
    "boundary",
    "worker",
    "sandbox",
    "writers",
    "engine/__init__.py",
    "engine/budget.py",
    "engine/compare.py",
    "engine/datasets.py",
    "engine/frozen.py",
    "engine/grading.py",
    "engine/intake.py",
    "engine/packs.py",
    "engine/rubric.py",
    "engine/rubric.ini",
    "engine/secret.py",
    "engine/shared_data.py",
    "engine/tar_intake.py",
    "engine/validate.py",
    "batch/__init__.py",
    "batch/slots.py",
    "cli/ci.py",
    "cli/console.py",
    "cli/exits.py",
    "cli/options.py",
    "cli/outfile.py",
    "cli/selfcheck.py",
    "cli/shutdown.py",
    "cli/student.py",
)
#: Modules of a pack that ship as code (check modules ``test_*`` ship when they hold a visible check).
#: ``patterns`` words the shape of an error (feedback only, no solution): shipped so that checks naming an
#: error pattern of the student's own output judge it in the bundle too.
SHIPPED_PACK_MODULES = ("fixtures", "patterns")
#: The feedback of a visible check that is not in the bundle.
NOT_IN_BUNDLE = "checked only by the instructor's grader (not part of this self-check)"
_GRADER_DIR = Path(__file__).resolve().parent.parent
_DIST = "backprop-grader"


class BundleError(Exception):
    """The bundle cannot be built; the message is one line."""


@dataclasses.dataclass(frozen=True)
class CheckInfo:
    """One check of a pack as the bundle sees it."""

    module: str
    name: str
    marks: tuple[Any, ...]

    def has(self, mark: str) -> bool:
        return any(m.name == mark for m in self.marks)

    @property
    def hidden(self) -> bool:
        return self.has("hidden")

    @property
    def frozen(self) -> bool:
        """Shipped as code with frozen values: visible and declared ``freezable``."""
        return self.has("freezable") and not self.hidden


@dataclasses.dataclass
class BundleReport:
    """What was built: where, which checks went in how, and what recording saw."""

    folder: Path
    frozen: list[str]
    stubbed: list[str]
    left_out: int
    recorded_from: list[str]
    frozen_calls: int
    live_calls: list[str]
    conflicts: list[str]


def survey(assignment: Assignment) -> list[CheckInfo]:
    """Every check of ``assignment`` with its marks (its own and its module's ``pytestmark``)."""
    checks = []
    for path in sorted(assignment.folder.glob("test_*.py")):
        try:
            module = importlib.import_module(f"{assignment.package}.{path.stem}")
        except Exception as exc:  # noqa: BLE001 - the pack's own code
            raise BundleError(f"{path.name} does not import: {type(exc).__name__}: {exc}") from None
        module_marks = getattr(module, "pytestmark", [])
        module_marks = list(module_marks) if isinstance(module_marks, (list, tuple)) else [module_marks]
        for name, value in vars(module).items():
            if name.startswith("test") and callable(value) and getattr(value, "__module__", "") == module.__name__:
                marks = [getattr(m, "mark", m) for m in [*getattr(value, "pytestmark", []), *module_marks]]
                checks.append(CheckInfo(path.stem, name, tuple(marks)))
    return checks


# --------------------------------------------------------------------------------------------------
# Staging: the pack's folder as the bundle carries it (still importing ``grader``)


def _stub(check: CheckInfo) -> str:
    """A check that only says it is not part of the bundle, with the original's marks."""
    lines = []
    for mark in check.marks:
        if mark.name == "freezable":
            continue
        arguments = ", ".join([*map(repr, mark.args), *(f"{k}={v!r}" for k, v in mark.kwargs.items())])
        lines.append(f"@pytest.mark.{mark.name}({arguments})" if arguments else f"@pytest.mark.{mark.name}")
    lines += [f"def {check.name}():", f"    pytest.skip({NOT_IN_BUNDLE!r})"]
    return "\n".join(lines) + "\n"


def _stage_check_module(source: str, checks: list[CheckInfo]) -> str:
    """The module with hidden and unfreezable checks removed and stubs for the visible unfreezable ones."""
    stubs = [_stub(c) for c in checks if not c.hidden and not c.frozen]
    header = '"""Checks of this assignment run only by the instructor\'s grader."""\n\nimport pytest\n'
    if not any(c.frozen for c in checks):
        return header + "".join("\n\n" + s for s in stubs)
    dropped = {c.name for c in checks if not c.frozen}
    tree = ast.parse(source)
    lines = source.splitlines(keepends=True)
    cut: set[int] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name in dropped:
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            cut.update(range(first - 1, node.end_lineno or node.lineno))
    kept = "".join(line for i, line in enumerate(lines) if i not in cut).rstrip() + "\n"
    if stubs and not re.search(r"^import pytest$", kept, re.M):
        kept = kept.replace("\nimport ", "\nimport pytest\nimport ", 1)
    return kept + "".join("\n\n" + s for s in stubs)


def _stage_init(source: str, trusted: Callable[[str, int], bool], roots: Sequence[str], shipped: Sequence[str]) -> str:
    """The pack's ``__init__`` with its settings model and no hooks: classes and untrusted imports only."""
    tree = ast.parse(source)
    keep = []
    for node in tree.body:
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and node is tree.body[0]:
            keep.append(node)
        elif isinstance(node, ast.ImportFrom) and not trusted(node.module or "", node.level):
            keep.append(node)
        elif isinstance(node, ast.Import) and not any(trusted(a.name, 0) for a in node.names):
            keep.append(node)
        elif isinstance(node, ast.ClassDef):
            keep.append(node)
    body = ast.unparse(ast.Module(body=keep, type_ignores=[]))
    install = textwrap.dedent(
        f"""

        # The trusted modules the checks import are served as frozen modules (frozen.json, frozen.npz).
        from grader.engine import frozen as _frozen

        _frozen.install(__name__, __path__[0], {tuple(roots)!r}, {tuple(shipped)!r})
        """
    )
    return body + "\n" + install


def trusted_roots(sources: Sequence[str]) -> list[str]:
    """Top-level packages the shipped modules import that belong to this grader's distribution but
    are not the engine (``reference``): they never ship and are served frozen."""
    owners = importlib.metadata.packages_distributions()
    roots = set()
    for source in sources:
        for node in ast.walk(ast.parse(source)):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                top = name.split(".", 1)[0]
                if top in sys.stdlib_module_names or top in ("grader", "__future__"):
                    continue
                if top in owners and _DIST not in owners[top]:
                    continue  # a library of its own (numpy, pytest, pydantic)
                if importlib.util.find_spec(top) is not None:
                    roots.add(top)
    return sorted(roots)


def stage_pack(assignment: Assignment, dest: Path) -> tuple[list[CheckInfo], list[str], list[str]]:
    """Write the bundled pack's code into ``dest``; return (checks, trusted roots, shipped module names)."""
    checks = survey(assignment)
    if not any(c.frozen for c in checks):
        raise BundleError(f"pack {assignment.id} has no freezable visible check (mark checks @freezable)")
    dest.mkdir(parents=True)
    folder = assignment.folder
    shutil.copyfile(folder / "assignment.toml", dest / "assignment.toml")
    shipped = [m for m in SHIPPED_PACK_MODULES if (folder / f"{m}.py").is_file()]
    sources = {}
    for path in sorted(folder.glob("test_*.py")):
        own = [c for c in checks if c.module == path.stem]
        if any(not c.hidden for c in own):
            sources[path.stem] = _stage_check_module(path.read_text(encoding="utf-8"), own)
            shipped.append(path.stem)
    for name in SHIPPED_PACK_MODULES:
        if (folder / f"{name}.py").is_file():
            sources[name] = (folder / f"{name}.py").read_text(encoding="utf-8")
    roots = trusted_roots(list(sources.values()))

    def trusted(module: str, level: int) -> bool:
        if level:
            return module.split(".", 1)[0] not in shipped
        return module.split(".", 1)[0] in roots

    init = (folder / "__init__.py").read_text(encoding="utf-8")
    sources["__init__"] = _stage_init(init, trusted, roots, shipped)
    for name, text in sources.items():
        (dest / f"{name}.py").write_text(text, encoding="utf-8")
    return checks, roots, shipped


# --------------------------------------------------------------------------------------------------
# Recording the trusted values


@contextlib.contextmanager
def recording(assignment: Assignment, roots: Sequence[str], shipped: Sequence[str]) -> Iterator[frozen.RecordStore]:
    """While active, a staged pack's trusted modules are recording proxies around the real ones.

    The real modules are imported first and taken out of ``sys.modules`` (an import finds
    ``sys.modules`` before any finder); everything is put back afterwards. Yields the one store every
    staged copy of the pack records into.
    """
    real: dict[str, types.ModuleType] = {}
    for root in roots:
        package = importlib.import_module(root)
        real[root] = package
        for info in pkgutil.walk_packages(getattr(package, "__path__", []), prefix=root + "."):
            if not info.name.endswith(".__main__"):
                real[info.name] = importlib.import_module(info.name)
    # The pack's own trusted modules and subpackages (a folder pack's reference/ is one).
    prefix = assignment.package + "."
    for info in pkgutil.walk_packages([str(assignment.folder)], prefix=prefix):
        top = info.name[len(prefix) :].split(".", 1)[0]
        if top not in shipped and not top.startswith("test_") and not info.name.endswith(".__main__"):
            real[info.name] = importlib.import_module(info.name)

    def resolve(logical: str) -> Any:
        name = logical.replace(frozen.PACK_ALIAS + ".", assignment.package + ".", 1)
        if name not in real:
            raise AttributeError(f"{logical} is not a module of this pack or of {', '.join(roots)}")
        return real[name]

    saved = {name: sys.modules.pop(name) for name in list(sys.modules) if name.split(".", 1)[0] in roots}
    store = frozen.RecordStore(resolve, {n: m for n, m in real.items() if n.split(".", 1)[0] in roots})
    frozen.recording = lambda _package: store
    try:
        yield store
    finally:
        frozen.recording = None
        sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, frozen.FrozenFinder)]
        for name in [n for n, m in sys.modules.items() if isinstance(m, frozen.FrozenModule)]:
            del sys.modules[name]
        sys.modules.update(saved)


@dataclasses.dataclass(frozen=True)
class _Recording:
    """One submission the checks are recorded against, and the files it differs in from the example."""

    name: str
    folder: Path
    #: Files edited from the example (None: record every check).
    edited: frozenset[str] | None = None


def _submissions(assignment: Assignment, work: Path, extra: Sequence[Path]) -> Iterator[_Recording]:
    """What the checks are recorded against: the example, the handout, each declared mistake, extras."""
    write_example = assignment.hook("write_example")
    mistakes = getattr(assignment.module, "MISTAKES", [])
    if write_example is not None:
        for index, (name, edits) in enumerate([("example", ()), *((m.name, m.edits) for m in mistakes)]):
            folder = work / f"record-{index}"
            folder.mkdir()
            write_example(folder)
            for file_name, old, new in edits:
                target = folder / file_name
                target.write_text(target.read_text(encoding="utf-8").replace(old, new, 1), encoding="utf-8")
            yield _Recording(name, folder, frozenset(f for f, _, _ in edits) if edits else None)
    if assignment.handout is not None:
        yield _Recording("handout", assignment.handout)
    for folder in extra:
        yield _Recording(str(folder), folder)


def _needs(check: CheckInfo) -> set[str] | None:
    """The submission files a check declares it needs, or None when it declares none."""
    marks = [m for m in check.marks if m.name == "needs"]
    return {str(a) for m in marks for a in m.args} if marks else None


def _variant(staged: Path, checks: list[CheckInfo], edited: frozenset[str] | None, work: Path) -> Path:
    """The staged pack, or a copy without the check modules a mistake cannot change.

    A mistake edits some of the example's files; a check module all of whose checks need only other
    files behaves exactly as for the example, which was recorded already (this saves most of a build's
    time: the PyTorch checks are not rerun for every mistake in the numpy file).
    """
    if edited is None:
        return staged
    label = "-".join(sorted(re.sub(r"\W", "_", f) for f in edited))
    copy = work / f"variant-{label}" / staged.name
    if copy.exists():
        return copy
    shutil.copytree(staged, copy)
    for path in sorted(copy.glob("test_*.py")):
        own = [c for c in checks if c.module == path.stem and c.frozen]
        needs = [_needs(c) for c in own]
        if own and all(n is not None and not (n & edited) for n in needs):
            path.unlink()
    return copy


def record(
    assignment: Assignment,
    staged: Path,
    checks: list[CheckInfo],
    roots: Sequence[str],
    shipped: Sequence[str],
    sandbox: Sandbox,
    extra: Sequence[Path] = (),
) -> tuple[frozen.Table, list[str], set[str], set[str]]:
    """Grade the staged pack against each recording submission; return the table and what was seen."""
    from grader.engine.grading import GradeOptions, grade

    names = []
    # Frozen checks replay answers recorded for fixed arguments: inputs drawn from ``hidden_seed`` must be
    # the same in every recording and in the bundle, so they come from one public seed chosen here. The
    # self-check is advisory; the official grade always derives its inputs from the secret.
    table_seed = secrets.randbelow(2**32)
    saved_secret = os.environ.pop("BACKPROP_GRADER_SECRET", None)  # no recorded value may depend on it
    try:
        with tempfile.TemporaryDirectory(prefix="backprop-grader-bundle-") as work:
            with recording(assignment, roots, shipped) as store:
                for submission in _submissions(assignment, Path(work), extra):
                    pack = _variant(staged, checks, submission.edited, Path(work))
                    options = GradeOptions(
                        assignment=str(pack), sandbox=sandbox, visible_only=True, public_seed=table_seed
                    )
                    result = grade(submission.folder, options)
                    if result.status == "error":
                        raise BundleError(f"recording against {submission.name} failed: {result.message}")
                    names.append(submission.name)
    finally:
        if saved_secret is not None:
            os.environ["BACKPROP_GRADER_SECRET"] = saved_secret
    store.table.seed = table_seed
    return store.table, names, store.live_calls, store.conflicts


# --------------------------------------------------------------------------------------------------
# The distribution


_RENAME = [
    (re.compile(r"(?<![\w./-])grader\.(?=[A-Za-z_])"), PACKAGE + "."),
    (re.compile(r"(?<![\w./-])from grader import"), f"from {PACKAGE} import"),
    (re.compile(r"(?<![\w./-])import grader\b"), f"import {PACKAGE}"),
    (re.compile(r'"grader"'), f'"{PACKAGE}"'),
]


def rename(source: str) -> str:
    """``grader`` imports and module paths in ``source`` under the bundle's package name."""
    for pattern, replacement in _RENAME:
        source = pattern.sub(replacement, source)
    return source


def _copy_engine(dest: Path) -> None:
    for relative in ENGINE_FILES:
        source = _GRADER_DIR / relative
        target = dest / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        files = sorted(source.rglob("*")) if source.is_dir() else [source]
        for path in files:
            if path.is_dir() or "__pycache__" in path.parts or path.suffix == ".pyc":
                continue
            out = target / path.relative_to(source) if source.is_dir() else target
            out.parent.mkdir(parents=True, exist_ok=True)
            text = path.read_text(encoding="utf-8")
            out.write_text(rename(text) if path.suffix == ".py" else text, encoding="utf-8")
    for package in ("cli", "batch", "engine"):
        (dest / package / "__init__.py").touch()
    (dest / "cli" / "__init__.py").write_text(
        textwrap.dedent(
            f"""\
            \"\"\"The student bundle's ``grade`` command.\"\"\"

            from typing import NoReturn

            from {PACKAGE}.cli.shutdown import run_command
            from {PACKAGE}.cli.student import main

            __all__ = ["console_main", "main"]


            def console_main() -> NoReturn:
                \"\"\"The ``grade`` executable: run the command line, then end the process with its status.\"\"\"
                run_command(main)
            """
        ),
        encoding="utf-8",
    )
    (dest / "cli" / "__main__.py").write_text(
        f'"""``python -m {PACKAGE}.cli``: the ``grade`` command."""\n\nfrom {PACKAGE}.cli import console_main\n\n'
        "console_main()\n",
        encoding="utf-8",
    )
    (dest / "assignments").mkdir(exist_ok=True)
    (dest / "assignments" / "__init__.py").write_text('"""The bundled assignment."""\n', encoding="utf-8")


def _pyproject(assignment: Assignment) -> str:
    return textwrap.dedent(
        f"""\
        [build-system]
        requires = ["setuptools>=69"]
        build-backend = "setuptools.build_meta"

        [project]
        name = "backprop-grader-student-{assignment.id}"
        version = "{assignment.version}"
        description = "Self-check for {assignment.id}: the visible checks with frozen expected values."
        readme = "README.md"
        requires-python = ">=3.10"
        dependencies = ["numpy>=1.24", "torch>=2.10,<3", "pydantic>=2.6,<3", "click>=8.1", "pytest>=8"]

        [project.scripts]
        grade = "{PACKAGE}.cli:console_main"

        [tool.setuptools.packages.find]
        include = ["{PACKAGE}*"]

        [tool.setuptools.package-data]
        "{PACKAGE}" = ["engine/rubric.ini", "assignments/*/*.toml", "assignments/*/*.json", "assignments/*/*.npz"]
        """
    )


def wheel_name(assignment: Assignment) -> str:
    """The file name of the bundle's wheel (``pip wheel OUT`` writes it)."""
    return f"backprop_grader_student_{assignment.id.replace('-', '_')}-{assignment.version}-py3-none-any.whl"


def _readme(assignment: Assignment, report: BundleReport) -> str:
    return textwrap.dedent(
        f"""\
        # {assignment.title}: self-check ({assignment.id} {assignment.version})

        Install it once (any one of these, the way your course publishes it):

        ```bash
        python -m pip install ./{report.folder.name}          # this folder
        python -m pip install {wheel_name(assignment)}
        python -m pip install "git+https://github.com/COURSE/{assignment.id}-student@v{assignment.version}"
        ```

        Then, in the folder with your files: `grade check` (`grade check --help` for options).

        It runs the visible checks ({len(report.frozen)} of them) with expected values stored as data;
        {len(report.stubbed)} visible check(s) are run only by the instructor's grader, and hidden checks
        are not included. The handout is in `handout/`. Built with backprop-grader {__version__}.
        """
    )


def build_bundle(
    name: str | Path,
    out: Path,
    sandbox: Sandbox,
    extra: Sequence[Path] = (),
) -> BundleReport:
    """Build the student bundle of pack ``name`` (an id or a pack folder) into the new folder ``out``."""
    assignment = load_assignment(name)
    if out.exists() and any(out.iterdir()):
        raise BundleError(f"{out} exists and is not empty")
    out.mkdir(parents=True, exist_ok=True)
    package = assignment.folder.name
    with tempfile.TemporaryDirectory(prefix="backprop-grader-stage-") as work:
        staged = Path(work) / package
        checks, roots, shipped = stage_pack(assignment, staged)
        table, names, live, conflicts = record(assignment, staged, checks, roots, shipped, sandbox, extra)
        table.save(staged)
        engine = out / PACKAGE
        _copy_engine(engine)
        target = engine / "assignments" / package
        target.mkdir()
        for path in sorted(staged.iterdir()):
            if path.is_file():
                if path.suffix == ".py":
                    (target / path.name).write_text(rename(path.read_text(encoding="utf-8")), encoding="utf-8")
                else:
                    shutil.copyfile(path, target / path.name)
    if assignment.handout is not None:
        shutil.copytree(assignment.handout, out / "handout", ignore=shutil.ignore_patterns("__pycache__"))
    report = BundleReport(
        folder=out,
        frozen=[f"{c.module}::{c.name}" for c in checks if c.frozen],
        stubbed=[f"{c.module}::{c.name}" for c in checks if not c.hidden and not c.frozen],
        left_out=sum(c.hidden for c in checks),
        recorded_from=names,
        frozen_calls=len(table.calls),
        live_calls=sorted(live),
        conflicts=sorted(conflicts),
    )
    (out / "pyproject.toml").write_text(_pyproject(assignment), encoding="utf-8")
    (out / "README.md").write_text(_readme(assignment, report), encoding="utf-8")
    return report


__all__ = ["BundleError", "BundleReport", "build_bundle", "stage_pack", "survey", "wheel_name"]
