"""Adaptive weighted voting: medians, weight dynamics, blame, decisions, ledger, whole rounds."""

from __future__ import annotations

import json
import math

import networkx as nx
import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy import stats

from network.byzantine import (
    VOTE_ABSTAIN,
    VOTE_EXCLUDE,
    VOTE_KEEP,
    Collude,
    CorruptRelay,
    CorruptStates,
    Equivocate,
    FalseReports,
    NodeBehaviour,
    PassiveCopy,
    RelayAction,
    Silent,
    Withhold,
    assign_behaviours,
    effective_misalignment,
    link_attack_probs,
)
from network.keys.material import KeyMaterial
from network.voting import (
    ControlLedger,
    DeliveryLog,
    LedgerStateMachine,
    LinkGraph,
    SetAcceptedQber,
    SetExclusion,
    SetWeights,
    VotingRule,
    assess_reports,
    gather_reports,
    operation_from_dict,
    voting_round,
    weighted_median,
    weighted_vote,
)
from qkdcircuits import shor_preskill_rate
from tests.helpers import binomial_tolerance

# ----------------------------------------------------------------------------- weighted median


def _brute_force_median(values, weights, side):
    """Smallest value whose cumulative weight reaches half (lower) or passes it (upper)."""
    total = sum(w for v, w in zip(values, weights, strict=True) if not math.isnan(v))
    candidates = []
    for x, wx in zip(values, weights, strict=True):
        if math.isnan(x) or wx == 0:
            continue
        below_or_at = sum(w for v, w in zip(values, weights, strict=True) if v <= x)
        if (below_or_at * 2 >= total) if side == "lower" else (below_or_at * 2 > total):
            candidates.append(x)
    return min(candidates) if candidates else math.nan


values_and_weights = st.lists(
    st.tuples(
        st.one_of(st.sampled_from([0.0, 0.5, 1.0, math.nan]), st.floats(-5, 5)),
        st.integers(0, 6),
    ),
    min_size=1,
    max_size=12,
)


@settings(max_examples=300, deadline=None)
@given(pairs=values_and_weights, side=st.sampled_from(["lower", "upper"]))
def test_weighted_median_equals_brute_force(pairs, side):
    values, weights = (list(column) for column in zip(*pairs, strict=True))
    expected = _brute_force_median(values, weights, side)
    got = weighted_median(values, weights, side=side)
    if math.isnan(expected):
        assert math.isnan(got)
    else:
        assert got == expected
        below = sum(w for v, w in zip(values, weights, strict=True) if v < got)
        above = sum(w for v, w in zip(values, weights, strict=True) if v > got)
        total = sum(w for v, w in zip(values, weights, strict=True) if not math.isnan(v))
        assert 2 * below <= total and 2 * above <= total


@settings(max_examples=200, deadline=None)
@given(
    honest=st.lists(st.tuples(st.floats(0, 1), st.integers(1, 20)), min_size=1, max_size=8),
    byzantine=st.lists(st.tuples(st.floats(-100, 100), st.integers(0, 20)), max_size=8),
    side=st.sampled_from(["lower", "upper"]),
)
def test_weighted_median_stays_in_the_honest_range_below_half_the_weight(honest, byzantine, side):
    honest_weight = sum(w for _, w in honest)
    assume(2 * sum(w for _, w in byzantine) < honest_weight + sum(w for _, w in byzantine))
    values = [v for v, _ in honest + byzantine]
    weights = [w for _, w in honest + byzantine]
    median = weighted_median(values, weights, side=side)
    assert min(v for v, _ in honest) <= median <= max(v for v, _ in honest)


def test_weighted_median_along_an_axis_ignores_nan():
    values = np.array([[1.0, np.nan, 3.0], [2.0, 5.0, np.nan], [9.0, 7.0, np.nan]])
    np.testing.assert_array_equal(weighted_median(values, [1, 1, 3], axis=0), [9.0, 7.0, 3.0])
    np.testing.assert_array_equal(weighted_median(values, [1, 1, 1], axis=1), [1.0, 2.0, 7.0])
    assert math.isnan(weighted_median([np.nan, np.nan], [1, 1]))
    assert math.isnan(weighted_median([1.0, 2.0], [0, 0]))


@pytest.mark.parametrize(
    ("values", "weights", "kwargs", "match"),
    [
        ([1.0, 2.0], [1, -1], {}, "weights"),
        ([1.0, 2.0], [1, np.inf], {}, "weights"),
        ([1.0, 2.0], [1, 1, 1], {}, "weights"),
        ([[1.0, 2.0]], [1, 1, 1], {"axis": 0}, "weights"),
        ([], [], {}, "empty"),
        ([1.0], [1], {"side": "middle"}, "side"),
        ([1.0], [1], {"axis": 2}, "axis"),
        (1.0, 1.0, {}, "dimension"),
    ],
)
def test_weighted_median_rejects_bad_input(values, weights, kwargs, match):
    with pytest.raises(ValueError, match=match):
        weighted_median(values, weights, **kwargs)


# ----------------------------------------------------------------------------- weight rule


def test_default_abort_threshold_is_where_the_shor_preskill_rate_vanishes():
    rule = VotingRule()
    assert abs(shor_preskill_rate(rule.qber_abort)) < 2e-3
    assert (
        shor_preskill_rate(rule.qber_abort - 0.002)
        > 0
        > shor_preskill_rate(rule.qber_abort + 0.002)
    )


