"""The checkers: each accepts its own solution, rejects typical mistakes, and calls a
blank answer "not attempted"; plus the framework (hints, strict mode, name lookup)."""

import importlib
import pkgutil

import numpy as np
import pytest

import cbr_edu.exercises as exercises
from cbr_edu.exercises import (STRICT_ENV, CheckFailed, Outcome, Question, Wrong, ____,
                               is_blank)
from cbr_edu.exercises import nb01_similarity as nb01
from cbr_edu.exercises import nb02_embeddings as nb02
from cbr_edu.exercises import nb03_retrieval_layer as nb03

MODULES = sorted(m.name for m in pkgutil.iter_modules(exercises.__path__)
                 if not m.name.startswith("_"))


def _questions():
    for modname in MODULES:
        module = importlib.import_module(f"cbr_edu.exercises.{modname}")
        for name in sorted(dir(module)):
            obj = getattr(module, name)
            if isinstance(obj, Question):
                yield pytest.param(obj, id=f"{modname}.{name}")


def all_questions():
    return list(_questions())


def standalone_questions():
    """Questions whose solution_code runs in a fresh namespace (see ``needs_notebook``)."""
    return [p for p in all_questions() if not p.values[0].needs_notebook]


def solved_answers(q):
    """Run solution_code in a fresh namespace; return the checked names' values."""
    namespace = {}
    exec(compile(q.solution_code, "<solution>", "exec"), namespace)
    return tuple(namespace[n] for n in q.var_names)


def outcome(q, *answers):
    return q.evaluate(*answers, namespace={})


def assert_wrong(q, answer, *phrases):
    out = outcome(q, answer)
    assert out.status == Outcome.INCORRECT, out
    message = out.message.replace("*", "").lower()
    for phrase in phrases:
        assert phrase.lower() in message, (phrase, out.message)
    return out


# ------------------------------------------------------------------ every question

def test_each_notebook_module_has_at_least_three_questions():
    for modname in MODULES:
        module = importlib.import_module(f"cbr_edu.exercises.{modname}")
        qs = [n for n in dir(module) if isinstance(getattr(module, n), Question)]
        if modname.startswith("nb0") and modname[3] in "123456":
            assert len(qs) >= 3, (modname, qs)


@pytest.mark.parametrize("q", standalone_questions())
def test_solution_passes_repeatedly(q):
    answers = solved_answers(q)
    for _ in range(5):  # fresh random inputs every time
        out = q.evaluate(*answers, namespace={})
        assert out.status == Outcome.CORRECT, out


@pytest.mark.parametrize("q", standalone_questions())
def test_solution_found_by_name(q):
    namespace = {}
    exec(compile(q.solution_code, "<solution>", "exec"), namespace)
    assert q.evaluate(namespace=namespace).correct


@pytest.mark.parametrize("q", all_questions())
def test_blank_answers_are_not_attempted(q):
    n = len(q.var_names)
    assert q.evaluate(namespace={}).status == Outcome.NOT_ATTEMPTED  # names undefined
    assert q.evaluate(*([____] * n), namespace={}).status == Outcome.NOT_ATTEMPTED

    if q.needs_notebook or not all(callable(a) for a in solved_answers(q)):
        return  # a value answer: `x = ____` is the blank, checked above

    def returns_blank(*args, **kwargs):
        return ____

    def raises_not_implemented(*args, **kwargs):
        raise NotImplementedError

    def returns_blank_arith(*args, **kwargs):
        return np.ones(3) * ____ / 2

    for fn in (returns_blank, raises_not_implemented, returns_blank_arith):
        out = q.evaluate(*([fn] * n), namespace={})
        assert out.status == Outcome.NOT_ATTEMPTED, (fn.__name__, out)


@pytest.mark.parametrize("q", all_questions())
def test_has_hints_and_solution(q):
    assert q._hints and q._title
    if not q.needs_notebook:
        assert len(q._hints) >= 2
        assert q.solution_code.strip()


@pytest.mark.parametrize("q", standalone_questions())
def test_crashing_answer_is_incorrect_not_a_crash(q):
    if not all(callable(a) for a in solved_answers(q)):
        pytest.skip("value answer")
    def crashes(*args, **kwargs):
        return {}["missing"]
    out = q.evaluate(*([crashes] * len(q.var_names)), namespace={})
    assert out.status == Outcome.INCORRECT
    assert "KeyError" in out.message


