"""The checkers of notebooks 04–07 accept their solutions and reject typical mistakes.

Every question is evaluated several times (``evaluate`` draws a fresh seed each
time), so a checker that only works for a lucky random input fails here.
"""

import numpy as np
import pytest

from cbr_edu.exercises import ____
from cbr_edu.exercises import nb04_aggregation as nb04
from cbr_edu.exercises import nb05_build_your_own as nb05
from cbr_edu.exercises import nb06_compare as nb06

REPEATS = 4


def solution_namespace(q):
    ns = {}
    exec(q.solution_code, ns)  # noqa: S102 - our own solution text
    return ns


def outcome(q, *answers):
    return q.evaluate(*answers, namespace={})


def assert_correct(q, *answers):
    for _ in range(REPEATS):
        result = outcome(q, *answers)
        assert result.correct, result


def assert_wrong(q, answer, *needles):
    """Incorrect (not "not attempted", never correct) with a message naming the mistake."""
    for _ in range(REPEATS):
        result = outcome(q, answer)
        assert result.status == "incorrect", result
        for needle in needles:
            assert needle.lower() in result.message.lower(), result.message


ALL = [(m.__name__.rpartition(".")[2], name, getattr(m, name))
       for m in (nb04, nb05, nb06) for name in m.__all__ if name[:1] == "q"]


@pytest.mark.parametrize("module,name,q", ALL, ids=[f"{m}.{n}" for m, n, _ in ALL])
def test_solution_code_passes(module, name, q):
    ns = solution_namespace(q)
    for _ in range(REPEATS):
        result = q.evaluate(namespace=ns)
        assert result.correct, f"{module}.{name}: {result}"


@pytest.mark.parametrize("module,name,q", ALL, ids=[f"{m}.{n}" for m, n, _ in ALL])
def test_blank_is_not_attempted(module, name, q):
    assert q.evaluate(namespace={}).status == "not attempted"          # name undefined
    assert q.evaluate(____, namespace={}).status == "not attempted"    # placeholder

    def todo(*args, **kwargs):
        raise NotImplementedError

    def returns_blank(*args, **kwargs):
        return ____

    assert q.evaluate(todo, namespace={}).status == "not attempted"
    assert q.evaluate(returns_blank, namespace={}).status == "not attempted"


def test_crashing_answer_is_incorrect_with_the_error():
    def broken(scores, class_ids, num_classes):
        return scores[:, class_ids == 0].max(axis=2)
    result = outcome(nb04.q1, broken)
    assert result.status == "incorrect" and "AxisError" in result.message


# ------------------------------------------------------------------ 04 aggregation

def test_reference_aggregate_agrees_with_the_keras_layer():
    keras = pytest.importorskip("keras")
    from cbr_edu.layers import AggregationLayer
    rng = np.random.default_rng(0)
    scores, ids = nb04._random_case(rng, num_classes=4, batch=3, max_per_class=6)
    for aggregation, k in (("max", 3), ("mean", 3), ("topk_mean", 2), ("topk_mean", 4)):
        layer = AggregationLayer(ids, num_classes=4, aggregation=aggregation, k=k)
        got = keras.ops.convert_to_numpy(layer(scores.astype("float32")))
        np.testing.assert_allclose(got, nb04.reference_aggregate(scores, ids, 4, aggregation, k),
                                   atol=1e-6)


def _per_class(reduce):
    def fn(scores, class_ids, num_classes, *rest):
        scores, class_ids = np.asarray(scores), np.asarray(class_ids)
        return np.stack([reduce(scores[:, class_ids == c], *rest) for c in range(num_classes)],
                        axis=1)
    return fn


def test_q1_rejects_mean_column_order_and_zero_start():
    assert_wrong(nb04.q1, _per_class(lambda s: s.mean(axis=1)), "mean")

    def first_appearance(scores, class_ids, num_classes):
        order = list(dict.fromkeys(np.asarray(class_ids).tolist()))
        return np.stack([scores[:, class_ids == c].max(axis=1) for c in order], axis=1)
    assert_wrong(nb04.q1, first_appearance, "wrong columns")

    def from_zeros(scores, class_ids, num_classes):
        out = np.zeros((len(scores), num_classes))
        for i, c in enumerate(class_ids):
            out[:, c] = np.maximum(out[:, c], scores[:, i])
        return out
    assert_wrong(nb04.q1, from_zeros, "negative")

    def one_row(scores, class_ids, num_classes):
        return _per_class(lambda s: s.max(axis=1))(scores, class_ids, num_classes)[0]
    assert_wrong(nb04.q1, one_row, "shape")


