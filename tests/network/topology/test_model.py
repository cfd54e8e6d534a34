"""QKDTopology: validation errors (each naming the node or link), accessors, demands, reach."""

from __future__ import annotations

import dataclasses
import math

import networkx as nx
import numpy as np
import pytest
from scipy.optimize import brentq, minimize_scalar

import network.topology.model as model
from network.errors import TopologyError
from network.topology import QKDTopology, link_parameters, max_link_length_km
from qkdcircuits import BB84DecoyParams, Detector, MDIParams


def bb84(length_km: float) -> BB84DecoyParams:
    return BB84DecoyParams.gys(length_km=length_km)


def mdi(length_km: float, fraction: float = 0.5) -> MDIParams:
    return MDIParams.xu2013(length_km=length_km, relay_fraction=fraction)


def small_graph() -> nx.Graph:
    """A - B - C trusted chain, user u on A (BB84) and on C (MDI through relay R)."""
    graph = nx.Graph()
    graph.add_nodes_from(["A", "B", "C"], kind="trusted")
    graph.add_node("u", kind="endpoint")
    graph.add_node("v", kind="endpoint")
    graph.add_node("R", kind="relay")
    graph.add_edge("A", "B", protocol="bb84-decoy", params=bb84(20.0))
    graph.add_edge("B", "C", protocol="bb84-decoy", params=bb84(30.0))
    graph.add_edge("u", "A", protocol="bb84-decoy", params=bb84(1.0))
    graph.add_edge("v", "C", protocol="mdi", params=mdi(8.0), relay="R")
    return graph


# -- accessors ------------------------------------------------------------------------------


def test_links_ids_and_accessors():
    topo = QKDTopology(small_graph(), name="small", sources=("a paper",))
    assert topo.links == tuple(nx.Graph(small_graph()).edges)
    assert topo.n_links == 4
    for i, (u, v) in enumerate(topo.links):
        assert topo.link_id(u, v) == topo.link_id(v, u) == i
        assert topo.graph.edges[u, v]["link_id"] == i
    i = topo.link_id("C", "v")
    assert topo.protocol(i) == topo.protocol(("v", "C")) == "mdi"
    assert topo.relay(i) == "R" and topo.relay(("A", "B")) is None
    assert topo.length_km(("B", "C")) == 30.0
    assert topo.params(("u", "A")) == bb84(1.0)
    assert topo.lengths_km.tolist() == [topo.length_km(k) for k in range(4)]
    assert topo.link_protocols.count("mdi") == 1
    assert topo.trusted_nodes == ("A", "B", "C")
    assert topo.endpoints == ("u", "v") and topo.relays == ("R",)
    assert topo.key_holding_nodes == ("A", "B", "C", "u", "v")
    assert topo.kind("R") == "relay"
    assert topo.links_of("R") == (i,)
    assert set(topo.links_of("B")) == {topo.link_id("A", "B"), topo.link_id("B", "C")}
    ends = topo.link_ends
    assert [(topo.nodes[a], topo.nodes[b]) for a, b in ends] == list(topo.links)
    assert (topo.name, topo.sources, topo.demands) == ("small", ("a paper",), None)
    with pytest.raises(KeyError, match="no link between 'A' and 'C'"):
        topo.link_id("A", "C")
    with pytest.raises(KeyError, match="link id 4"):
        topo.protocol(4)
    with pytest.raises(ValueError, match="kind='user'"):
        topo.nodes_of_kind("user")


def test_arrays_and_graph_are_read_only_and_copied():
    graph = small_graph()
    topo = QKDTopology(graph)
    with pytest.raises(ValueError):
        topo.lengths_km[0] = 5.0
    with pytest.raises(ValueError):
        topo.reach_km[0] = 5.0
    with pytest.raises(nx.NetworkXError):
        topo.graph.add_node("X", kind="trusted")
    with pytest.raises(nx.NetworkXError):
        topo.routing_graph.remove_node("A")
    graph.add_node("late", kind="trusted")
    graph.edges["A", "B"]["params"] = bb84(99.0)
    assert "late" not in topo.graph and topo.length_km(("A", "B")) == 20.0


def test_routing_graph_holds_key_holding_nodes_with_link_ids():
    topo = QKDTopology(small_graph())
    routing = topo.routing_graph
    assert set(routing) == {"A", "B", "C", "u", "v"}
    assert {routing.edges[u, v]["link_id"] for u, v in routing.edges} == set(range(4))
    assert nx.shortest_path_length(routing, "u", "v", weight="length_km") == 1 + 20 + 30 + 8


