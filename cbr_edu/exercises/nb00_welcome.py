"""Notebook 00 — the setup check, and two warm-up questions that show how exercises work.

>>> rows = check_setup(load_model=False, show=False)
>>> [r["item"] for r in rows][:2]
['Python', 'TensorFlow']
"""

from __future__ import annotations

import os
import platform
import sys
import time

from ._core import Question, Wrong

__all__ = ["check_setup", "q1", "q2"]

_OK, _WARN, _FAIL = "ok", "warning", "problem"
# marks that common fonts have (emoji such as U+2705 show as empty boxes without an emoji font)
_MARK = {_OK: "✓", _WARN: "⚠", _FAIL: "✗"}


def _version(module_name):
    try:
        module = __import__(module_name)
    except Exception:  # noqa: BLE001 - any import failure is "missing"
        return None
    return getattr(module, "__version__", "installed")


def _dir_size(path):
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            try:
                total += os.path.getsize(os.path.join(root, f))
            except OSError:
                pass
    return total


def _row(item, status, detail):
    return {"item": item, "status": status, "detail": detail}


def _check_packages():
    py = sys.version_info
    rows = [_row("Python", _OK if py >= (3, 10) else _FAIL,
                 f"{platform.python_version()} ({sys.executable})")]
    tf_version = _version("tensorflow")
    rows.append(_row("TensorFlow", _OK if tf_version else _FAIL,
                     tf_version or "not installed: `pip install -r requirements.txt`"))
    keras_version = _version("keras")
    keras_ok = bool(keras_version) and keras_version.split(".")[0].isdigit() and \
        int(keras_version.split(".")[0]) >= 3
    rows.append(_row("Keras", _OK if keras_ok else _FAIL,
                     f"{keras_version} (Keras 3 needed)" if keras_version else "not installed"))
    from .. import __version__ as cbr_version
    rows.append(_row("cbr_edu", _OK, cbr_version))
    for name in ("numpy", "matplotlib", "sklearn", "ipywidgets"):
        v = _version(name)
        rows.append(_row(name, _OK if v else (_WARN if name == "ipywidgets" else _FAIL),
                         v or ("not installed: sliders will not show" if name == "ipywidgets"
                               else "not installed")))
    return rows


def _check_machine():
    cpus = os.cpu_count() or 1
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else cpus
    gpus = []
    if _version("tensorflow"):
        import tensorflow as tf
        gpus = tf.config.list_physical_devices("GPU")
    return [_row("CPU cores", _OK if usable >= 2 else _WARN,
                 f"{usable} usable of {cpus}" + (f"; {len(gpus)} GPU(s)" if gpus else
                                                 "; no GPU (fine: nothing here trains)"))]


def _check_cache():
    from .._paths import cache_root
    root = cache_root()
    try:
        root.mkdir(parents=True, exist_ok=True)
        probe = root / ".write-test"
        probe.write_text("ok")
        probe.unlink()
        return [_row("cache folder", _OK, f"{root} ({_dir_size(root) / 1e6:.1f} MB; set "
                                          "CBR_EDU_CACHE_DIR to move it)")]
    except OSError as exc:  # read-only or shared: read, but nothing new is kept
        return [_row("cache folder", _WARN,
                     f"{root} is not writable ({exc.strerror or exc}): what it holds is used, "
                     "new results are not cached; set CBR_EDU_CACHE_DIR to keep them")]


def _check_embedder():
    try:
        import numpy as np
        from skimage import data

        from ..embedders import load_embedder
        start = time.perf_counter()
        embedder = load_embedder("efficientnet_lite0")
        vector = embedder.embed([data.chelsea()])
        seconds = time.perf_counter() - start
        ok = vector.shape == (1, embedder.dim) and bool(np.all(np.isfinite(vector)))
        return [_row("offline embedder", _OK if ok else _FAIL,
                     f"EfficientNet-Lite0 loaded and embedded a photo in {seconds:.1f} s "
                     f"→ {embedder.dim}-d vector")]
    except Exception as exc:  # noqa: BLE001 - report, do not crash the notebook
        return [_row("offline embedder", _FAIL, f"{type(exc).__name__}: {exc}")]


def _check_mode(online):
    if not online:
        return [_row("mode", _OK, "offline (ONLINE = False): bundled model and data sets only")]
    from .. import _network
    up = _network.can_connect("www.kaggle.com")
    return [_row("internet (online mode)", _OK if up else _FAIL,
                 "Kaggle / TF Hub reachable" if up else
                 "no connection: set ONLINE = False to use the offline embedder and data sets")]


