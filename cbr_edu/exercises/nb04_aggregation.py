"""Exercises for notebook 04, *the aggregation layer*.

``q1`` per-class max by hand, ``q2`` per-class top-k mean, ``q3`` assemble the CbR
model from the two layers, ``q4`` remove a class by editing the index; ``p1`` a
*predict, then run* question: which class wins under max, and which under mean?

Every check runs the learner's code on fresh random inputs and compares it with
a reference written here; nothing looks at names or source text.

>>> import numpy as np
>>> from cbr_edu.exercises.nb04_aggregation import q1, reference_aggregate
>>> reference_aggregate(np.array([[0.1, 0.9, 0.4]]), [1, 0, 1], 2, "max").tolist()
[[0.9, 0.4]]
>>> q1.evaluate(lambda s, ids, n: reference_aggregate(s, ids, n, "max")).correct
True
"""

from __future__ import annotations

import numpy as np

from ..similarity import cosine
from ..similarity import l2_normalize as _unit
from ._core import Question, Wrong
from ._mistakes import close, name_mistake
from ._models import require_model, run_model
from ._predict import Prediction

__all__ = ["q1", "q2", "q3", "q4", "p1", "reference_aggregate"]


def reference_aggregate(scores, class_ids, num_classes, aggregation="max", k=3):
    """Class scores ``(batch, num_classes)`` from instance scores ``(batch, n)``.

    Column ``c`` reduces the scores of the instances whose ``class_ids`` is ``c``:
    ``"max"``, ``"mean"`` or ``"topk_mean"`` (mean of the ``k`` largest; all of
    them when the class has fewer than ``k``).
    """
    scores = np.atleast_2d(np.asarray(scores, dtype=np.float64))
    class_ids = np.asarray(class_ids)
    out = np.empty((scores.shape[0], num_classes))
    for c in range(num_classes):
        mine = scores[:, class_ids == c]
        if aggregation == "max":
            out[:, c] = mine.max(axis=1)
        elif aggregation == "mean":
            out[:, c] = mine.mean(axis=1)
        elif aggregation == "topk_mean":
            best = -np.sort(-mine, axis=1)[:, :k]
            out[:, c] = best.mean(axis=1)
        else:
            raise ValueError(f"unknown aggregation {aggregation!r}")
    return out


def _random_case(rng, num_classes=4, batch=3, min_per_class=1, max_per_class=5,
                 negative_class=True):
    """Random instance scores and shuffled (non-contiguous) class ids.

    Class sizes differ (one class has a single instance, one has many), ids are
    shuffled so instances of a class are not side by side, and one class gets
    only negative scores, which catches "start from 0 and take the max".
    """
    sizes = rng.integers(min_per_class, max_per_class + 1, size=num_classes)
    sizes[0] = min_per_class
    sizes[-1] = max_per_class
    class_ids = rng.permutation(np.repeat(np.arange(num_classes), sizes))
    # make sure the order of first appearance is not 0, 1, 2, ... (column-order trap)
    while num_classes > 1 and class_ids[0] == 0:
        class_ids = rng.permutation(class_ids)
    scores = rng.uniform(-1, 1, size=(batch, class_ids.size))
    if negative_class:
        neg = class_ids == num_classes - 1
        scores[:, neg] = -np.abs(scores[:, neg]) - 0.05
    return scores, class_ids


def _first_appearance_order(class_ids):
    _, first = np.unique(class_ids, return_index=True)
    return np.asarray(class_ids)[np.sort(first)]


def _mistakes(scores, class_ids, num_classes, aggregation, k):
    """``(result, message)`` of the typical mistakes behind a wrong aggregation."""
    want = reference_aggregate(scores, class_ids, num_classes, aggregation, k)
    found = [(want.T, "your result is transposed: one **row** per query and one **column** "
                      "per class, shape `(batch, num_classes)`.")]
    if aggregation != "max":
        found.append((reference_aggregate(scores, class_ids, num_classes, "max"),
                      "you took the max; this one asks for a different reduction."))
    if aggregation != "mean":
        found.append((reference_aggregate(scores, class_ids, num_classes, "mean"),
                      "you took the mean of all the class's scores."))
    found += [
        (want[:, _first_appearance_order(class_ids)],
         "the right numbers in the wrong columns. Column `c` must be class id `c` (0, 1, "
         "2, ...), not the order in which classes first appear in `class_ids`."),
        (np.repeat(scores.max(axis=1, keepdims=True), num_classes, axis=1),
         "every class got the best score of the whole row: select each class's own columns "
         "first (`scores[:, class_ids == c]`)."),
    ]
    if aggregation == "max":
        found += [
            (np.maximum(want, 0), "a class whose scores are all negative came out as 0. Did "
                                  "you start from zeros and take `np.maximum`? Start from the "
                                  "class's own scores (or from `-np.inf`)."),
            (-reference_aggregate(-scores, class_ids, num_classes, "max"),
             "you took each class's *smallest* score (min); the class score is its best."),
        ]
    return found


