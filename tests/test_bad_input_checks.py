"""Bad-input corpus, exercise checks: they never crash and never misjudge.

Odd answers (NaN, inf, a natural ``(mean, (low, high))`` tuple, None, text…) get
feedback, never a traceback from inside a checker; right answers that change their
inputs in place are still right (checks hand out copies); slow code says so; an
interrupt is feedback.
"""

import inspect
import time

import numpy as np
import pytest
from test_exercises import all_questions, solved_answers, standalone_questions

from cbr_edu.exercises import Outcome, Question, Wrong

ODD_VALUES = {
    "nan": float("nan"), "inf": float("inf"), "-inf": -float("inf"),
    "mean and interval": (0.5, (0.4, 0.6)), "None": None, "text": "hello",
    "dict": {"a": 1}, "object": object(), "negative": -1, "complex": 1j, "bool": True,
    "empty list": [], "list of NaN": [float("nan")] * 3, "wide array": np.zeros((3, 1000)),
    "array of inf": np.full(4, np.inf), "ragged": [[1, 2], [3]], "nested tuple": ((1,), (2, 3)),
}


def _as_function(value):
    return lambda *args, **kwargs: value


@pytest.mark.parametrize("q", all_questions())
@pytest.mark.parametrize("kind", list(ODD_VALUES))
@pytest.mark.parametrize("wrapped", [False, True], ids=["value", "returned"])
def test_odd_answers_get_feedback_never_a_traceback(q, kind, wrapped):
    value = ODD_VALUES[kind]
    answer = _as_function(value) if wrapped else value
    out = q.evaluate(*[answer] * len(q.var_names), namespace={})
    assert out.status in (Outcome.CORRECT, Outcome.INCORRECT, Outcome.NOT_ATTEMPTED)
    if out.status == Outcome.INCORRECT:
        assert out.message and "Traceback" not in out.message


def test_check_prints_feedback_for_an_odd_answer(capsys):
    from cbr_edu.exercises.nb06_compare import q1
    q1.check(_as_function((0.5, (0.4, 0.6))))
    assert capsys.readouterr().out.startswith(("Incorrect", "Correct"))


def test_nan_answers_are_named():
    from cbr_edu.exercises.nb01_similarity import q1, q4
    out = q1.evaluate(_as_function(float("nan")), namespace={})
    assert out.status == Outcome.INCORRECT and "NaN" in out.message
    out = q4.evaluate(_as_function(float("nan")), namespace={})
    assert out.status == Outcome.INCORRECT
    assert "not a finite number" in out.message or "NaN" in out.message


def test_a_checker_that_breaks_on_an_answer_still_gives_feedback():
    class Fragile(Question):
        _var = "f"

        def _check(self, f):
            low, high = self.call(f)[1]  # a checker that assumes a shape
            return None if low < high else "low must be below high"

    out = Fragile().evaluate(_as_function(0.5), namespace={})
    assert out.status == Outcome.INCORRECT
    assert "your code returned float 0.5" in out.message and "TypeError" in out.message


# ------------------------------------------------------------------ copies, not the check's arrays

def _changes_its_inputs(fn):
    """A right answer (``fn``) that then normalises / scrambles its inputs in place."""
    def answer(*args, **kwargs):
        result = fn(*[np.array(a, copy=True) if isinstance(a, np.ndarray) else a
                      for a in args], **kwargs)
        for a in [*args, *kwargs.values()]:
            if isinstance(a, np.ndarray) and a.dtype.kind == "f" and a.size:
                a /= np.maximum(np.linalg.norm(a, axis=-1, keepdims=True), 1e-12)
                a *= 3.0
            elif isinstance(a, np.ndarray) and a.dtype.kind in "iuU" and a.size > 1:
                a[...] = np.roll(a, 1)
        return result
    return answer


def _teaches_leaving_inputs_alone(q):
    return "inputs_changed" in inspect.getsource(type(q)._check)


@pytest.mark.parametrize("q", standalone_questions())
def test_a_right_answer_that_changes_its_inputs_is_still_right(q):
    answers = solved_answers(q)
    if not any(callable(a) for a in answers):
        pytest.skip("the answer is a value, not a function")
    changed = tuple(_changes_its_inputs(a) if callable(a) else a for a in answers)
    for _ in range(3):
        out = q.evaluate(*changed, namespace={})
        if _teaches_leaving_inputs_alone(q):
            assert out.status == Outcome.INCORRECT and "changed the arrays" in out.message
        else:
            assert out.status == Outcome.CORRECT, out


def test_inputs_changed_sees_through_lists_and_dicts():
    class Q(Question):
        _var = "f"

        def _check(self, f):
            data = {"rows": [np.arange(3.0)], "n": 1}
            self.call(f, data)
            if self.inputs_changed():
                raise Wrong("changed")
            assert data["rows"][0].tolist() == [0.0, 1.0, 2.0]  # the check's copy is intact

    def scribbles(data):
        data["rows"][0][0] = 99.0

    assert Q().evaluate(scribbles, namespace={}).status == Outcome.INCORRECT
    assert Q().evaluate(lambda data: None, namespace={}).status == Outcome.CORRECT


# ------------------------------------------------------------------ slow and interrupted code

class Sum(Question):
    _var = "total"
    slow_seconds = 0.2

    def _check(self, total):
        self.assert_close(self.call(total, np.arange(4.0)), 6.0, "total(x)")


def test_slow_code_says_it_is_still_running(capsys):
    def slow_total(x):
        time.sleep(0.6)
        return x.sum()

    out = Sum().evaluate(slow_total, namespace={})
    printed = capsys.readouterr().out
    assert "Still running" in printed and "interrupt the kernel" in printed
    assert out.status == Outcome.CORRECT and "your code took" in out.message


def test_fast_code_has_no_note(capsys):
    out = Sum().evaluate(lambda x: x.sum(), namespace={})
    time.sleep(0.3)  # past slow_seconds: a note not cancelled would print now
    assert capsys.readouterr().out == "" and out.message == ""


def test_an_interrupted_answer_is_feedback():
    def never_ends(x):
        raise KeyboardInterrupt  # what the kernel's interrupt does inside a long loop

    out = Sum().evaluate(never_ends, namespace={})
    assert out.status == Outcome.INCORRECT and "interrupted" in out.message
