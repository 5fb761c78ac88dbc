"""Tool notes kept out of what learners see; every other warning and error kept.

TensorFlow writes CUDA probes and oneDNN notes to file descriptor 2 while it loads,
before its logging is set up, so ``TF_CPP_MIN_LOG_LEVEL`` cannot stop them (in a
notebook they show as a red block); LiteRT announces its XNNPACK delegate the same way,
once per process, at the first interpreter. :func:`native_stderr_filtered` sends fd 2 to
a temporary file for a block, then writes back every line that is not one of those
notes. :func:`quiet_tool_start` (run by ``import cbr_edu``) makes the first ``import
tensorflow`` — by anyone, through any module — load inside it, lets LiteRT make its
announcement there too when ``ai_edge_litert.interpreter`` is first imported (a learner's
own ``Interpreter`` then says nothing), and filters TensorFlow's Python-level notes about
Keras' and cbr-edu's own functions (retracing, assets written, the converter's
deprecation note).
A learner's own ``tf.function`` that retraces still gets its warning.

``CBR_EDU_TOOL_LOGS=1`` turns all of this off (to see what the tools say).

Example
-------
>>> import os
>>> with native_stderr_filtered():
...     _ = os.write(2, b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\\n")
>>> is_tool_note("E0000 00:00:1.5  12 cuda_platform.cc:52] failed call to cuInit: ...")
True
>>> is_tool_note("UserWarning: something a learner should read")
False
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import logging
import os
import re
import sys
import tempfile
from contextlib import contextmanager

__all__ = ["TOOL_LOGS_ENV", "is_tool_note", "native_stderr_filtered",
           "quiet_tool_start", "quiet_beam", "ToolNoteFilter"]

TOOL_LOGS_ENV = "CBR_EDU_TOOL_LOGS"

# Lines the native libraries print on their own; anything else is written back.
_NATIVE_NOTES = re.compile(
    r"WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    r"|I\d{4} \S+ +\d+ \S+\] "                 # absl INFO lines (oneDNN, cudart stub…)
    r"|[WE]\d{4} \S+ +\d+ "                    # CUDA / TensorRT probes on CPU machines
    r"(cuda\w*|cudart_stub|gpu\w*|tf_trt\w*|dso_loader)\.cc:\d+\] "
    r"|INFO: Created TensorFlow Lite XNNPACK delegate for CPU\."
    r"|INFO: Initialized TensorFlow Lite runtime\."
    r"|fully_quantize: \d+, inference_type: \d+, input_inference_type: ")  # the int8 converter

# TensorFlow's Python-level notes about code that is not the learner's.
_PYTHON_NOTES = re.compile(
    r"\d+ out of the last \d+ calls to <function "
    r"(TensorFlowTrainer\.make_\w+_function|CbRClassifier\.|_HeadTrainer\.|_one_query )"
    r"|Assets written to: "
    r"|Please consider providing the trackable_obj argument")

# Apache Beam's notes about optional parts it looks for (BigQuery clients, Interactive
# Beam's charts, memory probes) — logged on the root logger and one of its own.
_BEAM_NOTES = re.compile(
    r"apitools not found, and bigquery client libraries are not available"
    r"|Dependencies required for Interactive Beam PCollection visualization are not available"
    r"|Resource module is not available for current platform")
_BEAM_LOGGERS = ("", "apache_beam.runners.interactive.interactive_environment")


def tool_logs_shown() -> bool:
    """True when ``$CBR_EDU_TOOL_LOGS`` asks to see the tools' own notes."""
    return os.environ.get(TOOL_LOGS_ENV, "").strip().lower() not in ("", "0", "false", "no")


def is_tool_note(line: str) -> bool:
    """True for a line a tool prints on its own (start-up notes, delegate announcements)."""
    return bool(_NATIVE_NOTES.match(line.strip("\r\n")))


@contextmanager
def native_stderr_filtered():
    """Run the block with fd 2 captured; afterwards write back the lines that are not notes.

    Output of the block that is kept arrives when the block ends. Where fd 2 cannot be
    duplicated (no console), or with ``CBR_EDU_TOOL_LOGS=1``, the block runs as it is.
    """
    if tool_logs_shown():
        yield
        return
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    with tempfile.TemporaryFile() as captured:
        _flush_stderr()
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            _flush_stderr()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            text = captured.read().decode("utf-8", errors="replace")
            kept = "".join(ln for ln in text.splitlines(keepends=True) if not is_tool_note(ln))
            if kept:
                os.write(2, kept.encode("utf-8"))


