"""The confidence-interval questions of notebook 06 (imported by :mod:`.nb06_compare`).

``MeanCI``: mean accuracy ± the 95 % half-width of the mean over episodes, with
Student's t for few episodes; ``PredictShrink``: *predict, then run* — how much narrower
the interval gets with four times the episodes.

>>> m, h = reference_mean_ci([0.6, 0.8, 0.7, 0.9])
>>> round(m, 3), round(h, 3)      # Student's t with 3 degrees of freedom: 3.18
(0.75, 0.205)
"""

from __future__ import annotations

import math

import numpy as np

from ._core import Question, Wrong
from ._mistakes import name_mistake
from ._predict import NumberPrediction

__all__ = ["MeanCI", "PredictShrink", "reference_mean_ci"]

Z95 = 1.959963984540054   # the normal distribution's 0.975 quantile


def reference_mean_ci(accuracies):
    """Mean and 95 % half-width ``t · s / √n``: ``s`` the sample std (ddof=1), ``t`` the
    0.975 quantile of Student's t with n − 1 degrees of freedom."""
    a = np.asarray(accuracies, dtype=np.float64).reshape(-1)
    if a.size < 2:
        return float(a.mean()), float("nan")
    return float(a.mean()), float(_t975(a.size - 1) * a.std(ddof=1) / math.sqrt(a.size))


def _t975(df):
    from scipy import stats
    return float(stats.t.ppf(0.975, df))


class MeanCI(Question):
    _var = "mean_ci"
    _title = "Accuracy ± 95 % confidence interval"
    _hints = [
        "The interval is about the **mean** over episodes, so it shrinks as you run more "
        "episodes: its half-width is a quantile times the standard error, `std / sqrt(n)`, "
        "with the sample std `a.std(ddof=1)`.",
        "With few episodes the std is itself uncertain, so the quantile is Student's t with "
        "n − 1 degrees of freedom, not the normal 1.96: `scipy.stats.t.ppf(0.975, n - 1)` "
        "(about 2.2 for 12 episodes, 1.97 for 200).",
        "`return a.mean(), stats.t.ppf(0.975, n - 1) * a.std(ddof=1) / np.sqrt(n)`",
    ]
    _solution = ("`mean ± t·s/√n`: the spread of single episodes (`s`) stays wide; the "
                 "uncertainty of the mean shrinks with √n. With hundreds of episodes t is "
                 "≈ 1.96, the number few-shot papers quote (over 600–10 000 episodes).")
    solution_code = '''\
import numpy as np
from scipy import stats

def mean_ci(accuracies):
    a = np.asarray(accuracies, dtype=float)
    n = len(a)
    return a.mean(), stats.t.ppf(0.975, n - 1) * a.std(ddof=1) / np.sqrt(n)
'''

    @staticmethod
    def _half_widths(acc):
        """The right half-widths (t; also 1.96 for many episodes), then the mistakes."""
        n = acc.size
        s1, s0, root, t = acc.std(ddof=1), acc.std(ddof=0), math.sqrt(n), _t975(n - 1)
        right = [t * s1 / root] + ([Z95 * s1 / root] if n >= 100 else [])
        ddof = ("`np.std` divides by n (ddof=0); the sample standard deviation divides by "
                "n − 1: `a.std(ddof=1)`.")
        mistakes = [(Z95 * s1 / root, f"1.96 is the quantile of the normal distribution; "
                                      f"with only {n} episodes use Student's t: "
                                      "`scipy.stats.t.ppf(0.975, n - 1)`.")] if n < 100 else []
        mistakes += [(t * s0 / root, ddof), (Z95 * s0 / root, ddof)]
        for s in (s1, s0):
            mistakes += [(m * s, "your half-width is the spread of single episodes (a "
                                 "multiple of the std). The interval is for the *mean*: "
                                 "divide by √n.") for m in (t, Z95, 1.0)]
            mistakes += [(m * s / n, "you divided by n; the standard error is std / **√n**.")
                         for m in (t, Z95)]
            mistakes += [(s / root, "that is the standard error (one sigma, ~68 %). For 95 % "
                                    "multiply by the t quantile.")]
            mistakes += [(2 * m * s / root, "that is the full width of the interval; return "
                                            "the half-width (mean ± half-width).")
                         for m in (t, Z95)]
        return right, mistakes

    def _check(self, mean_ci):
        rng = np.random.default_rng(self.seed)
        for n in (int(rng.integers(8, 15)), int(rng.integers(150, 400))):
            acc = np.clip(rng.normal(0.7, 0.12, size=n), 0, 1)
            got = self.call(mean_ci, acc.copy(), what="mean_ci(accuracies)")
            if not (isinstance(got, (tuple, list, np.ndarray)) and len(got) == 2):
                raise Wrong("mean_ci should return two numbers: `(mean, half_width)`.")
            mean, half = (float(self.as_array(v, "mean_ci(...)")) for v in got)
            if np.isclose(mean, np.median(acc)) and not np.isclose(mean, acc.mean()):
                raise Wrong("that is the median; the interval is around the *mean* accuracy.")
            if not np.isclose(mean, acc.mean(), atol=1e-9):
                raise Wrong(f"the mean is {mean:.4f}; expected {acc.mean():.4f}.")
            right, mistakes = self._half_widths(acc)
            if any(np.isclose(half, v, rtol=1e-3) for v in right):
                continue
            name_mistake(half, mistakes, rtol=1e-4, atol=0)
            raise Wrong(f"for n={n} episodes the half-width {half:.4f} is not the t quantile "
                        "times the standard error.")


class PredictShrink(NumberPrediction):
    _var = "predicted_shrink"
    _title = "Predict, then run: four times the episodes"
    _hints = [
        "The half-width is (quantile) × std / √n. Which of these change when n grows?",
        "The std of single episodes stays about the same; the quantile changes only a "
        "little. What does √n do when n is four times larger?",
    ]
    _solution = ("√4 = 2: the interval is about half as wide. (A bit more than 2 with few "
                 "episodes, as Student's t also falls towards 1.96.) Halving the interval "
                 "costs four times the episodes.")
    solution_code = "predicted_shrink = 2\n"
    _answer = 2.0
    _tolerance = 0.25   # the t quantile adds ~10 % at a dozen episodes
    _mistake_rtol = 0.02
    _mistakes = (
        (4.0, "the interval shrinks with √n, not with n: the standard error is std / √n."),
        (1.0, "the spread of *single* episodes stays the same, but the interval is about the "
              "*mean*, which is pinned down more tightly as episodes add up."),
        (16.0, "the interval shrinks with √n, not with n²."),
        (0.5, "a factor below 1 would mean a *wider* interval; more episodes narrow it."),
        (0.25, "a factor below 1 would mean a *wider* interval; more episodes narrow it."),
        (np.sqrt(2), "√2 would be for *twice* the episodes; here they are four times as many."),
    )
    _otherwise = "not quite: write the half-width as t × std / √n and see what grows with n."