@pytest.mark.parametrize("error", [0.05, 0.3, 1.0])
def test_weights_decay_geometrically_to_the_equilibrium(error):
    rule = VotingRule(alpha=0.6, recovery=0.04, floor=0.001)
    w = np.array([1.0])
    for k in range(1, 31):
        w = rule.update(w, [error])
        # Hand-derived solution of the affine recursion w' = w (1 - a e) + r (1 - w).
        fixed = 0.04 / (0.04 + 0.6 * error)
        assert w[0] == pytest.approx(fixed + (1 - fixed) * (1 - 0.6 * error - 0.04) ** k)


def test_paper_rule_without_recovery_decays_to_the_floor_and_stays():
    rule = VotingRule(alpha=0.5, recovery=0.0, floor=0.05)
    w = np.ones(1)
    trajectory = []
    for _ in range(12):
        w = rule.update(w, [0.8])
        trajectory.append(w[0])
    expected = [max(0.6**k, 0.05) for k in range(1, 13)]
    np.testing.assert_allclose(trajectory, expected)
    assert rule.update(w, [0.0])[0] == pytest.approx(0.05)  # no recovery term: stays put


def test_recovery_after_the_node_behaves_well_again():
    rule = VotingRule()
    w = np.ones(1)
    for _ in range(10):
        w = rule.update(w, [0.9])
    low = w[0]
    for k in range(1, 41):
        w = rule.update(w, [0.0])
        assert w[0] == pytest.approx(1 - (1 - low) * (1 - rule.recovery) ** k)
    assert w[0] > rule.reinstate_above


@settings(max_examples=200, deadline=None)
@given(
    w=st.lists(st.floats(0.01, 1.0), min_size=2, max_size=2),
    e=st.floats(0, 1),
    alpha=st.floats(0.01, 0.99),
    share=st.floats(0, 1),
)
def test_update_preserves_the_order_of_weights_under_equal_evidence(w, e, alpha, share):
    rule = VotingRule(alpha=alpha, recovery=(1 - alpha) * share, floor=0.005)
    low, high = sorted(w)
    new_low, new_high = rule.update([low, high], [e, e])
    assert new_low <= new_high + 1e-15
    assert rule.floor <= new_low <= 1.0


def test_normalised_weights_sum_to_one_and_keep_ratios():
    ledger = ControlLedger(weights=(1.0, 0.5, 0.25), accepted_qber=())
    np.testing.assert_allclose(ledger.normalised_weights(), [4 / 7, 2 / 7, 1 / 7])
    np.testing.assert_allclose(ledger.normalised_weights([1, 2]), [2 / 3, 1 / 3])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"alpha": 1.0}, "alpha"),
        ({"alpha": 0.0}, "alpha"),
        ({"alpha": 0.7, "recovery": 0.4}, "recovery"),
        ({"floor": 0.6}, "floor"),
        ({"exclude_below": 0.9, "reinstate_above": 0.8}, "exclude_below"),
        ({"quorum": 0.4}, "quorum"),
        ({"quorum": 1.0}, "quorum"),
        ({"qber_abort": 0.6}, "qber_abort"),
        ({"false_alarm": 0.0}, "false_alarm"),
        ({"report_tolerance": -1e-3}, "report_tolerance"),
        ({"alpha": math.nan}, "alpha"),
    ],
)
def test_rule_rejects_bad_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        VotingRule(**kwargs)


def test_rule_update_rejects_out_of_range_inputs():
    with pytest.raises(ValueError, match="weights"):
        VotingRule().update([0.0], [0.1])
    with pytest.raises(ValueError, match="errors"):
        VotingRule().update([1.0], [1.5])


# ----------------------------------------------------------------------------- graph and logs

#   A --- B
#   | \   |
#   D --- C      links: 0 A-B, 1 B-C, 2 C-D, 3 D-A, 4 A-C
SQUARE = LinkGraph.from_links("ABCD", [("A", "B"), ("B", "C"), ("C", "D"), ("D", "A"), ("A", "C")])


def _both(q):
    q = np.asarray(q, dtype=float)
    return np.stack([q, q], axis=1)


class _Topology:
    """The part of QKDTopology that LinkGraph.from_topology reads."""

    nodes = ("A", "B", "C", "R")
    links = (("A", "B"), ("B", "C"))

    def relay(self, link):
        return "R" if link == 1 else None


def test_link_graph_from_names_and_from_a_topology():
    graph = LinkGraph.from_topology(_Topology())
    np.testing.assert_array_equal(graph.ends, [[0, 1], [1, 2]])
    np.testing.assert_array_equal(graph.relays, [-1, 3])
    np.testing.assert_array_equal(graph.node_degree, [1, 2, 1, 1])
    np.testing.assert_array_equal(graph.report_degree, [1, 2, 1, 0])
    np.testing.assert_array_equal(graph.default_voters, [0, 1, 2])
    links, sides = graph.reported_links[1]
    assert links.tolist() == [0, 1] and sides.tolist() == [1, 0]
    assert graph.recipients(np.array([0, 2])) is graph.recipients(np.array([0, 2]))


@pytest.mark.parametrize(
    ("nodes", "links", "relays", "match"),
    [
        ("AB", [("A", "A")], None, "itself"),
        ("AB", [("A", "C")], None, "'C'"),
        ("ABR", [("A", "B")], ["A"], "relay"),
        ("AA", [], None, "distinct"),
        ("AB", [("A", "B")], [None, None], "relays"),
    ],
)
def test_link_graph_rejects_bad_links(nodes, links, relays, match):
    with pytest.raises(ValueError, match=match):
        LinkGraph.from_links(list(nodes), links, relays)


