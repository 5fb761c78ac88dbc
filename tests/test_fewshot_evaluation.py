"""Episodes, the CI formula, evaluate(), the open-set threshold, plots."""

import json
import math

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from cbr_edu.fewshot import (KNN, CbR, LinearProbe, Prototypes, Results,  # noqa: E402
                             auto_queries, calibrate_threshold, ci95, evaluate,
                             evaluate_open_set, open_set_scores, predictions,
                             rejection_metrics, sample_episodes)


def blobs(n_classes=6, per_class=12, dim=10, spread=0.3, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_classes, dim)) * 3
    y = np.repeat(np.arange(n_classes), per_class)
    return (centres[y] + spread * rng.normal(size=(len(y), dim))).astype(np.float32), y


# ------------------------------------------------------------------------ episodes

def test_episodes_are_balanced_disjoint_and_use_the_right_classes():
    labels = np.repeat(np.array([10, 20, 30, 40, 50]), [9, 9, 9, 9, 3])  # class 50 too small
    eps = sample_episodes(labels, ways=3, shots=2, queries=4, episodes=50, seed=1)
    assert len(eps) == 50
    seen = set()
    for ep in eps:
        assert len(set(ep.support) & set(ep.query)) == 0               # no overlap
        assert len(set(ep.support)) == 6 and len(set(ep.query)) == 12  # no repeats
        s_cls, s_cnt = np.unique(labels[ep.support], return_counts=True)
        q_cls, q_cnt = np.unique(labels[ep.query], return_counts=True)
        assert (s_cnt == 2).all() and (q_cnt == 4).all()                # balance
        assert s_cls.tolist() == q_cls.tolist() == ep.classes.tolist()
        assert 50 not in ep.classes                                    # not eligible
        seen.update(ep.classes.tolist())
    assert seen == {10, 20, 30, 40}


def test_episodes_are_deterministic_by_seed_and_prefix_stable():
    labels = np.repeat(np.arange(8), 10)
    a = sample_episodes(labels, ways=5, shots=1, queries=5, episodes=20, seed=7)
    b = sample_episodes(labels, ways=5, shots=1, queries=5, episodes=20, seed=7)
    c = sample_episodes(labels, ways=5, shots=1, queries=5, episodes=20, seed=8)
    short = sample_episodes(labels, ways=5, shots=1, queries=5, episodes=5, seed=7)
    same = lambda x, y: all(np.array_equal(p.support, q.support)  # noqa: E731
                            and np.array_equal(p.query, q.query) for p, q in zip(x, y))
    assert same(a, b) and same(a[:5], short)
    assert not same(a, c)
    later = sample_episodes(labels, ways=5, shots=1, queries=5, episodes=5, seed=7, start=15)
    assert same(a[15:], later)


def test_episode_errors_say_what_is_missing():
    labels = np.repeat(np.arange(3), [6, 6, 2])
    with pytest.raises(ValueError, match="only 2 have that"):
        sample_episodes(labels, ways=3, shots=1, queries=3, episodes=1)
    with pytest.raises(ValueError, match="ways must be an integer >= 2"):
        sample_episodes(labels, ways=1, shots=1, queries=1, episodes=1)
    assert auto_queries(labels, ways=2, shots=[1, 5]) == 1
    assert auto_queries(np.repeat(np.arange(5), 100), ways=5, shots=5) == 15
    with pytest.raises(ValueError, match="class sizes"):
        auto_queries(labels, ways=3, shots=2)


# ------------------------------------------------------------------------- the CI

def test_ci95_matches_scipy_and_a_hand_computation():
    from scipy import stats
    acc = np.random.default_rng(0).uniform(0.4, 0.9, size=37)
    low, high = stats.t.interval(0.95, len(acc) - 1, loc=acc.mean(), scale=stats.sem(acc))
    assert ci95(acc) == pytest.approx((high - low) / 2, rel=1e-12)
    # by hand: values 0, 1, 0, 1 -> sample std sqrt(1/3), E = 4, t(0.975, 3) = 3.1824 (tables)
    assert ci95([0, 1, 0, 1]) == pytest.approx(3.182446 * math.sqrt(1 / 3) / 2, rel=1e-6)
    assert ci95([0.8, 0.8, 0.8]) == pytest.approx(0.0, abs=1e-12)
    assert math.isnan(ci95([0.5]))


