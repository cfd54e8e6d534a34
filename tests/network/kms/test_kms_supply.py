"""NetworkKeySupply: key drawn from the network's pools, relays, Byzantine nodes, defence."""

from __future__ import annotations

import itertools
import math
import time

import numpy as np
import pytest

from network.byzantine import CorruptStates, PassiveCopy, Withhold
from network.errors import InsufficientKeyError, NoKeyPathError
from network.kms.supply import (
    KeyRelayError,
    KeySupply,
    NetworkClock,
    NetworkKeySupply,
    RouteUnavailableError,
    majority_threshold,
    speed_factor,
)
from network.links import LinkModel
from network.topology import scenario
from tests.network.kms.kms_helpers import run_threads


@pytest.fixture(scope="module")
def cambridge():
    return scenario("cambridge")


def link(topology, u, v) -> int:
    return topology.link_id(u, v)


def test_supply_implements_the_protocol(cambridge):
    assert isinstance(NetworkKeySupply(cambridge), KeySupply)


def test_pools_fill_at_the_link_key_rates(cambridge):
    supply = NetworkKeySupply(cambridge, slice_s=1.0)
    supply.advance(2.5)
    # Independent rates: the link layer evaluated on its own, at the nominal state.
    rates = LinkModel(cambridge.link_params).evaluate().key_rate_bps
    generated = supply.key_ledger().generated
    expected = np.floor(rates * 2.5)
    assert np.all(np.abs(generated - expected) <= 1), (generated, expected)
    assert supply.time_s == 2.5
    supply.check_ledger()


def test_capacity_bounds_each_pool(cambridge):
    supply = NetworkKeySupply(cambridge, capacity_bits=1000)
    supply.advance(1.0)
    ledger = supply.key_ledger()
    assert ledger.stored.tolist() == [1000] * cambridge.n_links
    assert np.array_equal(ledger.discarded, ledger.generated - 1000)


def test_direct_key_is_one_block_of_the_link(cambridge):
    supply = NetworkKeySupply(cambridge)
    supply.advance(0.01)
    key = supply.draw("CRL", "ENG", 256)
    assert (key.route_type, key.paths, key.threshold) == ("direct", (("CRL", "ENG"),), 1)
    assert key.master_bits.size == 256 and np.array_equal(key.master_bits, key.slave_bits)
    ledger = supply.key_ledger()
    hop = link(cambridge, "CRL", "ENG")
    assert ledger.consumed[hop] == 256 and ledger.delivered[hop] == 256
    assert ledger.consumed.sum() == 256
    supply.check_ledger()


def test_indirect_key_pads_every_hop_once(cambridge):
    supply = NetworkKeySupply(cambridge)
    supply.advance(0.01)
    key = supply.draw("crl-user", "eed-user", 128, route_type="indirect")
    (path,) = key.paths
    assert key.route_type == "indirect" and len(path) >= 3
    assert np.array_equal(key.master_bits, key.slave_bits)
    consumed = supply.key_ledger().consumed
    hops = [link(cambridge, u, v) for u, v in itertools.pairwise(path)]
    assert sorted(np.flatnonzero(consumed).tolist()) == sorted(hops)
    assert consumed[hops].tolist() == [128] * len(hops)
    assert key.consumed_bits == 128 * len(hops)


def test_multipath_key_uses_disjoint_paths_and_a_majority(cambridge):
    supply = NetworkKeySupply(cambridge)
    supply.advance(0.01)
    key = supply.draw("crl-user", "eed-user", 100, route_type="multipath")
    assert key.route_type == "multipath" and len(key.paths) >= 2
    interiors = [set(path[1:-1]) for path in key.paths]
    assert all(a.isdisjoint(b) for a, b in itertools.combinations(interiors, 2))
    assert key.threshold == len(key.paths) // 2 + 1
    assert np.array_equal(key.master_bits, key.slave_bits) and key.n_bits == 100
    hops = sum(len(path) - 1 for path in key.paths)
    assert supply.key_ledger().consumed.sum() == 104 * hops  # shares are whole bytes


def test_majority_threshold_by_hand():
    assert [majority_threshold(n) for n in range(1, 7)] == [1, 2, 2, 3, 3, 4]


def test_direct_without_a_link_is_unavailable_and_consumes_nothing(cambridge):
    supply = NetworkKeySupply(cambridge)
    supply.advance(0.01)
    with pytest.raises(RouteUnavailableError, match="direct"):
        supply.draw("crl-user", "eed-user", 64, route_type="direct")
    assert supply.key_ledger().consumed.sum() == 0


def test_exhausted_pool_consumes_nothing(cambridge):
    supply = NetworkKeySupply(cambridge, capacity_bits=200)
    supply.advance(1.0)
    before = supply.key_ledger()
    with pytest.raises(InsufficientKeyError):
        supply.draw("crl-user", "eed-user", 256)
    after = supply.key_ledger()
    assert np.array_equal(before.stored, after.stored) and after.consumed.sum() == 0
    assert supply.available_bits("crl-user", "eed-user") == (200, 200)


def test_available_bits_is_the_poorest_hop(cambridge):
    supply = NetworkKeySupply(cambridge)
    supply.advance(0.01)
    stored = supply.key_ledger().stored
    path = ("crl-user", "ENG", "eed-user")
    hops = [link(cambridge, u, v) for u, v in itertools.pairwise(path)]
    assert supply.available_bits("crl-user", "eed-user") == (int(stored[hops].min()), 1 << 20)