def test_q2_rejects_global_topk_smallest_and_divide_by_k():
    def global_topk(scores, class_ids, num_classes, k):
        out = np.zeros((len(scores), num_classes))
        for r, row in enumerate(scores):
            top = np.argsort(-row)[:k]
            for c in range(num_classes):
                sel = [i for i in top if class_ids[i] == c]
                out[r, c] = row[sel].mean() if sel else 0.0
        return out
    assert_wrong(nb04.q2, global_topk, "over *all* instances")
    assert_wrong(nb04.q2, _per_class(lambda s, k: np.sort(s, axis=1)[:, :k].mean(axis=1)),
                 "smallest")
    assert_wrong(nb04.q2, _per_class(lambda s, k: -np.sort(-s, axis=1)[:, :k].sum(axis=1) / k),
                 "fewer than k")
    assert_wrong(nb04.q2, _per_class(lambda s, k: s.max(axis=1)))
    assert_wrong(nb04.q2, _per_class(lambda s, k: s.mean(axis=1)), "mean")


def test_q3_rejects_ignored_aggregation_and_raw_dot_products():
    keras = pytest.importorskip("keras")
    from cbr_edu.layers import AggregationLayer, RetrievalLayer

    def always_max(index, class_ids, num_classes, aggregation="max"):
        inputs = keras.Input(shape=(index.shape[1],))
        out = AggregationLayer(class_ids, num_classes=num_classes)(RetrievalLayer(index)(inputs))
        return keras.Model(inputs, out)
    assert_wrong(nb04.q3, always_max, "aggregation")

    def raw_dot(index, class_ids, num_classes, aggregation="max"):
        inputs = keras.Input(shape=(index.shape[1],))
        dense = keras.layers.Dense(len(index), use_bias=False)
        dense.build((None, index.shape[1]))
        dense.kernel.assign(index.T)
        scores = dense(inputs)
        out = AggregationLayer(class_ids, num_classes=num_classes, aggregation=aggregation)(scores)
        return keras.Model(inputs, out)
    assert_wrong(nb04.q3, raw_dot, "normalised")
    assert_wrong(nb04.q3, lambda *a: None, "return")


def test_q4_rejects_mutation_and_leftovers():
    def leaves_it(embeddings, labels, label):
        return embeddings, labels
    assert_wrong(nb04.q4, leaves_it, "still")

    def mutates(embeddings, labels, label):
        keep = labels != label
        labels[~keep] = labels[keep][0]
        return embeddings[keep], labels[keep]
    assert_wrong(nb04.q4, mutates, "changed the arrays")

    def sorted_labels(embeddings, labels, label):
        keep = labels != label
        return embeddings[keep], np.sort(labels[keep])
    assert_wrong(nb04.q4, sorted_labels, "order")


# ------------------------------------------------------------------ 05 build your own

def test_nb05_q1_rejects_parent_folder():
    from pathlib import Path
    assert_wrong(nb05.q1, lambda root, path: Path(path).parent.name, "directly under the root")
    assert_wrong(nb05.q1, lambda root, path: Path(path).name)


def test_nb05_q2_rejects_ascending_and_indices():
    def ascending(scores, names, top):
        return [(names[i], scores[i]) for i in np.argsort(scores)[:top]]
    assert_wrong(nb05.q2, ascending, "lowest")

    def indices(scores, names, top):
        return list(np.argsort(-scores)[:top])
    assert_wrong(nb05.q2, indices, "pairs")

    def off_by_one(scores, names, top):
        return [(names[i], scores[i]) for i in np.argsort(-scores)[:top + 1]]
    assert_wrong(nb05.q2, off_by_one, "pairs")


def test_nb05_q3_rejects_wraparound_truncation_and_dtype():
    assert_wrong(nb05.q3, lambda w: np.round(w * 128).astype(np.int8), "wrapped")
    assert_wrong(nb05.q3, lambda w: np.clip(w * 128, -128, 127).astype(np.int8), "round")
    assert_wrong(nb05.q3, lambda w: np.clip(np.round(w * 128), -128, 127), "dtype")
    assert_wrong(nb05.q3, lambda w: np.clip(np.round(w * 127), -128, 127).astype(np.int8),
                 "128")


def test_nb05_q4_rejects_first_row_only():
    ns = solution_namespace(nb05.q4)
    good = ns["run_litert"]
    assert_wrong(nb05.q4, lambda path, inputs: good(path, inputs[:1])[0], "one input")
    assert_wrong(nb05.q4, lambda path, inputs: good(path, inputs) * 2)


def test_nb05_reference_quantize_error_bound():
    w = np.linspace(-1, 1, 1001)
    q = nb05.reference_quantize(w)
    assert q.dtype == np.int8 and q.max() == 127 and q.min() == -128
    assert np.abs(q / 128 - w)[w < 127 / 128].max() <= 1 / 256 + 1e-12


# ------------------------------------------------------------------ 06 compare

