"""Exercises for notebook 06, *compare*.

``q1`` sample a seeded N-way K-shot episode, ``q2`` SimpleShot's CL2N feature
transform, ``q3`` the nearest-prototype classifier, ``q4`` mean accuracy ± 95 %
confidence interval over episodes, ``q5`` open-set rejection; ``p1`` a *predict, then
run* question: how much narrower the interval gets with four times the episodes.

>>> from cbr_edu.exercises.nb06_compare import q5
>>> q5.evaluate(lambda scores, threshold: scores.argmax(axis=1)).message[:22]
'nothing was rejected: '
"""

from __future__ import annotations

import numpy as np

from ..similarity import l2_normalize as _unit
from ._core import Question, Wrong
from ._mistakes import draw_telling_apart, name_mistake
from ._nb06_intervals import MeanCI, PredictShrink, reference_mean_ci

__all__ = ["q1", "q2", "q3", "q4", "q5", "p1", "reference_mean_ci", "reference_cl2n",
           "reference_prototypes"]


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

    ways, shots, queries = 5, 3, 4

    def _check(self, sample_episode):
        rng = np.random.default_rng(self.seed)
        labels = np.array([f"c{v}" for v in rng.permutation(np.repeat(np.arange(8), 12))])
        seed = int(rng.integers(0, 10_000))

        def run(s):
            got = self.call(sample_episode, labels.copy(), self.ways, self.shots, self.queries,
                            s, what="sample_episode(labels, ways, shots, queries, seed)")
            if not (isinstance(got, (tuple, list)) and len(got) == 2):
                raise Wrong("sample_episode should return `(support_idx, query_idx)`.")
            sup, qry = (np.asarray(g).reshape(-1) for g in got)
            for name, arr in (("support_idx", sup), ("query_idx", qry)):
                if arr.size and not np.issubdtype(arr.dtype, np.integer):
                    raise Wrong(f"{name} should hold integer positions into `labels`, got "
                                f"dtype {arr.dtype}.")
            return sup, qry

        sup, qry = run(seed)
        others = [run(s) for s in range(seed + 1, seed + 9)]
        self._check_one(labels, sup, qry, others)
        again = run(seed)
        if not (np.array_equal(again[0], sup) and np.array_equal(again[1], qry)):
            raise Wrong("the same seed gave a different episode: draw everything from "
                        "`np.random.default_rng(seed)`.")
        self._check_random(labels, others, sup)

    def _check_one(self, labels, sup, qry, others):
        ways, shots, queries = self.ways, self.shots, self.queries
        if len(sup) != ways * shots:
            raise Wrong(f"a {ways}-way {shots}-shot support set has {ways * shots} "
                        f"images; you returned {len(sup)}.")
        if len(qry) != ways * queries:
            raise Wrong(f"with {queries} queries per class there are {ways * queries} "
                        f"query images; you returned {len(qry)}.")
        if any(len(set(x.tolist())) != len(x) for episode in [(sup, qry)] + others
               for x in episode):
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

    def _check_random(self, labels, episodes, first_support):
        """Over other seeds: other episodes, other classes, other images of a class."""
        supports = {tuple(sorted(sup.tolist())) for sup, _ in episodes}
        if supports == {tuple(sorted(first_support.tolist()))}:
            raise Wrong("different seeds gave the same episode: use the `seed` argument.")
        classes_seen = {c for sup, _ in episodes for c in labels[sup].tolist()}
        if len(classes_seen) <= self.ways:
            raise Wrong(f"over several seeds only the classes {sorted(classes_seen)} were "
                        "chosen: pick the N classes at random too.")
        picks = {}   # class -> the different support sets it got
        for sup, _ in episodes:
            for c in set(labels[sup].tolist()):
                picks.setdefault(c, set()).add(tuple(sorted(x for x in sup if labels[x] == c)))
        chosen_twice = [c for c in picks if sum(c in labels[sup] for sup, _ in episodes) > 1]
        if chosen_twice and all(len(picks[c]) == 1 for c in chosen_twice):
            raise Wrong("a class gets the same support images every time it is chosen: the "
                        "sampler is not random *within* a class. Shuffle each class's images "
                        "(`rng.permutation`) before taking the first K.")


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
        first = "you normalised first and centred after; centre first, then normalise."
        name_mistake(got, [
            (_unit(x) - mean, first), (_unit(x) - _unit(mean), first),
            (_unit(x), "you normalised but did not subtract the mean (that is L2N, not CL2N)."),
            (reference_cl2n(x, x.mean(axis=0)), "you centred with the mean of these features; "
                                                "subtract the `mean` you are given, so every "
                                                "query is moved the same way."),
            (x - mean, "you centred but did not normalise the rows to length 1."),
        ], atol=1e-6)
        norms = np.linalg.norm(got, axis=1)
        if not np.allclose(norms, 1, atol=1e-6):
            raise Wrong(f"the rows should have length 1; yours have lengths "
                        f"{np.round(norms[:3], 3).tolist()}... Normalise each row "
                        "(`axis=1, keepdims=True`), not the whole matrix.")
        raise Wrong("the rows are unit vectors but differ from (features − mean) normalised.")


def reference_prototypes(support, support_labels, queries):
    """Nearest prototype by cosine: prototypes are the class means of the L2-normalised
    support embeddings. Returns predicted labels."""
    support_labels = np.asarray(support_labels)
    classes = np.unique(support_labels)
    s = _unit(support)
    protos = np.stack([s[support_labels == c].mean(axis=0) for c in classes])
    return classes[np.argmax(_unit(queries) @ _unit(protos).T, axis=1)]


