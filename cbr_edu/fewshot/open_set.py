"""Open set: teach CbR to answer "none of my classes" with a calibrated score threshold.

An open-set episode is an ordinary episode of :func:`~cbr_edu.fewshot.episodes.sample_episodes`
with ``ways`` + U classes, of which a seeded random ``ways`` are *known* (their
support images are indexed, their queries should be accepted) and the other U are
*unknown* (never indexed; their queries should be rejected). A query is rejected
when its best class score is below a threshold, chosen by
:func:`calibrate_threshold` on some episodes and measured on different ones.

Example
-------
>>> X = np.eye(6)[np.repeat(np.arange(6), 4)]
>>> result = evaluate_open_set(X, np.repeat(np.arange(6), 4), ways=2, shots=1, queries=2,
...                            episodes=3)
>>> result.test["precision"], result.test["recall"], result.accepted_accuracy
(1.0, 1.0, 1.0)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .episodes import class_members, sample_episodes
from .methods import CbR

__all__ = ["rejection_metrics", "calibrate_threshold", "open_set_scores",
           "evaluate_open_set", "OpenSetResult"]


def rejection_metrics(known_scores, unknown_scores, *, threshold):
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


def calibrate_threshold(known_scores, unknown_scores, *, target_precision=None):
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
    metrics = rejection_metrics(known, unknown, threshold=candidates[best])
    metrics["target_met"] = met
    return float(candidates[best]), metrics


@dataclass
class OpenSetResult:
    """Open-set CbR: the calibrated threshold, rejection quality on new episodes.

    ``accepted_accuracy`` is nan when the threshold rejects every known query (its text
    then says so).
    """

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
        accepted = ("no known query accepted (the threshold rejects them all)"
                    if math.isnan(self.accepted_accuracy) else
                    f"accuracy on accepted known queries {100 * self.accepted_accuracy:.1f} %")
        return (f"open set (CbR {self.config['aggregation']}, {self.rule}): threshold "
                f"{self.threshold:.3f}; on new episodes rejection precision "
                f"{100 * t['precision']:.1f} %, recall {100 * t['recall']:.1f} %, known "
                f"queries wrongly rejected {100 * t['false_rejection_rate']:.1f} %; {accepted} "
                f"(closed set {100 * self.closed_set_accuracy:.1f} %)")


def _unknown_classes(labels, *, ways, shots, queries):
    """How many unknown classes an episode has: up to ``ways``, as many as the data allows."""
    sizes = [len(rows) for rows in class_members(labels).values()]
    usable = sum(n >= shots + queries for n in sizes)
    if usable < ways + 1:
        raise ValueError(
            f"open set with {ways} known classes needs at least {ways + 1} classes with "
            f"{shots + queries} images or more ({shots} shots + {queries} queries); there "
            f"are {usable} (class sizes: {sorted(sizes, reverse=True)})")
    return min(ways, usable - ways)


def _open_set_episodes(labels, *, ways, shots, queries, episodes, seed, start):
    """``(support, known_queries, unknown_queries)`` row indices of each open-set episode.

    Episode ``i`` is episode ``i`` of :func:`sample_episodes` with ``ways`` + U
    classes; ``numpy.random.default_rng([seed, i, 1])`` picks which ``ways`` are known.
    """
    n_unknown = _unknown_classes(labels, ways=ways, shots=shots, queries=queries)
    out = []
    for i, ep in enumerate(sample_episodes(labels, ways=ways + n_unknown, shots=shots,
                                           queries=queries, episodes=episodes, seed=seed,
                                           start=start), start=start):
        known = np.zeros(len(ep.classes), bool)
        known[np.random.default_rng([int(seed), i, 1]).choice(len(known), ways,
                                                              replace=False)] = True
        support = ep.support.reshape(-1, shots)   # one row per class, in ep.classes order
        query = ep.query.reshape(-1, queries)
        out.append((support[known].ravel(), query[known].ravel(), query[~known].ravel()))
    return out


def open_set_scores(embeddings, labels, *, ways, shots, queries, episodes, seed=0, start=0,
                    aggregation="max", k=3):
    """Best CbR class score of known-class and of unknown-class queries, per episode.

    Each episode has ``ways`` known classes (a support set of ``shots`` each, and
    ``queries`` known queries each) and up to ``ways`` other classes as unknown
    queries (``queries`` each), drawn as described in the module docstring;
    ``start`` skips to later, independent episodes. Returns ``(known_scores,
    unknown_scores, known_correct)``: a threshold between the two score histograms
    rejects "none of my classes".

    >>> X, y = np.eye(6)[np.repeat(np.arange(6), 4)], np.repeat(np.arange(6), 4)
    >>> known, unknown, correct = open_set_scores(X, y, ways=2, shots=1, queries=2,
    ...                                           episodes=3)
    >>> bool(known.min() > unknown.max()), bool(correct.all())
    (True, True)
    """
    embeddings, labels = np.asarray(embeddings, np.float32), np.asarray(labels)
    method = CbR(aggregation, k=k)
    known_s, unknown_s, correct = [], [], []
    for support, known_q, unknown_q in _open_set_episodes(
            labels, ways=ways, shots=shots, queries=queries, episodes=episodes, seed=seed,
            start=start):
        method.fit(embeddings[support], labels[support])
        scores = method.decision_function(embeddings[known_q])
        known_s.append(scores.max(1))
        unknown_s.append(method.decision_function(embeddings[unknown_q]).max(1))
        correct.append(method.classes_[scores.argmax(1)] == labels[known_q])
    return np.concatenate(known_s), np.concatenate(unknown_s), np.concatenate(correct)


def evaluate_open_set(embeddings, labels, *, ways=5, shots=1, queries=10, episodes=50, seed=0,
                      aggregation="max", k=3, target_precision=None):
    """Calibrate and test a CbR rejection threshold ("unknown") on held-out episodes.

    A query's score is its best class score (cosine similarity to the nearest
    indexed example for ``"max"``). The threshold is chosen by
    :func:`calibrate_threshold` on episodes ``0 … episodes - 1``, then measured on
    episodes ``episodes … 2 * episodes - 1`` — independent class splits and images —
    so the reported precision/recall are not the ones the threshold was tuned on.
    Every class taking part needs ``shots + queries`` images.
    """
    embeddings, labels = np.asarray(embeddings, np.float32), np.asarray(labels)
    setting = {"ways": ways, "shots": shots, "queries": queries, "episodes": episodes,
               "seed": seed, "aggregation": aggregation, "k": k}
    cal_known, cal_unknown, _ = open_set_scores(embeddings, labels, **setting)
    threshold, calibration = calibrate_threshold(cal_known, cal_unknown,
                                                 target_precision=target_precision)
    known, unknown, correct = open_set_scores(embeddings, labels, start=episodes, **setting)
    accepted = known >= threshold
    n_unknown = _unknown_classes(labels, ways=ways, shots=shots, queries=queries)
    return OpenSetResult(
        threshold=threshold,
        rule="max F1" if target_precision is None else f"precision ≥ {target_precision}",
        calibration=calibration, test=rejection_metrics(known, unknown, threshold=threshold),
        accepted_accuracy=float(correct[accepted].mean()) if accepted.any() else float("nan"),
        closed_set_accuracy=float(correct.mean()),
        config={**setting, "unknown_classes_per_episode": n_unknown})
