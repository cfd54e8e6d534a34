"""Byzantine behaviours: each has its modelled effect; corrupted states through the closed forms."""

from __future__ import annotations

import itertools
from fractions import Fraction

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from network.byzantine import (
    BEHAVIOURS,
    VOTE_ABSTAIN,
    VOTE_EXCLUDE,
    VOTE_KEEP,
    Collude,
    CorruptRelay,
    CorruptStates,
    Equivocate,
    FalseReports,
    LinkSubject,
    Mixed,
    NodeBehaviour,
    PassiveCopy,
    RelayAction,
    Silent,
    SplitReports,
    Withhold,
    assign_behaviours,
    effective_misalignment,
    link_attack_probs,
)
from network.keys.material import KeyMaterial, xor
from qkdcircuits.analysis.attacks import dishonest_relay_qber, intercept_resend_qber
from tests.helpers import binomial_tolerance

RECIPIENTS = tuple(f"N{i}" for i in range(40))
LINKS = np.array([0, 3, 7])
MEASURED = np.array([0.02, 0.0, 0.45])


# ----------------------------------------------------------------------------- link error


def _sifted_error_by_enumeration(e_d, p_a, p_b, f):
    """Exact error probability of one sifted round, enumerating every branch with fractions.

    The signal passes Alice's end (corrupted with probability ``p_a``: re-prepared after a
    measurement in a random basis), the channel (flip with probability ``e_d``), Bob's end
    (``p_b``, likewise) and, for MDI, a relay that announces a random outcome with probability
    ``f`` (Bob's inferred bit is then a fair coin).
    """
    half = Fraction(1, 2)
    error = Fraction(0)
    stage = [(True, p_a), (False, e_d), (True, p_b)]
    for alice_bit, basis in itertools.product((0, 1), ("Z", "X")):
        branches = [(Fraction(1, 4), alice_bit)]  # (probability, current bit)
        for is_attack, prob in stage:
            new = []
            for weight, bit in branches:
                if is_attack:
                    new.append((weight * (1 - prob), bit))
                    for eve_basis, outcome in itertools.product(("Z", "X"), (0, 1)):
                        w = weight * prob * half * half
                        if eve_basis == basis:  # right basis: she reads and resends the bit
                            new.append((w, bit))
                        else:  # wrong basis: the re-prepared state gives a fair coin
                            new.append((w, outcome))
                else:
                    new.append((weight * (1 - prob), bit))
                    new.append((weight * prob, 1 - bit))
            branches = new
        for weight, bit in branches:
            error += weight * (1 - f) * (bit != alice_bit) + weight * f * half
    return error


@settings(max_examples=60, deadline=None)
@given(
    e_d=st.fractions(0, Fraction(1, 2), max_denominator=50),
    p_a=st.fractions(0, 1, max_denominator=50),
    p_b=st.fractions(0, 1, max_denominator=50),
    f=st.fractions(0, 1, max_denominator=50),
)
def test_effective_misalignment_equals_branch_enumeration(e_d, p_a, p_b, f):
    expected = _sifted_error_by_enumeration(e_d, p_a, p_b, f)
    got = effective_misalignment(
        misalignment_prob=float(e_d),
        end_a_attack_prob=float(p_a),
        end_b_attack_prob=float(p_b),
        relay_attack_prob=float(f),
    )
    assert got == pytest.approx(float(expected), abs=1e-12)
    assert 0.0 <= got <= 0.5


@settings(max_examples=40, deadline=None)
@given(
    values=st.lists(
        st.tuples(st.floats(0, 0.5), st.floats(0, 1), st.floats(0, 1), st.floats(0, 1)),
        min_size=1,
        max_size=6,
    )
)
def test_vectorised_link_error_equals_nested_scalar_closed_forms(values):
    e_d, p_a, p_b, f = (np.array(column) for column in zip(*values, strict=True))
    got = effective_misalignment(
        misalignment_prob=e_d, end_a_attack_prob=p_a, end_b_attack_prob=p_b, relay_attack_prob=f
    )
    for k in range(len(values)):
        after_a = intercept_resend_qber(attack_prob=p_a[k], channel_flip_prob=e_d[k])
        after_b = intercept_resend_qber(attack_prob=p_b[k], channel_flip_prob=after_a)
        one = dishonest_relay_qber(
            attack_prob=f[k], strategy="random", basis="Z", honest_qber=after_b
        )
        assert got[k] == pytest.approx(one, abs=1e-12)