def test_delivery_log_validates_its_arrays():
    with pytest.raises(ValueError, match="offsets"):
        DeliveryLog(nodes=np.array([1, 2]), offsets=np.array([0, 3]), failed=np.array([True]))
    with pytest.raises(ValueError, match="failed"):
        DeliveryLog.from_paths([[1]], failed=[True, False])
    log = DeliveryLog.from_paths([[5]], failed=[True])
    with pytest.raises(ValueError, match="node index 5"):
        assess_reports(
            SQUARE, _both([0.03] * 5), expected_qber=[0.03] * 5, weights=np.ones(4), deliveries=log
        )


# ----------------------------------------------------------------------------- assessment

ONE_PASS = VotingRule(blame_passes=1)


def test_qber_blame_goes_to_the_node_bad_towards_several_peers():
    # Links of A (0, 3, 4) at 0.08 against an expected 0.02: excess 0.06 / 0.09 = 2/3 each.
    q = [0.08, 0.02, 0.02, 0.08, 0.08]
    out = assess_reports(
        SQUARE, _both(q), expected_qber=[0.02] * 5, weights=np.ones(4), rule=ONE_PASS
    )
    x = 2 / 3
    np.testing.assert_allclose(out.excess[0], [x, 0, 0, x, x])
    # Counts of flagged links: A 3, B 1, C 1, D 1; A's share of each is 3 / 4.
    share_a, share_other = 3 / 4, 1 / 4
    np.testing.assert_allclose(
        out.qber_errors[0],
        [share_a * x, share_other * x / 2, share_other * x / 3, share_other * x / 2],
    )
    np.testing.assert_allclose(out.report_errors, 0.0)
    np.testing.assert_allclose(out.errors, out.qber_errors)


def test_further_passes_explain_the_peers_faults_away():
    q = [0.08, 0.02, 0.02, 0.08, 0.08]
    out = assess_reports(
        SQUARE,
        _both(q),
        expected_qber=[0.02] * 5,
        weights=np.ones(4),
        rule=VotingRule(blame_passes=2),
    )
    # Pass 1 gave A 3/4 of each of its three faults (blame 9/4) and B, C, D 1/4 of one each;
    # pass 2 splits each fault 9/4 : 1/4, so A's share becomes 9/10.
    x = 2 / 3
    np.testing.assert_allclose(out.qber_errors[0], [0.9 * x, 0.1 * x / 2, 0.1 * x / 3, 0.1 * x / 2])


def test_lower_weight_takes_a_larger_share_of_the_blame():
    q = [0.08, 0.02, 0.02, 0.08, 0.08]
    weights = np.array([0.25, 1.0, 1.0, 0.5])
    out = assess_reports(SQUARE, _both(q), expected_qber=[0.02] * 5, weights=weights, rule=ONE_PASS)
    # Suspicion count / weight: A 12, B 1, C 1, D 2.
    x = 2 / 3
    expected_b = (1 / 13) * x / 2  # B's only bad link is A-B
    expected_d = (2 / 14) * x / 2  # D's only bad link is D-A
    assert out.qber_errors[0, 1] == pytest.approx(expected_b)
    assert out.qber_errors[0, 3] == pytest.approx(expected_d)
    assert out.qber_errors[0, 0] == pytest.approx((12 / 13 + 12 / 14 + 12 / 13) * x / 3)


def test_mdi_relay_serving_several_bad_links_takes_the_blame():
    graph = LinkGraph.from_links(
        ["A", "B", "C", "D", "R"], [("A", "B"), ("C", "D"), ("A", "C")], ["R", "R", None]
    )
    out = assess_reports(
        graph,
        _both([0.08, 0.08, 0.02]),
        expected_qber=[0.02] * 3,
        weights=np.ones(5),
        rule=ONE_PASS,
    )
    x = 2 / 3
    # Counts: R 2, every end 1 -> R takes 2/4 of each of its two links (degree 2); A and C
    # take 1/4 of one bad link over two links each, B and D over one.
    np.testing.assert_allclose(out.qber_errors[0], [x / 8, x / 4, x / 8, x / 4, x / 2])


def test_report_disagreement_and_silence_are_blamed_on_the_right_ends():
    reports = _both([0.03] * 5)
    reports[[1, 2, 4], [1, 0, 1]] = 0.13  # C lies on all its links (it is end b of 1 and 4)
    reports[3, 0] = np.nan  # D is silent on D-A, A reported
    out = assess_reports(
        SQUARE, reports, expected_qber=[0.03] * 5, weights=np.ones(4), rule=ONE_PASS
    )
    # Disagreement counts: C 3, B 1, D 1, A 1 -> C takes 3/4 of each; D also silent on link 3.
    np.testing.assert_allclose(out.report_errors[0], [0.25 / 3, 0.25 / 2, 0.75, (0.25 + 1.0) / 2])
    # Accepted QBER at equal trust: the higher report (upper median).
    np.testing.assert_allclose(out.accepted_qber[0], [0.03, 0.13, 0.13, 0.03, 0.13])
    both_silent = _both([0.03] * 5)
    both_silent[0] = np.nan
    quiet = assess_reports(SQUARE, both_silent, expected_qber=[0.03] * 5, weights=np.ones(4))
    np.testing.assert_allclose(quiet.report_errors, 0.0)  # nothing measured: nobody to blame
    assert math.isnan(quiet.accepted_qber[0, 0])


def test_distrusted_liar_is_outvoted_by_its_honest_peer():
    reports = _both([0.03] * 5)
    reports[1, 1] = 0.13
    out = assess_reports(
        SQUARE, reports, expected_qber=[0.03] * 5, weights=np.array([1.0, 1.0, 0.4, 1.0])
    )
    assert out.accepted_qber[0, 1] == pytest.approx(0.03)
    assert out.excess[0, 1] == 0.0