def test_ci95_covers_the_true_mean_95_times_in_100_over_few_episodes():
    """12 episodes: Student's t covers the true mean 95 % of the time; 1.96 would not (~92 %)."""
    rng = np.random.default_rng(1)
    runs = rng.normal(0.7, 0.1, size=(4000, 12))
    half = np.array([ci95(r) for r in runs])
    covered = np.abs(runs.mean(axis=1) - 0.7) <= half
    assert 0.94 < covered.mean() < 0.96
    normal_half = 1.96 * runs.std(axis=1, ddof=1) / math.sqrt(12)
    assert (np.abs(runs.mean(axis=1) - 0.7) <= normal_half).mean() < 0.935


# ------------------------------------------------------------------------ evaluate

@pytest.fixture(scope="module")
def small_results():
    X, y = blobs()
    methods = [CbR("max"), KNN(1), Prototypes("CL2N"), LinearProbe(max_epochs=50)]
    return evaluate(methods, X, y, ways=4, shots=[1, 3], queries=5, episodes=12, seed=3)


def test_evaluate_returns_one_row_per_method_and_shot(small_results):
    res = small_results
    assert len(res) == 8
    assert res.methods == ["CbR max", "kNN k=1", "prototypes CL2N", "linear probe"]
    assert res.shots == [1, 3]
    for r in res.rows:
        assert r["episodes"] == 12 and r["queries"] == 5 and r["ways"] == 4
        assert r["accuracy"] == pytest.approx(res.per_episode[(r["method"], r["shots"])].mean())
        assert r["ci95"] == pytest.approx(ci95(res.per_episode[(r["method"], r["shots"])]))
        assert r["accuracy"] > 0.9                      # separable blobs
        assert r["build_time_s"] > 0 and r["predict_ms_per_query"] > 0
        assert r["trains"] == (r["method"] == "linear probe")
    # CbR's index is the support set: 4 classes x 3 shots x 10 dims x 4 bytes (+ ids)
    assert res.row("CbR max", 3)["size_bytes"] >= 4 * 3 * 10 * 4
    assert res.row("kNN k=1", 3)["size_bytes"] == 4 * 3 * 10 * 4
    with pytest.raises(KeyError, match="no row"):
        res.row("CbR max", 2)


def test_one_episode_is_refused_before_a_nan_interval_reaches_a_table():
    # an interval over one episode is undefined (std with ddof=1): the table would print nan
    X, y = blobs()
    with pytest.raises(ValueError, match=r"episodes=1: .*at least 2 episodes"):
        evaluate([CbR("max")], X, y, ways=3, shots=1, queries=3, episodes=1)
    table = str(evaluate([CbR("max")], X, y, ways=3, shots=1, queries=3, episodes=2))
    assert "nan" not in table.lower()


def test_same_seed_same_numbers_and_json_round_trip(small_results, tmp_path):
    X, y = blobs()
    methods = [CbR("max"), KNN(1), Prototypes("CL2N"), LinearProbe(max_epochs=50)]
    again = evaluate(methods, X, y, ways=4, shots=[1, 3], queries=5, episodes=12, seed=3)
    for a, b in zip(small_results.rows, again.rows):
        assert a["accuracy"] == b["accuracy"] and a["ci95"] == b["ci95"]
    other = evaluate(methods[:2], X + np.random.default_rng(1).normal(size=X.shape) * 2, y,
                     ways=4, shots=1, queries=5, episodes=12, seed=4)
    assert other.row("kNN k=1", 1)["accuracy"] != small_results.row("kNN k=1", 1)["accuracy"]

    path = small_results.to_json(tmp_path / "out" / "r.json")
    loaded = Results.from_dict(json.loads(path.read_text()))
    assert loaded.rows == small_results.rows
    np.testing.assert_allclose(loaded.per_episode[("CbR max", 1)],
                               small_results.per_episode[("CbR max", 1)])
    table = small_results.to_markdown()
    assert table.count("\n") == 1 + len(small_results)
    assert "| CbR max | 4 | 1 |" in str(small_results)


