"""The network simulation: determinism, conservation, and each defence against each attack."""

from __future__ import annotations

import math

import networkx as nx
import numpy as np
import pytest

from network.byzantine import CorruptStates, PassiveCopy, Withhold
from network.simulation.demands import DemandConfig
from network.simulation.resources import FluctuationConfig
from network.simulation.simulator import NetworkSimulation, SimulationConfig, build_simulation
from network.topology import QKDTopology, link_parameters

STATIC = FluctuationConfig.static()


def _topology() -> QKDTopology:
    """u and v joined through trusted A (2 hops, the shortest) or through B then D (3 hops)."""
    graph = nx.Graph()
    for node, kind in (
        ("u", "endpoint"),
        ("v", "endpoint"),
        ("A", "trusted"),
        ("B", "trusted"),
        ("D", "trusted"),
    ):
        graph.add_node(node, kind=kind)
    for a, b in (("u", "A"), ("A", "v"), ("u", "B"), ("B", "D"), ("D", "v")):
        graph.add_edge(
            a,
            b,
            protocol="bb84-decoy",
            params=link_parameters("bb84-decoy", length_km=10.0, link=(a, b)),
        )
    return QKDTopology(graph, name="detour")


def _config(**kwargs):
    base = dict(
        duration_s=120.0, fluctuations=STATIC, demands=DemandConfig(rate_hz=4.0, key_bits=256)
    )
    base.update(kwargs)
    return SimulationConfig(**base)


def test_same_seed_same_run_and_a_different_seed_differs():
    def run(seed):
        sim = build_simulation(
            "cambridge",
            byzantine_fraction=0.34,
            behaviour="mixed",
            config=SimulationConfig(duration_s=40.0),
            seed=seed,
        )
        return sim.run().to_dict(timeseries=True)

    assert run(5) == run(5)
    assert run(5) != run(6)


def test_key_pools_conserve_bits_and_deliveries_add_up():
    sim = build_simulation(
        "secoqc",
        byzantine_fraction=0.2,
        behaviour="corrupt-relay",
        config=SimulationConfig(duration_s=60.0),
        seed=3,
    )
    result = sim.run()
    sim.store.check_ledger()  # generated = stored + consumed + discarded, per link
    ledger = result.ledger
    assert ledger["generated_bits"] == (
        ledger["stored_bits"] + ledger["consumed_bits"] + ledger["discarded_bits"]
    )
    delivered = result.metrics.delivered_key_bps * result.metrics.duration_s
    # every delivered key crossed at least one link; pads of its hops are counted as delivered
    assert ledger["delivered_bits"] >= delivered
    assert ledger["delivered_bits"] <= ledger["consumed_bits"]
    assert result.metrics.requests > 0


def test_withholding_relay_is_excluded_and_keys_take_the_detour():
    behaviours = {"A": Withhold()}
    none = NetworkSimulation(_topology(), _config(defense="none"), behaviours=behaviours, seed=1)
    abft = NetworkSimulation(_topology(), _config(defense="abft"), behaviours=behaviours, seed=1)
    base, defended = none.run(), abft.run()
    assert base.metrics.availability == 0.0  # every key goes through A and is dropped
    assert "A" in defended.excluded_nodes and "B" not in defended.excluded_nodes
    # the first voting round (10 s) excludes A; afterwards the detour serves every request
    late = defended.timeseries["availability"][20:]
    assert np.nanmin(late) == 1.0
    assert defended.metrics.availability > 0.8


def test_corrupted_states_raise_the_used_qber_until_the_node_is_excluded():
    behaviours = {"A": CorruptStates(attack_prob=0.1)}
    base = NetworkSimulation(_topology(), _config(defense="none"), behaviours=behaviours, seed=2)
    abft = NetworkSimulation(_topology(), _config(defense="abft"), behaviours=behaviours, seed=2)
    r0, r1 = base.run(), abft.run()
    # intercept-resend on 10 % of the pulses: e = e_d + 0.1 (1 - 2 e_d) / 4 on A's links
    e_d = 0.033
    attacked = e_d + 0.1 * (1 - 2 * e_d) / 4
    assert r0.metrics.mean_used_qber == pytest.approx(attacked, abs=0.005)
    assert "A" in r1.excluded_nodes
    assert r1.metrics.mean_used_qber < r0.metrics.mean_used_qber - 0.01
    assert r1.weights["A"] < 0.5 <= min(r1.weights[n] for n in ("B", "D", "u", "v"))