def test_frozen_graph_rebuilds_an_equal_topology():
    topo = QKDTopology(small_graph(), name="x")
    again = QKDTopology(nx.Graph(topo.graph), name="x")
    assert again == topo and again.links == topo.links
    assert QKDTopology(nx.Graph(topo.graph), name="y") != topo


def test_summary_counts():
    summary = QKDTopology(small_graph(), name="s").summary()
    assert summary["node_counts"] == {"trusted": 3, "endpoint": 2, "relay": 1}
    assert summary["link_counts"] == {"bb84-decoy": 3, "mdi": 1, "total": 4}
    assert summary["total_length_km"] == 59.0 and summary["longest_link_km"] == 30.0
    assert {"name": "R", "kind": "relay"} in summary["nodes"]


# -- demands --------------------------------------------------------------------------------


def test_demands_connect_through_trusted_nodes_only():
    graph = small_graph()
    topo = QKDTopology(graph, demands=[("u", "v"), ("A", "v")])
    assert topo.demands == (("u", "v"), ("A", "v"))
    # Cut B - C: u and v are then joined only through endpoint w, which does not relay.
    graph.remove_edge("B", "C")
    graph.add_node("w", kind="endpoint")
    graph.add_edge("w", "A", protocol="bb84-decoy", params=bb84(2.0))
    graph.add_edge("w", "C", protocol="bb84-decoy", params=bb84(2.0))
    assert nx.has_path(graph, "u", "v")
    with pytest.raises(TopologyError, match=r"demand \('u', 'v'\) is not connected"):
        QKDTopology(graph, demands=[("u", "v")])
    # A direct link needs no relay at all; u and w share trusted neighbour A; trusted A and C
    # are joined only through w.
    topo = QKDTopology(graph, demands=[("w", "C"), ("u", "w")])
    assert topo.connected("w", "C") and topo.connected("u", "w")
    assert not topo.connected("A", "C")


@pytest.mark.parametrize(
    ("demands", "message"),
    [
        ([("u", "u")], r"demand \('u', 'u'\) pairs a node with itself"),
        ([("u", "v"), ("v", "u")], r"demand \('v', 'u'\) is repeated"),
        ([("u", "R")], r"demand \('u', 'R'\): node 'R' is of kind 'relay'"),
        ([("u", "nowhere")], r"node 'nowhere' is not in topology"),
        ([("u",)], r"demand \('u',\) must be a pair"),
        ("uv", "must be an iterable of node pairs"),
    ],
)
def test_bad_demands(demands, message):
    with pytest.raises(TopologyError, match=message):
        QKDTopology(small_graph(), demands=demands)


# -- validation errors ----------------------------------------------------------------------