@pytest.mark.parametrize("q", standalone_questions())
def test_returning_none_is_incorrect(q):
    if not all(callable(a) for a in solved_answers(q)):
        assert q.evaluate(*([None] * len(q.var_names)), namespace={}).status == "incorrect"
        return
    out = q.evaluate(*([lambda *a, **k: None] * len(q.var_names)), namespace={})
    assert out.status == Outcome.INCORRECT


# ------------------------------------------------------------------ nb00

def test_nb00_warm_ups():
    from cbr_edu.exercises import nb00_welcome as nb00
    assert outcome(nb00.q1, 0).correct
    assert_wrong(nb00.q1, 10, "without training")
    assert_wrong(nb00.q1, [0, 1], "one number")
    assert nb00.q2.evaluate(15, 5, namespace={}).correct
    assert "swapped" in nb00.q2.evaluate(5, 15, namespace={}).message
    assert "indexed image" in nb00.q2.evaluate(3, 5, namespace={}).message
    assert nb00.q2.evaluate(15, ____, namespace={}).status == Outcome.NOT_ATTEMPTED


def test_nb00_setup_check_without_model(capsys):
    from cbr_edu.exercises.nb00_welcome import check_setup
    rows = check_setup(load_model=False)
    items = {r["item"]: r for r in rows}
    assert items["Keras"]["status"] == "ok" and items["Python"]["status"] == "ok"
    assert "cache folder" in items and "CPU cores" in items
    assert "All set" in capsys.readouterr().out


# ------------------------------------------------------------------ nb01

def test_nb01_cosine_wrong_answers():
    assert_wrong(nb01.q1, lambda a, b: np.dot(a, b), "dot product")
    assert_wrong(nb01.q1, lambda a, b: np.dot(a, b) / np.linalg.norm(a), "only one")
    assert_wrong(nb01.q1, lambda a, b: a * b / (np.linalg.norm(a) * np.linalg.norm(b)),
                 "one number")
    assert_wrong(nb01.q1, lambda a, b: np.arccos(
        np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b))), "angle")
    assert_wrong(nb01.q1, lambda a, b: 1 - np.dot(a, b) / (
        np.linalg.norm(a) * np.linalg.norm(b)))
    # another correct formulation passes
    assert outcome(nb01.q1, lambda a, b: float(
        np.sum(a / np.linalg.norm(a) * b / np.linalg.norm(b)))).correct


def test_nb01_l2_wrong_answers():
    assert_wrong(nb01.q2, lambda a, b: np.sum((a - b) ** 2), "squared", "sqrt")
    assert_wrong(nb01.q2, lambda a, b: np.sum(np.abs(a - b)), "L1")
    assert_wrong(nb01.q2, lambda a, b: (a - b) ** 2, "one number")
    assert_wrong(nb01.q2, lambda a, b: np.linalg.norm(a) - np.linalg.norm(b))
    assert outcome(nb01.q2, lambda a, b: np.linalg.norm(a - b)).correct


def test_nb01_cosine_table_wrong_answers():
    def unit(x):
        return x / np.linalg.norm(x, axis=1, keepdims=True)
    assert_wrong(nb01.q3, lambda A, B: unit(B) @ unit(A).T, "shape", "transpose")
    assert_wrong(nb01.q3, lambda A, B: A @ B.T, "normalise")
    assert_wrong(nb01.q3, lambda A, B: unit(A) @ B.T, "only one")
    assert_wrong(nb01.q3, lambda A, B: A @ B.T / (np.linalg.norm(A) * np.linalg.norm(B)),
                 "each row")
    assert_wrong(nb01.q3, lambda A, B: A / np.linalg.norm(A, axis=0) @ (
        B / np.linalg.norm(B, axis=0)).T)
    from cbr_edu.similarity import cosine
    assert outcome(nb01.q3, cosine).correct


def test_nb01_nearest_wrong_answers():
    def sims(q, X):
        return (X / np.linalg.norm(X, axis=1, keepdims=True)) @ (q / np.linalg.norm(q))
    assert_wrong(nb01.q4, lambda q, X: int(np.argmin(sims(q, X))), "least similar")
    assert_wrong(nb01.q4, lambda q, X: int(np.argmax(X @ q)), "dot product")
    assert_wrong(nb01.q4, lambda q, X: float(np.max(sims(q, X))), "row number")
    assert_wrong(nb01.q4, lambda q, X: sims(q, X), "one row number")
    assert outcome(nb01.q4, lambda q, X: int(np.argmin(
        np.linalg.norm(X / np.linalg.norm(X, axis=1, keepdims=True) - q / np.linalg.norm(q),
                       axis=1)))).correct


