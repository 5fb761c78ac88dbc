"""Predict, then run: the learner commits to a guess before a cell reveals the answer.

A prediction is checked **before** the cell that shows the result, so its check never
reads that result: it knows the answer (a fact of the maths) or computes it from what
the notebook has already set up. A wrong guess is told which idea it misses — never
the right value, which the next cell shows.

Two kinds:

* :class:`Choice` — the learner sets a variable to one letter (``"a"`` … ``"e"``);
  every wrong option carries the message for the idea it misses.
* :class:`NumberPrediction` — the learner sets a variable to a number; known wrong
  numbers (``_mistakes``) carry their own message.

Example
-------
>>> class Coin(Choice):
...     _var = "guess"
...     _title = "heads or tails"
...     _hints = ["look at the coin", "it is heads"]
...     _answer = "a"
...     _misses = {"b": "tails is the other side"}
...     solution_code = 'guess = "a"\\n'
>>> Coin().evaluate("B").message
'tails is the other side'
>>> Coin().evaluate("(a)").correct
True
"""

from __future__ import annotations

import math

from ._core import Question, Wrong

__all__ = ["Prediction", "Choice", "NumberPrediction", "guessed_number", "judge_number"]


def guessed_number(question, value, what):
    """The learner's guess as one finite float, or a Wrong that says what to write."""
    if isinstance(value, str):
        raise Wrong(f"write {what} as a number (e.g. `{what} = 0.5`), not as text in quotes.")
    array = question.as_array(value, what)
    if array.size != 1:
        raise Wrong(f"{what} should be one number, got {array.size} values.")
    number = float(array.reshape(()))
    if not math.isfinite(number):
        raise Wrong(f"{what} is {number}; guess a finite number.")
    return number


def judge_number(got, answer, *, tolerance, mistakes=(), otherwise="not what happens.",
                 mistake_rtol=0.01):
    """Return when ``got`` is within ``tolerance`` of ``answer``; else raise Wrong.

    ``mistakes`` are ``(value, message)`` pairs: a guess within ``tolerance`` (or
    ``mistake_rtol`` of the value, for rounded guesses) of a mistake's value gets that
    message; any other guess gets ``otherwise``. No message may contain the answer.
    """
    if abs(got - answer) <= tolerance:
        return
    for value, message in mistakes:
        if abs(got - value) <= max(tolerance, mistake_rtol * abs(value)):
            raise Wrong(message)
    raise Wrong(otherwise)


class Prediction(Question):
    """A *predict, then run* question: its messages never contain the answer."""


class Choice(Prediction):
    """A multiple-choice prediction; see the module docstring."""

    _answer = ""
    _misses: dict = {}

    @property
    def letters(self):
        return sorted(set(self._misses) | {self._answer})

    def _check(self, guess):
        letters = self.letters
        name = self.var_names[0]
        if not isinstance(guess, str):
            raise Wrong(f"answer with one letter in quotes, e.g. `{name} = \"{letters[0]}\"`.")
        letter = guess.strip().strip("().").strip().lower()
        if letter not in letters:
            raise Wrong(f"{guess!r} is not one of the options: choose one of "
                        f"{', '.join(letters)}.")
        if letter != self._answer:
            raise Wrong(self._misses[letter])


class NumberPrediction(Prediction):
    """A one-number prediction; see the module docstring.

    Subclasses set ``_var``, ``_tolerance``, ``_mistakes`` (``(value, message)`` pairs)
    and ``_otherwise``, and either ``_answer`` or an ``answer()`` method that computes
    it from what the notebook has already set up.
    """

    _answer = None
    _tolerance = 0.0
    _mistakes = ()
    _otherwise = "that is not what happens; re-read the cell above and try again."
    _mistake_rtol = 0.01   # a guess this close to a mistake's value (rounded) is that mistake

    def answer(self):
        return self._answer

    def mistakes(self):
        return self._mistakes

    def _check(self, guess):
        got = guessed_number(self, guess, self.var_names[0])
        judge_number(got, float(self.answer()), tolerance=self._tolerance,
                     mistakes=self.mistakes(), otherwise=self._otherwise,
                     mistake_rtol=self._mistake_rtol)