def check_setup(*, online=False, load_model=True, show=True):
    """Check the environment for the course; show a table and return its rows.

    Each row is ``{"item", "status" ("ok"/"warning"/"problem"), "detail"}``.
    ``load_model`` loads the offline embedder and embeds one bundled photo;
    ``online`` also tests the connection to Kaggle / TF Hub.
    """
    rows = _check_packages() + _check_machine() + _check_cache()
    if load_model and _version("tensorflow"):
        rows += _check_embedder()
    rows += _check_mode(online)
    if show:
        _show_table(rows)
    return rows


def _show_table(rows):
    lines = ["| | check | result |", "|---|---|---|"]
    lines += [f"| {_MARK[r['status']]} | {r['item']} | {r['detail']} |" for r in rows]
    problems = [r["item"] for r in rows if r["status"] == _FAIL]
    summary = ("**All set.**" if not problems else
               f"**Fix before the workshop:** {', '.join(problems)}.")
    text = "\n".join(lines) + "\n\n" + summary
    try:
        from IPython import get_ipython
        if get_ipython() is not None and getattr(get_ipython(), "kernel", None) is not None:
            from IPython.display import Markdown, display
            display(Markdown(text))
            return
    except ImportError:
        pass
    for r in rows:
        print(f"{_MARK[r['status']]} {r['status']:>8}  {r['item']:<24} {r['detail']}")
    print(summary.replace("**", ""))


# ----------------------------------------------------------------- warm-up questions

def _as_number(self, value, what):
    arr = self.as_array(value, what)
    if arr.size != 1:
        raise Wrong(f"{what} should be one number, got {arr.size} values.")
    return float(arr.reshape(()))


class TrainingEpochs(Question):
    _var = "epochs_needed"
    _title = "Warm-up: how much training?"
    _hints = [
        "Read the introduction again: what does *Classification-by-Retrieval* do instead "
        "of training?",
        "The pre-trained embedder is used as it is, and the index is just the embeddings "
        "of your example images. Nothing is fitted by gradient descent.",
    ]
    _solution = ("None at all: building the classifier is embedding the examples and "
                 "writing them into the retrieval layer's weights.")
    solution_code = "epochs_needed = 0\n"

    def _check(self, epochs_needed):
        if isinstance(epochs_needed, str):
            raise Wrong("write the number itself (e.g. `epochs_needed = 3`), not words in quotes.")
        n = _as_number(self, epochs_needed, "epochs_needed")
        if n < 0 or n != int(n):
            raise Wrong(f"{n:g}? Epochs are counted in whole passes over the data, 0 or more.")
        if n == 1:
            raise Wrong("even a single epoch is training. CbR writes the example embeddings "
                        "into the retrieval layer's weights: nothing is learnt from them.")
        if n != 0:
            raise Wrong(f"{n:g} epochs? CbR builds a classifier **without training**: the "
                        "weights are the example embeddings themselves.")


class LayerSizes(Question):
    _var = ("retrieval_outputs", "aggregation_outputs")
    _title = "Warm-up: how big are the two layers?"
    _hints = [
        "The retrieval layer gives one score per **indexed image**; the aggregation layer "
        "one score per **class**.",
        "Count the photos in the index: every photo of every class is indexed.",
    ]
    _solution = "3 photos × 5 classes = 15 instance scores in, 5 class scores out."
    solution_code = "retrieval_outputs = 15\naggregation_outputs = 5\n"

    def _check(self, retrieval_outputs, aggregation_outputs):
        r = _as_number(self, retrieval_outputs, "retrieval_outputs")
        a = _as_number(self, aggregation_outputs, "aggregation_outputs")
        if (r, a) == (5, 15):
            raise Wrong("swapped: the retrieval layer scores every indexed image, the "
                        "aggregation layer every class.")
        if r == 3 + 5:
            raise Wrong("you added the photos per class and the classes; the index holds "
                        "3 photos **of each** of the 5 classes — multiply.")
        if r in (1, 3, 5):
            raise Wrong(f"retrieval_outputs = {r:g}: the retrieval layer has one output per "
                        "indexed image (how many photos are in the index?).")
        if r != 15:
            raise Wrong(f"retrieval_outputs = {r:g}: the retrieval layer has one output per "
                        "indexed image; count every photo of every class.")
        if a == 1:
            raise Wrong("aggregation_outputs = 1: the aggregation layer does not pick the "
                        "winner, it gives every class a score (one output per class).")
        if a != 5:
            raise Wrong(f"aggregation_outputs = {a:g}: the aggregation layer has one output "
                        "per class.")


q1 = TrainingEpochs()
q2 = LayerSizes()