def test_binomial_noise_flags_honest_links_at_the_false_alarm_rate():
    rng = np.random.default_rng(2024)
    m, n_bits, e = 20_000, 10_000, 0.03
    graph = LinkGraph(
        nodes=tuple(range(2 * m)), ends=np.arange(2 * m).reshape(m, 2), relays=np.full(m, -1)
    )
    measured = rng.binomial(n_bits, e, size=m) / n_bits
    rule = VotingRule(false_alarm=1e-3)
    out = assess_reports(
        graph,
        _both(measured),
        expected_qber=np.full(m, e),
        weights=np.ones(2 * m),
        rule=rule,
        block_bits=np.full(m, n_bits),
    )
    # Exact binomial probability that the measured rate passes E + z sqrt(E (1 - E) / n).
    threshold = e + rule.z_score * math.sqrt(e * (1 - e) / n_bits)
    p_flag = stats.binom.sf(math.floor(threshold * n_bits + 1e-9), n_bits, e)
    flagged = int(np.count_nonzero(out.excess > 0))
    assert abs(flagged / m - p_flag) <= binomial_tolerance(p_flag, m)
    no_bits = assess_reports(
        graph,
        _both(measured),
        expected_qber=np.full(m, e),
        weights=np.ones(2 * m),
        rule=rule,
        block_bits=np.zeros(m),
    )
    assert not no_bits.excess.any()


def test_delivery_blame_falls_on_the_node_common_to_the_failed_paths():
    # Node 2 withholds; paths through it fail, the others succeed.
    paths = [[1, 2], [2, 3], [0, 2], [1, 3], [0, 3], [0, 1]]
    failed = [True, True, True, False, False, False]
    out = assess_reports(
        SQUARE,
        _both([0.03] * 5),
        expected_qber=[0.03] * 5,
        weights=np.ones(4),
        deliveries=DeliveryLog.from_paths(paths, failed),
        rule=ONE_PASS,
    )
    # Failure counts: 2 -> 3, 0/1/3 -> 1 each; node 2 takes 3/4 of each failure; every node
    # is on three deliveries.
    np.testing.assert_allclose(out.delivery_errors, [0.25 / 3, 0.25 / 3, 0.75, 0.25 / 3])
    np.testing.assert_allclose(out.errors[0], out.delivery_errors)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"reports": np.zeros((5, 3))}, "reports"),
        ({"reports": np.full((5, 2), 1.5)}, "reports"),
        ({"expected_qber": [0.02] * 4}, "expected_qber"),
        ({"expected_qber": [0.02, 0.02, 0.02, 0.02, -1]}, r"expected_qber\[4\]"),
        ({"weights": np.zeros(4)}, "weights"),
        ({"block_bits": [-1] * 5}, "block_bits"),
    ],
)
def test_assessment_rejects_bad_arrays(kwargs, match):
    arguments = {"reports": _both([0.03] * 5), "expected_qber": [0.02] * 5, "weights": np.ones(4)}
    arguments.update(kwargs)
    reports = arguments.pop("reports")
    with pytest.raises(ValueError, match=match):
        assess_reports(SQUARE, reports, **arguments)


# ----------------------------------------------------------------------------- votes


def test_weighted_vote_hand_example():
    result = weighted_vote(
        [[1, 0, 1], [1, 1, -1], [0, -1, 0]], [0.5, 0.3, 0.2], excluded=[False, False, True]
    )
    np.testing.assert_allclose(result.exclude_support, [0.8, 0.3, 0.5])
    np.testing.assert_allclose(result.keep_support, [0.2, 0.5, 0.2])
    # Subject 0: 0.8 > 2/3 -> excluded; 1: 0.3 -> stays; 2: keep 0.2 <= 2/3 -> stays excluded.
    assert result.excluded.tolist() == [True, False, True]


@st.composite
def electorates(draw, low, high):
    """Voter weights, a Byzantine subset whose weight share is in [low, high), opinions."""
    target = draw(st.floats(low, high, exclude_max=True))
    honest = np.array(draw(st.lists(st.integers(1, 50), min_size=1, max_size=8)), dtype=float)
    parts = np.array(draw(st.lists(st.floats(0.05, 1.0), min_size=1, max_size=6)))
    byzantine_weights = parts / parts.sum() * target / (1 - target) * honest.sum()
    order = np.array(draw(st.permutations(range(honest.size + parts.size))))
    weights = np.concatenate([honest, byzantine_weights])[order]
    byzantine = order >= honest.size
    share = weights[byzantine].sum() / weights.sum()
    # Decisions are computed in floating point: keep the shares off the bounds by more than
    # rounding error (at a share of 1/3 - 1e-17 the honest 2/3 may round either way).
    assume(low + 1e-9 <= share < high - 1e-9)
    n = weights.size
    subjects = draw(st.integers(1, 6))
    honest_opinion = np.array(draw(st.lists(st.booleans(), min_size=subjects, max_size=subjects)))
    status = np.array(draw(st.lists(st.booleans(), min_size=subjects, max_size=subjects)))
    codes = st.sampled_from([VOTE_EXCLUDE, VOTE_KEEP, VOTE_ABSTAIN])
    byzantine_votes = np.array(
        draw(
            st.lists(st.lists(codes, min_size=subjects, max_size=subjects), min_size=n, max_size=n)
        )
    )
    return weights, byzantine, honest_opinion, status, byzantine_votes


