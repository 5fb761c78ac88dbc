"""Exercises for notebook 06, *compare*.

``q1`` sample a seeded N-way K-shot episode, ``q2`` SimpleShot's CL2N feature
transform, ``q3`` the nearest-prototype classifier, ``q4`` mean accuracy ± 95 %
confidence interval over episodes, ``q5`` open-set rejection.

>>> import numpy as np
>>> from cbr_edu.exercises.nb06_compare import reference_mean_ci
>>> m, h = reference_mean_ci([0.6, 0.8, 0.7, 0.9])
>>> round(m, 3), round(h, 3)
(0.75, 0.127)
"""

from __future__ import annotations

import math

import numpy as np

from ._core import Question, Wrong

__all__ = ["q1", "q2", "q3", "q4", "q5", "reference_mean_ci", "reference_cl2n",
           "reference_prototypes"]

Z95 = 1.959963984540054


def reference_mean_ci(accuracies):
    """Mean and 95 % half-width ``1.96 · s / √n`` (``s`` the sample std, ddof=1)."""
    a = np.asarray(accuracies, dtype=np.float64).reshape(-1)
    if a.size < 2:
        return float(a.mean()), float("nan")
    return float(a.mean()), float(Z95 * a.std(ddof=1) / math.sqrt(a.size))


def _t975(df):
    try:
        from scipy import stats
        return float(stats.t.ppf(0.975, df))
    except Exception:  # pragma: no cover - scipy ships with scikit-learn
        return Z95


class MeanCI(Question):
    _var = "mean_ci"
    _title = "Accuracy ± 95 % confidence interval"
    _hints = [
        "The interval is about the **mean** over episodes, so it shrinks as you run more "
        "episodes: its half-width is 1.96 × (standard error), and the standard error is "
        "`std / sqrt(n)`.",
        "`a.std(ddof=1)` is the sample standard deviation; `len(a)` is n. "
        "Return `(a.mean(), 1.96 * a.std(ddof=1) / np.sqrt(len(a)))`.",
    ]
    _solution = ("Few-shot papers report `mean ± 1.96·s/√n` over (typically 600–10 000) "
                 "episodes. The spread of single episodes (`s`) stays wide; the uncertainty "
                 "of the mean shrinks with √n.")
    solution_code = '''\
import numpy as np

def mean_ci(accuracies):
    a = np.asarray(accuracies, dtype=float)
    return a.mean(), 1.96 * a.std(ddof=1) / np.sqrt(len(a))
'''

    def _check(self, mean_ci):
        rng = np.random.default_rng(self.seed)
        for n in (int(rng.integers(8, 15)), int(rng.integers(150, 400))):
            acc = np.clip(rng.normal(0.7, 0.12, size=n), 0, 1)
            got = self.call(mean_ci, acc.copy(), what="mean_ci(accuracies)")
            if not (isinstance(got, (tuple, list, np.ndarray)) and len(got) == 2):
                raise Wrong("mean_ci should return two numbers: `(mean, half_width)`.")
            mean, half = (float(self.as_array(v, "mean_ci(...)")) for v in got)
            m, h = reference_mean_ci(acc)
            if not np.isclose(mean, m, atol=1e-9):
                raise Wrong(f"the mean is {mean:.4f}; expected {m:.4f}.")
            s1, s0, root = acc.std(ddof=1), acc.std(ddof=0), math.sqrt(n)
            ok = [Z95 * s / root for s in (s0, s1)] + [_t975(n - 1) * s1 / root]
            if any(np.isclose(half, v, rtol=1e-3) for v in ok):
                continue
            for mult in (Z95, 1.96, 1.0):
                for s in (s0, s1):
                    if np.isclose(half, mult * s, rtol=1e-3):
                        raise Wrong("your half-width is the spread of single episodes (a "
                                    "multiple of the std). The interval is for the *mean*: "
                                    "divide by √n.")
                    if np.isclose(half, mult * s / n, rtol=1e-3):
                        raise Wrong("you divided by n; the standard error is std / **√n**.")
            if any(np.isclose(half, s / root, rtol=1e-3) for s in (s0, s1)):
                raise Wrong("that is the standard error (one sigma, ~68 %). For 95 % multiply "
                            "by 1.96.")
            if any(np.isclose(half, 2 * Z95 * s / root, rtol=1e-3) for s in (s0, s1)):
                raise Wrong("that is the full width of the interval; return the half-width "
                            "(mean ± half-width).")
            raise Wrong(f"for n={n} episodes the half-width should be about {h:.4f}; you gave "
                        f"{half:.4f}.")