def test_link_error_hand_values():
    # One corrupting end, 20 % of pulses, e_d = 1 %: 0.01 + 0.2 (1 - 0.02) / 4 = 0.059.
    assert effective_misalignment(
        misalignment_prob=0.01, end_a_attack_prob=0.0, end_b_attack_prob=0.2
    ) == pytest.approx(0.059)
    # Both ends corrupt everything on a clean line: two BSC(1/4) compose to 3/8.
    assert effective_misalignment(
        misalignment_prob=0.0, end_a_attack_prob=1.0, end_b_attack_prob=1.0
    ) == pytest.approx(0.375)
    # A relay announcing random outcomes always: 1/2 whatever the line.
    assert effective_misalignment(
        misalignment_prob=0.03, end_a_attack_prob=0.0, end_b_attack_prob=0.0, relay_attack_prob=1
    ) == pytest.approx(0.5)
    honest = effective_misalignment(
        misalignment_prob=np.array([0.0, 0.015, 0.5]), end_a_attack_prob=0.0, end_b_attack_prob=0.0
    )
    np.testing.assert_array_equal(honest, [0.0, 0.015, 0.5])


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"misalignment_prob": 0.6}, "misalignment_prob"),
        ({"misalignment_prob": np.nan}, "misalignment_prob"),
        ({"end_a_attack_prob": -0.1}, "end_a_attack_prob"),
        ({"end_b_attack_prob": [0.1, 1.5]}, r"end_b_attack_prob\[1\]"),
        ({"relay_attack_prob": 2.0}, "relay_attack_prob"),
    ],
)
def test_link_error_rejects_bad_arguments(kwargs, name):
    arguments = {"misalignment_prob": 0.01, "end_a_attack_prob": 0.0, "end_b_attack_prob": 0.0}
    with pytest.raises(ValueError, match=name):
        effective_misalignment(**{**arguments, **kwargs})


def test_link_error_rejects_shapes_that_do_not_broadcast():
    with pytest.raises(ValueError):
        effective_misalignment(
            misalignment_prob=[0.01, 0.02], end_a_attack_prob=[0.1, 0.2, 0.3], end_b_attack_prob=0
        )


def test_link_attack_probs_reads_each_end_and_relay():
    behaviours = {"A": CorruptStates(attack_prob=0.4), "R": CorruptStates(attack_prob=0.7)}
    links = [("A", "B"), ("C", "A"), ("B", "C")]
    end_a, end_b, relay = link_attack_probs(behaviours, links, [None, "R", "R"])
    np.testing.assert_array_equal(end_a, [0.4, 0.0, 0.0])
    np.testing.assert_array_equal(end_b, [0.0, 0.4, 0.0])
    np.testing.assert_array_equal(relay, [0.0, 0.7, 0.7])
    error = effective_misalignment(
        misalignment_prob=0.0,
        end_a_attack_prob=end_a,
        end_b_attack_prob=end_b,
        relay_attack_prob=relay,
    )
    # Link 1: BSC(0.1) then a random relay on 70 %: 0.3 * 0.1 + 0.7 / 2.
    np.testing.assert_allclose(error, [0.1, 0.3 * 0.1 + 0.35, 0.35])
    with pytest.raises(ValueError, match="relays"):
        link_attack_probs(behaviours, links, [None])


# ----------------------------------------------------------------------------- behaviours


def _reports(behaviour, rng=0):
    return behaviour.report_qbers(
        links=LINKS, measured_qber=MEASURED, recipients=RECIPIENTS, rng=np.random.default_rng(rng)
    )


