"""The exercise framework: checked questions with hints and solutions.

A notebook imports its questions (``from cbr_edu.exercises.nb01_similarity import
q1, q2, q3``); the learner fills in a blank cell and runs ``q1.check()``.

How to write a question
-----------------------
::

    import numpy as np
    from cbr_edu.exercises._core import Question, Wrong, random_vectors

    class CosineQuestion(Question):
        _var = "my_cosine"                        # name(s) check() looks up
        _title = "Cosine similarity"
        _hints = [                                # q.hint() shows the next level
            "Cosine is the dot product of the two vectors *after* scaling each to length 1.",
            "`np.linalg.norm(a)` is the length of `a`.",
        ]
        _solution = "Divide the dot product by both lengths."   # markdown, optional
        solution_code = '''\
    import numpy as np

    def my_cosine(a, b):
        return np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b))
    '''
        def _check(self, my_cosine):                # one argument per name in _var
            a, b = random_vectors(2, 5, seed=self.seed)
            got = self.call(my_cosine, a, b)       # Blank / NotImplementedError -> "not attempted"
            want = a @ b / np.linalg.norm(a) / np.linalg.norm(b)
            if np.isclose(got, a @ b):
                raise Wrong("You returned the plain dot product; divide by both lengths.")
            self.assert_close(got, want, "my_cosine(a, b)")

    q1 = CosineQuestion()

Rules of thumb:

* ``_check`` tests **behaviour** — values, shapes, equivalences on fresh random
  inputs (``self.seed`` changes on every check) — never class names or source text.
* A wrong answer raises :class:`Wrong` (or ``assert cond, "message"``, or returns a
  message string) with a message that says what to try. Anticipate the typical
  mistakes and name them.
* ``solution_code`` is the code a learner would type in the blank cell, and it must
  run in a **fresh namespace** (include its imports: ``import numpy as np`` …);
  ``tests/test_exercises.py`` execs it that way and checks it passes. The notebook
  test harness pastes it into every cell tagged ``{"tags": ["exercise"], "exercise":
  "<module>.<qN>"}`` and then requires every ``check()`` to print "Correct".
* Blank answers: the placeholder ``____`` (a :class:`Blank`), a function that returns
  ``____`` or raises ``NotImplementedError``, or a name that is not defined yet all
  count as *not attempted* — no crash, no red.
* Context the check needs from the notebook (not part of the answer) can be read
  with ``self.lookup("name", default)``. A question whose check or ``solution_code``
  only makes sense inside its notebook (it reads names the notebook defines) sets
  ``needs_notebook = True``: ``tests/test_exercises.py`` then skips the fresh-namespace
  solution tests, and the notebook harness (solutions filled in) is its test.

What a check promises the learner:

* ``evaluate`` never raises: an answer the check cannot use (NaN, a nested tuple,
  the wrong type…) is *incorrect* feedback that says what came back, never a
  traceback from inside the checker.
* :meth:`Question.call` hands the learner's code **copies** of its inputs (arrays,
  lists, tuples, dicts), so a right answer that normalises its inputs in place is
  still judged on what it returns; a check that teaches "leave your inputs alone"
  asks :meth:`Question.inputs_changed`.
* Slow code is not silent: after ``slow_seconds`` (10 s) a note says the learner's
  code is still running and how to stop it (interrupt the kernel); the code keeps
  the main thread, so an interrupt stops it and becomes feedback too, and the final
  feedback says how long it took.

Strict mode (used by the test harness): environment variable
``CBR_EDU_STRICT_CHECKS`` — ``1`` / ``solved``: ``check()`` raises
:class:`CheckFailed` unless the answer is correct; ``blank``: raises unless the
answer is "not attempted" (it raises on a correct answer too). Unset: never raises.
"""

from __future__ import annotations

import inspect
import os
import threading
import time
import traceback

import numpy as np

from ._answers import describe, private_copy, same
from ._display import Feedback as _Feedback
from ._display import caller_namespace, carry_note
from ._display import show as _show

__all__ = [
    "Question", "Wrong", "CheckFailed", "Blank", "____", "is_blank",
    "NotAttempted", "Outcome", "random_vectors", "strict_mode", "STRICT_ENV",
]

STRICT_ENV = "CBR_EDU_STRICT_CHECKS"


