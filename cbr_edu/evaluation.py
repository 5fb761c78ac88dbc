"""Few-shot evaluation: seeded N-way K-shot episodes, accuracy ± 95 % CI, timings, open set.

An **episode** picks ``ways`` classes, then ``shots`` support and ``queries`` query
images per class (never the same image in both). Every method is fitted on the
support embeddings and scored on the queries; this repeats for ``episodes``
episodes. Episode ``i`` depends only on ``(seed, i)``, so the same seed gives the
same episodes (and the same numbers), and the first 100 episodes of a 600-episode
run are those of a 100-episode run.

**95 % confidence interval** of the mean accuracy over E episodes (the few-shot
literature's convention)::

    ci95 = 1.96 * std(acc, ddof=1) / sqrt(E)

i.e. 1.96 standard errors of the mean (``scipy.stats.sem(acc) * 1.96``).

**Timings** are medians over episodes: ``build_time_s`` is ``fit`` — for CbR
writing the index into its Keras model, for the fine-tuned methods the training.
Both reuse one compiled Keras graph per episode shape, so the first episode also
pays the one-off graph construction and tracing: ``build_time_first_s``. ``predict_ms_per_query`` is
the time to score the queries of an episode divided by their number; computing
the embeddings is not included (it is shared by every method and done once).
``size_bytes`` is what a method stores beyond the shared embedder.

Example
-------
>>> import numpy as np
>>> from cbr_edu.baselines import KNN, Prototypes
>>> rng = np.random.default_rng(0)
>>> labels = np.repeat(np.arange(4), 10)
>>> X = np.eye(4)[labels] * 5 + rng.normal(size=(40, 4))
>>> res = evaluate([KNN(1), Prototypes("L2N")], X, labels, ways=3, shots=[1, 3],
...                queries=5, episodes=20, seed=0)
>>> r = res.row("kNN k=1", 3)
>>> r["accuracy"] > 0.9, r["episodes"], r["queries"]
(True, 20, 5)
>>> print(res.to_markdown().splitlines()[0])
| method | ways | shots | accuracy % | ± 95 % CI | build/train ms | predict µs/query | size |
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ._atomic import atomic_output
from .baselines import method_names

__all__ = ["Episode", "sample_episodes", "auto_queries", "ci95", "evaluate", "Results",
           "embed_images", "predictions", "calibrate_threshold", "rejection_metrics",
           "evaluate_open_set", "open_set_scores", "OpenSetResult"]


# ------------------------------------------------------------------------ episodes

@dataclass(frozen=True)
class Episode:
    """One N-way K-shot task: indices into the data set, and its classes.

    ``support_labels`` / ``query_labels`` are the original labels of those rows.
    """

    classes: np.ndarray
    support: np.ndarray
    query: np.ndarray


def _class_index(labels):
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(f"labels must be 1-D, got shape {labels.shape}")
    classes = np.unique(labels)
    return classes, {c: np.flatnonzero(labels == c) for c in classes}


def auto_queries(labels, ways, shots, cap=15):
    """The largest Q ≤ ``cap`` such that ``ways`` classes have ``shots + Q`` images.

    >>> auto_queries([0] * 7 + [1] * 7 + [2] * 3, ways=2, shots=5)
    2
    """
    counts = sorted((len(v) for v in _class_index(labels)[1].values()), reverse=True)
    if len(counts) < ways:
        raise ValueError(f"{ways}-way episodes need {ways} classes; there are {len(counts)}")
    q = min(cap, counts[ways - 1] - max(np.atleast_1d(shots)))
    if q < 1:
        raise ValueError(f"{ways}-way {max(np.atleast_1d(shots))}-shot episodes need "
                         f"{ways} classes with at least {max(np.atleast_1d(shots)) + 1} "
                         f"images; the class sizes are {counts}")
    return int(q)


def sample_episodes(labels, ways, shots, queries, episodes, seed=0):
    """``episodes`` seeded N-way K-shot episodes over ``labels``.

    Only classes with at least ``shots + queries`` images take part. Per episode:
    ``ways`` classes without replacement, then per class a random permutation of its
    images — the first ``shots`` are support, the next ``queries`` are queries, so
    support and query never overlap and every class has exactly ``shots`` and
    ``queries`` images. Episode ``i`` uses ``numpy.random.default_rng([seed, i])``.

    Example
    -------
    >>> eps = sample_episodes([0, 0, 0, 1, 1, 1, 2, 2, 2], ways=2, shots=1, queries=2,
    ...                       episodes=3, seed=0)
    >>> len(eps), len(eps[0].support), len(eps[0].query)
    (3, 2, 4)
    """
    for what, v, low in (("ways", ways, 2), ("shots", shots, 1), ("queries", queries, 1),
                         ("episodes", episodes, 1)):
        if int(v) != v or v < low:
            raise ValueError(f"{what} must be an integer >= {low}, got {v!r}")
    classes, members = _class_index(labels)
    eligible = [c for c in classes if len(members[c]) >= shots + queries]
    if len(eligible) < ways:
        sizes = {str(c): len(members[c]) for c in classes}
        raise ValueError(
            f"{ways}-way {shots}-shot episodes with {queries} queries need {ways} classes "
            f"with at least {shots + queries} images each; only {len(eligible)} have that "
            f"(class sizes: {sizes}). Use fewer ways, shots or queries.")
    eligible = np.array(eligible)
    out = []
    for i in range(int(episodes)):
        rng = np.random.default_rng([int(seed), i])
        chosen = np.sort(rng.choice(eligible, size=ways, replace=False))
        support, query = [], []
        for c in chosen:
            perm = rng.permutation(members[c])
            support.append(perm[:shots])
            query.append(perm[shots:shots + queries])
        out.append(Episode(chosen, np.concatenate(support), np.concatenate(query)))
    return out


def ci95(accuracies):
    """Half-width of the 95 % CI of the mean: ``1.96 * std(ddof=1) / sqrt(E)``.

    >>> round(ci95([0.5, 0.7, 0.6, 0.8]), 4)    # std 0.1291, sqrt(4) = 2
    0.1265
    """
    a = np.asarray(accuracies, dtype=np.float64)
    if len(a) < 2:
        return float("nan")
    return float(1.96 * a.std(ddof=1) / math.sqrt(len(a)))


# -------------------------------------------------------------------------- results


def _size(n):
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000


class Results:
    """A comparison's results: one row (a dict) per method × shot setting.

    ``rows`` — the dicts (keys: method, ways, shots, queries, episodes, accuracy,
    ci95, std, build_time_s, build_time_mean_s, build_time_first_s,
    predict_ms_per_query, size_bytes, trains); ``per_episode[(method, shots)]`` — the episode accuracies; ``config`` —
    what was run. ``to_dict`` / ``to_json`` / ``from_dict`` round-trip;
    ``to_markdown`` (also ``str``) is the printed table; ``to_pandas`` if pandas is
    installed.
    """

    def __init__(self, rows, per_episode=None, config=None):
        self.rows = list(rows)
        self.per_episode = dict(per_episode or {})
        self.config = dict(config or {})

    # -- access
    @property
    def methods(self):
        """Method names in row order."""
        return list(dict.fromkeys(r["method"] for r in self.rows))

    @property
    def shots(self):
        """Shot settings, ascending."""
        return sorted({r["shots"] for r in self.rows})

    def row(self, method, shots):
        """The row of ``method`` at ``shots``."""
        for r in self.rows:
            if r["method"] == method and r["shots"] == shots:
                return r
        raise KeyError(f"no row for {method!r} at {shots} shots; methods: {self.methods}")

    def filter(self, method=None, shots=None):
        """Rows matching ``method`` and/or ``shots``."""
        return [r for r in self.rows if (method is None or r["method"] == method)
                and (shots is None or r["shots"] == shots)]

    def __len__(self):
        return len(self.rows)

    # -- conversion
    def to_dict(self):
        """Plain data (JSON-ready): ``{"config", "rows", "per_episode"}``."""
        return {"config": self.config, "rows": [dict(r) for r in self.rows],
                "per_episode": [{"method": m, "shots": s, "accuracy": np.round(a, 6).tolist()}
                                for (m, s), a in self.per_episode.items()]}

    @classmethod
    def from_dict(cls, data):
        """Inverse of :meth:`to_dict`."""
        per = {(d["method"], d["shots"]): np.asarray(d["accuracy"])
               for d in data.get("per_episode", [])}
        return cls(data["rows"], per, data.get("config"))

    def to_json(self, path):
        """Write :meth:`to_dict` to ``path`` (atomically); returns the path."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_output(path, "w") as f:
            json.dump(self.to_dict(), f, indent=1)
        return path

    def to_pandas(self):
        """The rows as a pandas DataFrame (needs pandas, which cbr-edu does not require)."""
        import pandas as pd
        return pd.DataFrame(self.rows)

    def to_markdown(self):
        """The table as Markdown (accuracy in %, times in ms / µs)."""
        head = ("| method | ways | shots | accuracy % | ± 95 % CI | build/train ms "
                "| predict µs/query | size |")
        lines = [head, "|" + "---|" * 8]
        for r in self.rows:
            lines.append(
                f"| {r['method']} | {r['ways']} | {r['shots']} | {100 * r['accuracy']:.2f} "
                f"| {100 * r['ci95']:.2f} | {1000 * r['build_time_s']:.2f} "
                f"| {1000 * r['predict_ms_per_query']:.1f} | {_size(r['size_bytes'])} |")
        return "\n".join(lines)

    def __str__(self):
        return self.to_markdown()

    def __repr__(self):
        return f"<Results {len(self.rows)} rows: {self.methods} × shots {self.shots}>"


