"""Plausible wrong answers cannot pass: a battery of named mistakes for every question.

Every question of notebooks 00–08 has at least four mistakes (``battery_answers_*.py``),
each checked ``RUNS`` times on fresh inputs: each must be told wrong, with a message
containing its word, in at least ``REQUIRED`` of them. Right answers written other ways
(and every solution) must pass every time. Adding a question = adding its entries to
``BATTERY`` (and ``RIGHT``). ``CBR_EDU_BATTERY_REPORT=path.json`` writes the measured rates.
"""

from __future__ import annotations

import importlib
import json
import os
import pkgutil
import re

import pytest

import battery_answers_00_03 as early
import battery_answers_04_07 as late
import battery_answers_08 as scale
import cbr_edu.exercises as exercises
from battery import resolve, told_wrong
from cbr_edu.exercises import Question
from cbr_edu.exercises._predict import Prediction

RUNS = 200          # fresh checks per mistake
RIGHT_RUNS = 50     # fresh checks per right answer
REQUIRED = 0.99     # share of them that must say "incorrect" and name the mistake

BATTERY = {**early.BATTERY, **late.BATTERY, **scale.BATTERY}
RIGHT = {**early.RIGHT, **late.RIGHT, **scale.RIGHT}
CONTEXTS = {**early.CONTEXTS, **late.CONTEXTS, **scale.CONTEXTS}
DETERMINISTIC = early.DETERMINISTIC | late.DETERMINISTIC | scale.DETERMINISTIC
_RATES: dict[str, float] = {}
_NAMESPACES: dict[str, dict] = {}


def question(qid):
    module, _, name = qid.rpartition(".")
    return getattr(importlib.import_module(f"cbr_edu.exercises.{module}"), name)


def all_question_ids():
    ids = []
    for info in pkgutil.iter_modules(exercises.__path__):
        if info.name.startswith("nb0"):
            module = importlib.import_module(f"cbr_edu.exercises.{info.name}")
            ids += [f"{info.name}.{n}" for n in sorted(dir(module))
                    if isinstance(getattr(module, n), Question)]
    return sorted(ids)


def namespace_for(context, tmp_path_factory):
    """The notebook names a question reads (built once per context), or {}."""
    if context is None:
        return {}
    if context not in _NAMESPACES:
        _NAMESPACES[context] = CONTEXTS[context](tmp_path_factory.mktemp(context))
    return _NAMESPACES[context]


def runs_for(qid):
    """A question that draws no random input gives one verdict: three runs show it."""
    return 3 if qid in DETERMINISTIC else RUNS


def solution_answers(q, namespace):
    ns = dict(namespace)
    exec(compile(q.solution_code, "<solution>", "exec"), ns)  # noqa: S102 - our own text
    return tuple(ns[n] for n in q.var_names)


@pytest.fixture(scope="module", autouse=True)
def _report():
    yield
    path = os.environ.get("CBR_EDU_BATTERY_REPORT")
    if path and _RATES:
        with open(path, "w", encoding="utf-8") as f:
            json.dump(_RATES, f, indent=1, sort_keys=True)


def test_every_question_has_at_least_four_mistakes():
    few = {qid: len(BATTERY.get(qid, ())) for qid in all_question_ids()
           if len(BATTERY.get(qid, ())) < 4}
    assert not few, f"questions with fewer than four named mistakes: {few}"
    unknown = set(BATTERY) - set(all_question_ids())
    assert not unknown, f"battery entries for questions that do not exist: {unknown}"


MISTAKES = [pytest.param(qid, m, id=f"{qid}:{m.name}")
            for qid, ms in BATTERY.items() for m in ms]


@pytest.mark.parametrize("qid,m", MISTAKES)
def test_mistake_is_told_wrong_and_named(qid, m, tmp_path_factory):
    namespace = namespace_for(m.context, tmp_path_factory)
    rate, message = told_wrong(question(qid), m, namespace, runs=runs_for(qid))
    _RATES[f"{qid}: {m.name}"] = rate
    assert rate >= REQUIRED, (f"{qid} '{m.name}' was told wrong with {m.word!r} in only "
                              f"{rate:.1%} of {runs_for(qid)} checks; last message: {message}")


RIGHTS = [pytest.param(qid, name, context, answers, id=f"{qid}:{name}")
          for qid, entries in RIGHT.items() for name, context, answers in entries]


@pytest.mark.parametrize("qid,name,context,answers", RIGHTS)
def test_right_answers_always_pass(qid, name, context, answers, tmp_path_factory):
    q = question(qid)
    namespace = namespace_for(context, tmp_path_factory)
    answers = solution_answers(q, namespace) if answers is None else resolve(answers, namespace)
    for _ in range(min(RIGHT_RUNS, runs_for(qid))):
        outcome = q.evaluate(*answers, namespace=dict(namespace))
        assert outcome.correct, (qid, name, outcome)


def test_every_solution_is_among_the_right_answers():
    missing = [qid for qid in all_question_ids()
               if not any(answers is None for _, _, answers in RIGHT.get(qid, ()))]
    assert not missing, f"add ('solution', context, None) to RIGHT for {missing}"


def test_deterministic_questions_draw_nothing_at_random(tmp_path_factory):
    """The questions run three times really give one verdict whatever the seed."""
    for qid in DETERMINISTIC:
        q = question(qid)
        for m in BATTERY[qid]:
            namespace = namespace_for(m.context, tmp_path_factory)
            messages = {q.evaluate(*resolve(m.answers, namespace), namespace=dict(namespace)).message
                        for _ in range(4)}
            assert len(messages) == 1, (qid, m.name, messages)


def test_a_wrong_guess_never_shows_the_answer(tmp_path_factory):
    """Predictions: no message for a wrong guess contains the right number or letter."""
    for qid, ms in BATTERY.items():
        q = question(qid)
        if not isinstance(q, Prediction):
            continue
        for m in ms:
            namespace = namespace_for(m.context, tmp_path_factory)
            message = q.evaluate(*resolve(m.answers, namespace), namespace=dict(namespace)).message
            for value in solution_answers(q, namespace):
                shown = ([f"'{value}'", f'"{value}"', f"({value})"] if isinstance(value, str)
                         else [f"{value:g}"])
                # a number counts as shown only on its own (not as in "√2" or "1/2")
                assert not any(re.search(rf"(?<![\w./√]){re.escape(s)}(?![\w/]|\.\d)", message)
                               for s in shown), (qid, m.name, value, message)
