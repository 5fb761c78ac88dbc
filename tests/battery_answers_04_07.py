"""Wrong answers learners really write for notebooks 04–07 (see ``battery.py``).

``BATTERY[question id]`` lists the named mistakes, ``RIGHT[question id]`` right answers
written other ways (``None`` = the question's own solution), ``CONTEXTS`` the notebook
names a check reads (notebook 07: a small team notebook with a raw-pixel embedder),
``DETERMINISTIC`` the questions that draw no random inputs.
"""

from __future__ import annotations

import functools
from pathlib import Path

import keras
import numpy as np
from PIL import Image

from battery import FromContext as ctx
from battery import mistake as m
from cbr_edu import CbRClassifier
from cbr_edu.exercises import nb07_hackathon as nb07
from cbr_edu.images import load_folder
from cbr_edu.layers import AggregationLayer, RetrievalLayer


def unit(x):
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


# ------------------------------------------------------------------ 04 aggregation


def per_class(reduce):
    """An aggregation written the right way round, reducing each class with ``reduce``."""
    def aggregate(scores, class_ids, num_classes, *rest):
        scores, class_ids = np.asarray(scores), np.asarray(class_ids)
        return np.stack([reduce(scores[:, class_ids == c], *rest) for c in range(num_classes)],
                        axis=1)
    return aggregate


def _first_appearance(scores, class_ids, num_classes):
    order = list(dict.fromkeys(np.asarray(class_ids).tolist()))
    return np.stack([scores[:, class_ids == c].max(axis=1) for c in order], axis=1)


def _from_zeros(scores, class_ids, num_classes):
    out = np.zeros((len(scores), num_classes))
    for i, c in enumerate(class_ids):
        out[:, c] = np.maximum(out[:, c], scores[:, i])
    return out


def _global_topk(scores, class_ids, num_classes, k):
    out = np.zeros((len(scores), num_classes))
    for r, row in enumerate(scores):
        top = np.argsort(-row)[:k]
        for c in range(num_classes):
            chosen = [i for i in top if class_ids[i] == c]
            out[r, c] = row[chosen].mean() if chosen else 0.0
    return out


def _cbr_model(index, class_ids, num_classes, aggregation="max", *, follow=True,
               ids=None, raw=False, lambda_aggregation=False):
    inputs = keras.Input(shape=(index.shape[1],))
    if raw:
        dense = keras.layers.Dense(len(index), use_bias=False)
        dense.build((None, index.shape[1]))
        dense.set_weights([index.T])
        scores = dense(inputs)
    else:
        scores = RetrievalLayer(index)(inputs)
    if lambda_aggregation:
        outputs = keras.layers.Lambda(lambda s: keras.ops.stack(
            [keras.ops.max(keras.ops.take(s, np.flatnonzero(class_ids == c), axis=1), axis=1)
             for c in range(num_classes)], axis=1))(scores)
    else:
        outputs = AggregationLayer(class_ids if ids is None else ids(class_ids),
                                   num_classes=num_classes,
                                   aggregation=aggregation if follow else "max")(scores)
    return keras.Model(inputs, outputs)


def _numpy_cbr(index, class_ids, num_classes, aggregation="max"):
    def classify(queries):
        sims = unit(queries) @ unit(index).T
        return per_class(lambda s: s.max(axis=1))(sims, class_ids, num_classes)
    return classify


def _mutates(embeddings, labels, label):
    keep = labels != label
    labels[~keep] = labels[keep][0]
    return embeddings[keep], labels[keep]


def _first_row_only(embeddings, labels, label):
    drop = int(np.flatnonzero(labels == label)[0])
    return np.delete(embeddings, drop, axis=0), np.delete(labels, drop)


