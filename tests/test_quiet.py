"""Learners see no tool notes: TensorFlow's start-up lines, LiteRT's delegate note, and
TensorFlow's notes about Keras' own functions; every other warning still shows."""

import os
import subprocess
import sys

import pytest

from cbr_edu._quiet import TOOL_LOGS_ENV, ToolNoteFilter, is_tool_note, native_stderr_filtered

START = """
import sys
import cbr_edu
import keras            # imports TensorFlow, the way most notebooks first do
import tensorflow as tf
tf.constant(1.0) + 1
import warnings
warnings.warn("a warning a learner must read")
"""


def run_python(code, **env):
    full = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", TOOL_LOGS_ENV)}
    full.update(env)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=full, timeout=300, check=True)


@pytest.fixture(scope="module")
def start_quiet():
    return run_python(START)


def test_tensorflow_starts_without_its_notes(start_quiet):
    lines = start_quiet.stderr.splitlines()
    assert not [ln for ln in lines if "absl::InitializeLog" in ln or "cuda" in ln.lower()
                or ln[:1] in "IWE" and ln[1:5].isdigit()], start_quiet.stderr
    assert any("a warning a learner must read" in ln for ln in lines), start_quiet.stderr


def test_the_notes_are_really_there_without_cbr_edu():
    """What the filter removes exists: with CBR_EDU_TOOL_LOGS=1 TensorFlow says it."""
    shown = run_python(START, **{TOOL_LOGS_ENV: "1"})
    assert any(is_tool_note(ln) for ln in shown.stderr.splitlines()), shown.stderr


def test_lines_that_are_not_notes_come_back(capfd):
    with native_stderr_filtered():
        os.write(2, b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\n")
        os.write(2, b"E0000 00:00:1.2   7 cuda_platform.cc:52] failed call to cuInit\n")
        os.write(2, b"Error: the file cat.jpg cannot be read\n")
    err = capfd.readouterr().err
    assert err == "Error: the file cat.jpg cannot be read\n"


def test_a_learners_own_retracing_warning_is_kept():
    note = ToolNoteFilter()

    def record(function):
        message = (f"5 out of the last 5 calls to <function {function} at 0x7f> triggered "
                   "tf.function retracing. Tracing is expensive")
        return __import__("logging").LogRecord("tensorflow", 30, "", 0, message, None, None)

    assert not note.filter(record("TensorFlowTrainer.make_predict_function.<locals>.step"))
    assert not note.filter(record("_one_query"))  # the AggregationLayer's, per model shape
    assert note.filter(record("my_step"))
    assert note.filter(record("_one_query_of_mine"))


def test_a_learners_own_litert_interpreter_says_nothing(tmp_path):
    """LiteRT's one delegate note per process is made at import, filtered; then a learner's
    Interpreter is silent. Without cbr_edu, the same code prints it."""
    import numpy as np

    from cbr_edu.tflite._graph import Graph, new_model, pack
    model = new_model(dim=3)
    graph = Graph(model)
    graph.subgraph.outputs = np.array(
        [graph.op("RELU", [int(graph.subgraph.inputs[0])], "relu", (1, 3))], np.int32)
    (tmp_path / "relu.tflite").write_bytes(pack(model))
    code = ("from ai_edge_litert.interpreter import Interpreter\n"
            f"Interpreter(model_path={str(tmp_path / 'relu.tflite')!r}).allocate_tensors()\n")
    assert run_python("import cbr_edu\n" + code).stderr == ""
    assert "XNNPACK delegate" in run_python(code).stderr


def test_beam_notes_about_optional_parts_are_dropped_and_its_other_warnings_kept(caplog):
    import logging

    from cbr_edu import scale  # noqa: F401 - importing it installs the filter
    root = logging.getLogger()
    interactive = logging.getLogger("apache_beam.runners.interactive.interactive_environment")
    with caplog.at_level(logging.WARNING):
        root.warning("apitools not found, and bigquery client libraries are not available "
                     "despite the import not raising an ImportError.")
        root.warning("Resource module is not available for current platform, memory usage "
                     "cannot be fetched.")
        interactive.warning("Dependencies required for Interactive Beam PCollection "
                            "visualization are not available, please use: ...")
        root.warning("A learner's own warning")
        interactive.warning("Interactive Beam could not find the pipeline")
    assert [r.getMessage() for r in caplog.records] == [
        "A learner's own warning", "Interactive Beam could not find the pipeline"]