class Blank:
    """The placeholder a learner replaces: ``____``.

    Arithmetic with it gives ``____`` again (so ``return ____ / 2`` does not crash)
    and numpy defers to it, so ``np.ones(3) * ____`` is ``____`` too.
    """

    __array_ufunc__ = None  # make numpy call our reflected operators

    def __repr__(self):
        return "____"

    def __bool__(self):
        return False

    def _same(self, *args, **kwargs):
        return self

    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = _same
    __truediv__ = __rtruediv__ = __floordiv__ = __rfloordiv__ = _same
    __matmul__ = __rmatmul__ = __pow__ = __rpow__ = __neg__ = __pos__ = _same
    __call__ = __getitem__ = _same


____ = Blank()


def is_blank(value) -> bool:
    """True for the placeholder (also inside a tuple/list the learner returned)."""
    if isinstance(value, Blank):
        return True
    if isinstance(value, (tuple, list)) and any(isinstance(v, Blank) for v in value):
        return True
    return False


class Wrong(Exception):
    """Raise inside ``_check`` when the answer is wrong; the message is shown in red."""


class NotAttempted(Exception):
    """Raised (internally) when an answer is still blank."""


class CheckFailed(AssertionError):
    """Raised by ``check()`` in strict mode when the outcome is not the expected one."""


class Outcome:
    """What a check concluded: ``status`` is "correct", "incorrect" or "not attempted"."""

    CORRECT, INCORRECT, NOT_ATTEMPTED = "correct", "incorrect", "not attempted"

    def __init__(self, status, message=""):
        self.status = status
        self.message = message

    @property
    def correct(self):
        return self.status == self.CORRECT

    def __repr__(self):
        return f"Outcome({self.status!r}, {self.message!r})"


def strict_mode() -> str:
    """"" (off), "solved" or "blank", from ``$CBR_EDU_STRICT_CHECKS``."""
    value = os.environ.get(STRICT_ENV, "").strip().lower()
    if value in ("", "0", "false", "no", "off"):
        return ""
    if value == "blank":
        return "blank"
    return "solved"


