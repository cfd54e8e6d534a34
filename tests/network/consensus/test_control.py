"""PBFT in the network's loop: the committed ledger drives routing, keys come from the pools."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

from network.byzantine import CorruptRelay, Equivocate, PassiveCopy, Silent
from network.consensus import ConsensusConfig, ControlPlane, replica_behaviour
from network.simulation.demands import DemandConfig
from network.simulation.resources import FluctuationConfig
from network.simulation.simulator import NetworkSimulation, SimulationConfig, build_simulation
from network.topology import QKDTopology, link_parameters, scenario

STATIC = FluctuationConfig.static()


def _config(**kwargs) -> SimulationConfig:
    base = dict(
        duration_s=60.0,
        fluctuations=STATIC,
        demands=DemandConfig(rate_hz=2.0, key_bits=256),
        consensus="pbft",
    )
    base.update(kwargs)
    return SimulationConfig(**base)


def _square() -> QKDTopology:
    """Four trusted nodes on a square with one diagonal; users u (at A) and v (at C)."""
    graph = nx.Graph()
    for node in "ABCD":
        graph.add_node(node, kind="trusted")
    for node in ("u", "v"):
        graph.add_node(node, kind="endpoint")
    for a, b in (
        ("A", "B"),
        ("B", "C"),
        ("C", "D"),
        ("D", "A"),
        ("A", "C"),
        ("u", "A"),
        ("C", "v"),
    ):
        graph.add_edge(
            a,
            b,
            protocol="bb84-decoy",
            params=link_parameters("bb84-decoy", length_km=20.0, link=(a, b)),
        )
    return QKDTopology(graph, name="square")


def _agree_with_routing(sim: NetworkSimulation, *, behind: tuple = ()) -> None:
    """Every correct replica holds the ledger routing reads (the run is quiescent at its end),
    except those ``behind``, cut off from key, which hold an earlier state of the same log."""
    control = sim.control
    assert control.agreement()
    for replica in control.correct:
        if control.committee[replica.id] in behind:
            assert replica.app.ledger.version < sim.ledger.version
        else:
            assert replica.app.ledger == sim.ledger
    nodes = sim.link_graph.nodes
    excluded_nodes, excluded_links = sim.router.exclusions
    assert excluded_nodes == {nodes[i] for i in sim.ledger.excluded_nodes}
    assert excluded_links == sim.ledger.excluded_links


def test_replicas_commit_the_rounds_that_voting_alone_applies_at_once():
    runs = {}
    for consensus in ("none", "pbft"):
        sim = build_simulation(
            "secoqc",
            byzantine_fraction=0.2,
            behaviour="withhold",
            config=_config(consensus=consensus),
            seed=3,
        )
        runs[consensus] = (sim, sim.run())
    (_, plain), (sim, pbft) = runs["none"], runs["pbft"]
    # a round takes effect when committed, a millisecond later: at the next vote the weights
    # in force are the previous round's, exactly those voting alone put in force at once
    np.testing.assert_array_equal(pbft.timeseries["weights"][1:], plain.timeseries["weights"][:-1])
    assert pbft.excluded_nodes == plain.excluded_nodes == ("FOR",)
    consensus = pbft.consensus
    assert consensus["rounds_committed"] == consensus["rounds_submitted"] - 1  # the last in flight
    assert consensus["committed_operations"] == sim.ledger.version
    assert 0 < consensus["mean_round_latency_ms"] < 20
    # a round's operations are requests of their own, batched into few pre-prepares
    batches = [e.requests for e in sim.control.correct[0].execution_log if e.kind == "batch"]
    assert max(len(b) for b in batches) > 1 and len(batches) < consensus["committed_operations"]
    assert consensus["reweightings_applied"] > 0
    # authentication key is taken from the same pools: the pool ledger counts it as consumed
    # (the users' requests fared the same in both runs)
    assert plain.metrics.requests == pbft.metrics.requests
    assert plain.metrics.served_fraction == pbft.metrics.served_fraction
    assert plain.ledger["delivered_bits"] < pbft.ledger["delivered_bits"]  # relayed auth key
    extra = pbft.ledger["consumed_bits"] - plain.ledger["consumed_bits"]
    assert extra == consensus["auth_key_bits"] > 0
    sim.store.check_ledger()
    _agree_with_routing(sim)


def test_the_committee_and_the_mapping_of_behaviours():
    behaviours = {"BRE": Equivocate(), "FOR": PassiveCopy(), "GUD": Silent()}
    small = ConsensusConfig(replicas=4, first_primary="FOR")
    sim = NetworkSimulation(
        scenario("secoqc"), _config(duration_s=1.0, pbft=small), behaviours=behaviours, seed=1
    )
    control = sim.control
    assert len(control.committee) == 4 and control.committee[0] == "FOR"
    assert set(control.committee) <= set(scenario("secoqc").trusted_nodes)
    sim = NetworkSimulation(
        scenario("secoqc"), _config(duration_s=1.0), behaviours=behaviours, seed=1
    )
    control = sim.control
    assert sorted(control.committee) == sorted(scenario("secoqc").trusted_nodes)  # all six
    named = dict(zip(control.committee, control.replicas, strict=True))
    for node, replica in named.items():
        expected = {"BRE": "equivocate", "GUD": "silent"}.get(node, "honest")
        assert replica.behaviour.name == expected
    assert {control.committee[i] for i in control.compromised} == set(behaviours)
    assert control.host not in behaviours  # the voting process runs at a correct member
    # delays follow the fibre, 1.468 / c = 4,897 ns per km, plus 50 us per hop: Erdberg -
    # Forsthaus is one 80 m link; Forsthaus - Breitenfurt is shorter through Erdberg, Gudrunstrasse
    # and the Breitenfurt user (0.08 + 6 + 6 + 1 km) than on their 24 km link
    assert control.delays_ns[("ERD", "FOR")] == round(0.08 * 4897) + 50_000
    assert control.delays_ns[("FOR", "BRE")] == round(13.08 * 4897) + 4 * 50_000


def test_same_seed_same_run_with_consensus_and_another_seed_differs():
    def run(seed):
        sim = build_simulation(
            "secoqc",
            byzantine_fraction=0.2,
            behaviour="equivocate",
            config=_config(
                duration_s=40.0,
                fluctuations=FluctuationConfig(),
                pbft=ConsensusConfig(jitter_s=0.002, drop_prob=0.05, duplicate_prob=0.05),
            ),
            seed=seed,
        )
        result = sim.run().to_dict(timeseries=True)
        del result["consensus"]["auth_key_bits"]  # equal too; shown separately below
        return result

    first = run(5)
    assert first == run(5)
    assert first != run(6)
    assert first["consensus"]["messages_dropped"] > 0
    assert first["consensus"]["rejected"].get("replayed", 0) > 0  # duplicates caught as replays


def test_an_equivocating_primary_is_replaced_and_the_ledger_still_agrees():
    sim = NetworkSimulation(
        scenario("secoqc"),
        _config(pbft=ConsensusConfig(first_primary="BRE")),
        behaviours={"BRE": Equivocate()},
        seed=2,
    )
    result = sim.run()
    consensus = result.consensus
    assert consensus["committee"][0] == "BRE"
    assert consensus["view_changes"] > 0 and consensus["view"] >= 1
    assert consensus["primary"] != "BRE"
    assert consensus["rounds_committed"] >= consensus["rounds_submitted"] - 1
    assert "BRE" in result.excluded_nodes  # its equivocated reports gave it away
    # St. Poelten's only link is to Breitenfurt: once BRE is excluded no authentication key
    # reaches STP (it would cross BRE) and STP falls behind; the other four still form a quorum
    _agree_with_routing(sim, behind=("STP",))


def test_without_key_the_ledger_stops_and_it_resumes_when_key_is_deposited_again():
    sim = NetworkSimulation(_square(), _config(vote_interval_s=5.0), seed=4)
    links = np.arange(sim.n_links)

    def run_to(t, *, drain=False):
        while sim.now_s < t:
            sim.step()
            if drain:  # users take every bit as soon as it is distilled
                sim.store.discard(links)

    run_to(21.0)  # rounds at 5, 10, 15 and 20 s commit
    assert sim.control.rounds["committed"] == 4
    sim.set_intensity_scale(1e-3)  # ~17 bit/s per link: less than one tag's worth per slice
    sim.store.discard(links)
    before = sim.control.summary()
    run_to(46.0, drain=True)
    stalled = sim.control.summary()
    # the round at 25 s may commit on the pads the channels still held; then nothing does
    assert stalled["rounds_committed"] <= before["rounds_committed"] + 1
    assert stalled["rounds_skipped"] >= 3  # the later rounds wait for the stuck one
    assert stalled["unauthenticated_sends"] > before["unauthenticated_sends"]
    assert stalled["rejected"]["missing"] > before["rejected"].get("missing", 0)
    stuck = sim.ledger.version
    sim.set_intensity_scale(1.0)  # key flows again
    run_to(61.0)
    assert sim.ledger.version > stuck
    assert sim.control.rounds["committed"] > stalled["rounds_committed"] + 1
    assert sim.control.agreement()


def test_a_reweighting_that_breaks_the_third_is_refused_and_the_old_weights_stay():
    sim = NetworkSimulation(_square(), _config(vote_interval_s=100.0), seed=5)
    control = sim.control
    index = {node: i for i, node in enumerate(sim.link_graph.nodes)}
    sim.step()
    # two of four members at a tenth: F* = 1 (f = 1) >= W/3 = 2.2/3
    proposal = np.ones(len(index))
    for node in control.committee[2:]:
        proposal[index[node]] = 0.1
    assert control.submit_round([], proposal)
    sim.step()
    [refused] = control.summary()["refused_reweightings"]
    assert refused["weights"] == [1000, 1000, 100, 100]
    assert "F*=1000 (the 1 largest) must be < W/3=733.333" in refused["error"]
    assert all(r.quorums_for(1 << 62).weights == (1000,) * 4 for r in control.replicas)
    # a re-weighting within the bound is ordered and takes effect at the same sequence number
    proposal[index[control.committee[2]]] = 0.5
    proposal[index[control.committee[3]]] = 0.9
    assert control.submit_round([], proposal)
    sim.step()
    summary = control.summary()
    assert summary["reweightings_applied"] == 1 and len(summary["refused_reweightings"]) == 1
    starts = {r.schedule[-1][0] for r in control.correct}
    assert len(starts) == 1
    (start,) = starts
    for replica in control.correct:
        assert replica.quorums_for(start - 1).weights == (1000,) * 4
        assert replica.quorums_for(start).weights == (1000, 1000, 500, 900)
    assert control.agreement()


def test_a_corrupting_relay_spoils_the_authentication_key_it_relays():
    # B and D share no link; whichever way their key is relayed (through A or C), it is
    # corrupted: the two ends' pads differ and every tag on the channel fails as forged
    behaviours = {"A": CorruptRelay(), "C": CorruptRelay()}
    sim = NetworkSimulation(_square(), _config(duration_s=30.0), behaviours=behaviours, seed=6)
    result = sim.run()
    consensus = result.consensus
    assert set(sim.control.committee) == set("ABCD")
    assert consensus["replica_behaviours"] == {"A": "alter-relays", "C": "alter-relays"}
    assert consensus["rejected"]["forged"] > 0
    forged = {
        node: sim.control.replicas[i].keys.stats.verdicts.get("forged", 0)
        for i, node in enumerate(sim.control.committee)
    }
    assert forged["B"] + forged["D"] > 0 and forged["A"] == forged["C"] == 0
    # B and D reach the others directly: the group still commits every round but the last
    assert consensus["rounds_committed"] == consensus["rounds_submitted"] - 1
    assert consensus["agreement"]


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"defense": "none"}, ValueError, "needs defense='abft'"),
        ({"consensus": "raft"}, ValueError, "consensus"),
        ({"pbft": {"replicas": 4}}, TypeError, "pbft="),
    ],
)
def test_bad_simulation_configurations(kwargs, error, match):
    with pytest.raises(error, match=match):
        _config(**kwargs)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"replicas": 0}, "replicas=0"),
        ({"drop_prob": 1.0}, "drop_prob=1.0"),
        ({"jitter_s": -1.0}, "jitter_s=-1.0"),
        ({"retransmit_s": 0.0}, "retransmit_s=0.0"),
        ({"fibre_group_index": 0.5}, "fibre_group_index=0.5"),
        ({"key_chunk_bits": 100}, "key_chunk_bits=100"),
    ],
)
def test_bad_consensus_settings(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ConsensusConfig(**kwargs)


def test_a_first_primary_must_be_a_trusted_node():
    with pytest.raises(ValueError, match="first_primary='u' is not a trusted node"):
        NetworkSimulation(_square(), _config(pbft=ConsensusConfig(first_primary="u")), seed=1)


def test_without_consensus_nothing_changes_in_the_output():
    config = SimulationConfig(duration_s=5.0)
    assert config.consensus == "none" and "pbft" not in config.to_dict()
    sim = build_simulation("cambridge", config=config, seed=1)
    result = sim.run()
    assert sim.control is None and result.consensus is None
    assert "consensus" not in result.to_dict()


def test_every_network_behaviour_maps_to_a_replica_behaviour():
    from network.byzantine import BEHAVIOURS
    from network.consensus import REPLICA_BEHAVIOURS, Coalition

    assert set(REPLICA_BEHAVIOURS) == set(BEHAVIOURS) - {"mixed"}
    coalition = Coalition({0}, {2})
    names = {}
    for name, cls in BEHAVIOURS.items():
        if name == "mixed":
            continue
        mapped = replica_behaviour(cls(), coalition=coalition)
        names[name] = "follows the protocol" if mapped is None else mapped.name
    assert names == {
        "corrupt-states": "follows the protocol",
        "false-reports": "false-votes",
        "withhold": "drop-relays",
        "corrupt-relay": "alter-relays",
        "equivocate": "equivocate",
        "silent": "silent",
        "passive-copy": "follows the protocol",
        "collude": "collude",
    }
    assert ControlPlane.__doc__