# ----------------------------------------------------------------------- embeddings

def embed_images(images, embedder="efficientnet_lite0", cache=None, progress=None,
                 chunk=64):
    """Embeddings of ``images`` through the on-disk cache (each image embedded once).

    ``cache``: an :class:`~cbr_edu.cache.EmbeddingCache` (default: the user cache);
    ``cache=False`` embeds without caching. ``progress``: tqdm bar (None: only when
    there are misses and more than ``chunk`` images). Returns ``(embeddings, embedder)``.
    """
    from .cache import EmbeddingCache
    from .embedders import load_embedder
    embedder = load_embedder(embedder)
    images = list(images)
    if cache is False:
        return embedder.embed(images, progress=progress), embedder
    cache = cache if cache is not None else EmbeddingCache()
    first = cache.get_or_compute(embedder, images[:chunk])
    out = [first]
    rest = range(chunk, len(images), chunk)
    bar = None
    if len(images) > chunk and (progress or (progress is None and cache.last_misses)):
        from tqdm.auto import tqdm
        bar = tqdm(total=len(images), initial=min(chunk, len(images)), unit="img",
                   desc=f"embedding ({embedder.spec or embedder.id}, cached after)")
    for start in rest:
        out.append(cache.get_or_compute(embedder, images[start:start + chunk]))
        if bar is not None:
            bar.update(len(out[-1]))
    if bar is not None:
        bar.close()
    return np.concatenate(out).astype(np.float32), embedder


