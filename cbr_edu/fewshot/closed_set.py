"""Closed-set evaluation: methods on the same episodes, accuracy ± 95 % CI, timings, sizes.

Every method is fitted on each episode's support embeddings and scored on its
queries (episodes from :func:`~cbr_edu.fewshot.episodes.sample_episodes`).

**95 % confidence interval** of the mean accuracy over E episodes, with Student's t
(E − 1 degrees of freedom)::

    ci95 = t(0.975, E - 1) * std(acc, ddof=1) / sqrt(E)

i.e. ``scipy.stats.t.interval(0.95, E - 1, scale=scipy.stats.sem(acc))``. The
few-shot literature multiplies by 1.96, the normal quantile: right for the
600+ episodes papers run (t = 1.964 at E = 600), too narrow for a dozen
(t = 2.20 at E = 12).

**Timings** are medians over episodes: ``build_time_s`` is ``fit`` — for CbR
indexing the support set, for the methods that train the training. The first
episode also pays one-off work (e.g. Keras graph construction and tracing):
``build_time_first_s``. ``predict_ms_per_query`` is the time to score the queries of
an episode divided by their number; computing the embeddings is not included (it
is shared by every method and done once). ``size_bytes`` is what a method stores
beyond the shared embedder.

Example
-------
>>> import numpy as np
>>> from cbr_edu.fewshot import KNN, Prototypes
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
import time
from pathlib import Path

import numpy as np

from .._atomic import atomic_output
from .episodes import auto_queries, sample_episodes
from .interface import method_names

__all__ = ["evaluate", "Results", "ci95", "predictions", "timed"]


def ci95(accuracies):
    """Half-width of the 95 % CI of the mean: ``t(0.975, E - 1) * std(ddof=1) / sqrt(E)``.

    >>> round(ci95([0.5, 0.7, 0.6, 0.8]), 4)    # t(0.975, 3) = 3.182, std 0.1291, sqrt(4) = 2
    0.2054
    """
    from scipy import stats
    a = np.asarray(accuracies, dtype=np.float64)
    if len(a) < 2:
        return float("nan")
    return float(stats.t.ppf(0.975, len(a) - 1) * a.std(ddof=1) / math.sqrt(len(a)))


def timed(fn, *args, **kwargs):
    """``(result, seconds)`` of one call, with ``time.perf_counter``.

    >>> timed(sum, [1, 2])[0]
    3
    """
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return result, time.perf_counter() - start


def _size(n):
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000


class Results:
    """A comparison's results: one row (a dict) per method × shot setting.

    ``rows`` — the dicts (keys: method, ways, shots, queries, episodes, accuracy,
    ci95, std, build_time_s, build_time_mean_s, build_time_first_s,
    predict_ms_per_query, size_bytes, trains); ``per_episode[(method, shots)]`` — the
    episode accuracies; ``config`` — what was run. ``to_dict`` / ``to_json`` /
    ``from_dict`` round-trip; ``to_markdown`` (also ``str``) is the printed table;
    ``difference`` compares two methods episode by episode;
    ``to_pandas`` if pandas is installed.
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

    def difference(self, method, other, shots):
        """``(mean, ci95)`` of ``method`` minus ``other``, episode by episode (paired).

        Every method ran on the same seeded episodes, and an episode that is hard is hard
        for all of them: the per-episode difference cancels that shared luck, so its
        interval is narrower than either method's own. When it leaves out 0, the two
        methods differ, even where their own intervals overlap. A method run on fewer
        episodes (the top-block fine-tune) is compared on the episodes both ran, the
        first ones (episode ``i`` depends only on the seed and ``i``).

        >>> res = Results([], {("a", 1): np.array([.6, .8, .7]), ("b", 1): np.array([.5, .7, .7])})
        >>> [round(v, 4) for v in res.difference("a", "b", 1)]   # t(0.975, 2) = 4.303
        [0.0667, 0.1434]
        """
        try:
            a, b = self.per_episode[(method, shots)], self.per_episode[(other, shots)]
        except KeyError as missing:
            raise KeyError(f"no episode accuracies for {missing.args[0]}; methods: "
                           f"{self.methods}, shots: {self.shots}") from None
        n = min(len(a), len(b))
        diff = np.asarray(a[:n], np.float64) - np.asarray(b[:n], np.float64)
        return float(diff.mean()), ci95(diff)

    def extend(self, other):
        """Add the rows and episode accuracies of another :class:`Results`; returns self."""
        self.rows.extend(other.rows)
        self.per_episode.update(other.per_episode)
        return self

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

    def to_json(self, path, *, extra=None):
        """Write :meth:`to_dict` (plus the keys of ``extra``) to ``path`` atomically.

        Returns the path.
        """
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_output(path, "w") as f:
            json.dump({**self.to_dict(), **(extra or {})}, f, indent=1)
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

    def _repr_markdown_(self):  # a notebook shows the table rendered, not its pipes
        return self.to_markdown()

    def __repr__(self):
        return f"<Results {len(self.rows)} rows: {self.methods} × shots {self.shots}>"


def _image_kwargs(method, images, rows):
    """``{"images": ...}`` of ``rows`` for a method that needs images, else ``{}``."""
    if getattr(method, "needs_images", False):
        if images is None:
            raise ValueError(f"{method.name} needs the images: evaluate(..., images=...)")
        return {"images": [images[i] for i in rows]}
    return {}


