"""Run a notebook of the suite in a fresh kernel, as shipped or with the solutions in.

The one execution the notebook tests and the instructor edition share. ``execute(path,
solved=True)`` pastes each question's ``solution_code`` into the cells tagged
``{"tags": ["exercise"], "exercise": "<module>.<qN>"}`` and runs with
``CBR_EDU_STRICT_CHECKS=1`` (every ``check()`` must say "Correct");
``solved=False`` runs the notebook as a learner opens it, with ``blank`` (every check
must say "not attempted"). Plots are drawn as in Jupyter (the inline backend), so the
executed notebook carries its pictures, and widgets keep their state.

:func:`problems` lists what a learner must never see in an executed notebook: an error,
anything on stderr, a tool's own log line, a number with all its digits — except in a cell tagged ``tool-log`` (a
lesson that shows a tool's line on purpose, and says so).

Example
-------
>>> import nbformat
>>> cell = nbformat.v4.new_code_cell("x = 1")
>>> cell.outputs = [nbformat.v4.new_output("stream", name="stderr", text="oops\\n")]
>>> problems(nbformat.v4.new_notebook(cells=[cell]))
[(0, 'stderr: oops')]
"""

from __future__ import annotations

import copy
import importlib
import os
import re
import sys
import time
from pathlib import Path

from .._quiet import is_tool_note

__all__ = ["KERNEL_NAME", "CELL_TIMEOUT", "ALLOW_TOOL_LOG", "NotebookFailed", "execute",
           "exercise_id", "question", "describe_cell", "text_outputs", "cell_seconds",
           "problems"]

KERNEL_NAME = "python3"
CELL_TIMEOUT = 600          # seconds per cell; whole notebooks stay far below (≤ 2 min)
ALLOW_TOOL_LOG = "tool-log"  # cell tag: this cell shows a tool's own line on purpose
EXERCISE_PACKAGE = "cbr_edu.exercises"
_INLINE = "module://matplotlib_inline.backend_inline"
# Python-level log lines of the libraries (logging's default format, or absl's)
_LOG_LINE = re.compile(r"(INFO|WARNING|ERROR|DEBUG):(tensorflow|absl|keras|jax|h5py|root):"
                       r"|[IWEF]\d{4} \S+ +\d+ \S+:\d+\] ")
_COLOUR = re.compile(r"\x1b\[[0-9;]*m")
# a number printed with all its digits (0.30000000000000004): round it for learners
_UNROUNDED = re.compile(r"(?<![\w.])-?\d+\.\d{7,}(?![\w.])")


class NotebookFailed(RuntimeError):
    """A cell raised or timed out; the message names the notebook and the cell."""


def exercise_id(cell):
    """``"nb01_similarity.q1"`` for an exercise cell, ``""`` when tagged without a name,
    else None."""
    if cell.cell_type != "code":
        return None
    ex = cell.metadata.get("exercise")
    if ex is None and "exercise" not in cell.metadata.get("tags", []):
        return None
    return ex or ""


def question(ex_id):
    """The question object an exercise id names."""
    module, _, name = ex_id.rpartition(".")
    return getattr(importlib.import_module(f"{EXERCISE_PACKAGE}.{module}"), name)


def describe_cell(nb_path, index, cell):
    """``"01_similarity.ipynb cell 4 tags=[...]: 'first line'"`` for messages."""
    first = next((ln for ln in cell.source.splitlines() if ln.strip()), "")
    tags = cell.metadata.get("tags", [])
    ex = cell.metadata.get("exercise")
    extra = (f" tags={tags}" if tags else "") + (f" exercise={ex}" if ex else "")
    return f"{Path(nb_path).name} cell {index}{extra}: {first[:80]!r}"


def text_outputs(cell):
    """The text of a cell's outputs: streams and the plain-text form of results."""
    for out in cell.get("outputs", []):
        if out.get("output_type") == "stream":
            yield out.get("text", "")
        elif out.get("output_type") in ("display_data", "execute_result"):
            yield out.get("data", {}).get("text/plain", "")