# ----------------------------------------------------------------------- evaluation

def _fit_kwargs(method, images, idx):
    if getattr(method, "needs_images", False):
        if images is None:
            raise ValueError(f"{method.name} needs the images: evaluate(..., images=...)")
        return {"images": [images[i] for i in idx]}
    return {}


def evaluate(methods, embeddings, labels, ways=5, shots=(1, 5), queries=15, episodes=100,
             seed=0, images=None, progress=None):
    """Compare ``methods`` on the same seeded episodes; returns :class:`Results`.

    Parameters
    ----------
    methods : list of few-shot methods (see :mod:`cbr_edu.baselines`)
    embeddings : array (n, dim) — one row per image, computed once.
    labels : array (n,)
    ways, queries, episodes, seed : int — see :func:`sample_episodes`.
        ``queries=None`` picks :func:`auto_queries` (at most 15).
    shots : int or list of int
    images : sequence, optional — the images, for methods with ``needs_images``.
    progress : bool, optional — a tqdm bar over episodes (default: off).
    """
    from .baselines import timed
    embeddings = np.asarray(embeddings, dtype=np.float32)
    labels = np.asarray(labels)
    if len(embeddings) != len(labels):
        raise ValueError(f"{len(embeddings)} embeddings but {len(labels)} labels")
    names = method_names(methods)
    shot_list = [int(s) for s in np.atleast_1d(shots)]
    if queries is None:
        queries = auto_queries(labels, ways, shot_list)
    rows, per_episode = [], {}
    bar = None
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=len(shot_list) * episodes * len(methods), unit="fit",
                   desc="episodes x methods")
    for k in shot_list:
        eps = sample_episodes(labels, ways, k, queries, episodes, seed)
        stats = {n: {"acc": [], "build": [], "predict": [], "size": []} for n in names}
        # one method at a time over all episodes: a method's timings are not disturbed
        # by the previous method's work (e.g. TensorFlow's worker threads still spinning
        # after a training step); methods are deterministic, so the numbers are the same
        for name, method in zip(names, methods):
            s = stats[name]
            for ep in eps:
                Xs, ys = embeddings[ep.support], labels[ep.support]
                Xq, yq = embeddings[ep.query], labels[ep.query]
                kw_fit = _fit_kwargs(method, images, ep.support)
                kw_query = _fit_kwargs(method, images, ep.query)
                if kw_query and hasattr(method, "prepare"):
                    method.prepare(**kw_query)   # e.g. trunk features: like embeddings
                _, t_fit = timed(method.fit, Xs, ys, **kw_fit)
                pred, t_pred = timed(method.predict, Xq, **kw_query)
                s["acc"].append(float(np.mean(pred == yq)))
                s["build"].append(t_fit)
                s["predict"].append(t_pred / len(yq))
                s["size"].append(method.size_bytes())
                if bar is not None:
                    bar.update()
        for name, method in zip(names, methods):
            s = stats[name]
            acc = np.asarray(s["acc"])
            per_episode[(name, k)] = acc
            rows.append({
                "method": name, "ways": int(ways), "shots": k, "queries": int(queries),
                "episodes": int(episodes), "accuracy": float(acc.mean()),
                "ci95": ci95(acc), "std": float(acc.std(ddof=1)) if len(acc) > 1 else 0.0,
                "build_time_s": float(np.median(s["build"])),
                "build_time_mean_s": float(np.mean(s["build"])),
                "build_time_first_s": float(s["build"][0]),
                "predict_ms_per_query": float(np.median(s["predict"]) * 1000),
                "size_bytes": int(np.median(s["size"])),
                "trains": bool(getattr(method, "trains", False)),
            })
    if bar is not None:
        bar.close()
    config = {"ways": int(ways), "shots": shot_list, "queries": int(queries),
              "episodes": int(episodes), "seed": int(seed), "methods": names,
              "n_images": int(len(labels)), "n_classes": int(len(np.unique(labels))),
              "ci": "1.96 * std(ddof=1) / sqrt(episodes)",
              "timing": "median over episodes; predict excludes embedding"}
    return Results(rows, per_episode, config)


