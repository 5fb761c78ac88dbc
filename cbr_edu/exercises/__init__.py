"""Checked exercises, one module per notebook (``nb01_similarity``, ``nb02_embeddings``, …).

In a notebook::

    from cbr_edu.exercises.nb01_similarity import q1, q2, q3
    q1.check()      # green "Correct", red message, or "Not attempted yet"
    q1.hint()       # next hint level;  q1.hint(2) for a specific one
    q1.solution()   # explanation and code

How to write a question: see :mod:`cbr_edu.exercises._core`.
"""

from ._core import (STRICT_ENV, Blank, CheckFailed, NotAttempted, Outcome, Question, Wrong,
                    ____, is_blank, random_vectors, strict_mode)

__all__ = ["Question", "Wrong", "CheckFailed", "NotAttempted", "Outcome", "Blank", "____",
           "is_blank", "random_vectors", "strict_mode", "STRICT_ENV"]
