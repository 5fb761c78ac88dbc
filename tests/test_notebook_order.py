"""Teach first, use after: no notebook's code uses what a later notebook teaches."""

import re
from pathlib import Path

import nbformat
import pytest

NB_DIR = Path(__file__).resolve().parents[1] / "notebooks"

#: name -> the notebook (number) that teaches it
TAUGHT_IN = {"RetrievalLayer": 3, "AggregationLayer": 4, "build_cbr_model": 4,
             "CbRClassifier": 4}


def _code(path):
    return "\n".join(c.source for c in nbformat.read(path, as_version=4).cells
                     if c.cell_type == "code")


@pytest.mark.parametrize("path", sorted(NB_DIR.glob("0*.ipynb")), ids=lambda p: p.stem)
def test_no_notebook_uses_what_a_later_one_teaches(path):
    number = int(path.name[:2])
    code = _code(path)
    early = [name for name, taught in TAUGHT_IN.items()
             if taught > number and re.search(rf"\b{name}\b", code)]
    assert not early, f"{path.name} uses {early} before notebook {TAUGHT_IN[early[0]]:02d} teaches it"


def test_the_teaching_notebooks_exist():
    numbers = {int(p.name[:2]) for p in NB_DIR.glob("0*.ipynb")}
    assert set(TAUGHT_IN.values()) <= numbers
