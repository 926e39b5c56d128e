"""Class lists from rosters, class folders and single zips."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.batch.roster import RosterError, collect, id_from_name, read_roster, scan_folder


def _write(path: Path, text: str, *, encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding=encoding)
    return path


def test_roster_paths_are_relative_to_the_roster_and_extra_columns_are_ignored(tmp_path: Path) -> None:
    roster = _write(
        tmp_path / "course" / "roster.csv",
        "name,student_id,path\nAda,s001,subs/ada.zip\nAlan,s002,/abs/alan\n\n,,\n",
        encoding="utf-8-sig",  # what a spreadsheet saves: a byte-order mark before the header
    )
    entries = read_roster(roster)
    assert [(e.student_id, e.path) for e in entries] == [
        ("s001", tmp_path / "course" / "subs" / "ada.zip"),
        ("s002", Path("/abs/alan")),
    ]
    assert entries[0].origin == "roster.csv line 2"


@pytest.mark.parametrize("bad_id", ["../etc", "-rf", "=HYPERLINK(1)", "a b", ".hidden", "_batch-summary"])
def test_roster_refuses_ids_that_are_unsafe_file_names(tmp_path: Path, bad_id: str) -> None:
    roster = _write(tmp_path / "r.csv", f'student_id,path\nok1,x\n"{bad_id}",y\n')
    with pytest.raises(RosterError, match="line 3"):
        read_roster(roster)


def test_roster_needs_both_columns(tmp_path: Path) -> None:
    with pytest.raises(RosterError, match="student_id and path"):
        read_roster(_write(tmp_path / "r.csv", "id,file\na,b\n"))


def test_roster_row_without_path_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(RosterError, match="no path for student s9"):
        read_roster(_write(tmp_path / "r.csv", "student_id,path\ns9,\n"))


def test_class_folder_takes_zips_and_folders_and_passes_over_the_rest(tmp_path: Path) -> None:
    (tmp_path / "Ada Lovelace_1234.zip").write_bytes(b"zip?")
    (tmp_path / "alan").mkdir()
    (tmp_path / ".git").mkdir()
    (tmp_path / "notes.txt").write_text("not a submission")
    entries = scan_folder(tmp_path)
    assert [(e.student_id, e.path.name) for e in entries] == [
        ("Ada_Lovelace_1234", "Ada Lovelace_1234.zip"),
        ("alan", "alan"),
    ]


def test_names_become_ids_or_are_refused() -> None:
    assert id_from_name("Émile Zola (late)") == "mile_Zola_late"
    assert id_from_name("___") is None
    assert id_from_name("x" * 300) == "x" * 128


def test_duplicate_ids_are_refused_even_when_they_differ_in_case(tmp_path: Path) -> None:
    (tmp_path / "class").mkdir()
    (tmp_path / "class" / "Ada").mkdir()
    roster = _write(tmp_path / "r.csv", "student_id,path\nada,somewhere\n")
    with pytest.raises(RosterError, match="appears twice"):
        collect([tmp_path / "class", roster])


def test_a_single_zip_is_a_class_of_one_and_other_files_are_refused(tmp_path: Path) -> None:
    single = tmp_path / "hw2-bob.zip"
    single.write_bytes(b"")
    assert [e.student_id for e in collect([single])] == ["hw2-bob"]
    other = _write(tmp_path / "list.txt", "bob")
    with pytest.raises(RosterError, match="not a class folder"):
        collect([other])