class SampleEpisode(Question):
    _var = "sample_episode"
    _title = "A seeded N-way K-shot episode"
    _hints = [
        "`rng = np.random.default_rng(seed)`; pick the classes with "
        "`rng.choice(np.unique(labels), ways, replace=False)`.",
        "For each chosen class: its indices `np.flatnonzero(labels == c)`, shuffled with "
        "`rng.permutation`; the first `shots` go to the support set, the next `queries` "
        "to the query set — so the two never overlap.",
        "Return two integer arrays `(support_idx, query_idx)`. Using only `rng` (never "
        "`np.random.*` directly) makes the same seed give the same episode.",
    ]
    _solution = ("An episode = N random classes, K support and Q query images from each, "
                 "disjoint. Seeding the generator makes every method see the same episodes.")
    solution_code = '''\
import numpy as np

def sample_episode(labels, ways, shots, queries, seed):
    rng = np.random.default_rng(seed)
    labels = np.asarray(labels)
    classes = rng.choice(np.unique(labels), ways, replace=False)
    support, query = [], []
    for c in classes:
        idx = rng.permutation(np.flatnonzero(labels == c))
        support.extend(idx[:shots])
        query.extend(idx[shots:shots + queries])
    return np.array(support), np.array(query)
'''

    def _check(self, sample_episode):
        rng = np.random.default_rng(self.seed)
        labels = rng.permutation(np.repeat(np.arange(8), 12))
        labels = np.array([f"c{v}" for v in labels])
        what = "sample_episode(labels, ways, shots, queries, seed)"
        ways, shots, queries = 5, 3, 4
        seed = int(rng.integers(0, 10_000))

        def run(s, n=ways, k=shots, q=queries):
            got = self.call(sample_episode, labels.copy(), n, k, q, s, what=what)
            if not (isinstance(got, (tuple, list)) and len(got) == 2):
                raise Wrong("sample_episode should return `(support_idx, query_idx)`.")
            sup, qry = (np.asarray(g).reshape(-1) for g in got)
            for name, arr in (("support_idx", sup), ("query_idx", qry)):
                if arr.size and not np.issubdtype(arr.dtype, np.integer):
                    raise Wrong(f"{name} should hold integer positions into `labels`, got "
                                f"dtype {arr.dtype}.")
            return sup, qry

        sup, qry = run(seed)
        if len(sup) != ways * shots:
            raise Wrong(f"a {ways}-way {shots}-shot support set has {ways * shots} "
                        f"images; you returned {len(sup)}.")
        if len(qry) != ways * queries:
            raise Wrong(f"with {queries} queries per class there are {ways * queries} "
                        f"query images; you returned {len(qry)}.")
        if len(set(sup.tolist())) != len(sup) or len(set(qry.tolist())) != len(qry):
            raise Wrong("an image appears twice in the support or the query set; sample "
                        "without replacement.")
        if set(sup.tolist()) & set(qry.tolist()):
            raise Wrong("support and query sets overlap: a query that is also in the index "
                        "is found trivially. Take the queries from the *remaining* images.")
        s_classes, s_counts = np.unique(labels[sup], return_counts=True)
        if len(s_classes) != ways or not np.all(s_counts == shots):
            raise Wrong(f"the support set should have {shots} images from each of {ways} "
                        f"classes; it has {dict(zip(s_classes.tolist(), s_counts.tolist()))}.")
        q_classes, q_counts = np.unique(labels[qry], return_counts=True)
        if set(q_classes.tolist()) != set(s_classes.tolist()) or not np.all(q_counts == queries):
            raise Wrong(f"the query set should have {queries} images from each of the same "
                        f"{ways} classes; it has "
                        f"{dict(zip(q_classes.tolist(), q_counts.tolist()))}.")
        again = run(seed)
        if not (np.array_equal(again[0], sup) and np.array_equal(again[1], qry)):
            raise Wrong("the same seed gave a different episode: draw everything from "
                        "`np.random.default_rng(seed)`.")
        episodes = {tuple(sorted(run(seed + i)[0].tolist())) for i in range(1, 6)}
        if len(episodes) == 1 and episodes == {tuple(sorted(sup.tolist()))}:
            raise Wrong("different seeds gave the same episode: use the `seed` argument.")
        classes_seen = {c for s in range(seed, seed + 8) for c in labels[run(s)[0]].tolist()}
        if len(classes_seen) <= ways:
            raise Wrong(f"over several seeds only the classes {sorted(classes_seen)} were "
                        "chosen: pick the N classes at random too.")


