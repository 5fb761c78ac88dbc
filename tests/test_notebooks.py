"""Every notebook runs offline in a fresh kernel, as shipped and with the solutions in.

* ``test_committed_clean`` — notebooks are committed without outputs or execution
  counts, in the canonical JSON Jupyter writes (``nbformat.writes``: sorted keys,
  1-space indent, trailing newline), with cell ids, the ``python3`` kernelspec, and
  every exercise cell naming a question that exists and has solution code.
* ``test_runs_blank`` — executes the notebook as shipped with
  ``CBR_EDU_STRICT_CHECKS=blank``: nothing may crash and every ``check()`` must say
  "not attempted" (a checker that calls a blank answer correct fails too).
* ``test_runs_solved`` — pastes each question's ``solution_code`` into the cells
  tagged ``{"tags": ["exercise"], "exercise": "<module>.<qN>"}`` and executes with
  ``CBR_EDU_STRICT_CHECKS=1``: every ``check()`` must print "Correct". The executed
  notebook then becomes its instructor-edition page (``make instructor``), which must
  show every plot and no widget placeholder.
* ``test_runs_online`` — every notebook whose parameter cell switches something with
  ``ONLINE = True`` runs solved that way, against local stand-ins for TF Hub and the
  online data sets (``online_stand_ins.py``), so Colab's first run is not the first.

All runs must show learners nothing of what ``cbr_edu.instructor.execute.problems``
lists: no error, nothing on stderr, no tool log line, no unrounded number — except
in a cell tagged ``tool-log`` (a lesson that shows a tool's own line on purpose).
The execution itself is ``cbr_edu.instructor.execute``, shared with ``make instructor``.

All kernels share one ``CBR_EDU_CACHE_DIR`` (the session's, from ``conftest.py``),
so the EfficientNet-Lite0 conversion and the embeddings are computed once. Kernels
run the interpreter running the tests (the first executed cell asserts it), with
plots drawn as in Jupyter. A failure names the notebook and the cell (index, tags and
first line). Wall times are printed at the end of the module and, when
``CBR_EDU_NB_TIMINGS`` names a file, written there as JSON.

Authoring notebooks: write them in Jupyter, then run
``python tests/test_notebooks.py --fix notebooks/*.ipynb`` to strip outputs and
write the canonical form (it also adds missing cell ids).

Environment knobs: ``CBR_EDU_NB_SKIP=1`` skips the execution tests;
``CBR_EDU_NB_ONLY=01,03`` runs only notebooks whose names contain those strings.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import nbformat

from cbr_edu.instructor.execute import (KERNEL_NAME, NotebookFailed, cell_seconds,
                                        describe_cell, exercise_id, parameter_cell, problems,
                                        question, where)
from cbr_edu.instructor.execute import execute as run_notebook
from cbr_edu.instructor.execute import text_outputs
from cbr_edu.instructor.render import instructor_page
from online_stand_ins import build_stand_ins, online_parameters

try:  # the module also works as a script (--fix) without pytest
    import pytest
except ImportError:  # pragma: no cover
    pytest = None

ROOT = Path(__file__).resolve().parents[1]
NB_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(NB_DIR.glob("*.ipynb"))

_TIMINGS: dict[str, dict[str, float]] = {}
_SLOWEST: dict[str, dict[str, tuple]] = {}  # notebook -> mode -> (seconds, cell index)


# ------------------------------------------------------------------ helpers

def canonical_text(nb) -> str:
    """The exact text Jupyter (``nbformat.write``) saves for ``nb``."""
    text = nbformat.writes(nb)
    return text if text.endswith("\n") else text + "\n"


def clean(nb):
    """Strip outputs, execution counts and volatile metadata (in place); return nb."""
    nb.metadata.pop("widgets", None)
    nb.metadata.pop("signature", None)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        for key in ("execution", "collapsed", "scrolled", "ExecuteTime"):
            cell.metadata.pop(key, None)
    return nb


def execute(nb_path: Path, solved: bool, **options):
    """The shared execution (``cbr_edu.instructor.execute``); a failure fails the test."""
    try:
        return run_notebook(nb_path, solved=solved, **options)
    except NotebookFailed as exc:
        if pytest is not None:
            pytest.fail(str(exc), pytrace=False)
        raise


# ------------------------------------------------------------------ tests

if pytest is not None:
    ids = [p.stem for p in NOTEBOOKS]

    def _selected(path):
        only = os.environ.get("CBR_EDU_NB_ONLY", "")
        return not only or any(s.strip() and s.strip() in path.name for s in only.split(","))

    skip_exec = pytest.mark.skipif(
        os.environ.get("CBR_EDU_NB_SKIP", "") not in ("", "0"),
        reason="CBR_EDU_NB_SKIP is set")

    @pytest.fixture(scope="module", autouse=True)
    def _timing_summary(request):
        yield
        if not _TIMINGS:
            return
        lines = ["", "notebook wall time (s)       blank   solved   online   slowest cell (blank run)"]
        total = 0.0
        for name in sorted(_TIMINGS):
            t = _TIMINGS[name]
            total += sum(t.values())
            slow = _SLOWEST.get(name, {})
            slow = slow.get("blank") or slow.get("solved")
            slow = f"cell {slow[1]}: {slow[0]:.1f} s" if slow else ""
            lines.append(f"  {name:<26} {t.get('blank', float('nan')):7.1f}  "
                         f"{t.get('solved', float('nan')):7.1f}  {t.get('online', float('nan')):7.1f}"
                         f"   {slow}")
        lines.append(f"  {'total':<26} {total:7.1f}")
        capture = request.config.pluginmanager.getplugin("capturemanager")
        reporter = request.config.pluginmanager.getplugin("terminalreporter")
        if capture is not None and reporter is not None:
            with capture.global_and_fixture_disabled():
                for line in lines:
                    reporter.write_line(line)
        else:  # pragma: no cover
            print("\n".join(lines))
        out = os.environ.get("CBR_EDU_NB_TIMINGS")
        if out:
            Path(out).write_text(json.dumps(_TIMINGS, indent=1, sort_keys=True) + "\n")

    def test_there_are_notebooks():
        assert NOTEBOOKS, f"no notebooks found in {NB_DIR}"
        names = [p.name for p in NOTEBOOKS]
        assert any(n.startswith("00_") for n in names), names

    @pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=ids)
    def test_committed_clean(nb_path):
        text = nb_path.read_text(encoding="utf-8")
        nb = nbformat.reads(text, as_version=4)
        nbformat.validate(nb)
        assert (nb.nbformat, nb.nbformat_minor) >= (4, 5), \
            f"{nb_path.name}: save as nbformat 4.5+ (cell ids)"
        for i, cell in enumerate(nb.cells):
            where = describe_cell(nb_path, i, cell)
            if cell.cell_type == "code":
                assert not cell.outputs, f"{where}: has outputs; clear them before committing"
                assert cell.execution_count is None, f"{where}: has an execution count"
            assert "id" in cell, f"{where}: no cell id"
            if cell.cell_type == "markdown":   # an escape left over from editing the JSON
                prose = re.sub(r"\$\$.*?\$\$|\$[^$]*\$", "", cell.source, flags=re.S)
                assert "\\n" not in prose, f"{where}: a literal \\n in the text; use a line break"
        assert nb.metadata.get("kernelspec", {}).get("name") == KERNEL_NAME, \
            f"{nb_path.name}: kernelspec name must be {KERNEL_NAME!r}"
        assert "widgets" not in nb.metadata, f"{nb_path.name}: saved widget state; clear it"
        assert text == canonical_text(nb), (
            f"{nb_path.name} is not in canonical form; run "
            f"`python tests/test_notebooks.py --fix {nb_path.relative_to(ROOT)}`")

    @pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=ids)
    def test_exercise_cells_resolve(nb_path):
        nb = nbformat.read(nb_path, as_version=4)
        for i, cell in enumerate(nb.cells):
            ex = exercise_id(cell)
            if ex is None:
                continue
            where = describe_cell(nb_path, i, cell)
            assert ex, f"{where}: tagged 'exercise' but no metadata 'exercise': '<module>.<qN>'"
            q = question(ex)
            assert q.solution_code.strip(), f"{where}: {ex} has no solution_code"
            compile(q.solution_code, f"{ex}.solution_code", "exec")
            later = "\n".join(c.source for c in nb.cells[i + 1:] if c.cell_type == "code")
            qname = ex.rpartition(".")[2]
            assert f"{qname}.check(" in later, f"{where}: no `{qname}.check()` after the cell"

    def _run(nb_path, solved, *, mode=None, **options):
        if not _selected(nb_path):
            pytest.skip("not in CBR_EDU_NB_ONLY")
        run, seconds, n_ex = execute(nb_path, solved, **options)
        mode = mode or ("solved" if solved else "blank")
        _TIMINGS.setdefault(nb_path.stem, {})[mode] = seconds
        slow = cell_seconds(run)[:1]
        if slow:
            _SLOWEST.setdefault(nb_path.stem, {})[mode] = slow[0]
        want = "Correct" if solved else "Not attempted yet"
        seen = sum(text.startswith(want) for cell in run.cells for text in text_outputs(cell))
        assert seen >= n_ex, (f"{nb_path.name}: {n_ex} exercises but only {seen} checks "
                              f"printed {want!r}")
        found = problems(run)
        assert not found, f"{nb_path.name} ({mode}) shows learners:\n" + "\n".join(
            f"  {where(nb_path, run, i)}: {what}" for i, what in found)
        return run

    @skip_exec
    @pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=ids)
    def test_runs_blank(nb_path):
        _run(nb_path, solved=False)

    @skip_exec
    @pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=ids)
    def test_runs_solved(nb_path, tmp_path):
        run = _run(nb_path, solved=True)
        page = instructor_page(run, tmp_path / f"{nb_path.stem}.html", seconds=0).read_text(
            encoding="utf-8")
        pictures = sum(1 for cell in run.cells for out in cell.get("outputs", [])
                       if "image/png" in out.get("data", {}))
        assert page.count("<img") >= pictures, f"{nb_path.name}: a plot is missing on its page"
        assert "widget-view+json" not in page and "widget-state+json" not in page, \
            f"{nb_path.name}: its page has a widget placeholder instead of the last picture"

    ONLINE = {path: online_parameters(path) for path in NOTEBOOKS}
    ONLINE_NOTEBOOKS = [path for path in NOTEBOOKS if ONLINE[path]]

    @pytest.fixture(scope="module")
    def stand_ins(tmp_path_factory):
        root = tmp_path_factory.mktemp("online")
        wanted = [ONLINE[path] for path in ONLINE_NOTEBOOKS if _selected(path)]
        return root, build_stand_ins(root, wanted)

    @skip_exec
    @pytest.mark.parametrize("nb_path", ONLINE_NOTEBOOKS, ids=[p.stem for p in ONLINE_NOTEBOOKS])
    def test_runs_online(nb_path, stand_ins):
        root, env = stand_ins
        run = _run(nb_path, solved=True, mode="online", parameters={"ONLINE": True}, env=env)
        assert parameter_cell(run).source.startswith("ONLINE = True")
        name = ONLINE[nb_path].get("DATASET")
        if name:   # the online data set came from its stand-in archive
            assert (root / "cache" / "datasets" / name / ".complete").is_file()


# ------------------------------------------------------------------ script

def _fix(paths):
    for p in paths:
        path = Path(p)
        nb = nbformat.read(path, as_version=4)
        nb.nbformat_minor = max(nb.nbformat_minor, 5)
        clean(nb)
        for i, cell in enumerate(nb.cells):
            if "id" not in cell:
                cell["id"] = f"{path.stem[:2]}-{i:03d}"
        nb.metadata["kernelspec"] = {"display_name": "Python 3 (ipykernel)",
                                     "language": "python", "name": KERNEL_NAME}
        nbformat.validate(nb)
        text = canonical_text(nb)
        if path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            print(f"fixed {path}")


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fix", nargs="+", metavar="NOTEBOOK",
                        help="strip outputs and write canonical JSON")
    args = parser.parse_args()
    if args.fix:
        _fix(args.fix)
    else:
        parser.print_help()
