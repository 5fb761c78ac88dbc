"""Notebook 08's exercise: the solution passes, blanks are not attempted, plausible
wrong answers are caught with a message that names the mistake."""

import numpy as np

from cbr_edu.exercises import ____
from cbr_edu.exercises import nb08_scale as nb08


def outcome(answer):
    return nb08.q1.evaluate(answer, namespace={})


def assert_wrong(answer, needle):
    result = outcome(answer)
    assert result.status == "incorrect", result
    assert needle in result.message, result.message


def _solution():
    namespace = {}
    exec(nb08.q1.solution_code, namespace)
    return namespace["merge_shards"]


def test_solution_passes_and_blank_is_not_attempted():
    for _ in range(5):  # fresh random shards on every check
        assert outcome(_solution()).status == "correct"
    assert outcome(____).status == "not attempted"
    assert outcome(lambda *a: ____).status == "not attempted"


def test_reference_merge_equals_a_search_of_the_whole_index():
    rng = np.random.default_rng(0)
    shard_sims, shard_ids, offsets, full = nb08.shard_case(rng, k=4)
    sims, ids = nb08.reference_merge(shard_sims, shard_ids, offsets, 4)
    np.testing.assert_array_equal(ids, np.argsort(-full, axis=1)[:, :4])
    np.testing.assert_allclose(sims, np.take_along_axis(full, ids, 1))


def _merge(*, offset=True, ascending=False, shards=None, k_per_shard=False, sort_ids=True):
    def merge_shards(shard_sims, shard_ids, offsets, k):
        chosen = range(len(shard_sims)) if shards is None else shards
        sims = np.concatenate([shard_sims[s] for s in chosen], axis=1)
        ids = np.concatenate([shard_ids[s] + (offsets[s] if offset else 0) for s in chosen], 1)
        if k_per_shard:
            return sims, ids
        order = np.argsort(sims if ascending else -sims, axis=1)[:, :k]
        return (np.take_along_axis(sims, order, 1),
                np.take_along_axis(ids, order, 1) if sort_ids else ids[:, :k])
    return merge_shards


def test_plausible_wrong_answers_are_named():
    assert_wrong(_merge(offset=False), "shard-local")
    assert_wrong(_merge(ascending=True), "not among the global best k")
    assert_wrong(_merge(shards=[0]), "not among the global best k")
    assert_wrong(_merge(k_per_shard=True), "shape")
    assert_wrong(_merge(sort_ids=False), "do not follow")

    def reversed_order(*args):
        sims, ids = _solution()(*args)
        return sims[:, ::-1], ids[:, ::-1]
    assert_wrong(reversed_order, "wrong order")

    def crashes(shard_sims, shard_ids, offsets, k):
        return np.concatenate(shard_sims, axis=2)
    assert outcome(crashes).status == "incorrect"
