"""Plots for the lessons (matplotlib). Each function draws on ``ax`` (or a new one)
and returns the Axes; nothing calls ``plt.show()``.

Example
-------
>>> import matplotlib
>>> matplotlib.use("Agg")
>>> from cbr_edu.fewshot import Results
>>> rows = [{"method": "CbR max", "shots": s, "accuracy": a, "ci95": 0.02,
...          "build_time_s": 1e-3, "trains": False} for s, a in [(1, 0.6), (5, 0.8)]]
>>> ax = plot_accuracy_vs_shots(Results(rows))
>>> ax.get_xlabel()
'shots per class (K)'
"""

from __future__ import annotations

import numpy as np

__all__ = ["plot_accuracy_vs_shots", "plot_time_vs_accuracy", "plot_confusion_matrix",
           "plot_comparison", "method_style"]

_FAMILIES = (("CbR", "tab:blue", "o"), ("kNN", "tab:green", "s"),
             ("prototypes", "tab:purple", "^"), ("linear probe", "tab:red", "D"),
             ("fine-tuned", "tab:orange", "v"))
_LINES = ("-", "--", ":", "-.")


def _axes(ax, figsize=(6, 4)):
    if ax is None:
        import matplotlib.pyplot as plt
        _, ax = plt.subplots(figsize=figsize)
    return ax


def _rows(results):
    return results.rows if hasattr(results, "rows") else list(results)


def method_style(name, order=0):
    """Colour by family (CbR, kNN, prototypes, linear probe, fine-tuned), line style by variant.

    >>> method_style("kNN k=3", 1)["color"]
    'tab:green'
    """
    for family, color, marker in _FAMILIES:
        if name.startswith(family):
            return {"color": color, "marker": marker, "linestyle": _LINES[order % 4]}
    return {"color": "tab:gray", "marker": "x", "linestyle": _LINES[order % 4]}


def _styles(names):
    seen, out = {}, {}
    for n in names:
        family = next((f for f, _, _ in _FAMILIES if n.startswith(f)), n)
        out[n] = method_style(n, seen.get(family, 0))
        seen[family] = seen.get(family, 0) + 1
    return out


def plot_accuracy_vs_shots(results, *, ax=None, methods=None, title=None):
    """Mean accuracy (%) against shots, one line per method, 95 % CI error bars."""
    ax = _axes(ax)
    rows = _rows(results)
    names = methods or list(dict.fromkeys(r["method"] for r in rows))
    styles = _styles(names)
    for name in names:
        rs = sorted((r for r in rows if r["method"] == name), key=lambda r: r["shots"])
        if not rs:
            continue
        ax.errorbar([r["shots"] for r in rs], [100 * r["accuracy"] for r in rs],
                    yerr=[100 * r["ci95"] for r in rs], label=name, capsize=3,
                    markersize=5, **styles[name])
    shots = sorted({r["shots"] for r in rows})
    ax.set_xticks(shots)
    ax.set_xlabel("shots per class (K)")
    ax.set_ylabel("accuracy (%) ± 95 % CI")
    ax.set_title(title or "accuracy vs shots")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small", ncol=2)
    return ax


def plot_time_vs_accuracy(results, *, ax=None, shots=None, title=None):
    """Build/training time (log scale) against accuracy, one point per method.

    ``shots``: which setting to show (default: the smallest).
    """
    ax = _axes(ax)
    rows = _rows(results)
    shots = shots if shots is not None else min(r["shots"] for r in rows)
    rs = [r for r in rows if r["shots"] == shots]
    styles = _styles([r["method"] for r in rs])
    for r in rs:  # points with equal accuracy are told apart by marker and legend
        st = styles[r["method"]]
        ax.errorbar(1000 * max(r["build_time_s"], 1e-6), 100 * r["accuracy"],
                    yerr=100 * r["ci95"], fmt=st["marker"], color=st["color"], capsize=3,
                    label=r["method"])
    ax.set_xscale("log")
    ax.set_xlabel("build / training time per episode (ms, log scale)")
    ax.set_ylabel("accuracy (%) ± 95 % CI")
    ax.set_title(title or f"time vs accuracy ({shots}-shot)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize="small", ncol=2)
    return ax


def plot_confusion_matrix(y_true, y_pred, *, labels=None, display_labels=None, ax=None,
                          normalize=None, title=None):
    """scikit-learn's ``ConfusionMatrixDisplay`` on ``ax``; returns the Axes.

    >>> import matplotlib; matplotlib.use("Agg")
    >>> plot_confusion_matrix([0, 1, 1], [0, 1, 0], display_labels=["a", "b"]).get_title()
    'confusion matrix'
    """
    from sklearn.metrics import ConfusionMatrixDisplay
    ax = _axes(ax, figsize=(5, 5))
    labels = labels if labels is not None else np.unique(np.concatenate(
        [np.asarray(y_true), np.asarray(y_pred)]))
    ConfusionMatrixDisplay.from_predictions(
        y_true, y_pred, labels=labels, display_labels=display_labels, ax=ax,
        normalize=normalize, colorbar=False, xticks_rotation=45,
        values_format=".2f" if normalize else "d")
    ax.set_title(title or "confusion matrix")
    return ax


def plot_comparison(results, *, title=None):
    """The comparison figure: accuracy vs shots and time vs accuracy side by side.

    Returns the Figure (save it with ``fig.savefig(path)``).
    """
    import matplotlib.pyplot as plt
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 5))
    plot_accuracy_vs_shots(results, ax=left)
    plot_time_vs_accuracy(results, ax=right)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
