"""Reading a file of status changes: every bad row is reported with its row and column, the
good rows are kept for the workspace check, and a file that is no table at all is refused."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from prodsec.errors import InputError
from prodsec.workspace.status_changes import read_changes


def _file(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_csv_rows_are_numbered_like_a_spreadsheet(tmp_path: Path) -> None:
    path = _file(tmp_path, "c.csv", "\ufeffproduct,requirement,status\n"
                                    "Router,uk-psti:schedule-1:1,met\n"
                                    "Router,,met\n"
                                    "Router,x,met,extra\n")
    read = read_changes(path)
    assert [(c.row, c.product, c.requirement, c.status, c.justification) for c in read.changes] \
        == [(2, "Router", "uk-psti:schedule-1:1", "met", None)]
    assert [text for _, text in read.problems] == [
        "row 3, column requirement: expected a value, got nothing",
        "row 4: more cells than the header has columns"]


def test_yaml_items_name_their_column(tmp_path: Path) -> None:
    path = _file(tmp_path, "c.yaml", "- {product: R, requirement: q, status: met, colour: red}\n"
                                     "- {product: R, requirement: 7, status: met}\n"
                                     "- just text\n"
                                     f"- {{product: R, requirement: q, status: met, "
                                     f"justification: {'j' * 10_001}}}\n")
    assert [text for _, text in read_changes(path).problems] == [
        "row 1, column colour: unknown column; expected product, requirement, status, justification",
        "row 2, column requirement: expected text, got int",
        "row 3: expected a mapping with product, requirement, status, justification",
        "row 4, column justification: is 10001 characters long; the limit is 10000"]


@pytest.mark.parametrize(("name", "text", "message"), [
    ("c.csv", "", "row 1 (the header): expected the columns"),
    ("c.csv", "product,status\n", "missing requirement"),
    ("c.csv", "product,requirement,status\n", "no changes in the file"),
    ("c.yaml", "a: [", "invalid YAML at line 1"),
    ("c.yaml", "{}", "expected a list of changes"),
    ("c.txt", "x", "expected a .csv, .yaml or .json file"),
])
def test_a_file_that_is_no_table_of_changes_is_refused(tmp_path: Path, name: str, text: str,
                                                       message: str) -> None:
    with pytest.raises(InputError, match=re.escape(message)):
        read_changes(_file(tmp_path, name, text))


def test_not_utf8_names_the_byte(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_bytes(b"product,requirement,status\n\xff\n")
    with pytest.raises(InputError, match=r"not UTF-8 text \(byte 27\)"):
        read_changes(path)