class AggregateMax(Question):
    _var = "aggregate_max"
    _title = "Per-class max, by hand"
    _hints = [
        "Loop over the classes: `for c in range(num_classes):`. The columns of `scores` "
        "that belong to class `c` are `scores[:, class_ids == c]`.",
        "Reduce those columns with `.max(axis=1)` (one value per query row) and write it "
        "into column `c` of an output array of shape `(len(scores), num_classes)`.",
        "Start the output with `np.empty(...)` or `np.full(..., -np.inf)`, not zeros: "
        "cosine similarities can be negative.",
    ]
    _solution = ("Select each class's instance columns with a boolean mask and take the row-wise "
                 "max. Column `c` of the result is class id `c`.")
    solution_code = '''\
import numpy as np

def aggregate_max(scores, class_ids, num_classes):
    scores = np.asarray(scores)
    class_ids = np.asarray(class_ids)
    out = np.empty((scores.shape[0], num_classes))
    for c in range(num_classes):
        out[:, c] = scores[:, class_ids == c].max(axis=1)
    return out
'''

    def _check(self, aggregate_max):
        rng = np.random.default_rng(self.seed)
        what = "aggregate_max(scores, class_ids, num_classes)"
        for _ in range(3):
            num_classes = int(rng.integers(3, 6))
            batch = int(rng.choice([b for b in (2, 3, 4, 6) if b != num_classes]))
            scores, ids = _random_case(rng, num_classes=num_classes, batch=batch)
            got = self.as_array(self.call(aggregate_max, scores.copy(), ids.copy(), num_classes,
                                          what=what), what)
            want = reference_aggregate(scores, ids, num_classes, "max")
            if close(got, want, atol=1e-6):
                continue
            name_mistake(got, _mistakes(scores, ids, num_classes, "max", 3), atol=1e-6)
            if got.shape != want.shape:
                raise Wrong(f"aggregate_max returned shape {got.shape} for {batch} queries and "
                            f"{num_classes} classes; expected {want.shape} (one row per query, "
                            "one column per class).")
            raise Wrong("aggregate_max: some class scores differ from the max of that class's "
                        "instance scores. Print one small example and compare.")


class AggregateTopK(Question):
    _var = "aggregate_topk_mean"
    _title = "Per-class top-k mean"
    _hints = [
        "Top-k is taken **within each class**: first select the class's columns "
        "(`scores[:, class_ids == c]`), then keep that class's k best.",
        "`np.sort(x, axis=1)[:, ::-1]` sorts each row from largest to smallest; "
        "`[:, :k]` keeps the k best. A class with fewer than k instances keeps all of them "
        "(slicing does that for you).",
        "Average with `.mean(axis=1)`, so a class with 2 instances and k=3 is divided by 2, not 3.",
    ]
    _solution = ("For each class: its scores, sorted descending, the first k kept, averaged. "
                 "k=1 gives back max; k ≥ the class size gives back mean.")
    solution_code = '''\
import numpy as np

def aggregate_topk_mean(scores, class_ids, num_classes, k):
    scores = np.asarray(scores)
    class_ids = np.asarray(class_ids)
    out = np.empty((scores.shape[0], num_classes))
    for c in range(num_classes):
        mine = np.sort(scores[:, class_ids == c], axis=1)[:, ::-1]
        out[:, c] = mine[:, :k].mean(axis=1)
    return out
'''

    def _check(self, aggregate_topk_mean):
        rng = np.random.default_rng(self.seed)
        what = "aggregate_topk_mean(scores, class_ids, num_classes, k)"
        for k in (3, 1, 2):   # k=1 after 3: "always 3" and "k + 1" then differ
            # more classes than k, so a top-k taken over all instances leaves a class out
            num_classes = int(rng.integers(4, 6))
            scores, ids = _random_case(rng, num_classes=num_classes, batch=3,
                                       min_per_class=1, max_per_class=6)
            got = self.as_array(self.call(aggregate_topk_mean, scores.copy(), ids.copy(),
                                          num_classes, k), what)
            want = reference_aggregate(scores, ids, num_classes, "topk_mean", k)
            if close(got, want, atol=1e-6):
                continue
            name_mistake(got, _topk_mistakes(scores, ids, num_classes, k), atol=1e-6)
            if got.shape != want.shape:
                raise Wrong(f"{what} returned shape {got.shape}; expected {want.shape} "
                            "(one row per query, one column per class).")
            if _global_topk_matches(got, scores, ids, num_classes, k):
                raise Wrong(f"with k={k}: it looks like you took the k best scores over *all* "
                            "instances and then grouped them by class. Take the top k "
                            "*within* each class instead: every class gets a score.")
            raise Wrong(f"with k={k}: some class scores differ from the mean of that class's "
                        "k best instance scores.")


