"""KeyRouter: routes through trusted nodes only, exclusions, caching, against networkx and brute
force."""

from __future__ import annotations

import itertools

import networkx as nx
import numpy as np
import pytest

from network.errors import NoKeyPathError, TopologyError
from network.keys import KeyStore, relay_multipath, relay_otp
from network.routing import KeyRouter
from network.topology import scenario


def random_graph(seed: int, n: int = 10, p: float = 0.35, n_endpoints: int = 3) -> nx.Graph:
    rng = np.random.default_rng(seed)
    graph = nx.gnp_random_graph(n, p, seed=seed)
    for node in graph:
        graph.nodes[node]["kind"] = "endpoint" if node < n_endpoints else "trusted"
    for link, (u, v) in enumerate(graph.edges):
        graph.edges[u, v]["link_id"] = link
        graph.edges[u, v]["length_km"] = float(rng.uniform(5, 80))
    return graph


def allowed(graph: nx.Graph, s, t, nodes=(), links=()) -> nx.Graph:
    """Independent model: trusted nodes and the two ends, minus the exclusions."""
    keep = [
        v
        for v, kind in graph.nodes(data="kind")
        if (kind == "trusted" or v in (s, t)) and v not in nodes
    ]
    sub = nx.Graph(graph.subgraph(keep))
    sub.remove_edges_from([(u, v) for u, v, link in sub.edges(data="link_id") if link in links])
    return sub


def check_route(graph: nx.Graph, path, s, t, nodes=(), links=()) -> None:
    assert path[0] == s and path[-1] == t and len(set(path)) == len(path)
    for u, v in itertools.pairwise(path):
        assert graph.has_edge(u, v) and graph.edges[u, v]["link_id"] not in links
    for node in path[1:-1]:
        assert graph.nodes[node]["kind"] == "trusted" and node not in nodes


def random_exclusions(graph: nx.Graph, rng: np.random.Generator, s, t):
    trusted = [v for v, k in graph.nodes(data="kind") if k == "trusted" and v not in (s, t)]
    nodes = set(rng.choice(trusted, size=min(len(trusted), int(rng.integers(0, 3))), replace=False))
    n_links = graph.number_of_edges()
    links = set(rng.choice(n_links, size=min(n_links, int(rng.integers(0, 3))), replace=False))
    return {int(v) for v in nodes}, {int(link) for link in links}


def best_disjoint_cost(sub: nx.Graph, s, t, k: int, cost) -> float | None:
    """Brute force: least total cost of k node-disjoint simple paths (None if impossible)."""
    paths = list(nx.all_simple_paths(sub, s, t))
    best = None
    for combo in itertools.combinations(paths, k):
        inner = [set(p[1:-1]) for p in combo]
        if sum(map(len, inner)) != len(set().union(*inner)):
            continue
        if sum(len(p) == 2 for p in combo) > 1:
            continue
        total = sum(cost(p) for p in combo)
        best = total if best is None else min(best, total)
    return best


def hops(path) -> int:
    return len(path) - 1


@pytest.mark.parametrize("seed", range(25))
def test_routes_match_networkx_and_brute_force_on_random_graphs(seed):
    graph = random_graph(seed)
    rng = np.random.default_rng(seed)
    router = KeyRouter(graph)
    for s, t in [(0, 1), (0, 2), (1, 5), (3, 4), (2, 7)]:
        nodes, links = random_exclusions(graph, rng, s, t)
        router.set_exclusions(nodes=nodes, links=links)
        sub = allowed(graph, s, t, nodes, links)
        reachable = nx.has_path(sub, s, t)
        if not reachable:
            for query in (router.shortest_path, router.disjoint_paths):
                with pytest.raises(NoKeyPathError, match=f"between {s} and {t}"):
                    query(s, t)
            assert router.shortest_paths([(s, t)]) == [None]
            continue
        path = router.shortest_path(s, t)
        check_route(graph, path, s, t, nodes, links)
        assert hops(path) == nx.shortest_path_length(sub, s, t)
        by_length = router.shortest_path(s, t, weight="length")
        check_route(graph, by_length, s, t, nodes, links)
        assert nx.path_weight(graph, by_length, "length_km") == pytest.approx(
            nx.shortest_path_length(sub, s, t, weight="length_km")
        )

        disjoint = router.disjoint_paths(s, t)
        expected = len(list(nx.node_disjoint_paths(sub, s, t)))
        assert len(disjoint) == expected
        inner = [set(p[1:-1]) for p in disjoint]
        assert sum(map(len, inner)) == len(set().union(*inner))  # node-disjoint
        for p in disjoint:
            check_route(graph, p, s, t, nodes, links)
        assert [hops(p) for p in disjoint] == sorted(hops(p) for p in disjoint)
        for k in range(1, min(expected, 3) + 1):
            found = router.disjoint_paths(s, t, max_paths=k)
            assert len(found) == k
            assert sum(map(hops, found)) == best_disjoint_cost(sub, s, t, k, hops)