def _flush_stderr():
    for stream in (sys.stderr, sys.__stderr__):
        try:
            stream.flush()
        except (AttributeError, OSError, ValueError):
            pass


class ToolNoteFilter(logging.Filter):
    """Drops TensorFlow's notes about Keras' and cbr-edu's own functions (see module doc),
    or, given another pattern, the log records whose message it matches."""

    def __init__(self, notes=_PYTHON_NOTES):
        super().__init__()
        self.notes = notes

    def filter(self, record):
        try:
            message = record.getMessage()
        except Exception:  # a record that cannot format is not ours to judge  # noqa: BLE001
            return True
        return not self.notes.match(message)


def _tensorflow_loaded(module):
    # the CUDA probe runs at the first device lookup: here, not in a later cell
    module.config.list_physical_devices()
    _filter_tensorflow_logger()


def _litert_loaded(module):
    """LiteRT announces its XNNPACK delegate once per process, at the first interpreter:
    make that one a tiny model's, here, so a learner's own interpreter says nothing."""
    try:
        import numpy as np

        from .tflite._graph import Graph, new_model, pack
        model = new_model(dim=1)
        graph = Graph(model)
        x = int(graph.subgraph.inputs[0])
        graph.subgraph.outputs = np.array([graph.op("RELU", [x], "relu", (1, 1))], np.int32)
        module.Interpreter(model_content=pack(model)).allocate_tensors()
    except Exception:  # noqa: BLE001 - a note may show; the import must not fail for it
        pass


#: modules loaded with their start-up notes filtered, and what else runs while filtered
_FIRST_LOAD = {"tensorflow": _tensorflow_loaded, "ai_edge_litert.interpreter": _litert_loaded}


class _QuietLoader(importlib.abc.Loader):
    """Loads a module with the real loader, then its ``loaded`` step, inside
    :func:`native_stderr_filtered`."""

    def __init__(self, loader, loaded):
        self._loader, self._loaded = loader, loaded

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        with native_stderr_filtered():
            self._loader.exec_module(module)
            self._loaded(module)

    def __getattr__(self, name):  # resources, source and the rest: the real loader's
        return getattr(self._loader, name)


class _QuietStart(importlib.abc.MetaPathFinder):
    """Finds each module of :data:`_FIRST_LOAD` once and hands it to :class:`_QuietLoader`."""

    def __init__(self, waiting):
        self._waiting = dict(waiting)

    def find_spec(self, fullname, path=None, target=None):
        loaded = self._waiting.pop(fullname, None)
        if loaded is None:
            return None
        if not self._waiting and self in sys.meta_path:
            sys.meta_path.remove(self)
        spec = importlib.util.find_spec(fullname)
        if spec is not None and spec.loader is not None:
            spec.loader = _QuietLoader(spec.loader, loaded)
        return spec


def _add_filter(names, notes):
    for name in names:
        logger = logging.getLogger(name)
        if not any(isinstance(f, ToolNoteFilter) and f.notes is notes for f in logger.filters):
            logger.addFilter(ToolNoteFilter(notes))


def _filter_tensorflow_logger():
    _add_filter(("tensorflow", "absl"), _PYTHON_NOTES)


def quiet_beam():
    """Drop Apache Beam's notes about optional parts it did not find (call before
    importing it); its other warnings and errors are kept."""
    if not tool_logs_shown():
        _add_filter(_BEAM_LOGGERS, _BEAM_NOTES)


def quiet_tool_start():
    """Load TensorFlow and LiteRT (when first imported) with their start-up notes filtered."""
    if tool_logs_shown():
        return
    if "tensorflow" in sys.modules:
        _filter_tensorflow_logger()
    waiting = {name: loaded for name, loaded in _FIRST_LOAD.items() if name not in sys.modules}
    if waiting and not any(isinstance(f, _QuietStart) for f in sys.meta_path):
        sys.meta_path.insert(0, _QuietStart(waiting))