def _topk_mistakes(scores, ids, num_classes, k):
    """The typical top-k mistakes, most specific first (they compare every entry)."""
    want = reference_aggregate(scores, ids, num_classes, "topk_mean", k)
    counts = np.bincount(ids, minlength=num_classes)
    found = [
        (-reference_aggregate(-scores, ids, num_classes, "topk_mean", k),
         f"with k={k}: you averaged each class's k *smallest* scores. Sort descending "
         "(`[:, ::-1]`) before keeping the first k."),
        (want * np.minimum(counts, k) / k,
         f"with k={k}: classes with fewer than k instances are divided by k. Average over "
         "the scores you actually kept (`.mean`)."),
        (reference_aggregate(scores, ids, num_classes, "topk_mean", k + 1),
         f"with k={k} you averaged the k+1 best scores: off by one. `[:, :k]` keeps exactly k."),
    ]
    if k != 3:
        found.append((reference_aggregate(scores, ids, num_classes, "topk_mean", 3),
                      f"with k={k} you averaged the 3 best scores: use the `k` you are given."))
    return _mistakes(scores, ids, num_classes, "topk_mean", k) + found


def _global_topk_matches(got, scores, ids, num_classes, k):
    """True when ``got`` is "the k best over all instances, grouped by class"."""
    top = np.argsort(-scores, axis=1)[:, :k]
    glob = np.full((scores.shape[0], num_classes), np.nan)
    for r in range(scores.shape[0]):
        for c in range(num_classes):
            sel = [i for i in top[r] if ids[i] == c]
            if sel:
                glob[r, c] = scores[r, sel].mean()
    seen = ~np.isnan(glob)
    return got.shape == glob.shape and bool(np.allclose(got[seen], glob[seen], atol=1e-6))


def _reference_cbr(index, class_ids, num_classes, queries, aggregation):
    return reference_aggregate(cosine(queries, index), class_ids, num_classes, aggregation, 3)


