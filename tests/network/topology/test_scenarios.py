"""Built-in scenarios: the numbers taken from the cited papers, and the conventions."""

from __future__ import annotations

import itertools

import networkx as nx
import pytest

from network.errors import TopologyError
from network.topology import SCENARIOS, scenario
from network.topology.scenarios import BACKBONE_CITIES, backbone
from qkdcircuits import BB84DecoyParams, MDIParams


def trunk(topo):
    """The trusted nodes and the links between them."""
    return topo.graph.subgraph(topo.trusted_nodes)


def test_registry():
    assert list(SCENARIOS) == ["secoqc", "tokyo", "cambridge", "backbone"]
    for name, info in SCENARIOS.items():
        topo = scenario(name)
        assert info.name == topo.name == name
        assert info.description == topo.description
        assert topo.sources[0].startswith(info.sources[0].split(",")[0])
        assert scenario(name) is topo  # built once
    with pytest.raises(ValueError, match=r"must be one of \['backbone', 'cambridge'"):
        scenario("darpa")


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_conventions_shared_by_every_scenario(name):
    topo = scenario(name)
    endpoints = topo.endpoints
    assert len(endpoints) >= 3
    assert topo.demands == tuple(itertools.combinations(endpoints, 2))
    # Endpoints reach the network over short access links to trusted nodes.
    for user in endpoints:
        access = [topo.length_km(i) for i in topo.links_of(user)]
        assert access and max(access) <= 10.0
        assert any(topo.kind(n) == "trusted" for n in topo.graph.neighbors(user))
    # Some MDI links, each through an untrusted relay that holds no link of its own.
    mdi_links = [i for i in range(topo.n_links) if topo.protocol(i) == "mdi"]
    assert mdi_links
    for i in mdi_links:
        assert topo.kind(topo.relay(i)) == "relay"
        assert topo.graph.degree(topo.relay(i)) == 0
    # Every link within reach, parameters of the matching reference family.
    assert (topo.lengths_km <= topo.reach_km).all()
    for params in topo.link_params:
        reference = BB84DecoyParams.gys() if params.protocol == "bb84-decoy" else MDIParams.xu2013()
        assert params.detector == reference.detector
        assert params.misalignment_prob == reference.misalignment_prob
    # Independent connectivity check: each demand has a path whose interior is trusted.
    for a, b in topo.demands:
        allowed = topo.graph.subgraph([*topo.trusted_nodes, a, b])
        assert nx.has_path(allowed, a, b)


def test_secoqc_facts_from_peev_2009():
    topo = scenario("secoqc")
    assert topo.trusted_nodes == ("SIE", "ERD", "GUD", "FOR", "BRE", "STP")
    backbone_links = trunk(topo)
    assert backbone_links.number_of_edges() == 8  # six nodes, eight links
    assert topo.length_km(("BRE", "STP")) == 85.0  # the long link to St. Poelten
    assert max(d for _, _, d in backbone_links.edges(data="length_km")) == 85.0
    assert backbone_links.degree("STP") == 1
    assert sorted(d for _, _, d in backbone_links.edges(data="length_km"))[0] == 0.08  # 80 m
    assert all(
        topo.params(i) == BB84DecoyParams.gys(length_km=topo.length_km(i))
        for i in range(topo.n_links)
        if topo.protocol(i) == "bb84-decoy"
    )


def test_tokyo_facts_from_sasaki_2011():
    topo = scenario("tokyo")
    assert topo.trusted_nodes == ("koganei", "otemachi", "hakusan", "hongo")
    cited = {
        ("koganei", "otemachi"): (45.0, 0.3),
        ("otemachi", "hakusan"): (12.0, 0.5),
        ("otemachi", "hongo"): (13.0, 0.5),
    }
    for link, (length_km, loss_db_per_km) in cited.items():
        params = topo.params(link)
        assert topo.length_km(link) == length_km
        assert params.channel.loss_db_per_km == loss_db_per_km
        assert params.channel.loss_db == pytest.approx(length_km * loss_db_per_km)
    # The assumed Hakusan-Hongo MDI link closes a cycle; everything else hangs off Otemachi.
    assert topo.protocol(("hakusan", "hongo")) == "mdi"
    assert nx.cycle_basis(trunk(topo)) and trunk(topo).number_of_edges() == 4


def test_cambridge_is_a_triangle_after_dynes_2019():
    topo = scenario("cambridge")
    triangle = trunk(topo)
    assert nx.is_isomorphic(triangle, nx.cycle_graph(3))
    # Link redundancy: losing any one trusted link keeps every demand connected.
    for u, v in triangle.edges:
        graph = nx.Graph(topo.graph)
        graph.remove_edge(u, v)
        for a, b in topo.demands:
            assert nx.has_path(graph.subgraph([*topo.trusted_nodes, a, b]), a, b)


def test_backbone_facts_from_chen_2021():
    topo = scenario("backbone")
    chain = trunk(topo)
    assert nx.is_isomorphic(chain, nx.path_graph(32))
    lengths = [d for _, _, d in chain.edges(data="length_km")]
    assert set(lengths) == {65.0}
    assert sum(lengths) > 2000.0  # "more than 2,000 kilometres" of backbone fibre
    ends = [n for n in chain if chain.degree(n) == 1]
    assert set(ends) == {"beijing", "shanghai"}
    order = nx.shortest_path(chain, "beijing", "shanghai")
    positions = [order.index(city) for city in BACKBONE_CITIES]
    assert positions == sorted(positions) == [0, 9, 21, 31]
    # Cities sit where their great-circle share of the route puts them (within one hop).
    for city, position in BACKBONE_CITIES.items():
        share = position / BACKBONE_CITIES["shanghai"]
        assert abs(order.index(city) - share * 31) <= 0.5


def test_backbone_variants_and_errors():
    small = backbone(n_trusted=8, spacing_km=60.0)
    assert len(small.trusted_nodes) == 8
    assert trunk(small).size(weight="length_km") == 7 * 60.0
    with pytest.raises(TopologyError, match="n_trusted=3"):
        backbone(n_trusted=3)
    with pytest.raises(TopologyError, match=r"link \('beijing', 'tn01'\) is 150 km long"):
        backbone(spacing_km=150.0)
    with pytest.raises(TopologyError, match=r"link \('beijing', 'tn01'\): length_km=-1"):
        backbone(spacing_km=-1.0)