def mutate(change):
    graph = small_graph()
    change(graph)
    return graph


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda g: g.add_node("X", kind="satellite"), r"node 'X': kind='satellite'"),
        (lambda g: g.add_node("X"), r"node 'X': kind=None"),
        (lambda g: g.add_node("X", kind="trusted", colour=1), r"node 'X': unknown attribute"),
        (lambda g: g.add_node("X", kind="trusted", pos_km=(1.0,)), r"node 'X': pos_km"),
        (lambda g: g.add_node("X", kind="trusted", pos_km=(0, math.nan)), r"node 'X': pos_km"),
        (lambda g: g.add_node(1.5, kind="trusted"), r"node 1.5: names must be str or int"),
        (lambda g: g.add_node(True, kind="trusted"), r"node True: names must be str or int"),
        (lambda g: g.add_node("", kind="trusted"), r"node '': names must not be empty"),
        (
            lambda g: g.add_nodes_from([(7, {"kind": "trusted"}), ("7", {"kind": "trusted"})]),
            r"nodes 7 and '7' have the same name text",
        ),
        (
            lambda g: g.add_edge("A", "A", protocol="bb84-decoy", params=bb84(1.0)),
            r"link \('A', 'A'\): self-loops",
        ),
        (
            lambda g: g.add_edge("A", "R", protocol="bb84-decoy", params=bb84(1.0)),
            r"link \('A', 'R'\) touches relay 'R'",
        ),
        (
            lambda g: g.add_edge("A", "C", protocol="e91", params=bb84(1.0)),
            r"link \('A', 'C'\): protocol='e91'",
        ),
        (
            lambda g: g.add_edge("A", "C", protocol="bb84-decoy", params={"length_km": 1}),
            r"link \('A', 'C'\): params=\{'length_km': 1\} must be",
        ),
        (
            lambda g: g.add_edge("A", "C", protocol="bb84-decoy", params=mdi(1.0)),
            r"link \('A', 'C'\): params are for protocol 'mdi', the link is 'bb84-decoy'",
        ),
        (
            lambda g: g.add_edge("A", "C", protocol="mdi", params=mdi(4.0)),
            r"link \('A', 'C'\): an MDI link needs a 'relay'",
        ),
        (
            lambda g: g.add_edge("A", "C", protocol="mdi", params=mdi(4.0), relay="Q"),
            r"link \('A', 'C'\): relay 'Q' is not a node",
        ),
        (
            lambda g: g.add_edge("A", "C", protocol="mdi", params=mdi(4.0), relay="B"),
            r"link \('A', 'C'\): relay 'B' is of kind 'trusted'",
        ),
        (
            lambda g: g.add_edge("A", "C", protocol="bb84-decoy", params=bb84(4.0), relay="R"),
            r"link \('A', 'C'\): relay='R' given for a 'bb84-decoy' link",
        ),
        (
            lambda g: g.add_edge("A", "C", protocol="bb84-decoy", params=bb84(4.0), cost=2),
            r"link \('A', 'C'\): unknown attribute",
        ),
        (
            lambda g: g.add_edge("A", "C", protocol="bb84-decoy", params=bb84(4.0), length_km=5),
            r"link \('A', 'C'\): length_km=5 disagrees with its parameters \(4.0 km\)",
        ),
        (lambda g: g.add_node("R2", kind="relay"), r"node 'R2': relay used by no MDI link"),
        (
            lambda g: g.add_edge("A", "C", protocol="bb84-decoy", params=bb84(150.0)),
            r"link \('A', 'C'\) is 150 km long, beyond the 142\.\d+ km maximum distance",
        ),
    ],
)
def test_each_bad_topology_names_the_node_or_link(change, message):
    with pytest.raises(TopologyError, match=message):
        QKDTopology(mutate(change))


def test_corrupted_length_inside_parameters_is_caught():
    # Parameters validate their lengths; one forced past that check is still refused.
    params = bb84(4.0)
    object.__setattr__(params.channel, "length_km", math.nan)
    with pytest.raises(TopologyError, match=r"link \('A', 'C'\): length_km=nan"):
        QKDTopology(mutate(lambda g: g.add_edge("A", "C", protocol="bb84-decoy", params=params)))


@pytest.mark.parametrize("length", [-1.0, math.nan, math.inf])
def test_link_parameters_wrap_the_parameters_error_with_the_link(length):
    with pytest.raises(TopologyError, match=r"link \('A', 'B'\): length_km="):
        link_parameters("bb84-decoy", length_km=length, link=("A", "B"))
    with pytest.raises(TopologyError, match=r"link \('A', 'B'\): length_km="):
        link_parameters("mdi", length_km=length, link=("A", "B"))


def test_link_parameters_checks_protocol_and_base():
    with pytest.raises(TopologyError, match="protocol='bb84'"):
        link_parameters("bb84", length_km=1.0)
    with pytest.raises(TopologyError, match=r"link \(1, 2\): base="):
        link_parameters("mdi", length_km=1.0, base=bb84(0.0), link=(1, 2))
    with pytest.raises(TopologyError, match="relay_fraction=2"):
        link_parameters("mdi", length_km=1.0, relay_fraction=2.0)
    params = link_parameters("mdi", length_km=10.0, relay_fraction=0.3)
    assert (params.length_a_km, params.length_b_km) == pytest.approx((3.0, 7.0))


@pytest.mark.parametrize("graph", [nx.DiGraph(), nx.MultiGraph(), {"A": {}}])
def test_graph_type(graph):
    with pytest.raises(TypeError, match=r"undirected networkx\.Graph"):
        QKDTopology(graph)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"decoy": "three-intensity"}, "not available for protocol 'bb84-decoy'"),
        ({"decoy": {"mdi": "vacuum-weak"}}, "not available for protocol 'mdi'"),
        ({"decoy": {"e91": "infinite"}}, "unknown protocol"),
        ({"decoy": 3}, "must be a str or a mapping"),
        ({"name": 3}, "name=3 must be a str"),
        ({"sources": "one paper"}, "sequence of str"),
    ],
)
def test_bad_metadata(kwargs, message):
    with pytest.raises(TopologyError, match=message):
        QKDTopology(small_graph(), **kwargs)


