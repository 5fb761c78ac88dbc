"""The home URL is one setting (pyproject's Homepage) and the README, every Colab badge and
every Colab install cell agree with it; ``make home-url`` moves them all."""

import shutil
from pathlib import Path

import nbformat
import pytest

from cbr_edu.instructor.home_url import home_url, main, parse, set_home_url, uses

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def test_every_use_agrees_with_the_setting():
    home = parse(home_url(ROOT))
    found = uses(ROOT)
    assert {repo for _, repo in found} == {home}, [u for u in found if u[1] != home]
    assert any(name == "README.md" for name, _ in found)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_each_notebook_has_its_badge_and_its_install_cell(path):
    home = home_url(ROOT)
    nb = nbformat.read(path, as_version=4)
    badge = (f"https://colab.research.google.com/github/{parse(home)}/blob/main/notebooks/"
             f"{path.name}")
    assert badge in nb.cells[0].source, f"{path.name}: the first cell needs its Colab badge"
    setup = [c for c in nb.cells if "setup" in c.metadata.get("tags", [])]
    assert len(setup) == 1 and f'HOME = "{home}"' in setup[0].source, \
        f"{path.name}: one setup cell installing from HOME = {home!r}"


def test_a_fork_moves_every_use(tmp_path):
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / "notebooks", tmp_path / "notebooks")
    before = len(uses(tmp_path))
    changed = set_home_url("https://github.com/someone/my-cbr", tmp_path)
    assert home_url(tmp_path) == "https://github.com/someone/my-cbr"
    assert {repo for _, repo in uses(tmp_path)} == {"someone/my-cbr"}
    assert len(uses(tmp_path)) == before
    assert len(changed) == 2 + len(NOTEBOOKS)
    for path in (tmp_path / "notebooks").glob("*.ipynb"):   # still valid notebooks
        nbformat.validate(nbformat.read(path, as_version=4))


def test_the_command_refuses_a_home_colab_cannot_open(tmp_path, monkeypatch, capsys):
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    monkeypatch.chdir(tmp_path)
    assert main(["https://gitlab.com/someone/my-cbr"]) == 2
    assert "must be a GitHub repository" in capsys.readouterr().err
    assert home_url(tmp_path) == home_url(ROOT)