# ------------------------------------------------------------------ nb02

def _cos_table(A, B):
    A = A / np.linalg.norm(A, axis=-1, keepdims=True)
    B = B / np.linalg.norm(B, axis=-1, keepdims=True)
    return A @ B.T


def test_nb02_k_nearest_wrong_answers():
    assert_wrong(nb02.q1, lambda q, G, k: np.argsort(_cos_table(G, q))[:k], "least similar")
    assert_wrong(nb02.q1, lambda q, G, k: np.argsort(_cos_table(G, q))[-k:], "order")
    assert_wrong(nb02.q1, lambda q, G, k: np.argsort(-(G @ q))[:k], "dot products")
    assert_wrong(nb02.q1, lambda q, G, k: np.argsort(-_cos_table(G, q))[:k + 1], "4 positions")
    assert_wrong(nb02.q1, lambda q, G, k: np.sort(_cos_table(G, q))[::-1][:k], "similarities")
    # L2 on normalised vectors ranks the same: accepted
    assert outcome(nb02.q1, lambda q, G, k: np.argsort(np.linalg.norm(
        G / np.linalg.norm(G, axis=1, keepdims=True) - q / np.linalg.norm(q), axis=1))[:k]
    ).correct


def test_nb02_accuracy_wrong_answers():
    def acc(trx, tr_y, tex, te_y):
        return float(np.mean(tr_y[_cos_table(tex, trx).argmax(1)] == te_y))
    assert_wrong(nb02.q2, lambda *a: 100 * acc(*a), "percentage")
    assert_wrong(nb02.q2, lambda *a: 1 - acc(*a), "error rate")
    assert_wrong(nb02.q2, lambda trx, tr_y, tex, te_y: float(
        np.mean(tr_y[_cos_table(tex, trx).argmin(1)] == te_y)), "least similar")
    assert_wrong(nb02.q2, lambda trx, tr_y, tex, te_y: tr_y[_cos_table(tex, trx).argmax(1)]
                 == te_y, "one number")
    from cbr_edu import CbRClassifier
    assert outcome(nb02.q2, lambda trx, tr_y, tex, te_y:
                   CbRClassifier().fit(trx, tr_y).score(tex, te_y)).correct


def test_nb02_centring_wrong_answers():
    def unit(x):
        return x / np.linalg.norm(x, axis=1, keepdims=True)
    assert_wrong(nb02.q3, lambda X, R: unit(X - X.mean(0)), "mean of X")
    assert_wrong(nb02.q3, lambda X, R: unit(X) - unit(R).mean(0), "normalised first")
    assert_wrong(nb02.q3, lambda X, R: X - R.mean(0), "not normalised")
    assert_wrong(nb02.q3, lambda X, R: unit(X), "not centred")
    assert_wrong(nb02.q3, lambda X, R: unit(X - R.mean()))
    assert_wrong(nb02.q3, lambda X, R: (X - R.mean(0))[:3], "shape")


# ------------------------------------------------------------------ nb03

def _unit(x):
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def test_nb03_brute_force_wrong_answers():
    def dist(Q, X):
        return np.linalg.norm(Q[:, None] - X[None], axis=2)
    assert_wrong(nb03.q1, lambda Q, X: dist(_unit(Q), _unit(X)).argmax(1), "farthest")
    assert_wrong(nb03.q1, lambda Q, X: dist(Q, X).argmin(1), "normalis")
    assert_wrong(nb03.q1, lambda Q, X: dist(_unit(Q), _unit(X)).min(1), "whole numbers")
    assert_wrong(nb03.q1, lambda Q, X: dist(_unit(Q), _unit(X)).argmin(0), "one index")
    # the cosine formulation is the same search: accepted
    assert outcome(nb03.q1, lambda Q, X: (_unit(Q) @ _unit(X).T).argmax(1)).correct


def test_nb03_kernel_wrong_answers():
    assert_wrong(nb03.q2, lambda X: _unit(X), "transpose")
    assert_wrong(nb03.q2, lambda X: X.T, "unit length")
    assert_wrong(nb03.q2, lambda X: _unit(X.T), "wrong axis")
    assert_wrong(nb03.q2, lambda X: _unit(X).T[:, :-1], "shape")


