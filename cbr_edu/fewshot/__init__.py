"""Few-shot comparison: CbR against kNN, prototypes and trained baselines, on episodes.

Rooms, one job each:

* :mod:`.interface` — what every method implements (``FewShotMethod``) and shares;
* :mod:`.methods` — the methods that train nothing (``CbR``, ``KNN``, ``Prototypes``)
  and the comparison's line-up (``default_methods``);
* :mod:`.finetune` — the methods that train (``LinearProbe``, ``FineTunedTop``);
* :mod:`.episodes` — the one episode sampler (``sample_episodes``);
* :mod:`.closed_set` — ``evaluate``: accuracy ± 95 % CI, time and size per method;
* :mod:`.open_set` — a calibrated "none of my classes" threshold for CbR.

Example
-------
>>> import numpy as np
>>> from cbr_edu.fewshot import CbR, Prototypes, evaluate
>>> y = np.repeat(np.arange(3), 6)
>>> X = np.eye(3)[y] + 0.1 * np.random.default_rng(0).normal(size=(18, 3))
>>> res = evaluate([CbR("max"), Prototypes("CL2N")], X, y, ways=3, shots=1, queries=4,
...                episodes=5)
>>> res.methods, res.row("CbR max", 1)["accuracy"]
(['CbR max', 'prototypes CL2N'], 1.0)
"""

from .closed_set import Results, ci95, evaluate, predictions, timed
from .episodes import Episode, auto_queries, class_members, sample_episodes
from .finetune import FineTunedTop, LinearProbe, augment, split_top
from .interface import BaseMethod, FewShotMethod, method_names
from .methods import KNN, CbR, Prototypes, default_methods
from .open_set import (OpenSetResult, calibrate_threshold, evaluate_open_set,
                       open_set_scores, rejection_metrics)

__all__ = ["BaseMethod", "CbR", "Episode", "FewShotMethod", "FineTunedTop", "KNN",
           "LinearProbe", "OpenSetResult", "Prototypes", "Results", "augment",
           "auto_queries", "calibrate_threshold", "ci95", "class_members", "default_methods",
           "evaluate", "evaluate_open_set", "method_names", "open_set_scores", "predictions",
           "rejection_metrics", "sample_episodes", "split_top", "timed"]