class AssembleModel(Question):
    _var = "make_cbr_model"
    _title = "Assemble the CbR model"
    _hints = [
        "A functional Keras model: `inputs = keras.Input(shape=(dim,))`, then call the two "
        "layers one after the other, then `keras.Model(inputs, outputs)`.",
        "`RetrievalLayer(index_embeddings)` gives cosine scores `(batch, n)`; "
        "`AggregationLayer(class_ids, num_classes=num_classes, aggregation=aggregation)` turns them "
        "into class scores `(batch, num_classes)`.",
        "Pass `aggregation` on to the aggregation layer (the check tries \"max\" and \"mean\").",
    ]
    _solution = "Input → RetrievalLayer → AggregationLayer, wrapped in a `keras.Model`."
    solution_code = '''\
import keras
from cbr_edu.layers import RetrievalLayer, AggregationLayer

def make_cbr_model(index_embeddings, class_ids, num_classes, aggregation="max"):
    dim = index_embeddings.shape[1]
    inputs = keras.Input(shape=(dim,))
    scores = RetrievalLayer(index_embeddings)(inputs)
    outputs = AggregationLayer(class_ids, num_classes=num_classes, aggregation=aggregation)(scores)
    return keras.Model(inputs, outputs)
'''

    def _check(self, make_cbr_model):
        rng = np.random.default_rng(self.seed)
        what = "make_cbr_model(index_embeddings, class_ids, num_classes, aggregation)"
        dim, num_classes = int(rng.integers(5, 12)), 3
        _, ids = _random_case(rng, num_classes=num_classes, batch=1, min_per_class=1,
                              max_per_class=4, negative_class=False)
        index = (rng.normal(size=(ids.size, dim)) *
                 rng.uniform(0.3, 3.0, size=(ids.size, 1))).astype(np.float32)
        queries = rng.normal(size=(4, dim)).astype(np.float32) * 3.0
        for aggregation in ("max", "mean"):
            model = require_model(
                self.call(make_cbr_model, index.copy(), ids.copy(), num_classes, aggregation,
                          what=what), what, _RECIPE)
            _check_layers(model, index, ids, aggregation)
            got = run_model(model, queries)
            want = _reference_cbr(index, ids, num_classes, queries, aggregation)
            if got.shape != want.shape:
                raise Wrong(f"your model maps {queries.shape} to {got.shape}; expected "
                            f"{want.shape} (one score per class).")
            if close(got, want, atol=1e-4):
                continue
            raw = reference_aggregate(queries @ _unit(index).T, ids, num_classes, aggregation)
            if close(got, raw, rtol=1e-3, atol=1e-3):
                raise Wrong("the queries are not normalised, so the scores are not cosines: "
                            "RetrievalLayer normalises them for you.")
            raise Wrong(f"with aggregation={aggregation!r} your model's class scores differ from "
                        "cosine retrieval followed by per-class aggregation.")


_RECIPE = "keras.Input → RetrievalLayer → AggregationLayer"


def _check_layers(model, index, ids, aggregation):
    """The model holds an AggregationLayer set up as asked, after a cosine retrieval step."""
    from ..layers import AggregationLayer
    from ..model import layers_of

    layers = layers_of(model)
    found = [layer for layer in layers if isinstance(layer, AggregationLayer)]
    if not found:
        raise Wrong("your model has no `AggregationLayer`: build it from the package's two "
                    f"layers, {_RECIPE}.")
    layer = found[-1]
    if layer.aggregation != aggregation:
        raise Wrong(f"with aggregation={aggregation!r} your AggregationLayer does "
                    f"{layer.aggregation!r}: pass `aggregation` on to the AggregationLayer.")
    import keras

    if not np.array_equal(keras.ops.convert_to_numpy(layer.class_ids), ids):
        raise Wrong("the AggregationLayer's class ids are not those of the index rows: pass "
                    "`class_ids` as given — row i of the index belongs to class "
                    "`class_ids[i]`, and sorting them separates rows from their classes.")
    _check_retrieval(layers, index)


def _check_retrieval(layers, index):
    """A RetrievalLayer (or a Dense layer) that holds the normalised index."""
    import keras

    from ..layers import RetrievalLayer

    for layer in layers:
        if isinstance(layer, RetrievalLayer):
            if close(layer.index_embeddings, _unit(index), atol=1e-5):
                return
            raise Wrong("the RetrievalLayer holds other embeddings than `index_embeddings`: "
                        "give it the index as it is (it normalises the rows itself).")
        if isinstance(layer, keras.layers.Dense):
            kernel = keras.ops.convert_to_numpy(layer.kernel)
            if close(kernel, _unit(index).T, atol=1e-5):
                return
            raise Wrong("your retrieval weights are not the L2-normalised index, so the "
                        "scores are raw dot products, not cosines: use "
                        "`RetrievalLayer(index_embeddings)`, which normalises them.")
    raise Wrong(f"your model has no retrieval step before the aggregation: {_RECIPE}.")


