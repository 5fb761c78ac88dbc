"""The checkers: each accepts its own solution and calls a blank answer "not attempted";
plus the framework (hints, strict mode, name lookup, carrying an answer forward). The
named wrong answers of every question are in ``test_exercises_battery.py``."""

import importlib
import pkgutil

import numpy as np
import pytest

import cbr_edu.exercises as exercises
from cbr_edu.exercises import (STRICT_ENV, CheckFailed, Outcome, Question, Wrong, ____,
                               is_blank)

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

def test_nb00_setup_check_without_model(capsys):
    from cbr_edu.exercises.nb00_welcome import check_setup
    rows = check_setup(load_model=False)
    items = {r["item"]: r for r in rows}
    assert items["Keras"]["status"] == "ok" and items["Python"]["status"] == "ok"
    assert "cache folder" in items and "CPU cores" in items
    assert "All set" in capsys.readouterr().out


# Named wrong answers for every question: tests/test_exercises_battery.py.


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


def test_answer_or_carries_a_passing_answer_forward(capsys):
    q = _Double()
    reference = lambda x: 2 * x  # noqa: E731
    mine = lambda x: x + x  # noqa: E731
    assert q.answer_or(reference, namespace={"double": mine}) is mine
    assert "using your `double`" in capsys.readouterr().out
    assert q.answer_or(reference, namespace={"double": lambda x: x}) is reference
    assert "reference `double`: yours does not pass" in capsys.readouterr().out
    assert q.answer_or(reference, namespace={"double": ____}) is reference
    assert "is not written yet" in capsys.readouterr().out

    def cell():
        double = lambda x: 2.0 * x  # noqa: E731
        return q.answer_or(reference), double
    used, defined = cell()
    assert used is defined


def test_choice_and_number_predictions_read_what_a_learner_writes():
    from cbr_edu.exercises._predict import Choice, NumberPrediction

    class Pick(Choice):
        _var = "pick"
        _answer = "b"
        _misses = {"a": "a misses the point", "c": "c misses it too"}

    class Guess(NumberPrediction):
        _var = "guess"
        _answer, _tolerance = 2.0, 0.1
        _mistakes = ((4.0, "four is the square"),)

    assert all(Pick().evaluate(g, namespace={}).correct for g in ("b", " B ", "(b)", "b."))
    assert Pick().evaluate("a", namespace={}).message == "a misses the point"
    assert "one of the options" in Pick().evaluate("z", namespace={}).message
    assert "one letter" in Pick().evaluate(2, namespace={}).message
    assert Guess().evaluate(2.05, namespace={}).correct
    assert Guess().evaluate(3.97, namespace={}).message == "four is the square"
    assert "not as text" in Guess().evaluate("2", namespace={}).message
    assert "finite" in Guess().evaluate(float("nan"), namespace={}).message