NB04 = {
    "nb04_aggregation.q1": [
        m("mean instead of max", "mean", per_class(lambda s: s.mean(axis=1))),
        m("min instead of max", "smallest", per_class(lambda s: s.min(axis=1))),
        m("columns in order of appearance", "wrong columns", _first_appearance),
        m("started from zeros", "negative", _from_zeros),
        m("max of the whole row", "whole row",
          lambda s, ids, n: np.repeat(s.max(axis=1, keepdims=True), n, axis=1)),
        m("transposed result", "transposed", lambda s, ids, n: per_class(
            lambda x: x.max(axis=1))(s, ids, n).T),
        m("only the first query", "shape", lambda s, ids, n: per_class(
            lambda x: x.max(axis=1))(s, ids, n)[0]),
    ],
    "nb04_aggregation.q2": [
        m("top k over all instances", "all instances", _global_topk),
        m("k smallest", "smallest", per_class(lambda s, k: np.sort(s, axis=1)[:, :k].mean(axis=1))),
        m("divided by k", "fewer than k",
          per_class(lambda s, k: -np.sort(-s, axis=1)[:, :k].sum(axis=1) / k)),
        m("k + 1 best", "off by one",
          per_class(lambda s, k: -np.sort(-s, axis=1)[:, :k + 1].mean(axis=1))),
        m("always the 3 best", "the k you are given",
          per_class(lambda s, k: -np.sort(-s, axis=1)[:, :3].mean(axis=1))),
        m("max only", "took the max", per_class(lambda s, k: s.max(axis=1))),
        m("mean of all", "mean of all", per_class(lambda s, k: s.mean(axis=1))),
    ],
    "nb04_aggregation.q3": [
        m("a numpy function", "plain python function", _numpy_cbr),
        m("aggregation ignored", "pass aggregation on",
          functools.partial(_cbr_model, follow=False)),
        m("raw dot products", "normalised", functools.partial(_cbr_model, raw=True)),
        m("class ids sorted", "class ids", functools.partial(_cbr_model, ids=np.sort)),
        m("aggregation by hand in a Lambda", "aggregationlayer",
          functools.partial(_cbr_model, lambda_aggregation=True)),
        m("nothing returned", "return", lambda *a: None),
    ],
    "nb04_aggregation.q4": [
        m("class left in", "still", lambda e, labels, label: (e, labels)),
        m("inputs mutated", "changed the arrays", _mutates),
        m("labels sorted", "order",
          lambda e, labels, label: (e[labels != label], np.sort(labels[labels != label]))),
        m("mask inverted", "inverted",
          lambda e, labels, label: (e[labels == label], labels[labels == label])),
        m("only the first row removed", "remove them all", _first_row_only),
        m("embeddings not filtered", "rows left",
          lambda e, labels, label: (e, labels[labels != label])),
    ],
    "nb04_aggregation.p1": [
        m("swapped", "swapped", "castle", "bridge"),
        m("mean decided by the best image", "average", "bridge", "bridge"),
        m("max decided by the average", "single best", "castle", "castle"),
        m("middle class both times", "single best", "tower", "tower"),
        m("class numbers", "class name", 0, 1),
        m("misspelt class", "not one of the classes", "bridges", "castle"),
    ],
}

# ------------------------------------------------------------------ 05 build your own


def _runner(*, batch=False, cast=True, invoke_each=True, first_only=False, keep_dims=False):
    def run_litert(path, inputs):
        from ai_edge_litert.interpreter import Interpreter
        interpreter = Interpreter(model_path=str(path))
        interpreter.allocate_tensors()
        inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
        dtype = inp["dtype"] if cast else np.float64
        if batch:
            interpreter.set_tensor(inp["index"], np.asarray(inputs, dtype))
            interpreter.invoke()
            return interpreter.get_tensor(out["index"])
        rows = []
        for i, x in enumerate(inputs[:1] if first_only else inputs):
            if invoke_each or i == 0:
                interpreter.set_tensor(inp["index"], np.asarray(x, dtype)[None])
                interpreter.invoke()
            row = interpreter.get_tensor(out["index"])
            rows.append(row if keep_dims else row[0])
        return rows[0] if first_only else np.stack(rows)
    return run_litert