def random_vectors(n, dim, seed=None, unit=False):
    """``n`` random float64 vectors of length ``dim`` (rows), optionally unit length."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, dim))
    if unit:
        x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x


# ---------------------------------------------------------------- questions

_MISSING = object()


class Question:
    """One exercise. Subclass it; see the module docstring for a full example.

    Class attributes
    ----------------
    _var : str or tuple of str
        Name(s) of the learner's variables/functions ``check()`` looks up.
    _check(self, *answers)
        Raise :class:`Wrong` (or ``AssertionError``), or return a message string,
        when the answer is wrong. Return ``None`` when it is right.
    _hints : list of str (markdown)
    _solution : str (markdown), optional explanation shown above the code
    solution_code : str
        Code for the blank cell that makes the check pass.
    _title : str, optional
    _correct_message : str, optional — shown after "Correct"
    needs_notebook : bool — True when the check/solution read names only the notebook defines
    slow_seconds : float — after this long, a note says the learner's code is still running
    """

    _var = ()
    _hints = ()
    _solution = ""
    solution_code = ""
    _title = ""
    _correct_message = ""
    needs_notebook = False
    slow_seconds = 10.0

    def __init__(self):
        self._next_hint = 0
        self.seed = None
        self.last_outcome = None
        self._namespace = {}
        self._handed = ((), ())   # (originals, copies) of the last call's inputs
        self._returned = _MISSING  # what the learner's code last returned
        self._seconds = 0.0        # time spent in the learner's code during this check

    # -- learner-facing -------------------------------------------------
    @property
    def var_names(self):
        return (self._var,) if isinstance(self._var, str) else tuple(self._var)

    def check(self, *answers):
        """Check the answer: ``q.check()`` looks the names up, ``q.check(x)`` uses ``x``."""
        frame = inspect.currentframe().f_back
        namespace = caller_namespace(frame)
        del frame
        outcome = self.evaluate(*answers, namespace=namespace)
        self._report(outcome)
        return None

    def hint(self, n=None):
        """Show the next hint (``q.hint()``) or hint number ``n`` (``q.hint(2)``, from 1)."""
        hints = list(self._hints)
        if not hints:
            _show(_Feedback("hint", "No hints for this one — try `.solution()`."))
            return
        if n is None:
            i = min(self._next_hint, len(hints) - 1)
            self._next_hint = i + 1
        else:
            if not 1 <= int(n) <= len(hints):
                raise ValueError(f"there are hints 1 to {len(hints)}, not {n}")
            i = int(n) - 1
        more = f" (of {len(hints)}; run `.hint()` again for more)" if i + 1 < len(hints) else \
            f" (of {len(hints)})"
        _show(_Feedback("hint", hints[i], label=f"Hint {i + 1}{more}"))

    def solution(self):
        """Show the worked solution (explanation and code)."""
        _show(_Feedback("solution", self._solution, code=self.solution_code or None))

    def answer_or(self, fallback, *, namespace=None):
        """The learner's answer when it passes this check now, else ``fallback``: cells after
        an exercise carry the learner's code forward and still run when it is blank or wrong.
        Prints which of the two it returns (for questions with one answer name)."""
        if namespace is None:
            frame = inspect.currentframe().f_back
            namespace = caller_namespace(frame)
            del frame
        outcome = self.evaluate(namespace=namespace)
        print(carry_note(self.var_names[0], outcome.status))
        return namespace[self.var_names[0]] if outcome.correct else fallback

    # -- machinery ------------------------------------------------------
    def evaluate(self, *answers, namespace=None):
        """Run the check and return an :class:`Outcome` (nothing shown, never raises)."""
        self.seed = int(np.random.SeedSequence().generate_state(1)[0])
        self._namespace = namespace if namespace is not None else {}
        names = self.var_names
        if answers:
            if len(answers) != len(names):
                return self._remember(Outcome(
                    Outcome.INCORRECT,
                    f"check() takes {len(names)} answer(s) ({', '.join(names)}), "
                    f"got {len(answers)}"))
        else:
            missing = [n for n in names if n not in self._namespace]
            if missing:
                return self._remember(Outcome(
                    Outcome.NOT_ATTEMPTED,
                    f"define `{'`, `'.join(missing)}` in the cell above, run it, then check again."))
            answers = tuple(self._namespace[n] for n in names)
        if any(is_blank(a) for a in answers):
            return self._remember(Outcome(
                Outcome.NOT_ATTEMPTED, "replace the `____` placeholder(s) with your answer."))
        return self._remember(self._timed(self._judge(answers)))

    def _judge(self, answers):
        """The outcome of ``_check``: every exception becomes feedback."""
        self._returned, self._seconds = _MISSING, 0.0
        try:
            result = self._check(*answers)
        except NotAttempted as exc:
            return Outcome(Outcome.NOT_ATTEMPTED, str(exc) or "replace the `____` placeholder(s).")
        except (Wrong, AssertionError) as exc:
            return Outcome(Outcome.INCORRECT, str(exc) or "not quite.")
        except KeyboardInterrupt:
            return Outcome(Outcome.INCORRECT, "the check was interrupted before it finished.")
        except Exception as exc:  # noqa: BLE001 - an answer the check cannot use is feedback
            return Outcome(Outcome.INCORRECT, self._unusable(exc, answers))
        if isinstance(result, str) and result:
            return Outcome(Outcome.INCORRECT, result)
        return Outcome(Outcome.CORRECT, self._correct_message)

    def _unusable(self, exc, answers):
        """Feedback for an answer the check could not work with (instead of a traceback)."""
        if self._returned is not _MISSING:
            got = f"your code returned {describe(self._returned)}"
        else:
            got = f"your answer is {describe(answers[0] if len(answers) == 1 else answers)}"
        return (f"the check could not use what it got: {got} "
                f"({type(exc).__name__}: {exc}). Return what the task asks for; `.hint()` "
                "shows an example.")

    def _timed(self, outcome):
        """Say how long slow code took (the learner saw a "still running" note meanwhile)."""
        if self._seconds > self.slow_seconds:
            note = (f"(your code took {self._seconds:.0f} s; numpy operations on whole arrays "
                    "are usually much faster than Python loops)")
            outcome.message = f"{outcome.message} {note}".strip()
        return outcome

    def _remember(self, outcome):
        self.last_outcome = outcome
        return outcome

    def _report(self, outcome):
        _show(_Feedback(outcome.status, outcome.message))
        mode = strict_mode()
        expected = {"solved": Outcome.CORRECT, "blank": Outcome.NOT_ATTEMPTED}.get(mode)
        if expected and outcome.status != expected:
            raise CheckFailed(
                f"{type(self).__name__} ({self._title or ', '.join(self.var_names)}): "
                f"expected '{expected}', got '{outcome.status}': {outcome.message}")

    def _check(self, *answers):  # pragma: no cover - subclasses override
        raise NotImplementedError

    def __repr__(self):
        return (f"<exercise {self._title or type(self).__name__}: "
                "run .check(), .hint() or .solution()>")

    # -- helpers for _check -----------------------------------------------
    def lookup(self, name, default=_MISSING):
        """A name from the learner's namespace (context for the check)."""
        if name in self._namespace:
            return self._namespace[name]
        if default is _MISSING:
            raise Wrong(f"`{name}` is not defined; run the notebook cells above first.")
        return default

    def call(self, fn, *args, what=None, **kwargs):
        """Call the learner's function on copies of ``args``; blank / NotImplementedError →
        not attempted, any other exception or an interrupt → a clear *incorrect* message.

        After ``slow_seconds`` a "still running" note is shown (the call goes on in
        this thread, so interrupting the kernel stops it)."""
        what = what or getattr(fn, "__name__", "your function")
        if is_blank(fn):
            raise NotAttempted("replace the `____` placeholder(s) with your answer.")
        if not callable(fn):
            raise Wrong(f"`{what}` should be a function, got {type(fn).__name__}.")
        copies = (private_copy(args), private_copy(kwargs))
        self._handed = ((args, kwargs), copies)
        watch = threading.Timer(self.slow_seconds, _show, args=(_Feedback(
            "running", f"`{what}` has been running for {self.slow_seconds:g} s. If it never "
                       "finishes, interrupt the kernel (■ or I, I) and look for a loop that "
                       "does not end."),))
        watch.daemon = True
        start = time.perf_counter()
        watch.start()
        try:
            result = fn(*copies[0], **copies[1])
        except NotImplementedError:
            raise NotAttempted(f"`{what}` still raises NotImplementedError; write its body.")
        except KeyboardInterrupt:
            raise Wrong(f"`{what}` was interrupted after {time.perf_counter() - start:.0f} s "
                        "before it finished; look for a loop that does not end.") from None
        except Exception as exc:
            last = traceback.extract_tb(exc.__traceback__)[-1]
            where = f" (line {last.lineno}: `{last.line.strip()}`)" if last.line else ""
            raise Wrong(f"`{what}` raised {type(exc).__name__}: {exc}{where}") from None
        finally:
            watch.cancel()
            self._seconds += time.perf_counter() - start
        if is_blank(result):
            raise NotAttempted(f"`{what}` still returns `____`; replace it with your answer.")
        self._returned = result
        return result

    def inputs_changed(self):
        """True when the learner's code changed the inputs of the last :meth:`call`
        (it worked on copies, so the check's own arrays are intact either way)."""
        originals, copies = self._handed
        return not same(originals, copies)

    @staticmethod
    def as_array(value, what="your answer"):
        """Convert to a float numpy array (Keras/TF tensors too), or raise Wrong."""
        if is_blank(value):
            raise NotAttempted("replace the `____` placeholder(s) with your answer.")
        if value is None:
            raise Wrong(f"{what} is None — did you forget a `return`?")
        if hasattr(value, "numpy") and not isinstance(value, np.ndarray):
            value = value.numpy()
        try:
            arr = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError):
            raise Wrong(f"{what} should be a number or an array of numbers, got "
                        f"{describe(value)}.") from None
        return arr

    def assert_shape(self, value, shape, what="your answer"):
        arr = self.as_array(value, what)
        if arr.shape != tuple(shape):
            raise Wrong(f"{what} has shape {arr.shape}; expected {tuple(shape)}.")
        return arr

    def assert_close(self, value, expected, what="your answer", rtol=1e-4, atol=1e-5):
        arr = self.as_array(value, what)
        expected = np.asarray(expected, dtype=np.float64)
        if arr.shape != expected.shape:
            if arr.size == expected.size == 1:
                arr = arr.reshape(expected.shape)
            else:
                raise Wrong(f"{what} has shape {arr.shape}; expected {expected.shape}.")
        if not np.all(np.isfinite(arr)) and np.all(np.isfinite(expected)):
            bad = int(np.sum(~np.isfinite(arr)))
            raise Wrong(f"{what} contains NaN or infinite values ({bad} of {arr.size}): NaN "
                        "usually comes from 0/0 and inf from dividing by zero — e.g. a "
                        "vector of length zero.")
        if not np.allclose(arr, expected, rtol=rtol, atol=atol):
            if arr.size == 1:
                raise Wrong(f"{what} gave {arr.item():.6g}; expected {expected.item():.6g}.")
            bad = int(np.sum(~np.isclose(arr, expected, rtol=rtol, atol=atol)))
            raise Wrong(f"{what}: {bad} of {arr.size} values differ from the expected ones "
                        f"(largest difference {np.max(np.abs(arr - expected)):.3g}).")
        return arr