def test_nb03_model_wrong_answers():
    import keras

    def build(index, normalise_query=True, normalise_index=True, transpose=True,
              set_weights=True):
        n, d = index.shape
        inputs = keras.Input(shape=(d,))
        x = keras.layers.UnitNormalization()(inputs) if normalise_query else inputs
        dense = keras.layers.Dense(n, use_bias=False)
        out = dense(x)
        kernel = _unit(index) if normalise_index else index
        if set_weights:
            dense.set_weights([kernel.T if transpose else kernel.reshape(d, n)])
        return keras.Model(inputs, out)

    assert_wrong(nb03.q3, lambda X: build(X, normalise_query=False), "normalise the query")
    assert_wrong(nb03.q3, lambda X: build(X, normalise_index=False), "kernel is not normalised")
    assert_wrong(nb03.q3, lambda X: build(X, set_weights=False), "set_weights")
    assert_wrong(nb03.q3, lambda X: build(X, transpose=False))
    assert_wrong(nb03.q3, lambda X: _unit(X).T, "keras model")

    from cbr_edu.layers import RetrievalLayer
    assert outcome(nb03.q3, lambda X: RetrievalLayer(X)).correct


# ------------------------------------------------------------------ framework

class _Double(Question):
    _var = "double"
    _title = "double"
    _hints = ["first", "second", "third"]
    solution_code = "def double(x):\n    return 2 * x\n"

    def _check(self, fn):
        x = np.arange(3.0)
        got = self.call(fn, x)
        if np.allclose(got, x):
            raise Wrong("you returned x unchanged")
        assert np.allclose(got, 2 * x), "not twice x"


def test_check_finds_names_in_the_callers_globals(capsys, monkeypatch):
    monkeypatch.delenv(STRICT_ENV, raising=False)
    q = _Double()
    global double
    double = lambda x: 2 * x  # noqa: E731
    try:
        q.check()
        assert q.last_outcome.correct
        assert capsys.readouterr().out.startswith("Correct")
        double = lambda x: x  # noqa: E731
        q.check()
        assert q.last_outcome.status == "incorrect"
        assert "unchanged" in capsys.readouterr().out
    finally:
        del double


def test_check_with_explicit_argument_and_assertion_messages(capsys):
    q = _Double()
    q.check(lambda x: 3 * x)
    assert q.last_outcome.message.startswith("not twice x")
    assert capsys.readouterr().out.startswith("Incorrect: not twice x")
    q.check(____)
    assert capsys.readouterr().out.startswith("Not attempted yet")
    q.check(1, 2)
    assert "takes 1 answer" in q.last_outcome.message


def test_check_finds_names_in_a_functions_locals():
    q = _Double()

    def learner():
        double = lambda x: x + x  # noqa: E731,F841
        q.check()
    learner()
    assert q.last_outcome.correct


def test_hint_levels(capsys):
    q = _Double()
    q.hint()
    q.hint()
    out = capsys.readouterr().out
    assert "Hint 1" in out and "first" in out and "Hint 2" in out and "second" in out
    q.hint(3)
    q.hint()
    q.hint()
    out = capsys.readouterr().out
    assert out.count("third") == 3 and "first" not in out
    with pytest.raises(ValueError):
        q.hint(4)
    q.solution()
    assert "return 2 * x" in capsys.readouterr().out


def test_strict_mode(monkeypatch, capsys):
    q = _Double()
    monkeypatch.setenv(STRICT_ENV, "1")
    q.check(lambda x: 2 * x)
    with pytest.raises(CheckFailed, match="incorrect"):
        q.check(lambda x: x)
    with pytest.raises(CheckFailed, match="not attempted"):
        q.check(____)
    monkeypatch.setenv(STRICT_ENV, "blank")
    q.check(____)
    with pytest.raises(CheckFailed, match="correct"):
        q.check(lambda x: 2 * x)
    monkeypatch.setenv(STRICT_ENV, "0")
    q.check(lambda x: x)  # never raises when off


def test_blank_placeholder_behaviour():
    assert is_blank(____) and is_blank((1, ____)) and not is_blank(0)
    assert is_blank(np.ones(3) * ____) and is_blank(____ @ np.eye(2)) and is_blank(-____)
    assert repr(____) == "____" and not ____


def test_rich_output_has_colour_and_plain_text():
    from cbr_edu.exercises._core import _Feedback
    fb = _Feedback("correct", "well done")
    assert "color" in fb._repr_markdown_() and "Correct" in fb._repr_markdown_()
    assert repr(fb) == "Correct: well done"
