"""``grade batch --scheduler`` on a real Dask cluster: a ``dask scheduler`` and two ``dask worker``
processes started here on loopback, the batch client in a third process."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from classroom import add_not_a_zip, add_template, grade_env, require_bwrap, run_grade

from grader.batch.run import SUMMARY_NAME, BatchSummary
from grader.results import load_result

distributed = pytest.importorskip("distributed", reason="Dask is not installed: pip install 'backprop-grader[dask]'")

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]


def _dask() -> str:
    # The CLI installed next to this interpreter, so the workers run the same environment as the test.
    found = Path(sys.executable).with_name("dask")
    return str(found) if found.exists() else (shutil.which("dask") or pytest.skip("the dask command is not on PATH"))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[tuple[str, set[str]]]:
    """The scheduler's address and its two workers' addresses."""
    require_bwrap()
    dask = _dask()
    address = f"tcp://127.0.0.1:{_free_port()}"
    logs = tmp_path / "dask-logs"
    logs.mkdir()
    processes = []

    def start(name: str, *args: str) -> None:
        log = open(logs / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
        processes.append(
            subprocess.Popen([dask, *args], stdout=log, stderr=subprocess.STDOUT, env=grade_env(), cwd=tmp_path)
        )
        log.close()

    port = address.rsplit(":", 1)[1]
    start("scheduler", "scheduler", "--host", "127.0.0.1", "--port", port, "--no-dashboard")
    for name in ("w1", "w2"):
        start(name, "worker", address, "--nthreads", "1", "--nworkers", "1", "--no-dashboard", "--name", name)
    try:
        deadline = time.monotonic() + 120
        workers: set[str] = set()
        while time.monotonic() < deadline:
            try:
                with distributed.Client(address, timeout="10s") as client:
                    client.wait_for_workers(2, timeout=max(deadline - time.monotonic(), 1))
                    workers = set(client.scheduler_info(n_workers=-1)["workers"])
                break
            except (OSError, TimeoutError):
                time.sleep(1)
        if len(workers) != 2:
            output = "\n".join(p.read_text(errors="replace")[-1500:] for p in sorted(logs.iterdir()))
            pytest.fail(f"the Dask cluster did not come up with two workers:\n{output}")
        yield address, workers
    finally:
        for process in reversed(processes):
            _stop(process)


def test_batch_runs_on_a_dask_cluster_of_two_workers(cluster: tuple[str, set[str]], tmp_path: Path) -> None:
    address, workers = cluster
    klass = tmp_path / "class"
    for name in ("p1", "p2", "p3"):
        add_template(klass, name, marker=name)
    add_not_a_zip(klass, "p4")
    out = tmp_path / "results"

    done = run_grade("batch", str(klass), "--out", str(out), "--scheduler", address, "--sandbox", "bwrap")
    assert done.returncode == 0, done.stderr
    assert f"Dask cluster at {address}" in done.stderr
    # The batch's own files (summary, code fingerprints) start with "_", which no student id can.
    results = {p.stem: load_result(p) for p in out.glob("*.json") if not p.name.startswith("_")}
    assert sorted(results) == ["p1", "p2", "p3", "p4"]
    assert [results[n].status for n in ("p1", "p2", "p3", "p4")] == ["graded", "graded", "graded", "rejected"]
    assert all(r.sandbox == "bwrap" and r.isolated for r in results.values())

    summary = BatchSummary.model_validate_json((out / SUMMARY_NAME).read_text())
    used = {item.graded_by.rsplit("(", 1)[1].rstrip(")") for item in summary.items}
    assert used == workers  # the work went to the cluster's workers, and both took part

    rerun = run_grade("batch", str(klass), "--out", str(out), "--scheduler", address, "--sandbox", "bwrap")
    assert rerun.returncode == 0, rerun.stderr
    again = BatchSummary.model_validate_json((out / SUMMARY_NAME).read_text())
    assert (again.skipped, again.graded) == (4, 0)


def test_an_unreachable_scheduler_is_a_clear_error(tmp_path: Path) -> None:
    add_not_a_zip(tmp_path / "class", "p1")
    address = f"tcp://127.0.0.1:{_free_port()}"
    out = tmp_path / "out"
    done = run_grade("batch", str(tmp_path / "class"), "--out", str(out), "--scheduler", address, "--worker-wait", "3")
    assert done.returncode == 3
    assert f"cannot start grading on {address}" in done.stderr
    assert "Traceback" not in done.stderr