def test_honest_node_reports_votes_submits_and_forwards_truthfully():
    honest = NodeBehaviour()
    rng = np.random.default_rng(0)
    assert not honest.compromised and honest.state_attack_prob() == 0.0
    np.testing.assert_array_equal(_reports(honest), MEASURED[np.newaxis])
    errors = np.array([0.1, 0.0])
    assert honest.assess(subjects=("A", "B"), errors=errors, rng=rng) is errors
    opinions = np.array([1, 0, 1], dtype=np.int8)
    assert honest.votes(subjects=("A", "B", "C"), opinions=opinions, rng=rng).tolist() == [1, 0, 1]
    assert honest.vote(subject="A", opinion=True, rng=rng) is True
    assert honest.report_qber(link=1, measured_qber=0.03, recipient="A", rng=rng) == 0.03
    key = KeyMaterial.from_bits(np.array([1, 0, 1], dtype=np.uint8))
    assert honest.relay(key=key, rng=rng).key is key


def test_corrupt_states_raises_link_error_but_reports_truthfully():
    node = CorruptStates(attack_prob=0.3)
    assert node.compromised and node.state_attack_prob() == 0.3
    np.testing.assert_array_equal(_reports(node), MEASURED[np.newaxis])
    (end_a, end_b, relay) = link_attack_probs({"X": node}, [("X", "Y")])
    e = effective_misalignment(
        misalignment_prob=0.02,
        end_a_attack_prob=end_a,
        end_b_attack_prob=end_b,
        relay_attack_prob=relay,
    )
    assert e[0] == pytest.approx(0.02 + 0.3 * (1 - 0.04) / 4)
    with pytest.raises(ValueError, match="attack_prob"):
        CorruptStates(attack_prob=1.2)


@pytest.mark.parametrize(
    ("direction", "expected"),
    [("high", [0.12, 0.1, 0.5]), ("low", [0.0, 0.0, 0.35])],
)
def test_false_reports_shift_every_report_the_same_for_all_recipients(direction, expected):
    node = FalseReports(direction=direction, magnitude=0.1)
    reports = _reports(node)
    assert reports.shape == (1, LINKS.size)
    np.testing.assert_allclose(reports[0], expected)


def test_false_reports_random_direction_is_seeded_and_uses_both_signs():
    node = FalseReports(direction="random", magnitude=0.05)
    measured = np.full(200, 0.1)
    draw = lambda seed: node.report_qbers(  # noqa: E731
        links=np.arange(200), measured_qber=measured, recipients=("A",), rng=seed
    )
    first = draw(np.random.default_rng(5))
    np.testing.assert_array_equal(first, draw(np.random.default_rng(5)))
    assert set(np.round(first[0], 12)) == {0.05, 0.15}


def test_false_reports_reject_bad_parameters():
    with pytest.raises(ValueError, match="direction"):
        FalseReports(direction="sideways")
    with pytest.raises(ValueError, match="magnitude"):
        FalseReports(magnitude=0.7)


def test_withhold_drops_every_block_by_default():
    node = Withhold()
    key = KeyMaterial.counted(128)
    outcome = node.relay(key=key, rng=np.random.default_rng(0))
    assert outcome.action is RelayAction.WITHHOLD and outcome.key is None
    np.testing.assert_array_equal(_reports(node), MEASURED[np.newaxis])


def test_withhold_fraction_matches_block_prob():
    node, rng, n = Withhold(block_prob=0.3), np.random.default_rng(11), 20_000
    dropped = sum(
        node.relay(key=KeyMaterial.counted(8), rng=rng).action is RelayAction.WITHHOLD
        for _ in range(n)
    )
    assert abs(dropped / n - 0.3) <= binomial_tolerance(0.3, n)