def _one_nn(support, support_labels, queries):
    sims = _unit(queries) @ _unit(support).T
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

    names = np.array(["kiwi", "apple", "fig", "date"])   # first seen ≠ sorted order

    def _answers(self, support, support_labels, queries):
        """The right predictions, then what each mistake predicts."""
        classes = np.unique(support_labels)
        first_seen = np.array(list(dict.fromkeys(support_labels.tolist())))

        def means(x, order):
            return np.stack([x[support_labels == c].mean(axis=0) for c in order])
        unit_protos = _unit(means(_unit(support), classes))
        return [
            (reference_prototypes(support, support_labels, queries), None),
            (_one_nn(support, support_labels, queries),
             "that is the nearest single support example (1-NN, CbR with max). Average each "
             "class's support embeddings into one prototype first."),
            (classes[np.argmax(_unit(queries) @ _unit(means(support, classes)).T, axis=1)],
             "you averaged the raw support embeddings; L2-normalise each one first, so a long "
             "vector does not pull its prototype."),
            (classes[np.argmin(_unit(queries) @ unit_protos.T, axis=1)],
             "those are the *least* similar prototypes: take the argmax of the cosine."),
            (classes[np.argmax(_unit(queries) @ _unit(means(_unit(support), first_seen)).T,
                               axis=1)],
             "the prototypes are in the order the classes first appear, but the labels you "
             "return are sorted (`np.unique`): build both in the same order."),
            (classes[np.argmin(np.linalg.norm(queries[:, None] - means(support, classes)[None],
                                              axis=2), axis=1)],
             "you compared raw vectors by Euclidean distance; compare normalised queries and "
             "prototypes by cosine."),
        ]

    def _draw(self, rng):
        centres = rng.normal(size=(4, 12))
        support_labels = np.repeat(self.names, 5)
        support = (np.repeat(centres, 5, axis=0) + rng.normal(size=(20, 12))) * \
            rng.uniform(0.3, 3.0, size=(20, 1))
        queries = (centres[rng.integers(0, 4, size=30)] + rng.normal(size=(30, 12))) * \
            rng.uniform(0.3, 3.0, size=(30, 1))
        return support, support_labels, queries

    def _check(self, prototype_predict):
        rng = np.random.default_rng(self.seed)
        what = "prototype_predict(support, support_labels, queries)"
        case = draw_telling_apart(lambda: self._draw(rng),
                                  lambda c: [p for p, _ in self._answers(*c)])
        got = self.call(prototype_predict, *(x.copy() for x in case), what=what)
        got = np.asarray(got).reshape(-1)
        answers = self._answers(*case)
        want = answers[0][0]
        if got.shape != want.shape:
            raise Wrong(f"{what} returned {got.shape[0]} predictions for {len(want)} queries.")
        if np.issubdtype(got.dtype, np.number):
            raise Wrong("return the predicted *labels* (e.g. 'fig'), not column numbers: "
                        "`classes[np.argmax(scores, axis=1)]`.")
        if np.array_equal(got, want):
            return
        name_mistake(got, answers[1:])
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

    @staticmethod
    def _answers(scores, threshold):
        """The right predictions, then what each mistake predicts."""
        best, column = scores.max(axis=1), scores.argmax(axis=1)
        return [
            (np.where(best < threshold, -1, column), None),
            (np.where(best > threshold, column, -1),
             "a best score exactly equal to the threshold should be accepted: reject only "
             "when it is *below* (`<`)."),
            (np.where(best >= threshold, -1, column),
             "the other way round: reject (−1) when the best score is *below* the threshold, "
             "keep the prediction otherwise."),
            (column, "nothing was rejected: rows whose best score is below the threshold "
                     "should be −1."),
            (np.where(best < threshold, 0, column),
             "a rejected row must be −1, not 0: 0 is a real class (the first column)."),
            (np.where(scores.mean(axis=1) < threshold, -1, column),
             "you compared the row's *mean* score with the threshold; compare its best score "
             "(`scores.max(axis=1)`)."),
            (np.where((scores < threshold).any(axis=1), -1, column),
             "you rejected a row when *any* of its scores is below the threshold; only its "
             "best score counts (`scores.max(axis=1)`)."),
        ]

    @staticmethod
    def _draw(rng):
        level = rng.uniform(0.2, 0.9, size=(12, 1))     # some rows high all along
        scores = np.clip(level + rng.normal(0, 0.1, size=(12, 4)), 0, 1).round(3)
        return scores, float(np.sort(scores.max(axis=1))[6])   # one row sits on it

    def _check(self, predict_or_reject):
        rng = np.random.default_rng(self.seed)
        scores, threshold = draw_telling_apart(
            lambda: self._draw(rng), lambda c: [p for p, _ in self._answers(*c)])
        got = self.as_array(self.call(predict_or_reject, scores.copy(), threshold,
                                      what="predict_or_reject(scores, threshold)"),
                            "predict_or_reject(...)").reshape(-1)
        answers = self._answers(scores, threshold)
        if got.shape != answers[0][0].shape:
            raise Wrong(f"expected one prediction per row ({len(scores)}), got {got.shape}.")
        if np.array_equal(got, answers[0][0]):
            return
        name_mistake(got, answers[1:])
        raise Wrong("some predictions differ: −1 where the row's best score is below the "
                    "threshold, otherwise the column of the best score.")


q1 = SampleEpisode()
q2 = CL2N()
q3 = Prototypes()
q4 = MeanCI()
q5 = Reject()
p1 = PredictShrink()