@pytest.mark.parametrize("seed", range(15))
def test_widest_path_matches_brute_force(seed):
    graph = random_graph(seed, n=9, p=0.4, n_endpoints=2)
    rng = np.random.default_rng(100 + seed)
    residual = rng.integers(0, 6, graph.number_of_edges()).astype(float)
    router = KeyRouter(graph)
    sub = allowed(graph, 0, 1)
    if not nx.has_path(sub, 0, 1):
        with pytest.raises(NoKeyPathError):
            router.widest_path(0, 1, residual)
        return
    path, bottleneck = router.widest_path(0, 1, residual)
    check_route(graph, path, 0, 1)

    def width(p) -> float:
        return min(residual[graph.edges[u, v]["link_id"]] for u, v in itertools.pairwise(p))

    candidates = list(nx.all_simple_paths(sub, 0, 1))
    best = max(map(width, candidates))
    assert bottleneck == width(path) == best
    assert hops(path) == min(hops(p) for p in candidates if width(p) == best)


def test_per_link_weights_choose_the_cheapest_route():
    graph = random_graph(3, n=12, p=0.4)
    weights = np.random.default_rng(0).uniform(0.5, 3.0, graph.number_of_edges())
    for u, v, link in graph.edges(data="link_id"):
        graph.edges[u, v]["w"] = weights[link]
    router = KeyRouter(graph)
    path = router.shortest_path(0, 1, weight=weights)
    sub = allowed(graph, 0, 1)
    assert nx.path_weight(graph, path, "w") == pytest.approx(
        nx.shortest_path_length(sub, 0, 1, weight="w")
    )
    pairs = [(0, 1), (1, 2), (0, 2)]
    assert router.shortest_paths(pairs, weight=weights) == [
        router.shortest_path(s, t, weight=weights) for s, t in pairs
    ]


def diamond() -> nx.Graph:
    """alice - A - B - bob (short) and alice - C - D - E - bob (long); carol is an endpoint
    that would short-cut alice - carol - bob."""
    graph = nx.Graph()
    graph.add_nodes_from(["A", "B", "C", "D", "E"], kind="trusted")
    graph.add_nodes_from(["alice", "bob", "carol"], kind="endpoint")
    graph.add_node("R", kind="relay")
    edges = [
        ("alice", "A"),
        ("A", "B"),
        ("B", "bob"),
        ("alice", "C"),
        ("C", "D"),
        ("D", "E"),
        ("E", "bob"),
        ("alice", "carol"),
        ("carol", "bob"),
    ]
    for link, (u, v) in enumerate(edges):
        graph.add_edge(u, v, link_id=link, length_km=10.0)
    return graph


def test_endpoints_are_never_crossed_and_relays_never_appear():
    router = KeyRouter(diamond())
    assert router.shortest_path("alice", "bob") == ("alice", "A", "B", "bob")
    assert sorted(router.disjoint_paths("alice", "bob")) == [
        ("alice", "A", "B", "bob"),
        ("alice", "C", "D", "E", "bob"),
    ]
    router.set_exclusions(nodes={"A", "D"})
    with pytest.raises(NoKeyPathError, match="between 'alice' and 'bob'"):
        router.shortest_path("alice", "bob")
    assert router.shortest_path("alice", "carol") == ("alice", "carol")
    assert "R" not in router.nodes
    with pytest.raises(ValueError, match="source='R' is a relay"):
        router.shortest_path("R", "bob")


def test_adding_exclusions_keeps_routes_that_avoid_them():
    router = KeyRouter(diamond())
    router.shortest_path("alice", "bob")
    router.disjoint_paths("alice", "bob")
    misses = router.cache_info()["misses"]
    router.set_exclusions(links={router.link_of("alice", "carol")})  # on no cached route
    assert router.shortest_path("alice", "bob") == ("alice", "A", "B", "bob")
    assert len(router.disjoint_paths("alice", "bob")) == 2
    info = router.cache_info()
    assert info["misses"] == misses and info["invalidations"] == 1
    router.set_exclusions(links={router.link_of("alice", "carol")}, nodes={"B"})
    assert router.shortest_path("alice", "bob") == ("alice", "C", "D", "E", "bob")
    assert router.disjoint_paths("alice", "bob") == (("alice", "C", "D", "E", "bob"),)