def test_corrupt_relay_flips_real_bits_and_breaks_the_end_to_end_key():
    rng = np.random.default_rng(3)
    secret = KeyMaterial.from_bits(rng.integers(0, 2, 4096, dtype=np.uint8))
    pad_1 = KeyMaterial.from_bits(rng.integers(0, 2, 4096, dtype=np.uint8))
    pad_2 = KeyMaterial.from_bits(rng.integers(0, 2, 4096, dtype=np.uint8))
    # A -> T over pad_1, T decrypts, re-encrypts with pad_2 through the corrupting relay.
    at_relay = xor(xor(secret, pad_1), pad_1)
    outcome = CorruptRelay(bit_flip_prob=0.25).relay(key=xor(at_relay, pad_2), rng=rng)
    assert outcome.action is RelayAction.CORRUPT
    received = xor(outcome.key, pad_2)
    flipped = int(np.count_nonzero(received.bits != secret.bits))
    assert abs(flipped / 4096 - 0.25) <= binomial_tolerance(0.25, 4096)
    one_bit = CorruptRelay(bit_flip_prob=1e-9).relay(
        key=KeyMaterial.from_bits(np.zeros(16, dtype=np.uint8)), rng=rng
    )
    assert int(one_bit.key.bits.sum()) == 1  # a corrupted block always differs


def test_corrupt_relay_marks_accounting_blocks_altered():
    outcome = CorruptRelay().relay(key=KeyMaterial.counted(256), rng=np.random.default_rng(0))
    assert outcome.action is RelayAction.CORRUPT
    assert outcome.key == KeyMaterial.counted(256, altered=True)
    empty = KeyMaterial.counted(0)
    assert CorruptRelay().relay(key=empty, rng=np.random.default_rng(0)).key is empty
    with pytest.raises(ValueError, match="bit_flip_prob"):
        CorruptRelay(bit_flip_prob=0.0)


def test_equivocate_tells_two_camps_of_recipients_opposite_stories():
    node = Equivocate(magnitude=0.05, salt=12)
    split = _reports(node)
    assert isinstance(split, SplitReports) and split.rows.shape == (2, LINKS.size)
    reports = split.rows[split.row_of_recipient]
    camps = np.array([node.camp(r) for r in RECIPIENTS])
    assert 0 < camps.sum() < len(RECIPIENTS)  # both camps are populated
    np.testing.assert_allclose(reports[camps == 0], np.tile([0.0, 0.0, 0.4], (40 - camps.sum(), 1)))
    np.testing.assert_allclose(reports[camps == 1], np.tile([0.07, 0.05, 0.5], (camps.sum(), 1)))
    assert node.report_qber(link=0, measured_qber=0.1, recipient=RECIPIENTS[0], rng=None) in (
        pytest.approx(0.05),
        pytest.approx(0.15),
    )
    other = Equivocate(magnitude=0.05, salt=13)
    assert [other.camp(r) for r in RECIPIENTS] != camps.tolist()
    again = _reports(Equivocate(magnitude=0.05, salt=12))
    np.testing.assert_array_equal(again.row_of_recipient, split.row_of_recipient)


def test_split_reports_normalise_every_output_form():
    shared = SplitReports.from_output(np.array([[0.1, 0.2]]), n_recipients=3, n_links=2)
    assert shared.row_of_recipient.tolist() == [0, 0, 0]
    dense = SplitReports.from_output(np.eye(3)[:, :2] * 0.1, n_recipients=3, n_links=2)
    assert dense.row_of_recipient.tolist() == [0, 1, 2]
    for bad, match in [
        (np.zeros((2, 2)), "shape"),
        (np.zeros((1, 3)), "expected"),
        (np.full((1, 2), 1.5), r"\[0, 1\]"),
        (SplitReports(row_of_recipient=np.array([0, 2, 0]), rows=np.zeros((2, 2))), "index"),
        (SplitReports(row_of_recipient=np.array([0, 1]), rows=np.zeros((2, 2))), "3 integer"),
    ]:
        with pytest.raises(ValueError, match=match):
            SplitReports.from_output(bad, n_recipients=3, n_links=2)


def test_silent_node_sends_nothing_and_drops_key():
    node = Silent()
    rng = np.random.default_rng(0)
    assert np.isnan(_reports(node)).all()
    assert node.report_qber(link=0, measured_qber=0.02, recipient="A", rng=rng) is None
    assert node.assess(subjects=("A",), errors=np.zeros(1), rng=rng) is None
    assert node.votes(subjects=("A", "B"), opinions=np.ones(2), rng=rng).tolist() == [-1, -1]
    assert node.vote(subject="A", opinion=True, rng=rng) is None
    assert node.relay(key=KeyMaterial.counted(8), rng=rng).action is RelayAction.WITHHOLD


