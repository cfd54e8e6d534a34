"""Random geometric and Waxman generators: determinism, geometry, reach, connectivity."""

from __future__ import annotations

import itertools
import math

import networkx as nx
import numpy as np
import pytest
from scipy.spatial.distance import pdist

from network.errors import TopologyError
from network.topology import max_link_length_km, random_geometric_topology, waxman_topology
from network.topology.generators import geometric_edges, waxman_edges
from qkdcircuits import BB84DecoyParams, MDIParams
from tests.helpers import Z_SCORE, binomial_tolerance

BB84_REACH = max_link_length_km(BB84DecoyParams.gys())
MDI_REACH = max_link_length_km(MDIParams.xu2013())
GENERATORS = (random_geometric_topology, waxman_topology)


def positions(topo):
    return {n: np.array(p) for n, p in topo.graph.nodes(data="pos_km")}


def key_connected(topo, a, b) -> bool:
    """Independent of QKDTopology.connected: a path whose interior nodes are trusted."""
    return nx.has_path(topo.graph.subgraph([*topo.trusted_nodes, a, b]), a, b)


@pytest.mark.parametrize("generate", GENERATORS)
def test_same_seed_same_network(generate):
    first = generate(60, seed=11)
    assert first == generate(60, seed=11)
    assert first.links == generate(60, seed=11).links
    assert first != generate(60, seed=12)
    from_generator = generate(60, seed=np.random.default_rng(11))
    assert from_generator.to_dict()["nodes"] == first.to_dict()["nodes"]


@pytest.mark.parametrize("generate", GENERATORS)
@pytest.mark.parametrize("seed", range(4))
def test_geometry_kinds_and_key_connectivity(generate, seed):
    topo = generate(80, seed=seed, endpoint_fraction=0.25, mdi_fraction=0.3)
    pos = positions(topo)
    assert len(topo.endpoints) == 20 and len(topo.trusted_nodes) == 60
    for i, (u, v) in enumerate(topo.links):
        assert topo.length_km(i) == pytest.approx(np.linalg.norm(pos[u] - pos[v]), rel=1e-12)
        if topo.protocol(i) == "mdi":
            relay = topo.relay(i)
            assert np.allclose(pos[relay], (pos[u] + pos[v]) / 2)
            assert topo.params(i).length_a_km == topo.params(i).length_b_km
            assert topo.links_of(relay) == (i,)
    assert (topo.lengths_km <= topo.reach_km).all()
    assert nx.is_connected(topo.graph.subgraph(topo.trusted_nodes))
    for a, b in itertools.combinations(topo.endpoints, 2):
        assert key_connected(topo, a, b)
    topo.check_demands(itertools.combinations(topo.endpoints, 2))


def test_sparse_networks_are_repaired_into_one_key_connected_network():
    # A radius far below the node spacing leaves almost every node isolated before repair.
    topo = random_geometric_topology(120, radius_km=2.0, seed=3, endpoint_fraction=0.3)
    assert nx.is_connected(topo.graph.subgraph(topo.trusted_nodes))
    assert all(key_connected(topo, a, b) for a, b in itertools.combinations(topo.endpoints, 2))
    # Repair adds just enough links: one per extra component of the trusted nodes, one per
    # endpoint without a trusted neighbour (counted here from the positions alone).
    pos = positions(topo)
    holders = topo.key_holding_nodes
    original = nx.Graph()
    original.add_nodes_from(holders)
    original.add_edges_from(
        (a, b)
        for a, b in itertools.combinations(holders, 2)
        if np.linalg.norm(pos[a] - pos[b]) <= 2.0
    )
    components = nx.number_connected_components(original.subgraph(topo.trusted_nodes))
    lonely = sum(
        1
        for e in topo.endpoints
        if not any(topo.kind(n) == "trusted" for n in original.neighbors(e))
    )
    assert components > 50
    assert topo.n_links == original.number_of_edges() + components - 1 + lonely
    assert nx.is_tree(topo.graph.subgraph(topo.trusted_nodes))


def test_geometric_edges_match_networkx():
    rng = np.random.default_rng(8)
    points = rng.uniform(0, 300, size=(400, 2))
    ours = {tuple(pair) for pair in geometric_edges(points, 25.0).tolist()}
    reference = nx.random_geometric_graph(400, 25.0, pos=dict(enumerate(points.tolist())))
    assert ours == {tuple(sorted(e)) for e in reference.edges}
    pairs = geometric_edges(points, 25.0)
    assert (pairs[:, 0] < pairs[:, 1]).all()
    assert np.array_equal(pairs, pairs[np.lexsort((pairs[:, 1], pairs[:, 0]))])


def test_rgg_links_are_every_pair_within_the_radius():
    topo = random_geometric_topology(150, radius_km=60.0, seed=2, mdi_fraction=0.5)
    pos = positions(topo)
    holders = topo.key_holding_nodes
    expected = {
        frozenset((a, b))
        for a, b in itertools.combinations(holders, 2)
        if np.linalg.norm(pos[a] - pos[b]) <= 60.0
    }
    links = {frozenset(link) for link in topo.links}
    assert expected <= links
    # The rest are repair links, each the nearest join of a component or a lonely endpoint.
    assert len(links - expected) <= len(topo.trusted_nodes) + len(topo.endpoints)