def reference_cl2n(features, mean):
    """SimpleShot's CL2N: subtract ``mean``, then scale each row to unit length."""
    x = np.asarray(features, dtype=np.float64) - np.asarray(mean, dtype=np.float64)
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


class CL2N(Question):
    _var = "cl2n"
    _title = "SimpleShot's CL2N transform"
    _hints = [
        "Centre first: `x = features - mean` (broadcasts the mean over the rows).",
        "Then L2-normalise each row: `x / np.linalg.norm(x, axis=1, keepdims=True)`. "
        "The order matters: normalising first and centring after does not give unit vectors.",
    ]
    _solution = ("C = centre (subtract the mean feature, e.g. of the base classes or the "
                 "support set), L2N = normalise each row. Wang et al. 2019 found this simple "
                 "transform lifts nearest-neighbour 1-shot accuracy by ~7 points.")
    solution_code = '''\
import numpy as np

def cl2n(features, mean):
    x = np.asarray(features) - mean
    return x / np.linalg.norm(x, axis=1, keepdims=True)
'''

    def _check(self, cl2n):
        rng = np.random.default_rng(self.seed)
        x = rng.normal(loc=2.0, size=(7, 10))
        mean = rng.normal(loc=2.0, size=10)
        got = self.as_array(self.call(cl2n, x.copy(), mean.copy(), what="cl2n(features, mean)"),
                            "cl2n(features, mean)")
        want = reference_cl2n(x, mean)
        if got.shape != want.shape:
            raise Wrong(f"cl2n returned shape {got.shape}; expected {want.shape} (one row "
                        "per feature vector).")
        if np.allclose(got, want, atol=1e-6):
            return
        unit = x / np.linalg.norm(x, axis=1, keepdims=True)
        if np.allclose(got, unit - mean, atol=1e-6) or \
                np.allclose(got, unit - mean / np.linalg.norm(mean), atol=1e-6):
            raise Wrong("you normalised first and centred after; centre first, then "
                        "normalise, so the result has unit rows.")
        if np.allclose(got, unit, atol=1e-6):
            raise Wrong("you normalised but did not subtract the mean (that is L2N, not CL2N).")
        if np.allclose(got, x - mean, atol=1e-6):
            raise Wrong("you centred but did not normalise the rows to length 1.")
        norms = np.linalg.norm(got, axis=1)
        if not np.allclose(norms, 1, atol=1e-6):
            raise Wrong(f"the rows should have length 1; yours have lengths "
                        f"{np.round(norms[:3], 3).tolist()}... Normalise each row "
                        "(`axis=1, keepdims=True`), not the whole matrix.")
        raise Wrong("the rows are unit vectors but differ from (features − mean) normalised.")


def reference_prototypes(support, support_labels, queries):
    """Nearest prototype by cosine: prototypes are the class means of the L2-normalised
    support embeddings. Returns predicted labels."""
    def unit(v):
        return v / np.linalg.norm(v, axis=1, keepdims=True)
    support_labels = np.asarray(support_labels)
    classes = np.unique(support_labels)
    s = unit(np.asarray(support, dtype=np.float64))
    protos = np.stack([s[support_labels == c].mean(axis=0) for c in classes])
    scores = unit(np.asarray(queries, dtype=np.float64)) @ unit(protos).T
    return classes[np.argmax(scores, axis=1)]


def _one_nn(support, support_labels, queries):
    def unit(v):
        return v / np.linalg.norm(v, axis=1, keepdims=True)
    sims = unit(queries) @ unit(support).T
    return np.asarray(support_labels)[np.argmax(sims, axis=1)]