def test_difference_is_paired_over_the_episodes_both_ran():
    """A shared episode difficulty hides a small, steady lead from the methods' own intervals;
    the episode-by-episode difference shows it."""
    rng = np.random.default_rng(0)
    hardness = rng.normal(0.7, 0.1, 60)                   # what makes an episode hard for both
    a, b = hardness + 0.02 + rng.normal(0, 0.005, 60), hardness + rng.normal(0, 0.005, 60)
    res = Results([], {("a", 5): a, ("b", 5): b, ("short", 5): a[:12]})
    mean, half = res.difference("a", "b", 5)
    assert mean == pytest.approx(np.mean(a - b)) and half == pytest.approx(ci95(a - b))
    assert mean - half > 0                                 # a is better, shown
    assert abs(a.mean() - b.mean()) < ci95(a) + ci95(b)    # though the own intervals overlap
    assert res.difference("b", "a", 5) == pytest.approx((-mean, half))
    assert res.difference("short", "b", 5) == pytest.approx((np.mean(a[:12] - b[:12]),
                                                             ci95(a[:12] - b[:12])))
    with pytest.raises(KeyError, match="no episode accuracies for .*'c'"):
        res.difference("a", "c", 5)


def test_evaluate_ranks_methods_on_harder_data():
    """Noisy blobs: accuracy grows with shots for every method."""
    X, y = blobs(spread=2.5, per_class=20, seed=5)
    res = evaluate([CbR("mean"), Prototypes("L2N")], X, y, ways=5, shots=[1, 5],
                   queries=10, episodes=30, seed=0)
    for m in res.methods:
        assert res.row(m, 5)["accuracy"] > res.row(m, 1)["accuracy"]
    assert 0 < res.row("CbR mean", 1)["ci95"] < 0.1


def test_methods_needing_images_get_them():
    X, y = blobs()
    seen = {}

    class NeedsImages(KNN):
        needs_images = True

        def fit(self, Xs, ys, images=None):
            seen["fit"] = images
            return super().fit(Xs, ys)

        def predict(self, Xq, images=None):
            seen["predict"] = images
            return super().predict(Xq)

    images = [f"img{i}" for i in range(len(y))]
    evaluate([NeedsImages(1, name="n")], X, y, ways=3, shots=2, queries=3, episodes=2,
             images=images)
    assert len(seen["fit"]) == 6 and len(seen["predict"]) == 9
    labels_of = {f"img{i}": y[i] for i in range(len(y))}
    assert len({labels_of[s] for s in seen["fit"]}) == 3
    with pytest.raises(ValueError, match="needs the images"):
        evaluate([NeedsImages(1, name="n")], X, y, ways=3, shots=2, queries=3, episodes=2)


def test_predictions_and_confusion_matrix():
    from cbr_edu.plots import plot_confusion_matrix
    X, y = blobs(spread=1.5, seed=2)
    t, p = predictions(Prototypes("CL2N"), X, y, ways=3, shots=1, queries=4, episodes=5)
    assert len(t) == len(p) == 60 and set(p) <= set(y)
    ax = plot_confusion_matrix(t, p, labels=np.arange(6))
    counts = np.array([int(txt.get_text()) for txt in ax.texts]).reshape(6, 6)
    from sklearn.metrics import confusion_matrix
    np.testing.assert_array_equal(counts, confusion_matrix(t, p, labels=np.arange(6)))


def test_plots_draw_what_the_results_say(small_results):
    import matplotlib.pyplot as plt
    from cbr_edu.plots import plot_accuracy_vs_shots, plot_comparison, plot_time_vs_accuracy
    ax = plot_accuracy_vs_shots(small_results)
    assert len(ax.containers) == 4                                  # one errorbar per method
    line = ax.containers[0].lines[0]
    np.testing.assert_allclose(np.asarray(line.get_ydata(), float),
                               [100 * small_results.row("CbR max", k)["accuracy"]
                                for k in (1, 3)])
    ax2 = plot_time_vs_accuracy(small_results, shots=3)
    assert ax2.get_xscale() == "log" and "3-shot" in ax2.get_title()
    fig = plot_comparison(small_results, title="t")
    assert len(fig.axes) == 2
    plt.close("all")