def kernel_env(strict: str) -> dict:
    """The kernel's environment: strict checks, quiet TensorFlow, plots as in Jupyter."""
    env = dict(os.environ)
    env.update({
        "MPLBACKEND": _INLINE,
        "CBR_EDU_STRICT_CHECKS": strict,
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "PYTHONHASHSEED": "0",
        "PYDEVD_DISABLE_FILE_VALIDATION": "1",
    })
    env.pop("CBR_EDU_TOOL_LOGS", None)   # what learners see is what is checked
    env.setdefault("CBR_EDU_CACHE_DIR", str(Path.home() / ".cache" / "cbr-edu"))
    env.pop("CBR_EDU_NB_TIMINGS", None)
    return env


_PRELUDE = f"""\
import os as _os, sys as _sys
assert _os.path.realpath(_sys.executable) == {os.path.realpath(sys.executable)!r}, _sys.executable
del _os, _sys
"""


def execute(nb_path, *, solved: bool):
    """Run a copy of the notebook in a fresh kernel; return (executed nb, seconds, exercises).

    Raises :class:`NotebookFailed` naming the cell that raised or timed out.
    """
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError

    nb_path = Path(nb_path)
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
        client.execute(env=kernel_env("1" if solved else "blank"))
    except (CellExecutionError, CellTimeoutError) as exc:
        failed = _failed_cell(run)
        where = (describe_cell(nb_path, failed - 1, run.cells[failed]) if failed else
                 f"{nb_path.name} (harness prelude)" if failed == 0 else nb_path.name)
        mode = "with solutions" if solved else "as shipped"
        raise NotebookFailed(f"{where} failed {mode}:\n{_short(exc)}") from None
    seconds = time.perf_counter() - start
    run.cells.pop(0)
    return run, seconds, n_exercises


def cell_seconds(nb):
    """[(seconds, cell index)], slowest first, from the timing nbclient records."""
    from datetime import datetime

    def parse(stamp):
        return datetime.fromisoformat(stamp.replace("Z", "+00:00"))

    out = []
    for i, cell in enumerate(nb.cells):
        timing = cell.get("metadata", {}).get("execution", {})
        begin, end = timing.get("iopub.execute_input"), timing.get("shell.execute_reply")
        if begin and end:
            out.append(((parse(end) - parse(begin)).total_seconds(), i))
    return sorted(out, reverse=True)


def problems(nb):
    """[(cell index, what)] of errors, stderr output, tool log lines and unrounded numbers
    (seven digits or more after the point) in executed cells.

    A cell tagged ``tool-log`` may show tool lines and stderr (never an error).
    """
    found = []
    for i, cell in enumerate(nb.cells):
        allowed = ALLOW_TOOL_LOG in cell.get("metadata", {}).get("tags", [])
        for out in cell.get("outputs", []):
            kind = out.get("output_type")
            if kind == "error":
                found.append((i, f"error: {out.get('ename')}: {out.get('evalue', '')[:200]}"))
            elif allowed:
                continue
            elif kind == "stream" and out.get("name") == "stderr":
                found.append((i, "stderr: " + _first_lines(out.get("text", ""))))
        if not allowed:
            for text in text_outputs(cell):
                for line in _COLOUR.sub("", text).splitlines():
                    if _LOG_LINE.match(line) or is_tool_note(line):
                        found.append((i, "tool log: " + line[:200]))
                    elif _UNROUNDED.search(line):
                        found.append((i, "unrounded number: " + line[:200]))
    return found


def _first_lines(text, n=3):
    lines = _COLOUR.sub("", text).strip().splitlines()
    return "\n".join(lines[:n]) + (" …" if len(lines) > n else "")


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
    text = _COLOUR.sub("", str(exc))  # drop the traceback's colour codes
    return text if len(text) <= limit else text[:limit] + "\n…"
