"""Run a notebook of the suite in a fresh kernel, as shipped or with the solutions in.

The one execution the notebook tests and the instructor edition share. ``execute(path,
solved=True)`` pastes each question's ``solution_code`` into the cells tagged
``{"tags": ["exercise"], "exercise": "<module>.<qN>"}`` and runs with
``CBR_EDU_STRICT_CHECKS=1`` (every ``check()`` must say "Correct");
``solved=False`` runs the notebook as a learner opens it, with ``blank`` (every check
must say "not attempted"). Plots are drawn as in Jupyter (the inline backend), so the
executed notebook carries its pictures, and widgets keep their state.

:func:`problems` lists what a learner must never see in an executed notebook: an error,
anything on stderr, a tool's own log line, a number with all its digits — except in a
cell tagged ``tool-log`` (a lesson that shows a tool's line on purpose, and says so).

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
           "exercise_id", "question", "parameter_cell", "set_parameters", "describe_cell",
           "text_outputs", "cell_seconds", "problems", "where"]

KERNEL_NAME = "python3"
CELL_TIMEOUT = 600          # seconds per cell; whole notebooks stay far below (≤ 2 min)
ALLOW_TOOL_LOG = "tool-log"  # cell tag: this cell shows a tool's own line on purpose
EXERCISE_PACKAGE = "cbr_edu.exercises"
_INLINE = "module://matplotlib_inline.backend_inline"
# Python-level log lines of the libraries (logging's default format, or absl's)
_LOG_LINE = re.compile(r"(INFO|WARNING|ERROR|DEBUG):(tensorflow|absl|keras|jax|h5py|root):"
                       r"|[IWEF]\d{4} \S+ +\d+ \S+:\d+\] ")
_COLOUR = re.compile(r"\x1b\[[0-9;]*m")
# the kernel's own log lines on its stderr ("[IPKernelApp] WARNING | Parent appears to have
# exited"): never in a notebook
_KERNEL_LOG = re.compile(r"\[(IPKernelApp|KernelApp|IPythonKernel)\]")
# a number printed with all its digits (0.30000000000000004, 8.881784197001252e-16, a float32
# as 0.886260449886322):
# round it for learners; exact binary fractions (127/128 = 0.9921875) are fine
_UNROUNDED = re.compile(r"(?<![\w.])-?\d+\.\d{9,}(e[-+]?\d+)?(?![\w.])")


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


# The first cell the kernel runs (not part of the notebook): the interpreter is the one
# running us; and after each cell, what native code wrote to fd 1 / 2 is read from
# ipykernel's pipe before the cell ends, so it lands in the cell that wrote it (a reader
# thread forwards it; unread, it would reach the notebook later, in another cell).
_PRELUDE = f"""\
import os as _os, sys as _sys
assert _os.path.realpath(_sys.executable) == {os.path.realpath(sys.executable)!r}, _sys.executable

def _settle(result=None):
    import fcntl, struct, termios, time
    for stream in (_sys.stdout, _sys.stderr):
        pipe = getattr(stream, "_fid", None)
        for _ in range(100):
            if pipe is None or not struct.unpack(
                    "i", fcntl.ioctl(pipe, termios.FIONREAD, b"0000"))[0]:
                break
            time.sleep(0.01)
    time.sleep(0.01)
    _sys.stdout.flush(); _sys.stderr.flush()

if _os.name == "posix":
    get_ipython().events.register("post_run_cell", _settle)