NB05 = {
    "nb05_build_your_own.q1": [
        m("the parent folder", "directly under the root", lambda root, path: Path(path).parent.name),
        m("the file name", "file name", lambda root, path: Path(path).name),
        m("the whole relative path", "first part",
          lambda root, path: str(Path(path).relative_to(root))),
        m("absolute path parts", "relative to the root", lambda root, path: Path(path).parts[1]),
        m("all folders below the root", "only the first",
          lambda root, path: str(Path(path).relative_to(root).parent)),
    ],
    "nb05_build_your_own.q2": [
        m("ascending order", "lowest",
          lambda s, names, top: [(names[i], s[i]) for i in np.argsort(s)[:top]]),
        m("indices, not pairs", "pairs", lambda s, names, top: list(np.argsort(-s)[:top])),
        m("top + 1", "off by one",
          lambda s, names, top: [(names[i], s[i]) for i in np.argsort(-s)[:top + 1]]),
        m("always 3", "not 3",
          lambda s, names, top: [(names[i], s[i]) for i in np.argsort(-s)[:3]]),
        m("names not sorted with the scores", "original order",
          lambda s, names, top: list(zip(names, sorted(s, reverse=True)))[:top]),
        m("scores in percent", "scores next to them",
          lambda s, names, top: [(names[i], 100 * s[i]) for i in np.argsort(-s)[:top]]),
    ],
    "nb05_build_your_own.q3": [
        m("no clipping (wrap-around)", "wrapped", lambda w: np.round(w * 128).astype(np.int8)),
        m("truncation", "truncates", lambda w: np.clip(w * 128, -128, 127).astype(np.int8)),
        m("floor", "rounds down", lambda w: np.clip(np.floor(w * 128), -128, 127).astype(np.int8)),
        m("scale 127", "1/128",
          lambda w: np.clip(np.round(w * 127), -128, 127).astype(np.int8)),
        m("symmetric clip", "not to ±127",
          lambda w: np.clip(np.round(w * 128), -127, 127).astype(np.int8)),
        m("float result", "dtype", lambda w: np.clip(np.round(w * 128), -128, 127)),
        m("unsigned bytes", "uint8", lambda w: np.clip(np.round(w * 128), -128, 127)
          .astype(np.uint8)),
    ],
    "nb05_build_your_own.q4": [
        m("only the first row", "one input", _runner(first_only=True)),
        m("invoked once for all rows", "same", _runner(invoke_each=False)),
        m("the whole batch at once", "one row at a time", _runner(batch=True)),
        m("inputs not cast", "cast each row", _runner(cast=False)),
        m("outputs kept as [1, C]", "shape", _runner(keep_dims=True)),
    ],
    "nb05_build_your_own.p1": [
        m("128 fits", "does not fit", 128, 1 / 256),
        m("wrap-around", "wrap-around", -128, 1 / 128),
        m("half a step everywhere", "clipped", 127, 1 / 256),
        m("lossless", "256 values", 127, 0),
        m("half a step counted in q", "counted in q", 127, 0.5),
        m("the error as text", "number", 127, "1/128"),
    ],
}

# ------------------------------------------------------------------ 06 compare


def _episode(*, overlap=False, fixed_classes=False, unseeded=False, one_shot=False,
             replace=False, first_images=False, labels_out=False):
    def sample_episode(labels, ways, shots, queries, seed):
        rng = np.random.default_rng(None if unseeded else seed)
        labels = np.asarray(labels)
        classes = np.unique(labels)
        chosen = classes[:ways] if fixed_classes else rng.choice(classes, ways, replace=False)
        support, query = [], []
        for c in chosen:
            members = np.flatnonzero(labels == c)
            idx = (rng.choice(members, len(members)) if replace else
                   members if first_images else rng.permutation(members))
            support.extend(idx[:1 if one_shot else shots])
            start = 0 if overlap else shots
            query.extend(idx[start:start + queries])
        support, query = np.array(support), np.array(query)
        return (labels[support], labels[query]) if labels_out else (support, query)
    return sample_episode


def _prototypes(*, normalise=True, least=False, first_seen=False):
    def predict(support, labels, queries):
        classes = np.unique(labels)
        order = list(dict.fromkeys(labels.tolist())) if first_seen else classes
        s = unit(support) if normalise else support
        protos = unit(np.stack([s[labels == c].mean(axis=0) for c in order]))
        sims = unit(queries) @ protos.T
        return classes[sims.argmin(1) if least else sims.argmax(1)]
    return predict


def _ci(*, quantile=None, ddof=1, root=True, median=False, full=False):
    def mean_ci(accuracies):
        from scipy import stats
        a = np.asarray(accuracies, dtype=float)
        n = len(a)
        q = stats.t.ppf(0.975, n - 1) if quantile is None else quantile
        half = q * a.std(ddof=ddof) / (np.sqrt(n) if root else n)
        return (np.median(a) if median else a.mean()), (2 * half if full else half)
    return mean_ci


def _reject(decide, rejected=-1):
    def predict_or_reject(scores, threshold):
        return np.where(decide(scores, threshold), rejected, scores.argmax(axis=1))
    return predict_or_reject