def test_passive_copy_is_indistinguishable_from_honest_except_compromised():
    copy, honest = PassiveCopy(), NodeBehaviour()
    assert copy.compromised and not honest.compromised
    assert copy.state_attack_prob() == honest.state_attack_prob()
    np.testing.assert_array_equal(_reports(copy), _reports(honest))
    opinions = np.array([1, 0], dtype=np.int8)
    rng = np.random.default_rng(0)
    np.testing.assert_array_equal(
        copy.votes(subjects=("A", "B"), opinions=opinions, rng=rng),
        honest.votes(subjects=("A", "B"), opinions=opinions, rng=rng),
    )
    key = KeyMaterial.counted(64)
    assert copy.relay(key=key, rng=rng) == honest.relay(key=key, rng=rng)


def test_colluders_report_low_shield_each_other_and_accuse_the_rest():
    group = frozenset({"B", "C"})
    node = Collude(group=group, magnitude=0.1)
    np.testing.assert_allclose(_reports(node), [[0.0, 0.0, 0.35]])
    rng = np.random.default_rng(0)
    subjects = ("A", "B", "C", "D", LinkSubject(0, ("A", "B")), LinkSubject(1, ("A", "D")))
    votes = node.votes(subjects=subjects, opinions=np.zeros(6, dtype=np.int8), rng=rng)
    assert votes.tolist() == [VOTE_EXCLUDE, VOTE_KEEP, VOTE_KEEP, VOTE_EXCLUDE, VOTE_KEEP, 1]
    assert node.vote(subject="B", opinion=True, rng=rng) is False
    errors = node.assess(subjects=("A", "B", "C", "D"), errors=np.full(4, 0.3), rng=rng)
    assert errors.tolist() == [1.0, 0.0, 0.0, 1.0]
    assert Collude(group=["B"]).group == frozenset({"B"})


def test_mixed_delegates_every_decision_to_its_component():
    inner = FalseReports(direction="low", magnitude=0.01)
    node = Mixed(component=inner)
    assert node.unwrapped is inner and inner.unwrapped is inner
    np.testing.assert_array_equal(_reports(node), _reports(inner))
    assert node.compromised and node.state_attack_prob() == 0.0
    silent = Mixed(component=Silent())
    rng = np.random.default_rng(0)
    assert silent.assess(subjects=("A",), errors=np.zeros(1), rng=rng) is None
    assert silent.votes(subjects=("A",), opinions=np.ones(1), rng=rng).tolist() == [VOTE_ABSTAIN]
    assert silent.relay(key=KeyMaterial.counted(1), rng=rng).key is None
    with pytest.raises(TypeError, match="component"):
        Mixed(component=NodeBehaviour())
    with pytest.raises(TypeError, match="component"):
        Mixed(component=node)


# ----------------------------------------------------------------------------- assignment

NODES = {
    **{f"T{i}": "trusted" for i in range(20)},
    **{f"u{i}": "endpoint" for i in range(6)},
    **{f"R{i}": "relay" for i in range(4)},
}


def test_registry_names_every_behaviour():
    assert list(BEHAVIOURS) == [
        "corrupt-states",
        "false-reports",
        "withhold",
        "corrupt-relay",
        "equivocate",
        "silent",
        "passive-copy",
        "collude",
        "mixed",
    ]
    assert all(cls.name == name for name, cls in BEHAVIOURS.items())


@pytest.mark.parametrize("behaviour", list(BEHAVIOURS))
@pytest.mark.parametrize(("fraction", "count"), [(0.0, 0), (0.1, 2), (0.225, 5), (0.4, 8)])
def test_assignment_places_the_fraction_on_trusted_nodes_only(behaviour, fraction, count):
    placed = assign_behaviours(NODES, fraction=fraction, behaviour=behaviour, seed=1)
    assert set(placed) == set(NODES)
    byzantine = [node for node, b in placed.items() if type(b) is not NodeBehaviour]
    assert len(byzantine) == count  # 0.225 * 20 = 4.5 rounds up to 5
    assert all(NODES[node] == "trusted" for node in byzantine)
    assert all(placed[node].name == behaviour for node in byzantine)
    assert all(placed[node].compromised for node in byzantine)