def predictions(method, embeddings, labels, ways=5, shots=1, queries=15, episodes=20,
                seed=0, images=None):
    """``(y_true, y_pred)`` of ``method`` pooled over episodes (for a confusion matrix).

    Example
    -------
    >>> from cbr_edu.baselines import KNN
    >>> y = np.repeat([0, 1, 2], 5)
    >>> t, p = predictions(KNN(1), np.eye(3)[y], y, ways=3, shots=1, queries=4, episodes=2)
    >>> len(t), float((t == p).mean())
    (24, 1.0)
    """
    embeddings, labels = np.asarray(embeddings, np.float32), np.asarray(labels)
    y_true, y_pred = [], []
    for ep in sample_episodes(labels, ways, shots, queries, episodes, seed):
        method.fit(embeddings[ep.support], labels[ep.support],
                   **_fit_kwargs(method, images, ep.support))
        y_pred.append(method.predict(embeddings[ep.query],
                                     **_fit_kwargs(method, images, ep.query)))
        y_true.append(labels[ep.query])
    return np.concatenate(y_true), np.concatenate(y_pred)


# ------------------------------------------------------------------------- open set

def rejection_metrics(known_scores, unknown_scores, threshold):
    """Precision, recall and F1 of *rejecting* (score < threshold = "unknown").

    Precision: of the rejected queries, the fraction that were truly unknown.
    Recall: of the unknown queries, the fraction rejected.

    >>> rejection_metrics([0.9, 0.8, 0.4], [0.3, 0.5], threshold=0.45)
    {'precision': 0.5, 'recall': 0.5, 'f1': 0.5, 'false_rejection_rate': 0.3333}
    """
    known, unknown = np.asarray(known_scores), np.asarray(unknown_scores)
    tp = int((unknown < threshold).sum())
    fp = int((known < threshold).sum())
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / len(unknown) if len(unknown) else float("nan")
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 4), "recall": round(recall, 4),
            "f1": round(f1, 4), "false_rejection_rate": round(fp / max(len(known), 1), 4)}


