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
  ``CBR_EDU_STRICT_CHECKS=1``: every ``check()`` must print "Correct".

All kernels share one ``CBR_EDU_CACHE_DIR`` (the session's, from ``conftest.py``),
so the EfficientNet-Lite0 conversion and the embeddings are computed once. Kernels
run the interpreter running the tests (the first executed cell asserts it),
``MPLBACKEND=Agg``. A failure names the notebook and the cell (index, tags and
first line). Wall times are printed at the end of the module and, when
``CBR_EDU_NB_TIMINGS`` names a file, written there as JSON.

Authoring notebooks: write them in Jupyter, then run
``python tests/test_notebooks.py --fix notebooks/*.ipynb`` to strip outputs and
write the canonical form (it also adds missing cell ids).

Environment knobs: ``CBR_EDU_NB_SKIP=1`` skips the execution tests;
``CBR_EDU_NB_ONLY=01,03`` runs only notebooks whose names contain those strings.
"""

from __future__ import annotations

import copy
import importlib
import json
import os
import re
import sys
import time
from pathlib import Path

import nbformat

try:  # the module also works as a script (--fix) without pytest
    import pytest
except ImportError:  # pragma: no cover
    pytest = None

ROOT = Path(__file__).resolve().parents[1]
NB_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(NB_DIR.glob("*.ipynb"))
CELL_TIMEOUT = 600  # seconds per cell; whole notebooks must stay far below (≤2 min target)
KERNEL_NAME = "python3"
EXERCISE_PACKAGE = "cbr_edu.exercises"

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


def exercise_id(cell):
    """``"nb01_similarity.q1"`` for an exercise cell, else None."""
    if cell.cell_type != "code":
        return None
    ex = cell.metadata.get("exercise")
    tags = cell.metadata.get("tags", [])
    if ex is None and "exercise" not in tags:
        return None
    return ex or ""


def question(ex_id):
    module, _, name = ex_id.rpartition(".")
    return getattr(importlib.import_module(f"{EXERCISE_PACKAGE}.{module}"), name)


def describe_cell(nb_path, index, cell):
    first = next((ln for ln in cell.source.splitlines() if ln.strip()), "")
    tags = cell.metadata.get("tags", [])
    ex = cell.metadata.get("exercise")
    extra = (f" tags={tags}" if tags else "") + (f" exercise={ex}" if ex else "")
    return f"{nb_path.name} cell {index}{extra}: {first[:80]!r}"


def _text_outputs(cell):
    for out in cell.get("outputs", []):
        if out.get("output_type") == "stream":
            yield out.get("text", "")
        elif out.get("output_type") in ("display_data", "execute_result"):
            yield out.get("data", {}).get("text/plain", "")


def _kernel_env(strict: str) -> dict:
    env = dict(os.environ)
    env.update({
        "MPLBACKEND": "Agg",
        "CBR_EDU_STRICT_CHECKS": strict,
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "PYTHONHASHSEED": "0",
        "PYDEVD_DISABLE_FILE_VALIDATION": "1",
    })
    env.setdefault("CBR_EDU_CACHE_DIR", str(Path.home() / ".cache" / "cbr-edu"))
    env.pop("CBR_EDU_NB_TIMINGS", None)
    return env


_PRELUDE = f"""\
import os as _os, sys as _sys
assert _os.path.realpath(_sys.executable) == {os.path.realpath(sys.executable)!r}, _sys.executable
del _os, _sys
"""


def execute(nb_path: Path, solved: bool):
    """Run a copy of the notebook in a fresh kernel; return (executed nb, seconds)."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError

    nb = nbformat.read(nb_path, as_version=4)
    n_exercises = 0
    for cell in nb.cells:
        ex = exercise_id(cell)
        if ex is None:
            continue
        n_exercises += 1
        if solved:
            cell.source = question(ex).solution_code
    run = copy.deepcopy(nb)
    run.cells.insert(0, nbformat.v4.new_code_cell(_PRELUDE))
    client = NotebookClient(
        run, timeout=CELL_TIMEOUT, kernel_name=KERNEL_NAME, allow_errors=False,
        resources={"metadata": {"path": str(nb_path.parent)}})
    start = time.perf_counter()
    try:
        client.execute(env=_kernel_env("1" if solved else "blank"))
    except (CellExecutionError, CellTimeoutError) as exc:
        failed = _failed_cell(run)
        where = (describe_cell(nb_path, failed - 1, run.cells[failed]) if failed else
                 f"{nb_path.name} (harness prelude)" if failed == 0 else nb_path.name)
        mode = "with solutions" if solved else "as shipped"
        msg = f"{where} failed {mode}:\n{_short(exc)}"
        if pytest is not None:
            pytest.fail(msg, pytrace=False)
        raise RuntimeError(msg) from None
    seconds = time.perf_counter() - start
    run.cells.pop(0)
    return run, seconds, n_exercises


def cell_seconds(nb):
    """[(seconds, cell index)] from the timing nbclient records in cell metadata."""
    from datetime import datetime

    out = []
    for i, cell in enumerate(nb.cells):
        timing = cell.get("metadata", {}).get("execution", {})
        begin, end = timing.get("iopub.execute_input"), timing.get("shell.execute_reply")
        if begin and end:
            parse = lambda t: datetime.fromisoformat(t.replace("Z", "+00:00"))  # noqa: E731
            out.append(((parse(end) - parse(begin)).total_seconds(), i))
    return sorted(out, reverse=True)


def _failed_cell(nb):
    for i, cell in enumerate(nb.cells):
        if any(out.get("output_type") == "error" for out in cell.get("outputs", [])):
            return i
    # a timeout leaves no error output: the first code cell without an execution count
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and cell.get("execution_count") is None and cell.source.strip():
            return i
    return None


def _short(exc, limit=4000):
    import re
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc))  # drop the traceback's colour codes
    return text if len(text) <= limit else text[:limit] + "\n…"


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
        lines = ["", "notebook wall time (s)       blank   solved   slowest cell (blank run)"]
        total = 0.0
        for name in sorted(_TIMINGS):
            t = _TIMINGS[name]
            total += sum(t.values())
            slow = _SLOWEST.get(name, {})
            slow = slow.get("blank") or slow.get("solved")
            slow = f"cell {slow[1]}: {slow[0]:.1f} s" if slow else ""
            lines.append(f"  {name:<26} {t.get('blank', float('nan')):7.1f}  "
                         f"{t.get('solved', float('nan')):7.1f}   {slow}")
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

    def _run(nb_path, solved):
        if not _selected(nb_path):
            pytest.skip("not in CBR_EDU_NB_ONLY")
        run, seconds, n_ex = execute(nb_path, solved)
        mode = "solved" if solved else "blank"
        _TIMINGS.setdefault(nb_path.stem, {})[mode] = seconds
        slow = cell_seconds(run)[:1]
        if slow:
            _SLOWEST.setdefault(nb_path.stem, {})[mode] = slow[0]
        want = "Correct" if solved else "Not attempted yet"
        seen = sum(text.startswith(want) for cell in run.cells for text in _text_outputs(cell))
        assert seen >= n_ex, (f"{nb_path.name}: {n_ex} exercises but only {seen} checks "
                              f"printed {want!r}")

    @skip_exec
    @pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=ids)
    def test_runs_blank(nb_path):
        _run(nb_path, solved=False)

    @skip_exec
    @pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=ids)
    def test_runs_solved(nb_path):
        _run(nb_path, solved=True)


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