def test_lifting_exclusions_drops_the_cache():
    router = KeyRouter(diamond())
    router.set_exclusions(nodes={"B"})
    assert router.shortest_path("alice", "bob") == ("alice", "C", "D", "E", "bob")
    assert len(router.disjoint_paths("alice", "bob")) == 1
    router.set_exclusions()
    assert router.shortest_path("alice", "bob") == ("alice", "A", "B", "bob")
    assert len(router.disjoint_paths("alice", "bob")) == 2
    assert router.set_exclusions() is False  # unchanged state
    assert router.cache_info()["invalidations"] == 2


def test_replacing_exclusions_recomputes_every_route():
    router = KeyRouter(diamond())
    router.set_exclusions(nodes={"C"})
    assert router.shortest_path("alice", "bob") == ("alice", "A", "B", "bob")
    router.set_exclusions(nodes={"A"})  # not a superset: C is usable again
    assert router.disjoint_paths("alice", "bob") == (("alice", "C", "D", "E", "bob"),)


def test_excluded_ends_give_no_path_and_batch_queries_say_none():
    router = KeyRouter(diamond())
    router.set_exclusions(nodes={"bob"})
    with pytest.raises(NoKeyPathError, match="'bob' is excluded"):
        router.disjoint_paths("alice", "bob")
    assert router.shortest_paths([("alice", "bob"), ("alice", "carol")]) == [
        None,
        ("alice", "carol"),
    ]


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda r: r.shortest_path("alice", "zoe"), ValueError, "target='zoe' is not a node"),
        (lambda r: r.shortest_path("alice", "alice"), ValueError, "both 'alice'"),
        (lambda r: r.shortest_path("alice", "bob", weight="km"), ValueError, "weight='km'"),
        (lambda r: r.shortest_path("alice", "bob", weight=np.ones(3)), ValueError, "shape"),
        (
            lambda r: r.shortest_path("alice", "bob", weight=np.zeros(9)),
            ValueError,
            r"weight\[0\]=0.0",
        ),
        (lambda r: r.disjoint_paths("alice", "bob", max_paths=0), ValueError, "max_paths=0"),
        (lambda r: r.disjoint_paths("alice", "bob", max_paths=1.0), TypeError, "max_paths"),
        (lambda r: r.widest_path("alice", "bob", np.ones(2)), ValueError, "residual_bits"),
        (lambda r: r.set_exclusions(nodes={"R"}), ValueError, "exclude node 'R'"),
        (lambda r: r.set_exclusions(links={99}), ValueError, "link id 99"),
        (lambda r: r.set_exclusions(links={"1"}), TypeError, "link id '1'"),
        (lambda r: r.link_of("alice", "bob"), KeyError, "no link between 'alice' and 'bob'"),
    ],
)
def test_bad_queries_name_the_argument_and_change_nothing(call, error, match):
    router = KeyRouter(diamond())
    router.set_exclusions(nodes={"C"})
    with pytest.raises(error, match=match):
        call(router)
    assert router.exclusions == (frozenset({"C"}), frozenset())


def test_bad_graphs_are_refused_with_the_node_or_link_named():
    graph = diamond()
    graph.add_edge("R", "A", link_id=50)
    with pytest.raises(TopologyError, match="relay node 'R' has links"):
        KeyRouter(graph)
    graph = diamond()
    graph.nodes["A"]["kind"] = "router"
    with pytest.raises(TopologyError, match="node 'A' has kind='router'"):
        KeyRouter(graph)
    graph = diamond()
    del graph.edges["A", "B"]["link_id"]
    with pytest.raises(TopologyError, match="link 'A'-'B' has link_id=None"):
        KeyRouter(graph)
    graph = diamond()
    graph.edges["A", "B"]["link_id"] = 0
    with pytest.raises(TopologyError, match="link_id=0 is given to two links"):
        KeyRouter(graph)
    with pytest.raises(TypeError, match="undirected"):
        KeyRouter(nx.DiGraph(diamond()))


def test_routes_on_a_built_in_topology_carry_keys_end_to_end():
    topology = scenario("secoqc")
    router = KeyRouter(topology.routing_graph)
    a, b = topology.demands[0] if topology.demands else topology.key_holding_nodes[:2]
    path = router.shortest_path(a, b)
    assert router.path_links(path) == tuple(
        topology.link_id(u, v) for u, v in itertools.pairwise(path)
    )
    store = KeyStore(topology.n_links, mode="material")
    store.deposit(np.full(topology.n_links, 1024))
    delivery = relay_otp(store, path, 128, link_of=router.link_of, rng=0)
    assert delivery.delivered and delivery.correct
    paths = router.disjoint_paths(a, b)
    shared = relay_multipath(
        store, paths, 128, threshold=len(paths), link_of=topology.link_id, rng=0
    )
    assert shared.delivered and shared.correct
    store.check_ledger()