# ------------------------------------------------------------------------ open set

def test_threshold_calibration_rules():
    known = [0.9, 0.85, 0.8, 0.6]
    unknown = [0.3, 0.4, 0.65, 0.2]
    t, m = calibrate_threshold(known, unknown)
    assert m["f1"] == max(rejection_metrics(known, unknown, threshold=c)["f1"]
                          for c in np.linspace(0, 1, 201))
    t_p, m_p = calibrate_threshold(known, unknown, target_precision=1.0)
    assert m_p["precision"] == 1.0 and m_p["target_met"]
    assert t_p == pytest.approx(0.5)                # rejects 0.2, 0.3, 0.4 but not 0.6
    # separable scores: perfect rejection
    t, m = calibrate_threshold([0.9, 0.8], [0.1, 0.2])
    assert 0.2 < t < 0.8 and m["precision"] == m["recall"] == 1.0
    with pytest.raises(ValueError, match="both known and unknown"):
        calibrate_threshold([0.5], [])


def test_open_set_rejects_unknown_classes_on_new_episodes():
    X, y = blobs(n_classes=10, per_class=15, spread=0.3, seed=4)
    res = evaluate_open_set(X, y, ways=4, shots=2, queries=5, episodes=10, seed=0)
    assert res.test["precision"] > 0.9 and res.test["recall"] > 0.9
    assert res.accepted_accuracy > 0.95
    assert res.config["unknown_classes_per_episode"] == 4
    assert "rejection precision" in str(res)
    assert json.dumps(res.to_dict())
    with pytest.raises(ValueError, match="at least 5 classes"):
        evaluate_open_set(X[y < 4], y[y < 4], ways=4, shots=1, queries=2, episodes=2)


def test_open_set_says_so_when_the_threshold_accepts_no_known_query():
    # an embedder that cannot tell the images apart: every score is 1, the best F1 rejects
    # everything, so there is no accepted query to measure an accuracy on
    y = np.repeat(np.arange(6), 4)
    res = evaluate_open_set(np.ones((len(y), 3)), y, ways=3, shots=1, queries=2, episodes=2)
    assert math.isnan(res.accepted_accuracy)             # the number stays honest
    text = str(res)
    assert "nan" not in text.lower()
    assert "no known query accepted" in text


def test_open_set_episodes_are_the_samplers_episodes_split_into_known_and_unknown():
    from cbr_edu.fewshot.open_set import _open_set_episodes
    _, y = blobs(n_classes=7, per_class=6, seed=1)
    episodes = sample_episodes(y, ways=6, shots=2, queries=3, episodes=4, seed=5, start=4)
    split = _open_set_episodes(y, ways=3, shots=2, queries=3, episodes=4, seed=5, start=4)
    known_sets = set()
    for ep, (support, known_q, unknown_q) in zip(episodes, split):
        assert (len(support), len(known_q), len(unknown_q)) == (6, 9, 9)
        assert set(support) <= set(ep.support)
        assert set(known_q) | set(unknown_q) == set(ep.query)
        known = set(y[support].tolist())
        assert known == set(y[known_q].tolist()) and len(known) == 3
        assert not known & set(y[unknown_q].tolist())
        known_sets.add(tuple(sorted(known)))
    assert len(known_sets) > 1                    # which classes are known is drawn too


def test_open_set_calibrates_and_tests_on_different_episodes():
    X, y = blobs(n_classes=8, per_class=10, spread=2.0, seed=3)
    setting = dict(ways=3, shots=1, queries=4, episodes=6, seed=2)
    known, unknown, correct = open_set_scores(X, y, **setting)
    assert known.shape == correct.shape == (6 * 3 * 4,) and unknown.shape == (6 * 3 * 4,)
    later, _, _ = open_set_scores(X, y, start=6, **setting)
    assert not np.array_equal(known, later)
    res = evaluate_open_set(X, y, **setting)
    np.testing.assert_allclose(res.calibration["f1"],
                               calibrate_threshold(known, unknown)[1]["f1"])
    assert res.closed_set_accuracy == pytest.approx(
        open_set_scores(X, y, start=6, **setting)[2].mean())