def calibrate_threshold(known_scores, unknown_scores, target_precision=None):
    """Choose the rejection threshold from held-out scores.

    A query is rejected as "unknown" when its best class score is below the
    threshold. Candidates are the midpoints between consecutive distinct scores
    (and just below/above the extremes). Rule: with ``target_precision=None``, the
    threshold of **maximal F1** of rejection; otherwise the threshold that rejects
    the most unknowns (maximal recall) while keeping rejection precision ≥ target
    (max-F1 if no threshold reaches the target). Returns ``(threshold, metrics)``.

    >>> known, unknown = [0.9, 0.8, 0.7], [0.2, 0.3, 0.75]
    >>> t, m = calibrate_threshold(known, unknown)
    >>> round(t, 3), m["precision"], m["recall"]
    (0.775, 0.75, 1.0)
    >>> t, m = calibrate_threshold(known, unknown, target_precision=1.0)
    >>> round(t, 3), m["precision"], m["recall"]
    (0.5, 1.0, 0.6667)
    """
    known = np.asarray(known_scores, np.float64)
    unknown = np.asarray(unknown_scores, np.float64)
    if len(known) == 0 or len(unknown) == 0:
        raise ValueError("calibration needs scores of both known and unknown queries")
    s = np.sort(np.unique(np.concatenate([known, unknown])))
    eps = 1e-6 * max(1.0, float(np.abs(s).max()))
    candidates = np.concatenate([[s[0] - eps], (s[:-1] + s[1:]) / 2, [s[-1] + eps]])
    tp = (unknown[None, :] < candidates[:, None]).sum(1)
    fp = (known[None, :] < candidates[:, None]).sum(1)
    precision = np.where(tp + fp > 0, tp / np.maximum(tp + fp, 1), 1.0)
    recall = tp / len(unknown)
    f1 = np.where(precision + recall > 0,
                  2 * precision * recall / np.maximum(precision + recall, 1e-12), 0.0)
    best = int(np.argmax(f1))
    met = True
    if target_precision is not None:
        ok = np.flatnonzero((precision >= target_precision) & (tp > 0))
        if len(ok):
            best = int(ok[np.argmax(recall[ok])])
        else:
            met = False
    metrics = rejection_metrics(known, unknown, candidates[best])
    metrics["target_met"] = met
    return float(candidates[best]), metrics


@dataclass
class OpenSetResult:
    """Open-set CbR: the calibrated threshold, rejection quality on new episodes."""

    threshold: float
    rule: str
    calibration: dict
    test: dict
    accepted_accuracy: float
    closed_set_accuracy: float
    config: dict

    def to_dict(self):
        return {k: getattr(self, k) for k in ("threshold", "rule", "calibration", "test",
                                              "accepted_accuracy", "closed_set_accuracy",
                                              "config")}

    def __str__(self):
        t = self.test
        return (f"open set (CbR {self.config['aggregation']}, {self.rule}): threshold "
                f"{self.threshold:.3f}; on new episodes rejection precision "
                f"{100 * t['precision']:.1f} %, recall {100 * t['recall']:.1f} %, known "
                f"queries wrongly rejected {100 * t['false_rejection_rate']:.1f} %; accuracy "
                f"on accepted known queries {100 * self.accepted_accuracy:.1f} % "
                f"(closed set {100 * self.closed_set_accuracy:.1f} %)")