def test_assignment_is_deterministic_under_a_seed():
    first = assign_behaviours(NODES, fraction=0.3, behaviour="mixed", seed=42)
    assert first == assign_behaviours(NODES, fraction=0.3, behaviour="mixed", seed=42)
    other = assign_behaviours(NODES, fraction=0.3, behaviour="mixed", seed=43)
    assert first != other


def test_mixed_assignment_draws_components_and_groups_colluders():
    placed = assign_behaviours(NODES, fraction=0.4, behaviour="mixed", seed=9)
    components = [b.component for b in placed.values() if isinstance(b, Mixed)]
    assert len(components) == 8
    assert len({type(c) for c in components}) >= 3
    colluders = {
        node for node, b in placed.items() if isinstance(b, Mixed) and b.component.name == "collude"
    }
    for node in colluders:
        assert placed[node].component.group == frozenset(colluders)
    assert not any(isinstance(c, Mixed) for c in components)


def test_assignment_can_target_relays_and_takes_graphs():
    graph = nx.Graph()
    for node, kind in NODES.items():
        graph.add_node(node, kind=kind)
    by_graph = assign_behaviours(
        graph, fraction=0.25, behaviour="corrupt-states", seed=2, kinds=("relay",)
    )
    assert by_graph == assign_behaviours(
        NODES, fraction=0.25, behaviour="corrupt-states", seed=2, kinds=("relay",)
    )
    byzantine = [node for node, b in by_graph.items() if b.compromised]
    assert len(byzantine) == 1 and byzantine[0].startswith("R")


def test_assignment_options_reach_the_behaviours():
    placed = assign_behaviours(
        NODES,
        fraction=0.2,
        behaviour="corrupt-states",
        seed=0,
        options={"corrupt-states": {"attack_prob": 0.35}},
    )
    assert {b.state_attack_prob() for b in placed.values() if b.compromised} == {0.35}
    equivocators = assign_behaviours(NODES, fraction=0.2, behaviour="equivocate", seed=0)
    salts = {b.salt for b in equivocators.values() if isinstance(b, Equivocate)}
    assert len(salts) == 1  # one adversary splits the recipients the same way everywhere
    assert salts != {0}
    again = assign_behaviours(NODES, fraction=0.2, behaviour="equivocate", seed=1)
    assert {b.salt for b in again.values() if isinstance(b, Equivocate)} != salts
    fixed = assign_behaviours(
        NODES, fraction=0.2, behaviour="equivocate", seed=0, options={"equivocate": {"salt": 9}}
    )
    assert {b.salt for b in fixed.values() if isinstance(b, Equivocate)} == {9}


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"fraction": 0.5}, ValueError, "fraction"),
        ({"fraction": -0.1}, ValueError, "fraction"),
        ({"behaviour": "byzantine"}, ValueError, "behaviour"),
        ({"kinds": ("router",)}, ValueError, "router"),
        ({"options": {"withhold": {"attack_prob": 0.1}}}, ValueError, "attack_prob"),
        ({"options": {"nonsense": {}}}, ValueError, "nonsense"),
        ({"options": {"withhold": 0.5}}, TypeError, "withhold"),
        ({"seed": -1}, ValueError, "seed"),
    ],
)
def test_assignment_rejects_bad_arguments(kwargs, error, match):
    arguments = {"fraction": 0.2, "behaviour": "withhold", "seed": 0, **kwargs}
    with pytest.raises(error, match=match):
        assign_behaviours(NODES, **arguments)


def test_assignment_rejects_unknown_node_containers():
    with pytest.raises(TypeError, match="nodes"):
        assign_behaviours(["A", "B"], fraction=0.2, behaviour="withhold", seed=0)