@settings(max_examples=300, deadline=None)
@given(case=electorates(0.0, 1 / 3))
def test_byzantine_weight_under_a_third_cannot_flip_an_agreed_decision(case):
    weights, byzantine, opinion, status, byzantine_votes = case
    votes = np.where(byzantine[:, np.newaxis], byzantine_votes, opinion.astype(int)[np.newaxis])
    result = weighted_vote(votes, weights, excluded=status)
    np.testing.assert_array_equal(result.excluded, opinion)


@settings(max_examples=200, deadline=None)
@given(case=electorates(1 / 3, 2 / 3))
def test_between_a_third_and_two_thirds_byzantine_weight_blocks_but_cannot_force(case):
    weights, byzantine, opinion, status, _ = case
    # Blocking: the Byzantine voters vote for the status quo on every subject.
    blocking = np.where(
        byzantine[:, np.newaxis], status.astype(int)[np.newaxis], opinion.astype(int)[np.newaxis]
    )
    np.testing.assert_array_equal(
        weighted_vote(blocking, weights, excluded=status).excluded, status
    )
    # Forcing: they vote against the honest opinion where it keeps the status quo.
    forcing = np.where(
        byzantine[:, np.newaxis],
        (~opinion).astype(int)[np.newaxis],
        opinion.astype(int)[np.newaxis],
    )
    result = weighted_vote(forcing, weights, excluded=status)
    keep_status = opinion == status
    np.testing.assert_array_equal(result.excluded[keep_status], status[keep_status])


@settings(max_examples=100, deadline=None)
@given(case=electorates(2 / 3, 1.0))
def test_above_two_thirds_byzantine_weight_imposes_its_decisions(case):
    weights, byzantine, opinion, status, _ = case
    forcing = np.where(
        byzantine[:, np.newaxis],
        (~opinion).astype(int)[np.newaxis],
        opinion.astype(int)[np.newaxis],
    )
    np.testing.assert_array_equal(
        weighted_vote(forcing, weights, excluded=status).excluded, ~opinion
    )


@pytest.mark.parametrize(
    ("votes", "weights", "excluded", "kwargs", "match"),
    [
        ([[1, 2]], [1.0], [False, False], {}, "votes"),
        ([[1, 0]], [1.0, 1.0], [False, False], {}, "match"),
        ([[1, 0]], [0.0], [False, False], {}, "weights"),
        ([[1, 0]], [1.0], [False, False], {"quorum": 0.3}, "quorum"),
    ],
)
def test_weighted_vote_rejects_bad_input(votes, weights, excluded, kwargs, match):
    with pytest.raises(ValueError, match=match):
        weighted_vote(votes, weights, excluded=excluded, **kwargs)


# ----------------------------------------------------------------------------- ledger


def test_ledger_operations_are_pure_and_versioned():
    start = ControlLedger.initial(n_nodes=3, n_links=2)
    ops = [
        SetWeights(weights=(1.0, 0.4, 0.9)),
        SetAcceptedQber(qber=(0.02, None)),
        SetExclusion(target="node", indices=(1,), excluded=True),
        SetExclusion(target="link", indices=(0, 1), excluded=True),
        SetExclusion(target="link", indices=(1,), excluded=False),
    ]
    end = start.apply_all(ops)
    assert start == ControlLedger.initial(n_nodes=3, n_links=2)
    assert end.weights == (1.0, 0.4, 0.9) and end.accepted_qber == (0.02, None)
    assert end.excluded_nodes == {1} and end.excluded_links == {0} and end.version == 5
    np.testing.assert_array_equal(end.excluded_node_mask(), [False, True, False])
    np.testing.assert_array_equal(end.excluded_link_mask(), [True, False])


def test_replicas_applying_the_same_operations_agree_on_the_digest():
    ops = [SetWeights(weights=(0.3, 1.0)), SetExclusion(target="node", indices=(0,), excluded=True)]
    wire = json.dumps([op.to_dict() for op in ops])
    replica_a = ControlLedger.initial(n_nodes=2, n_links=1).apply_all(ops)
    replica_b = ControlLedger.initial(n_nodes=2, n_links=1).apply_all(
        [operation_from_dict(d) for d in json.loads(wire)]
    )
    assert replica_a == replica_b and replica_a.digest() == replica_b.digest()
    assert ControlLedger.from_json(replica_a.to_json()) == replica_a
    other = ControlLedger.initial(n_nodes=2, n_links=1).apply(ops[0])
    assert other.digest() != replica_a.digest()
    assert "NaN" not in ControlLedger.initial(n_nodes=1, n_links=3).to_json()