def open_set_scores(embeddings, labels, ways, shots, queries, episodes, seed, stream=0,
                    aggregation="max", k=3):
    """Best CbR class score of known-class and of unknown-class queries, per episode.

    Each episode picks ``ways`` known classes (a support set of ``shots`` each, and
    ``queries`` known queries each) and up to ``ways`` other classes as unknown
    queries. ``stream`` separates independent sets of episodes (calibration vs
    test) drawn with one seed. Returns ``(known_scores, unknown_scores,
    known_correct)``: a threshold between the two score histograms rejects
    "none of my classes".

    >>> X = np.eye(6)[np.repeat(np.arange(6), 4)]
    >>> known, unknown, correct = open_set_scores(X, np.repeat(np.arange(6), 4), 2, 1, 2, 3, 0)
    >>> bool(known.min() > unknown.max()), bool(correct.all())
    (True, True)
    """
    from .baselines import CbR
    classes, members = _class_index(labels)
    if len(classes) < ways + 1:
        raise ValueError(f"open set with {ways} known classes needs at least {ways + 1} "
                         f"classes; there are {len(classes)}")
    n_unknown = min(ways, len(classes) - ways)
    known_s, unknown_s, correct = [], [], []
    method = CbR(aggregation, k=k)
    for i in range(episodes):
        rng = np.random.default_rng([int(seed), stream, i])
        perm = rng.permutation(classes)
        known, unknown = np.sort(perm[:ways]), perm[ways:ways + n_unknown]
        sup, qk, qu = [], [], []
        for c in known:
            p = rng.permutation(members[c])
            sup.append(p[:shots])
            qk.append(p[shots:shots + queries])
        for c in unknown:
            qu.append(rng.permutation(members[c])[:queries])
        sup, qk, qu = map(np.concatenate, (sup, qk, qu))
        method.fit(embeddings[sup], labels[sup])
        sk = method.decision_function(embeddings[qk])
        known_s.append(sk.max(1))
        unknown_s.append(method.decision_function(embeddings[qu]).max(1))
        correct.append(method.classes_[sk.argmax(1)] == labels[qk])
    return np.concatenate(known_s), np.concatenate(unknown_s), np.concatenate(correct)


def evaluate_open_set(embeddings, labels, ways=5, shots=1, queries=10, episodes=50, seed=0,
                      aggregation="max", k=3, target_precision=None):
    """Calibrate and test a CbR rejection threshold ("unknown") on held-out episodes.

    Each episode splits the classes at random into ``ways`` known classes (support:
    ``shots`` images each; queries: ``queries`` each) and up to ``ways`` unknown
    classes (``queries`` each, never indexed). A query's score is its best class
    score (cosine similarity to the nearest indexed example for ``"max"``).
    The threshold is chosen by :func:`calibrate_threshold` on ``episodes``
    calibration episodes, then measured on ``episodes`` *different* test episodes
    (independent class splits and images), so the reported precision/recall are
    not the ones the threshold was tuned on.
    """
    embeddings, labels = np.asarray(embeddings, np.float32), np.asarray(labels)
    args = (embeddings, labels, ways, shots, queries, episodes, seed)
    cal_k, cal_u, _ = open_set_scores(*args, 1, aggregation, k)
    threshold, cal = calibrate_threshold(cal_k, cal_u, target_precision)
    test_k, test_u, correct = open_set_scores(*args, 2, aggregation, k)
    test = rejection_metrics(test_k, test_u, threshold)
    accepted = test_k >= threshold
    rule = "max F1" if target_precision is None else f"precision ≥ {target_precision}"
    return OpenSetResult(
        threshold=threshold, rule=rule, calibration=cal, test=test,
        accepted_accuracy=float(correct[accepted].mean()) if accepted.any() else float("nan"),
        closed_set_accuracy=float(correct.mean()),
        config={"ways": ways, "shots": shots, "queries": queries, "episodes": episodes,
                "seed": seed, "aggregation": aggregation,
                "unknown_classes_per_episode": int(min(ways, len(np.unique(labels)) - ways))})
