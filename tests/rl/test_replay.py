"""Sum tree and prioritized replay: prefix-sum search, proportional sampling, IS weights."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rl.dqn import PrioritizedReplay, SumTree
from tests.helpers import binomial_tolerance

priorities = st.lists(st.floats(0.0, 100.0, allow_nan=False), min_size=1, max_size=40).filter(
    lambda values: sum(values) > 1e-6
)


@settings(max_examples=60, deadline=None)
@given(priorities, st.lists(st.floats(0.0, 1.0, exclude_max=True), min_size=1, max_size=20))
def test_find_agrees_with_a_linear_prefix_sum_search(values, fractions):
    values = np.asarray(values)
    tree = SumTree(values.size)
    tree.update(np.arange(values.size), values)
    assert tree.total == pytest.approx(values.sum(), rel=1e-12)
    masses = np.asarray(fractions) * values.sum()
    leaves = tree.find(masses)
    cumulative = np.cumsum(values)
    for mass, leaf in zip(masses, leaves, strict=True):
        # the leaf whose interval [sum before it, sum through it) holds the mass (up to
        # rounding at a boundary), and never an empty one
        assert values[leaf] > 0
        lower = cumulative[leaf] - values[leaf]
        assert lower - 1e-9 * values.sum() <= mass <= cumulative[leaf] + 1e-9 * values.sum()


def test_updates_recompute_every_sum_and_the_last_duplicate_wins():
    tree = SumTree(5)  # padded to 8 leaves
    tree.update(np.array([0, 1, 2, 3, 4]), np.array([1.0, 2.0, 3.0, 4.0, 5.0]))
    tree.update(np.array([2, 2, 4]), np.array([7.0, 0.5, 0.0]))
    np.testing.assert_array_equal(tree.leaves, [1.0, 2.0, 0.5, 4.0, 0.0])
    assert tree.total == 7.5
    # every inner node is the sum of its children
    inner = np.arange(1, 8)
    np.testing.assert_array_equal(tree.tree[inner], tree.tree[2 * inner] + tree.tree[2 * inner + 1])
    assert tree.find(np.array([7.49])).tolist() == [3]


@pytest.mark.parametrize(
    ("index", "values", "match"),
    [
        ([5], [1.0], "index"),
        ([-1], [1.0], "index"),
        ([0], [-1.0], "values"),
        ([0], [np.nan], "values"),
    ],
)
def test_bad_updates_raise(index, values, match):
    with pytest.raises(ValueError, match=match):
        SumTree(5).update(np.array(index), np.array(values))


def filled(priority_values, alpha=0.6, seed=0):
    n = len(priority_values)
    buffer = PrioritizedReplay(n, obs_dim=1, n_actions=2, alpha=alpha, seed=seed)
    for k in range(n):
        buffer.add([k], 0, 0.0, [k], False)
    buffer.update_priorities(np.arange(n), np.asarray(priority_values) - buffer.epsilon)
    return buffer


def test_sampling_frequencies_are_proportional_to_priority_to_the_alpha():
    td = np.array([0.1, 0.5, 1.0, 2.0, 4.0, 8.0])
    alpha = 0.6
    buffer = filled(td, alpha=alpha, seed=3)
    expected = td**alpha / np.sum(td**alpha)  # Schaul et al. Eq. 1, computed here directly
    np.testing.assert_allclose(buffer.probabilities(), expected, rtol=1e-9)
    draws, batch = 200, 256
    counts = np.zeros(td.size)
    for _ in range(draws):
        counts += np.bincount(buffer.sample(batch, beta=0.4).index, minlength=td.size)
    n = draws * batch
    # stratified sampling only lowers the variance below the binomial one
    for k in range(td.size):
        assert abs(counts[k] / n - expected[k]) <= binomial_tolerance(expected[k], n), k


def test_alpha_zero_is_uniform_sampling():
    buffer = filled([0.01, 1.0, 100.0], alpha=0.0, seed=1)
    np.testing.assert_allclose(buffer.probabilities(), 1 / 3)
    batch = buffer.sample(30_000, beta=1.0)
    np.testing.assert_array_equal(batch.weights, 1.0)
    counts = np.bincount(batch.index, minlength=3) / 30_000
    assert np.all(np.abs(counts - 1 / 3) <= binomial_tolerance(1 / 3, 30_000))


@pytest.mark.parametrize("beta", [0.0, 0.4, 0.7, 1.0])
def test_importance_weights_match_a_direct_computation(beta):
    td = np.array([0.2, 1.0, 3.0, 0.05, 7.0])
    buffer = filled(td, alpha=0.6)
    batch = buffer.sample(64, beta=beta)
    p = td**0.6 / np.sum(td**0.6)
    n = td.size
    direct = (n * p) ** (-beta) / np.max((n * p) ** (-beta))  # Schaul et al. Sec. 3.4
    np.testing.assert_allclose(batch.weights, direct[batch.index], rtol=1e-6)
    assert batch.weights.max() <= 1.0


def test_new_transitions_get_the_largest_priority_and_the_ring_overwrites():
    buffer = filled([0.5, 2.0, 1.0])
    buffer.add([9], 1, 1.0, [9], True)  # overwrites slot 0
    assert buffer.obs[0, 0] == 9 and len(buffer) == 3 and buffer.position == 1
    np.testing.assert_allclose(buffer.tree.leaves[0], 2.0**0.6)


def test_state_dict_round_trip_continues_identically():
    a = filled([0.5, 2.0, 1.0, 4.0], seed=7)
    b = PrioritizedReplay(4, obs_dim=1, n_actions=2, seed=99)
    b.load_state_dict(a.state_dict())
    first, second = a.sample(16, beta=0.5), b.sample(16, beta=0.5)
    np.testing.assert_array_equal(first.index, second.index)
    np.testing.assert_array_equal(first.weights, second.weights)
    with pytest.raises(ValueError, match="capacity"):
        PrioritizedReplay(5, obs_dim=1, n_actions=2).load_state_dict(a.state_dict())


def test_sampling_arguments_are_checked():
    buffer = PrioritizedReplay(4, obs_dim=1, n_actions=2)
    with pytest.raises(ValueError, match="empty"):
        buffer.sample(2, beta=0.4)
    buffer.add([0], 0, 0.0, [0], False)
    with pytest.raises(ValueError, match="beta"):
        buffer.sample(2, beta=1.5)
    with pytest.raises(ValueError, match="batch_size"):
        buffer.sample(0, beta=0.4)
