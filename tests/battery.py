"""The wrong-answer battery: a named mistake, and how often the checks tell it wrong.

A :class:`Mistake` is a wrong answer a learner really writes (one value per answer name
of the question), its name, and a word the red message must contain to count as naming
it. :func:`told_wrong` runs the check many times — every run draws fresh inputs — and
returns the share of runs that said "incorrect" with that word.

The mistakes themselves are in ``battery_answers_00_03.py``, ``battery_answers_04_07.py``
and ``battery_answers_08.py``; ``test_exercises_battery.py`` runs them.

Example
-------
>>> from cbr_edu.exercises.nb00_welcome import q1
>>> rate, message = told_wrong(q1, mistake("one epoch", "single epoch", 1), {}, runs=3)
>>> rate
1.0
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Mistake:
    """A wrong answer, its name, and a distinctive word its message must contain."""

    name: str
    word: str
    answers: tuple
    context: str | None = None   # a notebook set-up the check reads (see CONTEXTS)


class FromContext(str):
    """An answer taken from the context's namespace by name (a folder, a model, …)."""


def resolve(answers, namespace):
    """The answers with every :class:`FromContext` looked up in ``namespace``."""
    return tuple(namespace[a] if isinstance(a, FromContext) else a for a in answers)


def mistake(name, word, *answers, context=None):
    """``Mistake(name, word, answers)``: one positional value per answer name."""
    return Mistake(name, word, answers, context)


def told_wrong(question, m, namespace, *, runs):
    """(share of ``runs`` checks that said incorrect and named the mistake, last message)."""
    hits, message = 0, ""
    for _ in range(runs):
        outcome = question.evaluate(*resolve(m.answers, namespace), namespace=dict(namespace))
        message = outcome.message
        plain = message.replace("*", "").replace("`", "").lower()
        hits += outcome.status == "incorrect" and m.word.lower() in plain
    return hits / runs, message