@settings(max_examples=100, deadline=None)
@given(
    weights=st.lists(st.floats(1e-6, 1.0), min_size=1, max_size=5),
    qber=st.lists(st.one_of(st.none(), st.floats(0, 1)), max_size=5),
    nodes=st.lists(st.integers(0, 4), max_size=5),
    links=st.lists(st.integers(0, 4), max_size=5),
    version=st.integers(0, 10**6),
)
def test_ledger_json_round_trip(weights, qber, nodes, links, version):
    nodes = {i for i in nodes if i < len(weights)}
    links = {i for i in links if i < len(qber)}
    ledger = ControlLedger(
        weights=tuple(weights),
        accepted_qber=tuple(qber),
        excluded_nodes=frozenset(nodes),
        excluded_links=frozenset(links),
        version=version,
    )
    again = ControlLedger.from_json(ledger.to_json())
    assert again == ledger and again.digest() == ledger.digest()
    for op in (
        SetWeights(weights=tuple(weights)),
        SetAcceptedQber(qber=tuple(qber)),
        SetExclusion(target="link", indices=tuple(links), excluded=False),
    ):
        assert operation_from_dict(json.loads(json.dumps(op.to_dict()))) == op


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (lambda: ControlLedger(weights=(0.0,), accepted_qber=()), ValueError, r"weights\[0\]"),
        (lambda: ControlLedger(weights=(1.0,), accepted_qber=(1.2,)), ValueError, r"qber\[0\]"),
        (
            lambda: ControlLedger(weights=(1.0,), accepted_qber=(), excluded_nodes=frozenset({1})),
            ValueError,
            "excluded_nodes",
        ),
        (
            lambda: ControlLedger(weights=(1.0,), accepted_qber=(), version=-1),
            ValueError,
            "version",
        ),
        (
            lambda: ControlLedger.initial(n_nodes=2, n_links=1).apply(SetWeights(weights=(1.0,))),
            ValueError,
            "set-weights",
        ),
        (
            lambda: ControlLedger.initial(n_nodes=2, n_links=1).apply(
                SetExclusion(target="link", indices=(1,), excluded=True)
            ),
            ValueError,
            "outside",
        ),
        (
            lambda: ControlLedger.initial(n_nodes=2, n_links=1).apply("exclude 1"),
            TypeError,
            "operation",
        ),
        (lambda: SetExclusion(target="relay", indices=(), excluded=True), ValueError, "target"),
        (lambda: SetExclusion(target="node", indices=(1.5,), excluded=True), TypeError, "indices"),
        (lambda: SetExclusion(target="node", indices=(-1,), excluded=True), ValueError, "negative"),
        (lambda: operation_from_dict({"op": "drop-table"}), ValueError, "drop-table"),
        (lambda: operation_from_dict({"op": "set-weights"}), ValueError, "malformed"),
        (lambda: ControlLedger.from_dict({"weights": []}), ValueError, "fields"),
    ],
)
def test_ledger_rejects_bad_states_and_operations(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_state_machine_replicas_stay_in_step_and_reject_bad_operations():
    start = ControlLedger.initial(n_nodes=3, n_links=2)
    replicas = [LedgerStateMachine(start) for _ in range(3)]
    operations = [
        LedgerStateMachine.encode(SetWeights(weights=(1.0, 0.3, 0.7))),
        b'{"op":"set-exclusion","target":"node","indices":[7],"excluded":true}',  # out of range
        b"not json",
        b'{"op":"set-weights","weights":["1"]}',
        LedgerStateMachine.encode(SetExclusion(target="link", indices=(1,), excluded=True)),
    ]
    results = [[replica.apply(op) for op in operations] for replica in replicas]
    assert results[0] == results[1] == results[2]
    assert [json.loads(r).get("ok", False) for r in results[0]] == [True, False, False, False, True]
    assert "outside" in json.loads(results[0][1])["error"]
    snapshots = {replica.snapshot() for replica in replicas}
    assert len(snapshots) == 1
    ledger = replicas[0].ledger
    assert ledger.version == 2 and ledger.weights == (1.0, 0.3, 0.7)
    assert ledger.excluded_links == {1}
    fresh = LedgerStateMachine(start)
    fresh.restore(snapshots.pop())
    assert fresh.ledger == ledger
    with pytest.raises(TypeError, match="ControlLedger"):
        LedgerStateMachine({"weights": []})


# ----------------------------------------------------------------------------- whole rounds

#: Eight trusted nodes on a ring with chords (degree 3 or 4): every node has several peers.
RING = LinkGraph.from_links(
    [f"T{i}" for i in range(8)],
    [(f"T{i}", f"T{(i + 1) % 8}") for i in range(8)]
    + [(f"T{i}", f"T{(i + 3) % 8}") for i in range(0, 8, 2)],
)
E_D = 0.02


def _measured(behaviours, graph=RING):
    """QBER of each link: its misalignment with the ends' state corruption (qubit level)."""
    links = [(graph.nodes[a], graph.nodes[b]) for a, b in graph.ends.tolist()]
    end_a, end_b, relay = link_attack_probs(behaviours, links)
    return effective_misalignment(
        misalignment_prob=np.full(graph.n_links, E_D),
        end_a_attack_prob=end_a,
        end_b_attack_prob=end_b,
        relay_attack_prob=relay,
    )


def _run(behaviours, rounds=8, graph=RING, deliveries=None, seed=0, ledger=None):
    ledger = (
        ControlLedger.initial(n_nodes=graph.n_nodes, n_links=graph.n_links)
        if ledger is None
        else ledger
    )
    measured = _measured(behaviours, graph)
    rng = np.random.default_rng(seed)
    outcomes = []
    for _ in range(rounds):
        log = None if deliveries is None else deliveries(behaviours, rng)
        outcome = voting_round(
            ledger,
            graph,
            measured_qber=measured,
            expected_qber=np.full(graph.n_links, E_D),
            behaviours=behaviours,
            deliveries=log,
            rng=rng,
        )
        outcomes.append(outcome)
        ledger = outcome.ledger
    return ledger, outcomes


def _excluded_names(ledger, graph=RING):
    return {graph.nodes[i] for i in ledger.excluded_nodes}


@pytest.mark.parametrize(
    "behaviour",
    [
        CorruptStates(attack_prob=0.3),
        FalseReports(direction="high", magnitude=0.1),
        FalseReports(direction="low", magnitude=0.02),
        Equivocate(magnitude=0.05, salt=3),
        Silent(),
    ],
    ids=lambda b: f"{b.name}-{getattr(b, 'direction', '')}",
)
def test_defence_excludes_a_visible_byzantine_node_and_keeps_the_honest(behaviour):
    ledger, outcomes = _run({"T2": behaviour})
    assert _excluded_names(ledger) == {"T2"}
    weights = dict(zip(RING.nodes, ledger.weights, strict=True))
    assert weights["T2"] < VotingRule().exclude_below
    assert min(w for node, w in weights.items() if node != "T2") > VotingRule().reinstate_above
    # Excluded within a few rounds, and no honest link is left excluded.
    first = next(k for k, o in enumerate(outcomes) if 2 in o.ledger.excluded_nodes)
    assert first <= 3
    assert not ledger.excluded_links


def test_equivocation_gives_voters_different_views():
    _, outcomes = _run({"T2": Equivocate(magnitude=0.05, salt=3)}, rounds=1)
    (outcome,) = outcomes
    camp = np.array([Equivocate(magnitude=0.05, salt=3).camp(node) for node in RING.nodes])
    assert set(camp) == {0, 1}
    # The two camps hold two views: voters share a view exactly when they share a camp.
    assert outcome.assessment.errors.shape[0] == 2
    view = outcome.view_of_voter
    np.testing.assert_array_equal(view[:, np.newaxis] == view, camp[:, np.newaxis] == camp)
    # Every view blames T2 most, whichever story it was told.
    assert (outcome.assessment.errors.argmax(axis=1) == 2).all()


def _path_deliveries(behaviours, rng):
    """Keys relayed over every two-hop path of the ring; failures as the relays decide."""
    paths, failed = [], []
    for a in range(8):
        for middle in ((a + 1) % 8, (a + 7) % 8):
            outcome = behaviours.get(RING.nodes[middle], NodeBehaviour()).relay(
                key=KeyMaterial.counted(256), rng=rng
            )
            paths.append([middle])
            failed.append(outcome.action is not RelayAction.FORWARD or outcome.key.altered)
    return DeliveryLog.from_paths(paths, failed)


@pytest.mark.parametrize("behaviour", [Withhold(), CorruptRelay(), Silent()], ids=lambda b: b.name)
def test_failed_deliveries_expose_nodes_that_drop_or_alter_relayed_key(behaviour):
    ledger, outcomes = _run({"T5": behaviour}, deliveries=_path_deliveries)
    assert _excluded_names(ledger) == {"T5"}
    assert outcomes[0].assessment.delivery_errors[5] == pytest.approx(1.0)


def test_passive_copying_is_invisible_to_the_defence():
    ledger, _ = _run({"T5": PassiveCopy()}, deliveries=_path_deliveries)
    assert ledger.weights == (1.0,) * 8 and not ledger.excluded_nodes


def test_colluders_under_a_third_of_the_weight_are_excluded():
    group = frozenset({"T1", "T4"})
    behaviours = {node: Collude(group=group) for node in group}
    ledger, _ = _run(behaviours)
    assert _excluded_names(ledger) == set(group)
    # Their accusations do not move the honest nodes' weights (weighted median).
    honest = [i for i, node in enumerate(RING.nodes) if node not in group]
    assert min(ledger.weights[i] for i in honest) > VotingRule().reinstate_above


def test_colluders_holding_a_third_of_the_weight_block_their_exclusion_for_a_while():
    group = frozenset({"T1", "T4", "T6"})
    behaviours = {node: Collude(group=group) for node in group}
    # The colluders hold 1.65 / 4.65 = 0.355 of the weight.
    weights = tuple(0.55 if node in group else 0.6 for node in RING.nodes)
    start = ControlLedger(weights=weights, accepted_qber=(None,) * RING.n_links)
    ledger, outcomes = _run(behaviours, ledger=start, rounds=8)
    colluders = [RING.nodes.index(node) for node in sorted(group)]
    first = outcomes[0]
    assert first.opinions[0, colluders].all()  # the honest view wants them out...
    assert not first.ledger.excluded_nodes  # ...but more than a third of the weight keeps them in
    np.testing.assert_allclose(first.node_vote.keep_support[colluders], 1.65 / 4.65)
    # The honest voters still hold more than half of the weight, so the weighted median of the
    # error rates keeps lowering the colluders' weights until their share falls under a third.
    shares = [sum(o.ledger.weights[i] for i in colluders) / sum(o.ledger.weights) for o in outcomes]
    blocked = [not o.ledger.excluded_nodes for o in outcomes]
    crossing = next(k for k, share in enumerate(shares) if share < 1 / 3)
    assert all(blocked[: crossing + 1])
    assert _excluded_names(ledger) == set(group)


@settings(max_examples=25, deadline=None)
@given(
    weights=st.lists(st.floats(0.2, 1.0), min_size=8, max_size=8),
    members=st.sets(st.integers(0, 7), min_size=1, max_size=4),
)
def test_round_follows_the_honest_view_while_colluders_hold_under_a_third(weights, members):
    share = sum(weights[i] for i in members) / sum(weights)
    assume(share < 1 / 3)
    group = frozenset(RING.nodes[i] for i in members)
    behaviours = {node: Collude(group=group) for node in group}
    start = ControlLedger(weights=tuple(weights), accepted_qber=(None,) * RING.n_links)
    _, (outcome,) = _run(behaviours, ledger=start, rounds=1)
    # One view (no equivocation): every honest voter holds the same opinions; they decide.
    assert outcome.opinions.shape[0] == 1
    decided = np.concatenate([outcome.node_vote.excluded, outcome.link_vote.excluded])
    np.testing.assert_array_equal(decided, outcome.opinions[0].astype(bool))


def test_honest_network_with_noisy_measurements_keeps_everyone():
    rng = np.random.default_rng(7)
    ledger = ControlLedger.initial(n_nodes=8, n_links=RING.n_links)
    bits = np.full(RING.n_links, 5_000)
    for _ in range(30):
        measured = rng.binomial(bits, E_D) / bits
        ledger = voting_round(
            ledger,
            RING,
            measured_qber=measured,
            expected_qber=np.full(RING.n_links, E_D),
            block_bits=bits,
            rng=rng,
        ).ledger
    assert not ledger.excluded_nodes and not ledger.excluded_links
    assert min(ledger.weights) > 0.99


def test_rounds_are_deterministic_under_a_seed():
    placed = assign_behaviours(
        {node: "trusted" for node in RING.nodes}, fraction=0.25, behaviour="mixed", seed=5
    )
    first, _ = _run(placed, deliveries=_path_deliveries, seed=11)
    again, _ = _run(placed, deliveries=_path_deliveries, seed=11)
    assert first.digest() == again.digest()


def test_round_operations_rebuild_the_ledger():
    _, outcomes = _run({"T3": FalseReports()}, rounds=3)
    replica = ControlLedger.initial(n_nodes=8, n_links=RING.n_links)
    for outcome in outcomes:
        replica = replica.apply_all(
            [operation_from_dict(op.to_dict()) for op in outcome.operations]
        )
        assert replica == outcome.ledger


def test_gather_reports_one_view_unless_someone_equivocates():
    measured = np.full(RING.n_links, 0.03)
    reports, views = gather_reports(RING, {"T0": Silent()}, measured, rng=0)
    assert reports.shape == (1, RING.n_links, 2) and not views.any()
    t0_links = RING.reported_links[0][0]
    assert np.isnan(reports[0, t0_links]).sum() == t0_links.size  # T0's side only
    reports, views = gather_reports(RING, {"T0": Equivocate(salt=1)}, measured, rng=0)
    assert reports.shape == (2, RING.n_links, 2)
    camps = [Equivocate(salt=1).camp(node) for node in RING.nodes]
    expected = [max(0.0, 0.03 + 0.1 * (2 * camp - 1)) for camp in camps]
    np.testing.assert_allclose(reports[views][:, t0_links[0], 0], expected)
    reports, views = gather_reports(RING, {"T0": _PerRecipient(), "T1": _PerRecipient()}, measured)
    assert reports.shape == (8, RING.n_links, 2) and sorted(views.tolist()) == list(range(8))


class _PerRecipient(NodeBehaviour):
    """Tells every recipient something different (full per-recipient array)."""

    def report_qbers(self, *, links, measured_qber, recipients, rng):
        return np.linspace(0.0, 0.1, len(recipients))[:, np.newaxis].repeat(links.size, axis=1)


class _Broken(NodeBehaviour):
    def report_qbers(self, *, links, measured_qber, recipients, rng):
        return np.full((2, 1), 0.1)


def test_round_rejects_misbehaving_policies_and_mismatched_ledgers():
    measured = np.full(RING.n_links, 0.03)
    with pytest.raises(ValueError, match="'T0'"):
        gather_reports(RING, {"T0": _Broken()}, measured)
    with pytest.raises(TypeError, match="T1"):
        gather_reports(RING, {"T1": "liar"}, measured)
    with pytest.raises(ValueError, match="ledger"):
        voting_round(
            ControlLedger.initial(n_nodes=3, n_links=1),
            RING,
            measured_qber=measured,
            expected_qber=measured,
        )
    with pytest.raises(ValueError, match="voters"):
        voting_round(
            ControlLedger.initial(n_nodes=8, n_links=RING.n_links),
            RING,
            measured_qber=measured,
            expected_qber=measured,
            voters=[0, 0],
        )


def _collusion_run(fraction, seed, rounds=12, n=30):
    """Colluders on a random 4-regular network of trusted nodes, all starting at weight 1."""
    graph_nx = nx.random_regular_graph(4, n, seed=seed)
    nodes = [f"T{i}" for i in range(n)]
    graph = LinkGraph.from_links(nodes, [(nodes[a], nodes[b]) for a, b in graph_nx.edges()])
    placed = np.random.default_rng(seed).choice(n, round(fraction * n), replace=False)
    members = set(placed.tolist())
    group = frozenset(nodes[i] for i in members)
    behaviours = {node: Collude(group=group) for node in group}
    ledger = ControlLedger.initial(n_nodes=n, n_links=graph.n_links)
    history = []
    for _ in range(rounds):
        ledger = voting_round(
            ledger,
            graph,
            measured_qber=np.full(graph.n_links, E_D),
            expected_qber=np.full(graph.n_links, E_D),
            behaviours=behaviours,
            rng=seed,
        ).ledger
        history.append(ledger)
    return members, history


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_collusion_below_a_third_between_and_above_half(seed):
    # Below a third: every colluder is excluded and no honest node is.
    members, history = _collusion_run(0.2, seed)
    assert history[-1].excluded_nodes == members
    # From a third of the weight on: no exclusion can pass in the first round (blocking).
    members, history = _collusion_run(0.4, seed)
    assert not history[0].excluded_nodes & members
    # From half of the weight on: the weighted median is theirs; their weight grows and
    # no colluder is ever excluded, while honest nodes are.
    members, history = _collusion_run(0.6, seed)
    share = [sum(ledger.weights[i] for i in members) / sum(ledger.weights) for ledger in history]
    assert share[-1] > 0.6
    assert not any(ledger.excluded_nodes & members for ledger in history)
    assert history[-1].excluded_nodes
