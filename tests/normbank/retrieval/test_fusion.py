"""Score fusion: standardised scores per list, absent keys at the list's floor, weighted sums."""

from __future__ import annotations

from normbank.retrieval.fusion import best_per_key, score_fusion


def test_how_far_ahead_a_hit_is_counts_not_just_its_rank():
    # By rank, a (1st and 2nd) and c (2nd and 1st) would tie; c's lexical lead is far larger.
    dense = [("a", 0.6), ("c", 0.5), ("b", 0.4), ("d", 0.3)]
    lexical = [("c", 30.0), ("a", 2.0), ("b", 1.0), ("d", 0.0)]
    fused = score_fusion([dense, lexical])
    assert [key for key, _ in fused] == ["c", "a", "b", "d"]


def test_keys_missing_from_a_list_count_as_its_lowest_score():
    fused = dict(score_fusion([[("a", 3.0), ("b", 1.0)], [("c", 5.0), ("a", 4.0), ("d", 0.0)]]))
    assert set(fused) == {"a", "b", "c", "d"}
    assert fused["a"] > fused["c"] > fused["d"]


def test_weights_scale_each_list_and_empty_lists_are_ignored():
    one = [("x", 1.0), ("y", 0.0)]
    other = [("y", 1.0), ("x", 0.0)]
    assert score_fusion([one, other], [2.0, 1.0])[0][0] == "x"
    assert score_fusion([one, other], [1.0, 2.0])[0][0] == "y"
    assert score_fusion([[], other], [5.0, 1.0])[0][0] == "y"
    assert score_fusion([]) == []


def test_equal_scores_do_not_divide_by_zero():
    assert dict(score_fusion([[("a", 1.0), ("b", 1.0)]])) == {"a": 0.0, "b": 0.0}


def test_best_per_key_keeps_the_best_score():
    assert best_per_key([("a", 1.0), ("b", 3.0), ("a", 2.0)]) == [("b", 3.0), ("a", 2.0)]