def test_waxman_link_probability_follows_the_formula():
    """Edge frequencies per distance bin against beta exp(-d / (alpha L)) (Waxman 1988), with
    a normal tolerance from the summed Bernoulli variances at the suite's false-alarm rate."""
    rng = np.random.default_rng(21)
    points = rng.uniform(0, 100, size=(500, 2))
    alpha, beta = 0.2, 0.6
    distances = pdist(points)
    probability = beta * np.exp(-distances / (alpha * distances.max()))
    edges = waxman_edges(points, alpha=alpha, beta=beta, seed=4)
    chosen = np.zeros(distances.size, dtype=bool)
    n = len(points)
    # Index of pair (i, j), i < j, in pdist's condensed order.
    i, j = edges[:, 0], edges[:, 1]
    chosen[n * i - i * (i + 1) // 2 + (j - i - 1)] = True
    bins = np.quantile(distances, np.linspace(0, 1, 9))
    which = np.clip(np.searchsorted(bins, distances, side="right") - 1, 0, 7)
    for k in range(8):
        in_bin = which == k
        expected = probability[in_bin].sum()
        sigma = math.sqrt((probability[in_bin] * (1 - probability[in_bin])).sum())
        assert abs(chosen[in_bin].sum() - expected) <= Z_SCORE * sigma, k
    assert np.array_equal(edges, waxman_edges(points, alpha=alpha, beta=beta, seed=4))


def test_mdi_fraction_is_honoured_when_every_link_reaches():
    topo = random_geometric_topology(300, radius_km=50.0, seed=9, mdi_fraction=0.35)
    assert topo.lengths_km.max() < min(BB84_REACH, MDI_REACH)
    share = topo.link_protocols.count("mdi") / topo.n_links
    assert abs(share - 0.35) <= binomial_tolerance(0.35, topo.n_links)
    assert len(topo.relays) == topo.link_protocols.count("mdi")


def test_protocols_switch_to_the_one_that_reaches_and_longer_links_are_dropped():
    topo = random_geometric_topology(
        200, radius_km=300.0, area_km=1500.0, seed=4, mdi_fraction=0.0, endpoint_fraction=0.0
    )
    lengths = topo.lengths_km
    protocols = np.array(topo.link_protocols)
    assert (lengths > BB84_REACH).any() and (lengths <= MDI_REACH).all()
    assert (protocols[lengths > BB84_REACH] == "mdi").all()
    assert (protocols[lengths <= BB84_REACH] == "bb84-decoy").all()
    everything = random_geometric_topology(
        200, radius_km=300.0, area_km=1500.0, seed=4, mdi_fraction=1.0, endpoint_fraction=0.0
    )
    assert set(everything.link_protocols) == {"mdi"}


def test_unreachable_network_raises():
    # Two trusted nodes about 10,000 km apart: no protocol reaches.
    with pytest.raises(TopologyError, match="cannot connect the network"):
        random_geometric_topology(2, area_km=20_000.0, endpoint_fraction=0.0, seed=1)


def test_custom_parameters_and_decoy():
    lossy = BB84DecoyParams.gys()
    topo = random_geometric_topology(
        40, seed=5, bb84_params=lossy, decoy={"mdi": "three-intensity"}, mdi_fraction=0.5
    )
    assert topo.decoy == {"bb84-decoy": "infinite", "mdi": "three-intensity"}
    assert "seed5" in topo.name and topo.name.startswith("rgg-40")


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"n_nodes": 1}, ValueError, "n_nodes=1"),
        ({"n_nodes": True}, ValueError, "n_nodes=True"),
        ({"n_nodes": 10, "endpoint_fraction": 1.0}, ValueError, "leaves no trusted node"),
        ({"n_nodes": 10, "mdi_fraction": 1.5}, ValueError, "mdi_fraction=1.5"),
        ({"n_nodes": 10, "radius_km": -1.0}, ValueError, "radius_km=-1.0"),
        ({"n_nodes": 10, "radius_km": "far"}, TypeError, "radius_km='far'"),
        ({"n_nodes": 10, "area_km": 0.0}, ValueError, "area_km=0.0"),
        ({"n_nodes": 10, "bb84_params": MDIParams.xu2013()}, TypeError, "bb84_params="),
        ({"n_nodes": 10, "seed": 1.5}, TypeError, "seed=1.5"),
        ({"n_nodes": 10, "decoy": "nope"}, TopologyError, "decoy='nope'"),
    ],
)
def test_bad_arguments(kwargs, error, message):
    n_nodes = kwargs.pop("n_nodes")
    with pytest.raises(error, match=message):
        random_geometric_topology(n_nodes, **kwargs)


def test_bad_waxman_arguments():
    with pytest.raises(ValueError, match="alpha=0"):
        waxman_topology(10, alpha=0)
    with pytest.raises(ValueError, match=r"beta=1\.5"):
        waxman_topology(10, beta=1.5)


def test_thousand_nodes():
    topo = random_geometric_topology(1000, seed=1)
    assert len(topo.trusted_nodes) + len(topo.endpoints) == 1000
    assert nx.is_connected(topo.graph.subgraph(topo.trusted_nodes))
    degrees = [d for _, d in topo.routing_graph.degree()]
    assert 4 < np.mean(degrees) < 12