class Prototypes(Question):
    _var = "prototype_predict"
    _title = "Nearest-prototype classifier"
    _hints = [
        "L2-normalise the support embeddings, then average each class's rows: "
        "`support[labels == c].mean(axis=0)` is class c's *prototype*.",
        "Score every query against every prototype by cosine (normalise the queries and the "
        "prototypes, then a matrix product) and return the label of the best prototype "
        "for each query — labels, not column indices.",
    ]
    _solution = ("One prototype (mean embedding) per class instead of one row per image: "
                 "CbR with `aggregation=\"max\"` keeps every example; prototypes average them.")
    solution_code = '''\
import numpy as np

def prototype_predict(support, support_labels, queries):
    def unit(v):
        return v / np.linalg.norm(v, axis=1, keepdims=True)
    support_labels = np.asarray(support_labels)
    classes = np.unique(support_labels)
    s = unit(np.asarray(support))
    prototypes = np.stack([s[support_labels == c].mean(axis=0) for c in classes])
    scores = unit(np.asarray(queries)) @ unit(prototypes).T
    return classes[np.argmax(scores, axis=1)]
'''

    def _check(self, prototype_predict):
        rng = np.random.default_rng(self.seed)
        what = "prototype_predict(support, support_labels, queries)"
        names = np.array(["kiwi", "apple", "fig", "date"])
        for _ in range(50):   # a case where prototypes and 1-NN disagree
            centres = rng.normal(size=(4, 12))
            support_labels = np.repeat(names, 5)
            support = np.repeat(centres, 5, axis=0) + rng.normal(scale=1.0, size=(20, 12))
            queries = centres[rng.integers(0, 4, size=30)] + rng.normal(scale=1.0, size=(30, 12))
            want = reference_prototypes(support, support_labels, queries)
            if np.any(want != _one_nn(support, support_labels, queries)):
                break
        got = self.call(prototype_predict, support.copy(), support_labels.copy(),
                        queries.copy(), what=what)
        got = np.asarray(got).reshape(-1)
        if got.shape != want.shape:
            raise Wrong(f"{what} returned {got.shape[0]} predictions for {len(queries)} "
                        "queries.")
        if np.issubdtype(got.dtype, np.number):
            raise Wrong("return the predicted *labels* (e.g. 'fig'), not column numbers: "
                        "`classes[np.argmax(scores, axis=1)]`.")
        if np.array_equal(got, want):
            return
        if np.array_equal(got, _one_nn(support, support_labels, queries)):
            raise Wrong("that is the nearest single support example (1-NN, CbR with max). "
                        "Average each class's support embeddings into one prototype first.")
        wrong = int(np.sum(got != want))
        raise Wrong(f"{wrong} of {len(want)} predictions differ from the nearest prototype "
                    "(cosine to the mean of each class's normalised support embeddings).")


class Reject(Question):
    _var = "predict_or_reject"
    _title = "Open-set rejection"
    _hints = [
        "The best class of each row is `np.argmax(scores, axis=1)` and its score "
        "`scores.max(axis=1)`.",
        "Where the best score is below the threshold, answer `-1` (\"none of my classes\"): "
        "`np.where(best < threshold, -1, argmax)`.",
    ]
    _solution = ("A retrieval classifier always has a nearest neighbour — even for a photo of "
                 "something it has never seen. A threshold on the best similarity lets it "
                 "say \"unknown\".")
    solution_code = '''\
import numpy as np

def predict_or_reject(scores, threshold):
    scores = np.asarray(scores)
    best = scores.argmax(axis=1)
    return np.where(scores.max(axis=1) < threshold, -1, best)
'''

    def _check(self, predict_or_reject):
        rng = np.random.default_rng(self.seed)
        scores = rng.uniform(0.0, 1.0, size=(12, 4)).round(3)
        threshold = float(np.sort(scores.max(axis=1))[6])   # one row sits exactly on it
        got = self.as_array(self.call(predict_or_reject, scores.copy(), threshold,
                                      what="predict_or_reject(scores, threshold)"),
                            "predict_or_reject(...)").reshape(-1)
        best = scores.max(axis=1)
        want = np.where(best < threshold, -1, scores.argmax(axis=1))
        if got.shape != want.shape:
            raise Wrong(f"expected one prediction per row ({len(want)}), got {got.shape}.")
        if np.array_equal(got, want):
            return
        if np.array_equal(got, np.where(best > threshold, scores.argmax(axis=1), -1)):
            raise Wrong("a best score exactly equal to the threshold should be accepted: "
                        "reject only when it is *below* (`<`).")
        if np.array_equal(got, np.where(best >= threshold, -1, scores.argmax(axis=1))):
            raise Wrong("the other way round: reject (−1) when the best score is *below* the "
                        "threshold, keep the prediction otherwise.")
        if np.array_equal(got, scores.argmax(axis=1)):
            raise Wrong("nothing was rejected: rows whose best score is below the threshold "
                        "should be −1.")
        raise Wrong("some predictions differ: −1 where the row's best score is below the "
                    "threshold, otherwise the column of the best score.")


q1 = SampleEpisode()
q2 = CL2N()
q3 = Prototypes()
q4 = MeanCI()
q5 = Reject()