NB06 = {
    "nb06_compare.q1": [
        m("support and query overlap", "overlap", _episode(overlap=True)),
        m("always the first classes", "at random", _episode(fixed_classes=True)),
        m("seed ignored", "same seed", _episode(unseeded=True)),
        m("one shot per class", "support set", _episode(one_shot=True)),
        m("sampled with replacement", "without replacement", _episode(replace=True)),
        m("not random within a class", "within a class", _episode(first_images=True)),
        m("labels instead of positions", "integer positions", _episode(labels_out=True)),
    ],
    "nb06_compare.q2": [
        m("normalised first", "normalised first",
          lambda x, mu: unit(x) - mu),
        m("not centred", "did not subtract", lambda x, mu: unit(x)),
        m("not normalised", "did not normalise", lambda x, mu: x - mu),
        m("whole-matrix norm", "each row", lambda x, mu: (x - mu) / np.linalg.norm(x - mu)),
        m("centred on its own mean", "you are given", lambda x, mu: unit(x - x.mean(axis=0))),
        m("normalised along columns", "each row",
          lambda x, mu: (x - mu) / np.linalg.norm(x - mu, axis=0, keepdims=True)),
    ],
    "nb06_compare.q3": [
        m("1-NN instead of prototypes", "1-nn", lambda s, labels, q: np.asarray(labels)[
            (unit(q) @ unit(s).T).argmax(1)]),
        m("column numbers", "labels", lambda s, labels, q: np.zeros(len(q), dtype=int)),
        m("raw mean", "normalise each one first", _prototypes(normalise=False)),
        m("least similar prototype", "least", _prototypes(least=True)),
        m("prototypes and labels in different orders", "same order", _prototypes(first_seen=True)),
    ],
    "nb06_compare.q4": [
        m("std, not the standard error", "√n", lambda a: (np.mean(a), 1.96 * np.std(a, ddof=1))),
        m("divided by n", "divided by n", _ci(quantile=1.96, root=False)),
        m("standard error only", "standard error", _ci(quantile=1.0)),
        m("median", "median", _ci(median=True)),
        m("full width", "full width", _ci(full=True)),
        m("ddof=0", "ddof=1", _ci(ddof=0)),
        m("1.96 with a dozen episodes", "student", _ci(quantile=1.96)),
        m("one number", "two numbers", lambda a: np.mean(a)),
    ],
    "nb06_compare.q5": [
        m("strict inequality", "exactly equal", _reject(lambda s, t: ~(s.max(axis=1) > t))),
        m("inverted", "other way round", _reject(lambda s, t: s.max(axis=1) >= t)),
        m("nothing rejected", "nothing was rejected", lambda s, t: s.argmax(axis=1)),
        m("0 for unknown", "not 0", _reject(lambda s, t: s.max(axis=1) < t, rejected=0)),
        m("mean score", "mean", _reject(lambda s, t: s.mean(axis=1) < t)),
        m("any score below", "any", _reject(lambda s, t: (s < t).any(axis=1))),
    ],
    "nb06_compare.p1": [
        m("shrinks with n", "√n, not with n", 4),
        m("does not shrink", "single", 1),
        m("with n squared", "n²", 16),
        m("gets wider", "wider", 0.5),
        m("twice the episodes", "twice", 1.41),
        m("as text", "number", "2"),
    ],
}

# ------------------------------------------------------------------ 07 hackathon