def test_nb06_q4_ci_rejects_std_std_over_n_and_no_196():
    assert_wrong(nb06.q4, lambda a: (np.mean(a), 1.96 * np.std(a, ddof=1)), "√n")
    assert_wrong(nb06.q4, lambda a: (np.mean(a), 1.96 * np.std(a) / len(a)), "divided by n")
    assert_wrong(nb06.q4, lambda a: (np.mean(a), np.std(a, ddof=1) / np.sqrt(len(a))), "1.96")
    assert_wrong(nb06.q4, lambda a: (np.median(a), 1.96 * np.std(a) / np.sqrt(len(a))),
                 "mean")
    assert_wrong(nb06.q4, lambda a: np.mean(a), "two numbers")
    # ddof=0 and the t quantile are accepted
    assert_correct(nb06.q4, lambda a: (np.mean(a), 1.96 * np.std(a) / np.sqrt(len(a))))


def test_nb06_reference_ci_matches_formula():
    m, h = nb06.reference_mean_ci([0.5, 0.7])
    assert m == pytest.approx(0.6) and h == pytest.approx(1.959964 * np.std([0.5, 0.7], ddof=1)
                                                          / np.sqrt(2), rel=1e-6)


def _episode(overlap=False, fixed_classes=False, unseeded=False, per_class_shots=True):
    def sample_episode(labels, ways, shots, queries, seed):
        rng = np.random.default_rng(None if unseeded else seed)
        labels = np.asarray(labels)
        classes = np.unique(labels)
        chosen = classes[:ways] if fixed_classes else rng.choice(classes, ways, replace=False)
        support, query = [], []
        for c in chosen:
            idx = rng.permutation(np.flatnonzero(labels == c))
            support.extend(idx[:shots if per_class_shots else 1])
            start = 0 if overlap else shots
            query.extend(idx[start:start + queries])
        return np.array(support), np.array(query)
    return sample_episode


def test_nb06_q1_episode_checks():
    assert_correct(nb06.q1, _episode())
    assert_wrong(nb06.q1, _episode(overlap=True), "overlap")
    assert_wrong(nb06.q1, _episode(fixed_classes=True), "at random")
    assert_wrong(nb06.q1, _episode(unseeded=True), "same seed")
    assert_wrong(nb06.q1, _episode(per_class_shots=False), "support set")


def test_nb06_q2_cl2n_rejects_wrong_order_and_missing_steps():
    def unit(x):
        return x / np.linalg.norm(x, axis=-1, keepdims=True)
    assert_wrong(nb06.q2, lambda x, m: unit(x) - m, "normalised first")
    assert_wrong(nb06.q2, lambda x, m: unit(x), "did not subtract")
    assert_wrong(nb06.q2, lambda x, m: x - m, "did not normalise")
    assert_wrong(nb06.q2, lambda x, m: (x - m) / np.linalg.norm(x - m), "each row")


def test_nb06_q3_rejects_one_nn_and_indices():
    assert_wrong(nb06.q3, nb06._one_nn, "1-nn")

    def indices(support, labels, queries):
        return np.zeros(len(queries), dtype=int)
    assert_wrong(nb06.q3, indices, "labels")


def test_nb06_q5_rejects_strict_inequality_and_inversion():
    def strict(scores, t):
        return np.where(scores.max(axis=1) > t, scores.argmax(axis=1), -1)
    assert_wrong(nb06.q5, strict, "exactly equal")

    def inverted(scores, t):
        return np.where(scores.max(axis=1) >= t, -1, scores.argmax(axis=1))
    assert_wrong(nb06.q5, inverted, "other way round")
    assert_wrong(nb06.q5, lambda s, t: s.argmax(axis=1), "nothing was rejected")


# ------------------------------------------------------------------ 07 hackathon checklist

from cbr_edu.exercises import nb07_hackathon as nb07  # noqa: E402