def _run_method(method, episodes, embeddings, labels, images, bar=None):
    """Fit and score ``method`` on every episode: per-episode accuracy, times and size."""
    stats = {"acc": [], "build": [], "predict": [], "size": []}
    for ep in episodes:
        fit_images = _image_kwargs(method, images, ep.support)
        query_images = _image_kwargs(method, images, ep.query)
        if query_images and hasattr(method, "prepare"):
            method.prepare(**query_images)   # e.g. trunk features: like embeddings
        _, t_fit = timed(method.fit, embeddings[ep.support], labels[ep.support], **fit_images)
        pred, t_pred = timed(method.predict, embeddings[ep.query], **query_images)
        stats["acc"].append(float(np.mean(pred == labels[ep.query])))
        stats["build"].append(t_fit)
        stats["predict"].append(t_pred / len(ep.query))
        stats["size"].append(method.size_bytes())
        if bar is not None:
            bar.update()
    return stats


def _row(name, method, stats, *, ways, shots, queries, episodes):
    acc = np.asarray(stats["acc"])
    return {
        "method": name, "ways": int(ways), "shots": shots, "queries": int(queries),
        "episodes": int(episodes), "accuracy": float(acc.mean()),
        "ci95": ci95(acc), "std": float(acc.std(ddof=1)) if len(acc) > 1 else 0.0,
        "build_time_s": float(np.median(stats["build"])),
        "build_time_mean_s": float(np.mean(stats["build"])),
        "build_time_first_s": float(stats["build"][0]),
        "predict_ms_per_query": float(np.median(stats["predict"]) * 1000),
        "size_bytes": int(np.median(stats["size"])),
        "trains": bool(getattr(method, "trains", False)),
    }


def evaluate(methods, embeddings, labels, *, ways=5, shots=(1, 5), queries=15, episodes=100,
             seed=0, images=None, progress=None):
    """Compare ``methods`` on the same seeded episodes; returns :class:`Results`.

    Parameters
    ----------
    methods : list of few-shot methods (see :mod:`cbr_edu.fewshot`)
    embeddings : array (n, dim) — one row per image, computed once.
    labels : array (n,)
    ways, queries, episodes, seed : int — see :func:`sample_episodes`.
        ``queries=None`` picks :func:`auto_queries` (at most 15); ``episodes`` ≥ 2
        (an interval needs two).
    shots : int or list of int
    images : sequence, optional — the images, for methods with ``needs_images``.
    progress : bool, optional — a tqdm bar over episodes (default: off).
    """
    embeddings = np.asarray(embeddings, dtype=np.float32)
    labels = np.asarray(labels)
    if len(embeddings) != len(labels):
        raise ValueError(f"{len(embeddings)} embeddings but {len(labels)} labels")
    if episodes < 2:
        raise ValueError(f"episodes={episodes}: an accuracy ± 95 % CI needs at least 2 "
                         "episodes (the interval divides by episodes - 1); pass 2 or more")
    names = method_names(methods)
    shot_list = [int(s) for s in np.atleast_1d(shots)]
    if queries is None:
        queries = auto_queries(labels, ways=ways, shots=shot_list)
    bar = None
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=len(shot_list) * episodes * len(methods), unit="fit",
                   desc="episodes x methods")
    rows, per_episode = [], {}
    for shots in shot_list:
        eps = sample_episodes(labels, ways=ways, shots=shots, queries=queries, episodes=episodes,
                              seed=seed)
        # one method at a time over all episodes: a method's timings are not disturbed
        # by the previous method's work (e.g. TensorFlow's worker threads still spinning
        # after a training step); methods are deterministic, so the numbers are the same
        for name, method in zip(names, methods):
            stats = _run_method(method, eps, embeddings, labels, images, bar)
            per_episode[(name, shots)] = np.asarray(stats["acc"])
            rows.append(_row(name, method, stats, ways=ways, shots=shots, queries=queries,
                             episodes=episodes))
    if bar is not None:
        bar.close()
    config = {"ways": int(ways), "shots": shot_list, "queries": int(queries),
              "episodes": int(episodes), "seed": int(seed), "methods": names,
              "n_images": int(len(labels)), "n_classes": int(len(np.unique(labels))),
              "ci": "t(0.975, episodes - 1) * std(ddof=1) / sqrt(episodes)",
              "timing": "median over episodes; predict excludes embedding"}
    return Results(rows, per_episode, config)


def predictions(method, embeddings, labels, *, ways=5, shots=1, queries=15, episodes=20,
                seed=0, images=None):
    """``(y_true, y_pred)`` of ``method`` pooled over episodes (for a confusion matrix).

    Example
    -------
    >>> from cbr_edu.fewshot import KNN
    >>> y = np.repeat([0, 1, 2], 5)
    >>> t, p = predictions(KNN(1), np.eye(3)[y], y, ways=3, shots=1, queries=4, episodes=2)
    >>> len(t), float((t == p).mean())
    (24, 1.0)
    """
    embeddings, labels = np.asarray(embeddings, np.float32), np.asarray(labels)
    y_true, y_pred = [], []
    for ep in sample_episodes(labels, ways=ways, shots=shots, queries=queries,
                              episodes=episodes, seed=seed):
        method.fit(embeddings[ep.support], labels[ep.support],
                   **_image_kwargs(method, images, ep.support))
        y_pred.append(method.predict(embeddings[ep.query],
                                     **_image_kwargs(method, images, ep.query)))
        y_true.append(labels[ep.query])
    return np.concatenate(y_true), np.concatenate(y_pred)
