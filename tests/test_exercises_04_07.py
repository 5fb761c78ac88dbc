"""The checkers of notebooks 04–07 accept their solutions, call blanks "not attempted",
rest on references that are right, and score the hackathon notebook.

Every question is evaluated several times (``evaluate`` draws a fresh seed each
time), so a checker that only works for a lucky random input fails here. The named
wrong answers of every question are in ``test_exercises_battery.py``.
"""

import numpy as np
import pytest

from battery_answers_04_07 import hackathon_namespace, solve_steps
from cbr_edu.exercises import ____
from cbr_edu.exercises import nb04_aggregation as nb04
from cbr_edu.exercises import nb05_build_your_own as nb05
from cbr_edu.exercises import nb06_compare as nb06
from cbr_edu.exercises import nb07_hackathon as nb07

REPEATS = 4


def solution_namespace(q):
    ns = {}
    exec(q.solution_code, ns)  # noqa: S102 - our own solution text
    return ns


def outcome(q, *answers):
    return q.evaluate(*answers, namespace={})


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


# ------------------------------------------------------------------ 05 build your own

def test_nb05_reference_quantize_error_bound():
    """What the notebook says holds: within 1/256 up to 127.5/128, 1/128 at 1.0."""
    w = np.linspace(-1, 1, 20001)
    q = nb05.reference_quantize(w)
    assert q.dtype == np.int8 and q.max() == 127 and q.min() == -128
    error = np.abs(q / 128 - w)
    assert error[w <= 127.5 / 128].max() <= 1 / 256 + 1e-12
    assert error.max() == pytest.approx(1 / 128) and error[-1] == pytest.approx(1 / 128)
    assert nb05.p1.evaluate(127, error.max(), namespace={}).correct


# ------------------------------------------------------------------ 06 compare

def test_nb06_reference_ci_uses_student_t():
    from scipy import stats
    m, h = nb06.reference_mean_ci([0.5, 0.7])
    assert m == pytest.approx(0.6)
    assert h == pytest.approx(stats.t.ppf(0.975, 1) * np.std([0.5, 0.7], ddof=1) / np.sqrt(2))
    assert h == pytest.approx(stats.sem([0.5, 0.7]) * stats.t.ppf(0.975, 1))


# ------------------------------------------------------------------ 07 hackathon checklist



def test_nb07_blank_notebook_scores_zero_without_crashing():
    result = nb07.checklist.evaluate(namespace={})
    assert result.status == "not attempted" and "0 / 100" in result.message
    blanks = {k: ____ for k in ("ALBUM_DIR", "CLASSIFIER", "HELD_OUT_ACCURACY", "TFLITE_PATH")}
    assert nb07.checklist.evaluate(namespace=blanks).status == "not attempted"
    for q in (nb07.q1, nb07.q2, nb07.q3, nb07.q4):
        assert q.evaluate(namespace=blanks).status == "not attempted"


@pytest.fixture(scope="module")
def solved(tmp_path_factory):
    return solve_steps(hackathon_namespace(tmp_path_factory.mktemp("hackathon")))


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


def test_nb07_accuracy_is_checked_to_one_photo_and_never_shown(tmp_path):
    """5 of 8 test photos right: 0.6 passes (within half a photo), 0.5 and 96-style
    percentages do not, and no message gives 0.625 away."""
    ns = solve_steps(hackathon_namespace(tmp_path, n_classes=4, per_class=5, test_per_class=2,
                                         noise=120))
    assert ns["HELD_OUT_ACCURACY"] == 5 / 8
    assert nb07.q3.evaluate(namespace={**ns, "HELD_OUT_ACCURACY": 0.6}).correct
    for wrong in (0.5, 0.75, 62.5, 5, 0.375, 1.0, "62.5%", None):
        result = nb07.q3.evaluate(namespace={**ns, "HELD_OUT_ACCURACY": wrong})
        assert result.status == "incorrect", (wrong, result)
        assert "0.625" not in result.message and "62.5%" not in result.message.replace(
            "'62.5%'", ""), result.message


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