class RemoveClass(Question):
    _var = "remove_class"
    _title = "Remove a class by editing the index"
    _hints = [
        "A boolean mask says which rows to keep: `keep = labels != label`.",
        "Return `embeddings[keep], labels[keep]` — new arrays, in the original order. "
        "Do not modify the arrays you were given.",
    ]
    _solution = ("Removing a class is deleting its rows from the index. No weights are "
                 "re-learned: the model is rebuilt from the smaller index.")
    solution_code = '''\
import numpy as np

def remove_class(embeddings, labels, label):
    labels = np.asarray(labels)
    keep = labels != label
    return np.asarray(embeddings)[keep], labels[keep]
'''

    def _check(self, remove_class):
        rng = np.random.default_rng(self.seed)
        names = np.array(["arch", "bridge", "castle", "dome", "tower"])
        labels = names[rng.integers(0, len(names), size=12)]
        labels[:len(names)] = rng.permutation(names)
        embeddings = rng.normal(size=(len(labels), 6))
        present, counts = np.unique(labels, return_counts=True)
        victim = str(rng.choice(present[counts >= 2]))   # a class with several rows
        result = self.call(remove_class, embeddings, labels, victim,
                           what="remove_class(embeddings, labels, label)")
        if not (isinstance(result, (tuple, list)) and len(result) == 2):
            raise Wrong("remove_class should return a pair `(embeddings, labels)`.")
        new_e, new_l = self.as_array(result[0], "the returned embeddings"), np.asarray(result[1])
        if self.inputs_changed():
            raise Wrong("remove_class changed the arrays it was given. Build new ones "
                        "(boolean indexing does) and leave the originals alone.")
        keep = labels != victim
        if new_l.size and set(new_l.tolist()) == {victim}:
            raise Wrong(f"you kept only the rows of {victim!r} — the mask is inverted: keep "
                        "the rows whose label is *not* the one to remove (`!=`).")
        if victim in new_l.tolist():
            raise Wrong(f"class {victim!r} is still in the returned labels (it has "
                        f"{int((~keep).sum())} rows: remove them all).")
        if new_e.shape != embeddings[keep].shape or new_l.shape != labels[keep].shape:
            raise Wrong(f"expected {keep.sum()} rows left after removing the "
                        f"{(~keep).sum()} rows of {victim!r}; got {len(new_e)} embeddings and "
                        f"{len(new_l)} labels.")
        if not np.array_equal(new_l, labels[keep]):
            raise Wrong("the remaining labels are not in their original order.")
        if not np.allclose(new_e, embeddings[keep]):
            raise Wrong("the remaining embeddings no longer match their labels: keep rows "
                        "and labels together with the same mask.")


class PredictWinners(Prediction):
    _var = ("max_winner", "mean_winner")
    _title = "Predict, then run: which class wins, with max and with mean?"
    _hints = [
        "**max**: each class is scored by its single best image. **mean**: by the average "
        "of all its images.",
        "Write down each class's best bar and each class's average, then compare.",
    ]
    _solution = ("max → bridge (one image at 0.95); mean → castle (both images near 0.7, "
                 "while bridge's other two are far). One lucky close image wins max; "
                 "consistently close images win mean.")
    solution_code = 'max_winner = "bridge"\nmean_winner = "castle"\n'
    names = ("bridge", "castle", "tower")
    class_ids = np.array([0, 2, 1, 0, 2, 2, 1, 0])
    scores = np.array([0.95, 0.20, 0.70, 0.10, 0.72, 0.75, 0.68, 0.15])

    def winners(self):
        return tuple(self.names[int(np.argmax(reference_aggregate(
            self.scores, self.class_ids, len(self.names), aggregation)))]
            for aggregation in ("max", "mean"))

    def _check(self, max_winner, mean_winner):
        guesses = []
        for what, guess in (("max_winner", max_winner), ("mean_winner", mean_winner)):
            if not isinstance(guess, str):
                raise Wrong(f"{what} should be a class name in quotes, e.g. "
                            f"`{what} = \"tower\"`, not {type(guess).__name__}.")
            if guess.strip().lower() not in self.names:
                raise Wrong(f"{what} = {guess!r} is not one of the classes "
                            f"{', '.join(self.names)}.")
            guesses.append(guess.strip().lower())
        want = self.winners()
        if tuple(guesses) == want:
            return None
        if tuple(guesses) == want[::-1]:
            raise Wrong("swapped: think again about which reduction rewards one very close "
                        "image and which rewards many fairly close ones.")
        if guesses[0] != want[0]:
            raise Wrong("max: not that one. With max, a class is as good as its *single best* "
                        "image — the tallest bar decides, whatever the other bars do.")
        raise Wrong("mean: not that one. With mean, one very close image is not enough: "
                    "average *all* of each class's bars and compare the averages.")


q1 = AggregateMax()
q2 = AggregateTopK()
q3 = AssembleModel()
q4 = RemoveClass()
p1 = PredictWinners()
