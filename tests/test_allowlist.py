"""The worker's allow-list of installed distributions reads each one's file list the fast way right."""

from __future__ import annotations

from pathlib import Path

from grader.sandbox.allowlist import _top_level_names, allowed_distributions


def test_top_level_names_from_the_record_equal_those_of_the_distributions_file_list() -> None:
    distributions = allowed_distributions()
    assert {d.metadata["Name"].lower() for d in distributions} >= {"numpy", "torch"}
    for dist in distributions:
        general = {Path(file).parts[0] for file in dist.files or [] if Path(file).parts}
        assert _top_level_names(dist) == general, dist.metadata["Name"]
