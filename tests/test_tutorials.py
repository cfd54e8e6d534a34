"""The tutorial notebooks are committed clean: outputs stripped, every cell with an id, in order."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

TUTORIALS = sorted((Path(__file__).resolve().parents[1] / "tutorials").glob("*.ipynb"))


def test_tutorials_are_numbered_in_sequence():
    numbers = [int(path.name.split("_", 1)[0]) for path in TUTORIALS]
    assert numbers == list(range(1, len(numbers) + 1)), [path.name for path in TUTORIALS]


@pytest.mark.parametrize("path", TUTORIALS, ids=lambda path: path.name)
def test_tutorial_is_stripped_and_has_cell_ids(path):
    notebook = json.loads(path.read_text())
    assert notebook["nbformat"] == 4 and notebook["nbformat_minor"] >= 5, path.name
    ids = [cell.get("id") for cell in notebook["cells"]]
    assert all(ids), f"{path.name}: a cell without an id"
    assert len(set(ids)) == len(ids), f"{path.name}: duplicate cell ids"
    for cell in notebook["cells"]:
        if cell["cell_type"] == "code":
            assert cell.get("outputs") == [], f"{path.name}: outputs committed in cell {cell['id']}"
            assert cell.get("execution_count") is None, f"{path.name}: execution count committed"
    first = notebook["cells"][0]
    assert first["cell_type"] == "markdown" and "".join(first["source"]).startswith("# "), path.name