def test_states_corrupted_beyond_the_key_rate_cut_off_leave_no_key_on_that_route():
    """At 30 % intercept-resend the links through A distil no key: nothing is served via A."""
    behaviours = {"A": CorruptStates(attack_prob=0.3)}
    sim = NetworkSimulation(_topology(), _config(defense="none"), behaviours=behaviours, seed=2)
    result = sim.run()
    a_links = [sim.topology.link_id("u", "A"), sim.topology.link_id("A", "v")]
    assert (np.asarray(sim.snapshot.key_rate_bps)[a_links] == 0).all()
    assert result.metrics.served_fraction == 0.0  # the baseline keeps routing through A


def test_passive_copying_is_invisible_to_voting_but_multipath_bounds_it():
    behaviours = {"A": PassiveCopy()}
    otp = NetworkSimulation(_topology(), _config(defense="abft"), behaviours=behaviours, seed=4)
    r_otp = otp.run()
    assert r_otp.metrics.exposed_key_fraction == 1.0  # every key crossed A in the clear
    assert r_otp.excluded_nodes == ()  # no symptom: nobody is excluded
    shares = _config(
        defense="abft", demands=DemandConfig(rate_hz=4.0, relay="multipath", paths=2, threshold=2)
    )
    r_mp = NetworkSimulation(_topology(), shares, behaviours=behaviours, seed=4).run()
    assert r_mp.metrics.served_fraction == 1.0
    assert r_mp.metrics.exposed_key_fraction == 0.0  # A sees one share of two


def test_material_mode_delivers_real_keys():
    sim = NetworkSimulation(_topology(), _config(duration_s=20.0, mode="material"), seed=7)
    result = sim.run()
    assert result.metrics.served_fraction == 1.0
    assert result.ledger["delivered_bits"] > 0
    sim.store.check_ledger()


def test_controls_act_from_the_next_slice():
    sim = NetworkSimulation(_topology(), _config(), seed=1)
    sim.step()
    assert sim.now_s == 1.0
    before = np.asarray(sim.snapshot.key_rate_bps).copy()
    sim.set_intensity_scale(0.2)
    sim.step()
    assert sim.now_s == 2.0
    assert (np.asarray(sim.snapshot.key_rate_bps) < before).all()
    with pytest.raises(ValueError, match="scale"):
        sim.set_intensity_scale(0.0)
    with pytest.raises(ValueError, match="no alternative"):
        sim.set_protocol_choice(1, links=[0])
    with pytest.raises(ValueError, match="routing"):
        sim.set_routing("teleport")


def test_an_interrupted_run_returns_what_was_simulated(monkeypatch):
    sim = NetworkSimulation(_topology(), _config(duration_s=50.0), seed=1)
    calls = {"n": 0}
    original = sim.resources.advance

    def advance(dt_s):  # Ctrl-C arrives while the sixth slice starts
        calls["n"] += 1
        if calls["n"] == 6:
            raise KeyboardInterrupt
        return original(dt_s)

    monkeypatch.setattr(sim.resources, "advance", advance)
    result = sim.run()
    assert result.interrupted and math.isclose(result.metrics.duration_s, 5.0)
    assert len(result.timeseries["time_s"]) == 5


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"slice_s": 0.0}, "slice_s"),
        ({"vote_interval_s": 0.5}, "vote_interval_s"),
        ({"defense": "prayer"}, "defense"),
        ({"mode": "magic"}, "mode"),
        ({"qber_threshold": 0.7}, "qber_threshold"),
        ({"pool_capacity_bits": -1}, "pool_capacity_bits"),
        ({"consensus": "paxos"}, "consensus"),
        ({"consensus": "pbft", "defense": "none"}, "needs defense='abft'"),
    ],
)
def test_bad_configuration(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SimulationConfig(**kwargs)


def test_bad_simulation_arguments():
    with pytest.raises(TypeError, match="topology"):
        NetworkSimulation("secoqc")
    with pytest.raises(TypeError, match="behaviours"):
        NetworkSimulation(_topology(), _config(), behaviours={"A": "withhold"})
    with pytest.raises(ValueError, match="ghost"):
        NetworkSimulation(_topology(), _config(), behaviours={"ghost": Withhold()})


def test_consensus_in_the_loop_reproduces_the_ledger_one_commit_later():
    behaviours = {"A": Withhold()}
    plain = NetworkSimulation(_topology(), _config(), behaviours=behaviours, seed=1).run()
    sim = NetworkSimulation(_topology(), _config(consensus="pbft"), behaviours=behaviours, seed=1)
    pbft = sim.run()
    # the detour topology has three trusted nodes: a committee of three tolerates no fault,
    # but A withholds only key: its replica drops relays and the others still agree
    assert sim.control.committee and set(sim.control.committee) == {"A", "B", "D"}
    assert pbft.excluded_nodes == plain.excluded_nodes == ("A",)
    np.testing.assert_array_equal(pbft.timeseries["weights"][1:], plain.timeseries["weights"][:-1])
    assert pbft.consensus["agreement"] and plain.consensus is None