def _hackathon_namespace(tmp_path, n_classes=3, per_class=4, seed=0):
    """A tiny team notebook filled in with the step solutions (raw-pixel embedder)."""
    from PIL import Image
    rng = np.random.default_rng(seed)
    album = tmp_path / "albums"
    for c in range(n_classes):
        (album / f"class_{c}").mkdir(parents=True)
        base = rng.integers(0, 255, size=(3,))
        for j in range(per_class):
            img = np.clip(base + rng.normal(0, 40, size=(24, 24, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(img).save(album / f"class_{c}" / f"{j}.png")
    out = tmp_path / "models"
    out.mkdir()
    ns = {"np": np, "DEMO_ALBUM_DIR": album, "EMBEDDER": "pixels:8:rgb", "OUT": out}
    exec(nb07.q1.solution_code, ns)  # noqa: S102
    from cbr_edu.images import load_folder
    a = load_folder(ns["ALBUM_DIR"])
    labels = np.array(a.labels)
    test = np.zeros(len(labels), bool)
    test[[np.flatnonzero(labels == c)[0] for c in a.class_names]] = True
    ns.update(INDEX_IMAGES=[im for im, t in zip(a.images, test) if not t],
              INDEX_LABELS=labels[~test],
              TEST_IMAGES=[im for im, t in zip(a.images, test) if t], TEST_LABELS=labels[test])
    return ns


def test_nb07_blank_notebook_scores_zero_without_crashing():
    result = nb07.checklist.evaluate(namespace={})
    assert result.status == "not attempted" and "0 / 100" in result.message
    blanks = {k: ____ for k in ("ALBUM_DIR", "CLASSIFIER", "HELD_OUT_ACCURACY", "TFLITE_PATH")}
    assert nb07.checklist.evaluate(namespace=blanks).status == "not attempted"
    for q in (nb07.q1, nb07.q2, nb07.q3, nb07.q4):
        assert q.evaluate(namespace=blanks).status == "not attempted"


@pytest.fixture(scope="module")
def solved(tmp_path_factory):
    ns = _hackathon_namespace(tmp_path_factory.mktemp("hackathon"))
    for q in (nb07.q2, nb07.q3, nb07.q4):
        exec(q.solution_code, ns)  # noqa: S102
    return ns


def test_nb07_solutions_score_100(solved):
    for q in (nb07.q1, nb07.q2, nb07.q3, nb07.q4):
        result = q.evaluate(namespace=solved)
        assert result.correct, (q, result)
    result = nb07.checklist.evaluate(namespace=solved)
    assert result.correct and "100 / 100" in result.message, result


def test_nb07_partial_work_gets_partial_score(solved):
    ns = {k: solved[k] for k in ("CLASSIFIER", "TEST_IMAGES", "TEST_LABELS")}
    result = nb07.checklist.evaluate(namespace=ns)
    assert result.status == "incorrect"
    assert "Score: 40 / 100" in result.message and "set HELD_OUT_ACCURACY" in result.message
    assert "set TFLITE_PATH" in result.message


def test_nb07_wrong_accuracy_is_caught(solved):
    ns = {**solved, "HELD_OUT_ACCURACY": 0.123}
    result = nb07.q3.evaluate(namespace=ns)
    assert result.status == "incorrect" and "0.123" in result.message
    assert "Score: 80 / 100" in nb07.checklist.evaluate(namespace=ns).message


def test_nb07_test_photos_in_the_index_are_caught(solved):
    import cbr_edu
    leaky = cbr_edu.CbRClassifier(embedder=solved["EMBEDDER"]).fit(
        solved["INDEX_IMAGES"] + solved["TEST_IMAGES"],
        np.concatenate([solved["INDEX_LABELS"], solved["TEST_LABELS"]]))
    ns = {**solved, "CLASSIFIER": leaky, "HELD_OUT_ACCURACY": 1.0}
    result = nb07.q2.evaluate(namespace=ns)
    assert result.status == "incorrect" and "also in the index" in result.message


def test_nb07_export_of_another_model_is_caught(solved, tmp_path):
    import cbr_edu
    from cbr_edu.tflite import export_tflite
    other = cbr_edu.CbRClassifier(embedder=solved["EMBEDDER"]).fit(
        solved["INDEX_IMAGES"][:4], ["x", "x", "y", "y"])
    path = export_tflite(other, tmp_path / "other.tflite").path
    ns = {**solved, "TFLITE_PATH": path}
    result = nb07.q4.evaluate(namespace=ns)
    assert result.status == "incorrect"
    message = nb07.checklist.evaluate(namespace=ns).message
    assert "export *this* classifier" in message and "labels" in message


def test_nb07_missing_file_and_missing_labels(solved, tmp_path):
    result = nb07.q4.evaluate(namespace={**solved, "TFLITE_PATH": tmp_path / "nope.tflite"})
    assert result.status == "incorrect" and "no file" in result.message
    content, _ = nb05._tiny_tflite()
    bare = tmp_path / "bare.tflite"
    bare.write_bytes(content)
    items, _ = nb07.scorecard({**solved, "TFLITE_PATH": bare})
    assert not items[6].passed and "no labels" in items[6].note


def test_nb07_album_step_rejects_small_albums(tmp_path):
    from PIL import Image
    for c in ("a", "b"):
        (tmp_path / c).mkdir()
        for j in range(3):
            Image.fromarray(np.full((8, 8, 3), j * 40, np.uint8)).save(tmp_path / c / f"{j}.png")
    result = nb07.q1.evaluate(tmp_path, namespace={})
    assert result.status == "incorrect" and "at least 3" in result.message
    result = nb07.q1.evaluate(tmp_path / "missing", namespace={})
    assert result.status == "incorrect" and "does not exist" in result.message
