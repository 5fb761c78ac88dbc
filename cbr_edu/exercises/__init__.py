"""Checked exercises, one module per notebook (``nb01_similarity``, ``nb02_embeddings``, …).

In a notebook::

    from cbr_edu.exercises.nb01_similarity import q1, q2, q3
    q1.check()      # green "Correct", red message, or "Not attempted yet"
    q1.hint()       # next hint level;  q1.hint(2) for a specific one
    q1.solution()   # explanation and code

How to write a question: see :mod:`cbr_edu.exercises._core`.

Notebook conventions (``tests/test_notebooks.py`` relies on them):

* the learner's answer cell is a code cell with metadata
  ``{"tags": ["exercise"], "exercise": "nb01_similarity.q1"}``; as shipped it holds the
  blank, e.g. ``def cosine_similarity(a, b):\n    return ____`` (import ``____`` from
  ``cbr_edu.exercises``) or ``answer = ____``; the harness swaps in ``q1.solution_code``;
* a later code cell calls ``q1.check()``, with ``# q1.hint()`` and ``# q1.solution()``
  lines for the learner to uncomment;
* a later cell may use the learner's answer only through ``q1.answer_or(reference)``,
  which returns the learner's function when it passes its check and the reference
  otherwise (saying which), so the notebook runs with blank answers too;
* a *predict, then run* question (:mod:`._predict`) sits **before** the cell that shows
  the answer; its check knows the answer without that cell.
"""

from ._core import (STRICT_ENV, Blank, CheckFailed, NotAttempted, Outcome, Question, Wrong,
                    ____, is_blank, random_vectors, strict_mode)

__all__ = ["Question", "Wrong", "CheckFailed", "NotAttempted", "Outcome", "Blank", "____",
           "is_blank", "random_vectors", "strict_mode", "STRICT_ENV"]
