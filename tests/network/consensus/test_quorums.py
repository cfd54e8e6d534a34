"""Weighted quorums: thresholds against hand calculations and brute-force set enumeration."""

from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from network.consensus import QuorumError, WeightedQuorums


@pytest.mark.parametrize("f", [1, 2, 3])
def test_unit_weights_are_classic_pbft(f):
    n = 3 * f + 1
    q = WeightedQuorums.uniform(n)
    # PBFT: quorums of 2f + 1 out of 3f + 1, weak certificates of f + 1
    assert (q.f, q.f_star, q.total, q.quorum) == (f, f, n, 2 * f + 1)
    assert q.is_quorum(range(2 * f + 1)) and not q.is_quorum(range(2 * f))
    assert q.is_weak(range(f + 1)) and not q.is_weak(range(f))


def test_weighted_example_by_hand():
    # W = 7, F* = 2 (one replica of weight 2), (W + F*) / 2 = 4.5, so Q = 5 and W - F* = 5
    q = WeightedQuorums((2, 1, 1, 1, 1, 1))
    assert (q.total, q.f_star, q.quorum) == (7, 2, 5)
    assert q.is_quorum({0, 1, 2, 3})  # 2 + 1 + 1 + 1
    assert not q.is_quorum({1, 2, 3, 4})  # 4 < 5
    assert q.is_quorum({1, 2, 3, 4, 5})  # the correct replicas alone when 0 is faulty
    assert q.is_weak({1, 2, 3}) and not q.is_weak({0})


def test_exact_arithmetic_where_floats_would_err():
    # five replicas of weight 0.1, f = 1: W = 0.5, F* = 0.1, a quorum needs weight > 0.3.
    # In floats 0.1 + 0.1 + 0.1 = 0.30000000000000004 > 0.3 would make three replicas a
    # quorum; two such quorums {0,1,2} and {2,3,4} would then share only replica 2.
    q = WeightedQuorums((0.1,) * 5)
    assert 0.1 + 0.1 + 0.1 > 0.3
    assert not q.is_quorum({0, 1, 2})
    assert q.is_quorum({0, 1, 2, 3})


def _brute_force_quorum_exists(weights: tuple[int, ...], f: int) -> bool:
    """Whether some integer Q satisfies 2Q - W > F* and W - F* >= Q (direct search)."""
    total = sum(weights)
    f_star = sum(sorted(weights, reverse=True)[:f])
    return any(2 * q - total > f_star and total - f_star >= q for q in range(total + 1))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(1, 6), min_size=1, max_size=7), st.data())
def test_existence_iff_f_star_below_a_third(weights, data):
    weights = tuple(weights)
    f = data.draw(st.integers(0, len(weights) - 1))
    exists = _brute_force_quorum_exists(weights, f)
    if exists:
        WeightedQuorums(weights, f)
    else:
        with pytest.raises(QuorumError, match="F\\*"):
            WeightedQuorums(weights, f)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.integers(1, 5), min_size=1, max_size=7), st.data())
def test_quorums_intersect_in_a_correct_replica_and_correct_replicas_form_one(weights, data):
    weights = tuple(weights)
    f = data.draw(st.integers(0, len(weights) - 1))
    if not _brute_force_quorum_exists(weights, f):
        return
    q = WeightedQuorums(weights, f)
    n = len(weights)
    subsets = [frozenset(c) for k in range(n + 1) for c in itertools.combinations(range(n), k)]
    quorums = [s for s in subsets if sum(weights[i] for i in s) >= q.quorum]
    faulty_sets = [s for s in subsets if len(s) <= f]
    for faulty in faulty_sets:
        # liveness: whoever is faulty, the others weigh a quorum
        assert q.is_quorum(set(range(n)) - faulty)
    for a, b in itertools.combinations(quorums, 2):
        common = a & b
        # safety: no set of at most f replicas covers the intersection
        assert not any(common <= faulty for faulty in faulty_sets)
        assert q.is_weak(common)


def test_unsafe_fraction_skips_the_check():
    q = WeightedQuorums((1, 1, 1, 1), unsafe_quorum_fraction=0.5)
    assert q.unsafe and q.quorum == 2
    # two disjoint quorums: the point of the flag
    assert q.is_quorum({0, 1}) and q.is_quorum({2, 3})
    WeightedQuorums((3, 1, 1, 1), unsafe_quorum_fraction=0.6)  # no F* error


@pytest.mark.parametrize(
    ("weights", "kwargs", "error", "match"),
    [
        ((1, -1, 1, 1), {}, QuorumError, "weights\\[1\\]=-1 must be > 0"),
        ((1, 0, 1, 1), {}, QuorumError, "weights\\[1\\]=0"),
        ((1, math.nan, 1, 1), {}, QuorumError, "must be finite"),
        ((1, math.inf, 1, 1), {}, QuorumError, "must be finite"),
        ((1, True, 1, 1), {}, TypeError, "weights\\[1\\]=True"),
        ((), {}, QuorumError, "at least one replica"),
        ((1, 1, 1, 1), {"f": 4}, QuorumError, "f=4 must be in"),
        ((1, 1, 1, 1), {"f": 2}, QuorumError, "F\\*=2 \\(the 2 largest\\) must be < W/3"),
        ((3, 1, 1, 1), {}, QuorumError, "weights \\(3, 1, 1, 1\\) with f=1: F\\*=3"),
        ((1, 1, 1, 1), {"unsafe_quorum_fraction": 0}, QuorumError, "unsafe_quorum_fraction"),
        ("1111", {}, TypeError, "sequence"),
    ],
)
def test_bad_configurations_are_refused_with_the_reason(weights, kwargs, error, match):
    with pytest.raises(error, match=match):
        WeightedQuorums(weights, **kwargs)


def test_unknown_replica_ids_are_named():
    q = WeightedQuorums.uniform(4)
    with pytest.raises(ValueError, match="replica=7 is not a replica id"):
        q.check_replica(7)
    with pytest.raises(TypeError, match="replica='a'"):
        q.check_replica("a")
    assert q.check_replica(3) == 3