def hackathon_namespace(tmp_path, *, n_classes=3, per_class=4, test_per_class=1, noise=40,
                        seed=0):
    """A small team notebook up to Step 1 (raw-pixel embedder): album, index and test split."""
    rng = np.random.default_rng(seed)
    album = tmp_path / "albums"
    for c in range(n_classes):
        (album / f"class_{c}").mkdir(parents=True)
        base = rng.integers(0, 255, size=(3,))
        for j in range(per_class):
            img = np.clip(base + rng.normal(0, noise, size=(24, 24, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(img).save(album / f"class_{c}" / f"{j}.png")
    out = tmp_path / "models"
    out.mkdir()
    ns = {"np": np, "DEMO_ALBUM_DIR": album, "EMBEDDER": "pixels:8:rgb", "OUT": out}
    exec(nb07.q1.solution_code, ns)  # noqa: S102 - our own solution text
    loaded = load_folder(ns["ALBUM_DIR"])
    labels = np.array(loaded.labels)
    test = np.zeros(len(labels), bool)
    for c in loaded.class_names:
        test[np.flatnonzero(labels == c)[:test_per_class]] = True
    ns.update(INDEX_IMAGES=[im for im, t in zip(loaded.images, test) if not t],
              INDEX_LABELS=labels[~test],
              TEST_IMAGES=[im for im, t in zip(loaded.images, test) if t], TEST_LABELS=labels[test])
    return ns


def solve_steps(ns):
    """Fill in Steps 2–4 with their solutions."""
    for q in (nb07.q2, nb07.q3, nb07.q4):
        exec(q.solution_code, ns)  # noqa: S102 - our own solution text
    return ns


def _team(tmp):
    from cbr_edu.tflite import export_tflite

    """Steps 1–4 solved on an album where the held-out accuracy is 5/8, plus the wrong
    answers of the battery (folders, classifiers, accuracies, model files)."""
    ns = solve_steps(hackathon_namespace(tmp, n_classes=4, per_class=5, test_per_class=2,
                                         noise=120))
    right, total = int(round(ns["HELD_OUT_ACCURACY"] * len(ns["TEST_LABELS"]))), len(ns["TEST_LABELS"])
    assert 0 < right < total and 2 * right != total, "the battery needs a fractional accuracy"
    ns.update(_wrong_albums(tmp, ns["ALBUM_DIR"]), **_wrong_classifiers(ns),
              **_wrong_models(tmp, ns))
    ns.update(percent=100 * right / total, error_rate=1 - right / total, count=right,
              export_result=export_tflite(ns["CLASSIFIER"], ns["TFLITE_PATH"], overwrite=True))
    return ns


def _wrong_albums(tmp, album):
    two = tmp / "two_classes"
    few = tmp / "few_photos"
    for target, classes, photos in ((two, 2, 4), (few, 3, 4)):
        for c in range(classes):
            (target / f"c{c}").mkdir(parents=True)
            for j in range(2 if (target == few and c == 0) else photos):
                Image.fromarray(np.full((8, 8, 3), 40 * j + 10 * c, np.uint8)).save(
                    target / f"c{c}" / f"{j}.png")
    above = tmp / "above"
    above.mkdir()
    (above / "albums").symlink_to(album, target_is_directory=True)
    return {"missing_album": tmp / "no_such_folder", "two_classes": two, "few_photos": few,
            "album_above": above, "one_class_folder": album / "class_0",
            "a_photo": next((album / "class_0").iterdir())}


def _wrong_classifiers(ns):
    embedder, images, labels = ns["EMBEDDER"], ns["INDEX_IMAGES"], ns["INDEX_LABELS"]
    first = np.array([np.flatnonzero(labels == c)[0] for c in np.unique(labels)])
    two = np.isin(labels, np.unique(labels)[:2])
    return {
        "unfitted": CbRClassifier(embedder=embedder),
        "leaky": CbRClassifier(embedder=embedder).fit(
            images + ns["TEST_IMAGES"], np.concatenate([labels, ns["TEST_LABELS"]])),
        "two_class": CbRClassifier(embedder=embedder).fit(
            [im for im, keep in zip(images, two) if keep], labels[two]),
        "one_each": CbRClassifier(embedder=embedder).fit([images[i] for i in first],
                                                         labels[first]),
        "keras_model": ns["CLASSIFIER"].to_keras(),
    }


def _wrong_models(tmp, ns):
    from cbr_edu.tflite import export_tflite
    other = CbRClassifier(embedder=ns["EMBEDDER"]).fit(ns["INDEX_IMAGES"][:4], ["x", "x", "y", "y"])
    keras_file = tmp / "model.keras"
    ns["CLASSIFIER"].to_keras().save(keras_file)
    renamed = export_tflite(ns["CLASSIFIER"], tmp / "renamed.tflite",
                            class_names=[f"class {i}" for i in range(len(ns["CLASSIFIER"].classes_))])
    return {"other_export": export_tflite(other, tmp / "other.tflite").path,
            "keras_file": keras_file, "missing_model": tmp / "nope.tflite",
            "renamed_export": renamed.path, "models_folder": ns["OUT"]}


_TEAM: dict = {}


def _team_with(**changes):
    """A context: the team notebook (built once) with some names set to other values
    (a string names another entry of the namespace)."""
    def build(tmp):
        if not _TEAM:
            _TEAM.update(_team(tmp))
        ns = dict(_TEAM)
        ns.update({k: ns[v] if isinstance(v, str) else v for k, v in changes.items()})
        return ns
    return build


CONTEXTS = {
    "team": _team_with(),
    "team, test photos indexed": _team_with(CLASSIFIER="leaky"),
    "team, no accuracy": _team_with(HELD_OUT_ACCURACY=None),
    "team, accuracy in percent": _team_with(HELD_OUT_ACCURACY="percent"),
    "team, another model exported": _team_with(TFLITE_PATH="other_export"),
    "team, no export": _team_with(TFLITE_PATH=None),
}

def team(name, word, *answers):
    """A mistake checked in the team notebook (the ``"team"`` context)."""
    return m(name, word, *answers, context="team")


NB07 = {
    "nb07_hackathon.q1": [
        team("a folder that does not exist", "does not exist", ctx("missing_album")),
        team("two classes", "at least 3", ctx("two_classes")),
        team("a class with two photos", "fewer than", ctx("few_photos")),
        team("one level too high", "one level too high", ctx("album_above")),
        team("one class folder", "one level too low", ctx("one_class_folder")),
        team("a photo, not a folder", "is a file", ctx("a_photo")),
    ],
    "nb07_hackathon.q2": [
        team("never fitted", "no fitted index", ctx("unfitted")),
        team("test photos in the index", "also in the index", ctx("leaky")),
        team("two classes", "add at least", ctx("two_class")),
        team("one photo per class", "smallest class", ctx("one_each")),
        team("the Keras model", "no fitted index", ctx("keras_model")),
    ],
    "nb07_hackathon.q3": [
        team("percentage", "percentage", ctx("percent")),
        team("error rate", "error rate", ctx("error_rate")),
        team("count of right answers", "count", ctx("count")),
        team("accuracy on the index photos", "index photos", 1.0),
        team("text", "text", "62.5%"),
        team("an array of hits", "one number", np.array([True, False, True])),
    ],
    "nb07_hackathon.q4": [
        team("no such file", "no file", ctx("missing_model")),
        team("another classifier's export", "export this classifier", ctx("other_export")),
        team("the .keras file", "could not run", ctx("keras_file")),
        team("the models folder", "no file", ctx("models_folder")),
        team("labels renamed", "are not the classifier's classes", ctx("renamed_export")),
    ],
    "nb07_hackathon.checklist": [
        m("test photos indexed", "also in the index", context="team, test photos indexed"),
        m("accuracy not measured", "set held_out_accuracy", context="team, no accuracy"),
        m("accuracy in percent", "percentage", context="team, accuracy in percent"),
        m("another model exported", "export this classifier",
          context="team, another model exported"),
        m("nothing exported", "set tflite_path", context="team, no export"),
    ],
}

BATTERY = {**NB04, **NB05, **NB06, **NB07}
DETERMINISTIC = set(NB07)

RIGHT = {qid: [("solution", None, None)] for qid in BATTERY}
for qid in NB07:
    RIGHT[qid] = [("solution", "team", None)]
RIGHT["nb07_hackathon.q3"].append(("rounded to two decimals", "team", (0.63,)))
RIGHT["nb07_hackathon.q4"].append(("the ExportResult itself", "team", (ctx("export_result"),)))
RIGHT["nb04_aggregation.q1"].append(("per class, stacked", None, (
    per_class(lambda s: s.max(axis=1)),)))
RIGHT["nb04_aggregation.q3"].append(("UnitNormalization + Dense", None, (
    lambda index, ids, n, aggregation="max": _dense_cbr(index, ids, n, aggregation),)))
RIGHT["nb04_aggregation.p1"].append(("capitals", None, ("Bridge", "CASTLE")))
RIGHT["nb06_compare.p1"].append(("with the t correction", None, (2.19,)))


def _dense_cbr(index, class_ids, num_classes, aggregation):
    inputs = keras.Input(shape=(index.shape[1],))
    dense = keras.layers.Dense(len(index), use_bias=False)
    scores = dense(keras.layers.UnitNormalization()(inputs))
    dense.set_weights([unit(index).T])
    outputs = AggregationLayer(class_ids, num_classes=num_classes, aggregation=aggregation)(scores)
    return keras.Model(inputs, outputs)