def test_bad_arguments(cambridge):
    supply = NetworkKeySupply(cambridge)
    with pytest.raises(ValueError, match="relay-north"):
        supply.draw("relay-north", "CRL", 8)
    with pytest.raises(ValueError, match="both 'CRL'"):
        supply.draw("CRL", "CRL", 8)
    with pytest.raises(ValueError, match="route_type"):
        supply.draw("CRL", "ENG", 8, route_type="teleport")
    with pytest.raises(ValueError, match="n_bits"):
        supply.draw("CRL", "ENG", 0)
    with pytest.raises(ValueError, match="defense"):
        NetworkKeySupply(cambridge, defense="magic")
    with pytest.raises(ValueError, match="nowhere"):
        NetworkKeySupply(cambridge, behaviours={"nowhere": PassiveCopy()})
    with pytest.raises(TypeError, match="QKDTopology"):
        NetworkKeySupply("cambridge")


def test_compromised_relay_exposes_a_single_path_key(cambridge):
    supply = NetworkKeySupply(cambridge, behaviours={"ENG": PassiveCopy()})
    supply.advance(0.01)
    key = supply.draw("crl-user", "eed-user", 64, route_type="indirect")
    assert key.paths == (("crl-user", "ENG", "eed-user"),)
    assert key.exposed and key.exposed_to == ("ENG",)
    assert np.array_equal(key.master_bits, key.slave_bits)  # passive copying leaves no trace


def test_multipath_hides_the_key_from_one_compromised_relay(cambridge):
    supply = NetworkKeySupply(cambridge, behaviours={"ENG": PassiveCopy()})
    supply.advance(0.01)
    key = supply.draw("crl-user", "eed-user", 64, route_type="multipath")
    assert len(key.paths) == 2 and key.threshold == 2
    assert not key.exposed and key.exposed_to == ("ENG",)


def test_compromised_end_node_exposes_a_direct_key(cambridge):
    supply = NetworkKeySupply(cambridge, behaviours={"CRL": PassiveCopy()})
    supply.advance(0.01)
    key = supply.draw("CRL", "ENG", 64)
    assert key.exposed and key.exposed_to == ("CRL",)


def test_withholding_relay_fails_the_draw_and_spends_the_pads(cambridge):
    supply = NetworkKeySupply(cambridge, behaviours={"ENG": Withhold()})
    supply.advance(0.01)
    with pytest.raises(KeyRelayError, match="withheld by node ENG"):
        supply.draw("crl-user", "eed-user", 64, route_type="indirect")
    ledger = supply.key_ledger()
    assert ledger.consumed.sum() == 64 and ledger.delivered.sum() == 0  # first hop only
    supply.check_ledger()


@pytest.mark.parametrize("defense", ["none", "abft"])
def test_adaptive_defence_routes_around_corrupted_states(cambridge, defense):
    supply = NetworkKeySupply(
        cambridge,
        capacity_bits=4096,
        behaviours={"ENG": CorruptStates()},
        defense=defense,
        seed=1,
    )
    supply.advance(60.0)
    eng_links = list(cambridge.links_of("ENG"))
    # Corrupted states push the QBER of every ENG link past the point where no key is left.
    assert supply.key_ledger().generated[eng_links].sum() == 0
    if defense == "none":
        assert supply.voting_rounds == 0 and supply.exclusions == (frozenset(), frozenset())
        with pytest.raises(InsufficientKeyError):
            supply.draw("crl-user", "eed-user", 64)
    else:
        assert supply.voting_rounds == 6 and supply.exclusions[0] == frozenset({"ENG"})
        key = supply.draw("crl-user", "eed-user", 64)
        assert "ENG" not in key.paths[0]
        with pytest.raises(NoKeyPathError):
            supply.draw("CRL", "ENG", 64)


def test_concurrent_draws_never_share_a_bit(cambridge):
    supply = NetworkKeySupply(cambridge)
    supply.advance(0.5)
    pairs = [("crl-user", "eed-user"), ("CRL", "EED"), ("ENG", "crl-user"), ("eng-user", "EED")]
    keys, errors = [], []

    def worker(master, slave):
        for _ in range(20):
            try:
                keys.append(supply.draw(master, slave, 64))
            except Exception as exc:
                errors.append(exc)

    run_threads(worker, pairs * 2)
    assert not errors and len(keys) == 160
    consumed = supply.key_ledger().consumed.sum()
    assert consumed == sum(key.consumed_bits for key in keys)
    blocks = {key.master_bits.tobytes() for key in keys}
    assert len(blocks) == len(keys)  # 64 fresh secret bits collide with probability ~2**-57
    supply.check_ledger()


def test_clock_runs_the_network(cambridge):
    supply = NetworkKeySupply(cambridge)
    with NetworkClock(supply, speed=100.0, tick_s=0.01):
        deadline = time.monotonic() + 30
        while supply.time_s < 0.5 and time.monotonic() < deadline:
            time.sleep(0.01)
    assert supply.time_s >= 0.5
    stopped_at = supply.time_s
    time.sleep(0.05)
    assert supply.time_s == stopped_at


def test_speed_factor():
    assert speed_factor("realtime", 50.0) == 1.0
    assert speed_factor("fast") == 10.0 and speed_factor("fast", 2.5) == 2.5
    with pytest.raises(ValueError, match="clock"):
        speed_factor("slow")
    with pytest.raises(ValueError, match="speed"):
        speed_factor("fast", -1.0)
    assert math.isclose(speed_factor("fast", 1e3), 1e3)