def test_integer_node_names():
    graph = nx.relabel_nodes(small_graph(), {"A": 0, "B": 1, "C": 2})
    topo = QKDTopology(graph, demands=[("u", "v")])
    assert topo.trusted_nodes == (0, 1, 2) and topo.link_id(1, 0) == topo.link_id(0, 1)


# -- reach ----------------------------------------------------------------------------------


def gys_rate(mu: float, length_km: float) -> float:
    """GLLP rate, infinite decoys, GYS set: written out from Ma, Qi, Zhao, Lo (PRA 72, 012326
    (2005)) independently of the package (see REFERENCES.md)."""
    eta = 0.045 * 10 ** (-0.21 * length_km / 10)
    y0, e_d, f = 1.7e-6, 0.033, 1.22

    def h2(x: float) -> float:
        return -x * math.log2(x) - (1 - x) * math.log2(1 - x)

    q_mu = y0 + 1 - math.exp(-eta * mu)
    e_mu = (y0 / 2 + e_d * (1 - math.exp(-eta * mu))) / q_mu
    y1 = y0 + eta
    e1 = (y0 / 2 + e_d * eta) / y1
    q1 = y1 * mu * math.exp(-mu)
    return 0.5 * (-q_mu * f * h2(e_mu) + q1 * (1 - h2(e1)))


def test_reach_matches_an_independent_optimised_rate_zero():
    def best(length_km: float) -> float:
        result = minimize_scalar(
            lambda mu: -gys_rate(mu, length_km),
            bounds=(1e-3, 1.5),
            method="bounded",
            options={"xatol": 1e-8},
        )
        return -result.fun

    independent = brentq(best, 100.0, 200.0, xtol=1e-6)
    reach = max_link_length_km(bb84(7.0))
    assert reach == pytest.approx(independent, abs=0.01)
    assert 140.0 < reach < 145.0  # Ma et al. 2005: "over 140 km"
    QKDTopology(
        mutate(lambda g: g.add_edge("A", "C", protocol="bb84-decoy", params=bb84(reach - 0.01)))
    )
    with pytest.raises(TopologyError, match="maximum distance"):
        QKDTopology(
            mutate(lambda g: g.add_edge("A", "C", protocol="bb84-decoy", params=bb84(reach + 0.01)))
        )


def test_mdi_reach_depends_on_relay_position_and_decoy():
    middle = max_link_length_km(mdi(10.0))
    off_centre = max_link_length_km(mdi(10.0, fraction=0.2))
    assert off_centre < middle
    assert max_link_length_km(mdi(0.0)) == middle  # a zero-length link: relay in the middle
    assert max_link_length_km(mdi(10.0), decoy="three-intensity") < middle
    with pytest.raises(ValueError, match="decoy='vacuum-weak'"):
        max_link_length_km(mdi(1.0), decoy="vacuum-weak")
    with pytest.raises(TypeError, match="params="):
        max_link_length_km("gys")
    # The reach check uses the topology's decoy method: a link within the infinite-decoy reach
    # but beyond the finite-decoy one is refused only with the finite method.
    finite = max_link_length_km(mdi(0.0), decoy="three-intensity")
    length = (finite + middle) / 2
    graph = mutate(lambda g: g.add_edge("A", "C", protocol="mdi", params=mdi(length), relay="R"))
    QKDTopology(graph)
    with pytest.raises(TopologyError, match="decoy='three-intensity'"):
        QKDTopology(graph, decoy={"mdi": "three-intensity"})


def test_reach_is_computed_once_per_parameter_set(monkeypatch):
    calls = []
    real = model.max_distance

    def counting(params, **kwargs):
        calls.append(params)
        return real(params, **kwargs)

    monkeypatch.setattr(model, "max_distance", counting)
    # Parameters not used elsewhere in the suite, so nothing is cached yet.
    base = dataclasses.replace(
        BB84DecoyParams.gys(), detector=Detector(efficiency=0.05, dark_count_prob=1.1e-6)
    )
    rng = np.random.default_rng(5)
    graph = nx.path_graph(1001)
    nx.set_node_attributes(graph, "trusted", "kind")
    for u, v in graph.edges:
        graph.edges[u, v].update(
            protocol="bb84-decoy", params=base.with_length(length_km=float(rng.uniform(0, 100)))
        )
    topo = QKDTopology(graph)
    assert topo.n_links == 1000 and len(calls) == 1
    assert calls[0].length_km == 0.0
    QKDTopology(graph)
    assert len(calls) == 1
    assert np.all(topo.reach_km == topo.reach_km[0])