del _os, _settle
"""


def execute(nb_path, *, solved: bool, parameters=None, env=None):
    """Run a copy of the notebook in a fresh kernel; return (executed nb, seconds, exercises).

    ``parameters`` (``{"ONLINE": True}``) replace those assignments in the cell tagged
    ``parameters``; ``env`` adds to the kernel's environment. Raises
    :class:`NotebookFailed` naming the cell that raised or timed out.
    """
    import nbformat
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
    if parameters:
        cell = parameter_cell(nb, nb_path.name)
        cell.source = set_parameters(cell.source, parameters, name=nb_path.name)
    run = copy.deepcopy(nb)
    run.cells.insert(0, nbformat.v4.new_code_cell(_PRELUDE))
    start = time.perf_counter()
    try:
        _run_kernel(run, nb_path.parent,
                    env={**kernel_env("1" if solved else "blank"), **(env or {})})
    except (CellExecutionError, CellTimeoutError) as exc:
        failed = _failed_cell(run)
        where = (describe_cell(nb_path, failed - 1, run.cells[failed]) if failed else
                 f"{nb_path.name} (harness prelude)" if failed == 0 else nb_path.name)
        mode = "with solutions" if solved else "as shipped"
        native = run.metadata.get("cbr_edu", {}).get("native_stderr", [])
        said = "\nthe kernel's stderr ends:\n" + "\n".join(native[-10:]) if native else ""
        raise NotebookFailed(f"{where} failed {mode}:\n{_short(exc)}{said}") from None
    seconds = time.perf_counter() - start
    run.cells.pop(0)
    for cell in run.cells:   # the prelude was In [1]: the notebook's first cell is again
        for item in (cell, *cell.get("outputs", [])):
            if item.get("execution_count"):
                item["execution_count"] -= 1
    return run, seconds, n_exercises


def _run_kernel(nb, folder, *, env):
    """Execute ``nb`` (in place) in a fresh kernel started in ``folder``.

    The kernel talks over local sockets in a private temporary folder: no TCP port
    that another process on a busy machine may take first, no socket files left in
    ``folder``, and runs side by side do not meet. What native code wrote to the
    kernel's stderr goes to ``nb.metadata["cbr_edu"]["native_stderr"]`` (a list of lines).
    The kernel is shut down when the run ends, also when a cell fails (nbclient keeps a
    kernel it was handed alive unless told otherwise).
    """
    import tempfile

    from jupyter_client.manager import AsyncKernelManager
    from nbclient import NotebookClient

    with tempfile.TemporaryDirectory(prefix="cbr-edu-kernel-") as private, \
            open(os.path.join(private, "stderr"), "w+b") as native:
        manager = AsyncKernelManager(kernel_name=KERNEL_NAME, transport="ipc",
                                     ip=os.path.join(private, "kernel"))
        client = NotebookClient(nb, km=manager, timeout=CELL_TIMEOUT, startup_timeout=120,
                                allow_errors=False, resources={"metadata": {"path": str(folder)}})
        try:
            client.execute(env=env, stderr=native, cleanup_kc=True)
        finally:
            native.seek(0)
            lines = native.read().decode("utf-8", errors="replace").splitlines()
            nb.metadata["cbr_edu"] = {"native_stderr": [
                ln for ln in lines if ln.strip() and not _KERNEL_LOG.match(ln)]}


def parameter_cell(nb, name="the notebook"):
    """The notebook's cell tagged ``parameters``; ValueError naming ``name`` if none."""
    cell = next((c for c in nb.cells if "parameters" in c.metadata.get("tags", [])), None)
    if cell is None:
        raise ValueError(f"{name} has no cell tagged 'parameters'")
    return cell


def set_parameters(source, values, *, name="the notebook"):
    """``source`` (a parameter cell) with each ``NAME = ...`` line given the value in ``values``.

    >>> set_parameters("ONLINE = False   # True: online\\nSEED = 0", {"ONLINE": True})
    'ONLINE = True   # True: online\\nSEED = 0'
    """
    for key, value in values.items():
        pattern = re.compile(rf"^({re.escape(key)}\s*=\s*)[^#\n]*?(\s*(#.*)?)$", re.MULTILINE)
        source, found = pattern.subn(lambda m: f"{m.group(1)}{value!r}{m.group(2)}", source,
                                     count=1)
        if not found:
            raise ValueError(f"{name}: the parameter cell sets no {key}")
    return source


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
    (nine digits or more after the point) in executed cells; index None for a line native
    code wrote to the kernel's stderr that no cell shows (it reached the notebook late:
    learners see it in whichever cell runs then).

    A cell tagged ``tool-log`` may show tool lines and stderr (never an error); a native
    line no cell shows is allowed when the notebook's text quotes it (the lesson says
    what the tool prints).
    """
    found, shown = [], ""
    for i, cell in enumerate(nb.cells):
        allowed = ALLOW_TOOL_LOG in cell.get("metadata", {}).get("tags", [])
        for out in cell.get("outputs", []):
            kind = out.get("output_type")
            if kind == "error":
                found.append((i, f"error: {out.get('ename')}: {out.get('evalue', '')[:200]}"))
            elif kind == "stream" and out.get("name") == "stderr":
                shown += out.get("text", "")
                if not allowed:
                    found.append((i, "stderr: " + _first_lines(out.get("text", ""))))
        if not allowed:
            found += [(i, what) for what in _text_problems(cell)]
    quoted = "\n".join(cell.source for cell in nb.cells if cell.cell_type == "markdown")
    found += [(None, "native stderr: " + line[:200])
              for line in nb.metadata.get("cbr_edu", {}).get("native_stderr", [])
              if line not in shown and line.strip().rstrip(".") not in quoted]
    return found


def _text_problems(cell):
    for text in text_outputs(cell):
        for line in _COLOUR.sub("", text).splitlines():
            if _LOG_LINE.match(line) or is_tool_note(line):
                yield "tool log: " + line[:200]
            elif _UNROUNDED.search(line):
                yield "unrounded number: " + line[:200]


def where(nb_path, nb, index):
    """:func:`describe_cell` for the cell a problem names; for index None, the notebook."""
    if index is None:
        return f"{Path(nb_path).name} (outside the cells, from native code)"
    return describe_cell(nb_path, index, nb.cells[index])


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
