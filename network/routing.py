"""Key routing: shortest, widest and node-disjoint paths that avoid excluded nodes and links.

A key path joins two key-holding nodes through **trusted** nodes only: endpoints (users) may
only be its ends and untrusted MDI relays never appear (they hold no key and have no links of
their own). :class:`KeyRouter` takes a networkx graph whose nodes carry ``kind`` and whose edges
carry the integer link id (``QKDTopology.routing_graph`` provides exactly that), and answers
route queries under the current exclusion state (the nodes and links voting removed from
routing).

How it is fast
    The graph is turned once into a directed graph in numpy arrays in which every key-holding
    node ``v`` is split into an entry ``v_in`` and an exit ``v_out``: a link ``u``-``v`` gives
    the arcs ``u_out -> v_in`` and ``v_out -> u_in``, and a trusted node has the arc
    ``v_in -> v_out`` while an endpoint has none, so a path can start at an endpoint's exit and
    end at its entry but never cross it. An exclusion state is a boolean mask over the arcs.
    Shortest paths come from :func:`scipy.sparse.csgraph.dijkstra` (compiled code) run once per
    source and kept for every target of that source. Node-disjoint paths are a minimum-cost
    flow on the same split graph (successive shortest paths with Johnson potentials, each step
    one compiled Dijkstra), so with unit node capacities they share no node and are the
    ``k`` paths of least total cost. Answers are cached per exclusion state: when exclusions
    are only added, a cached route that avoids every new exclusion stays optimal in the smaller
    graph and is kept; any other change drops the cache.

    Measured costs on a 1,000-node network are in the :class:`KeyRouter` notes.

Examples
--------
>>> import networkx as nx
>>> graph = nx.Graph()
>>> graph.add_nodes_from(["A", "B", "C", "D"], kind="trusted")
>>> graph.add_nodes_from(["alice", "bob"], kind="endpoint")
>>> for link, (u, v) in enumerate([("alice", "A"), ("A", "B"), ("B", "bob"), ("A", "C"),
...                                ("C", "D"), ("D", "bob")]):
...     graph.add_edge(u, v, link_id=link)
>>> router = KeyRouter(graph)
>>> router.shortest_path("alice", "bob")
('alice', 'A', 'B', 'bob')
>>> router.set_exclusions(nodes={"B"})
True
>>> router.shortest_path("alice", "bob")
('alice', 'A', 'C', 'D', 'bob')
>>> router.path_links(("alice", "A", "C", "D", "bob"))
(0, 3, 4, 5)
"""

from __future__ import annotations

import itertools
import math
import numbers
from collections.abc import Hashable, Iterable, Sequence
from typing import Any

import networkx as nx
import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from network.errors import NoKeyPathError, TopologyError

__all__ = ["KeyRouter"]

Route = tuple[Hashable, ...]
"""A route: the nodes from source to target."""

_NODE_KINDS = ("trusted", "endpoint", "relay")
_NO_PREDECESSOR = -9999  # scipy.sparse.csgraph's marker for "not reached"
_ABSENT = 1e300  # cost of an arc that is not in the residual graph
_SEARCH_LIMIT = 1e299  # searches stop below _ABSENT, so absent arcs are never followed


class KeyRouter:
    """Routes for end-to-end keys through trusted nodes, under an exclusion state.

    Parameters
    ----------
    graph : networkx.Graph
        Nodes with attribute ``kind`` in ``{"trusted", "endpoint", "relay"}`` (relays must have
        no edges); every edge joins two key-holding nodes and carries an integer link id.
    link_attr : str
        Edge attribute holding the link id (``"link_id"`` in
        :attr:`network.topology.QKDTopology.routing_graph`).
    length_attr : str
        Edge attribute holding the link length in km, used by ``weight="length"`` (optional).

    Raises
    ------
    TopologyError
        If a node has no valid kind, a relay has an edge, or an edge lacks a valid, unique
        link id (the message names the node or edge).
    TypeError
        If ``graph`` is not an undirected networkx graph.

    Notes
    -----
    Measured cost on one (shared) core for ``waxman_topology(1000, seed=3)`` (800 trusted nodes,
    200 endpoints, 4,242 links) and 300 endpoint pairs from 100 sources; median over
    exclusion states; tests assert no timings:

    ========================================  ============================  =================
    query                                     new state replaces 20 nodes   a vote adds 2
                                              and 40 links                  nodes and 4 links
    ========================================  ============================  =================
    shortest paths of all 300 pairs           70 ms                         6 ms
    3 disjoint paths of all 300 pairs         1.7 s (5.6 ms a pair)         0.11 s
    all disjoint paths, one pair              10 ms                         2 ms
    ========================================  ============================  =================

    Building the router takes about 0.1 s, a cached query 10-20 us and a widest path about
    25 ms (not cached: residual key changes all the time). With exclusions changing every
    10 simulated seconds, single-path re-routing of 300 pairs costs under 7 ms of wall time per
    simulated second; multipath re-routing costs about 11 ms per simulated second when votes
    add exclusions, 170 ms when each vote replaces them all.

    Examples
    --------
    >>> import networkx as nx
    >>> graph = nx.cycle_graph(["s", "a", "t", "b"])
    >>> nx.set_node_attributes(graph, "trusted", "kind")
    >>> for link, edge in enumerate(graph.edges):
    ...     graph.edges[edge]["link_id"] = link
    >>> router = KeyRouter(graph)
    >>> sorted(router.disjoint_paths("s", "t"))
    [('s', 'a', 't'), ('s', 'b', 't')]
    >>> router.set_exclusions(links={router.link_of("a", "t")})
    True
    >>> router.disjoint_paths("s", "t")
    (('s', 'b', 't'),)
    """

    def __init__(
        self, graph: nx.Graph, *, link_attr: str = "link_id", length_attr: str = "length_km"
    ) -> None:
        if not isinstance(graph, nx.Graph) or graph.is_directed() or graph.is_multigraph():
            raise TypeError(f"graph must be an undirected networkx.Graph, not {type(graph)!r}")
        kinds: dict[Hashable, str] = {}
        for node, kind in graph.nodes(data="kind"):
            if kind not in _NODE_KINDS:
                raise TopologyError(f"node {node!r} has kind={kind!r}, not one of {_NODE_KINDS}")
            if kind == "relay" and graph.degree(node):
                raise TopologyError(f"relay node {node!r} has links; relays hold no key")
            kinds[node] = kind
        self._kind = kinds
        self._nodes: tuple[Hashable, ...] = tuple(n for n, k in kinds.items() if k != "relay")
        self._index = {node: i for i, node in enumerate(self._nodes)}
        self._trusted = np.array([kinds[node] == "trusted" for node in self._nodes], dtype=bool)
        self._build_links(graph, link_attr, length_attr)
        self._excluded_nodes: frozenset[Hashable] = frozenset()
        self._excluded_links: frozenset[int] = frozenset()
        self._stats = {"hits": 0, "misses": 0, "invalidations": 0}
        self._routes: dict[tuple, tuple[Route, frozenset[Hashable], frozenset[int]]] = {}
        self._disjoint: dict[tuple, tuple[tuple[Route, ...], frozenset[Hashable], frozenset[int]]]
        self._disjoint = {}
        self._new_state()

    def _build_links(self, graph: nx.Graph, link_attr: str, length_attr: str) -> None:
        first, second, ids, lengths = [], [], [], []
        for u, v, data in graph.edges(data=True):
            link = data.get(link_attr)
            if isinstance(link, bool) or not isinstance(link, numbers.Integral) or link < 0:
                raise TopologyError(
                    f"link {u!r}-{v!r} has {link_attr}={link!r}, not a non-negative integer"
                )
            first.append(self._index[u])
            second.append(self._index[v])
            ids.append(int(link))
            lengths.append(float(data.get(length_attr, math.nan)))
        if len(set(ids)) != len(ids):
            duplicate = next(link for link in ids if ids.count(link) > 1)
            raise TopologyError(f"{link_attr}={duplicate} is given to two links")
        self._link_ids = np.asarray(ids, dtype=np.int64)
        self._n_links = int(self._link_ids.max()) + 1 if ids else 0
        self._link_length = np.full(self._n_links, math.nan)
        self._link_length[self._link_ids] = lengths
        self._link_by_pair: dict[tuple[Hashable, Hashable], int] = {}
        self._ends_of_link: dict[int, tuple[Hashable, Hashable]] = {}
        for a, b, link in zip(first, second, ids, strict=True):
            u, v = self._nodes[a], self._nodes[b]
            self._link_by_pair[u, v] = self._link_by_pair[v, u] = link
            self._ends_of_link[link] = (u, v)
        # Link arcs: arc j goes from node arc_from[j] (its exit) to node arc_to[j] (its entry);
        # arcs 0..m-1 follow the edges, arcs m..2m-1 run backwards.
        a = np.asarray(first, dtype=np.int64)
        b = np.asarray(second, dtype=np.int64)
        self._arc_from = np.concatenate([a, b])
        self._arc_to = np.concatenate([b, a])
        self._arc_link = np.concatenate([self._link_ids, self._link_ids])
        self._arc_of = {
            (int(x), int(y)): j
            for j, (x, y) in enumerate(zip(self._arc_from, self._arc_to, strict=True))
        }
        self._build_residual_structure()

    def _build_residual_structure(self) -> None:
        """One sparse matrix holding every arc a residual graph can have, built once.

        Candidates: the link arcs, their reverses, the crossings ``v_in -> v_out`` and their
        reverses. A search sets the cost of the candidates that are absent to
        :data:`_ABSENT` and stops below it, so the structure never has to be rebuilt.
        """
        n, m2 = len(self._nodes), self._arc_link.size
        every = np.arange(n)
        tails = np.concatenate([2 * self._arc_from + 1, 2 * self._arc_to, 2 * every, 2 * every + 1])
        heads = np.concatenate([2 * self._arc_to, 2 * self._arc_from + 1, 2 * every + 1, 2 * every])
        order = np.lexsort((heads, tails))
        indptr = np.zeros(2 * n + 1, dtype=np.int64)
        np.cumsum(np.bincount(tails, minlength=2 * n), out=indptr[1:])
        self._residual = csr_matrix(
            (np.zeros(order.size), heads[order], indptr), shape=(2 * n, 2 * n)
        )
        self._residual_order = order  # candidate index of each stored entry
        self._residual_tail, self._residual_head = tails, heads
        self._n_candidates = (m2, n)

    # -- exclusion state ------------------------------------------------------------------------

    @property
    def nodes(self) -> tuple[Hashable, ...]:
        """The key-holding nodes (trusted nodes and endpoints), in graph order."""
        return self._nodes

    @property
    def n_links(self) -> int:
        """One more than the largest link id (the length of per-link arrays)."""
        return self._n_links

    @property
    def exclusions(self) -> tuple[frozenset[Hashable], frozenset[int]]:
        """The excluded nodes and link ids."""
        return self._excluded_nodes, self._excluded_links

    def set_exclusions(self, *, nodes: Iterable[Hashable] = (), links: Iterable[int] = ()) -> bool:
        """Replace the exclusion state.

        When exclusions are only added, cached routes that avoid all of the new ones are kept
        (they are still optimal in the smaller graph); any other change drops every cached
        route.

        Parameters
        ----------
        nodes : iterable of nodes
            Key-holding nodes routing must avoid (as intermediate hops and as ends).
        links : iterable of int
            Link ids routing must avoid.

        Returns
        -------
        bool
            Whether the state changed.

        Raises
        ------
        ValueError
            If a node is not a key-holding node of the graph or a link id is unknown (the state
            is unchanged then).
        TypeError
            If a link id is not an integer.
        """
        new_nodes = frozenset(nodes)
        unknown = [node for node in new_nodes if node not in self._index]
        if unknown:
            raise ValueError(f"cannot exclude node {unknown[0]!r}: not a key-holding node")
        new_links = frozenset(self._checked_link(link) for link in links)
        old_nodes, old_links = self.exclusions
        if (new_nodes, new_links) == (old_nodes, old_links):
            return False
        if old_nodes <= new_nodes and old_links <= new_links:
            added_nodes, added_links = new_nodes - old_nodes, new_links - old_links
            for cache in (self._routes, self._disjoint):
                stale = [
                    key
                    for key, (_, route_nodes, route_links) in cache.items()
                    if not route_nodes.isdisjoint(added_nodes)
                    or not route_links.isdisjoint(added_links)
                ]
                for key in stale:
                    del cache[key]
        else:
            self._routes.clear()
            self._disjoint.clear()
        self._excluded_nodes, self._excluded_links = new_nodes, new_links
        self._new_state()
        self._stats["invalidations"] += 1
        return True

    def _checked_link(self, link: Any) -> int:
        if isinstance(link, bool) or not isinstance(link, numbers.Integral):
            raise TypeError(f"link id {link!r} must be an integer")
        if int(link) not in self._ends_of_link:
            raise ValueError(f"link id {link!r} is not a link of the graph")
        return int(link)

    def _new_state(self) -> None:
        """Masks of the usable arcs for the current exclusions; per-source searches dropped."""
        usable_node = np.ones(len(self._nodes), dtype=bool)
        usable_node[[self._index[node] for node in self._excluded_nodes]] = False
        arc_ok = usable_node[self._arc_from] & usable_node[self._arc_to]
        if self._excluded_links:
            arc_ok &= ~np.isin(self._arc_link, list(self._excluded_links))
        self._arc_ok = arc_ok
        self._through_ok = self._trusted & usable_node  # nodes a path may cross
        self._trees: dict[tuple[int, str], np.ndarray] = {}
        self._matrices: dict[str, csr_matrix] = {}

    def cache_info(self) -> dict[str, int]:
        """Return the cache statistics.

        Returns
        -------
        dict of str to int
            ``hits`` and ``misses`` (cached answers and searches) and ``invalidations``
            (exclusion changes).
        """
        return dict(self._stats)

    # -- the split graph ------------------------------------------------------------------------

    def _arcs(
        self, arc_ok: np.ndarray, through_ok: np.ndarray, arc_cost: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Tails, heads and costs of the split graph's usable arcs (crossings cost 0)."""
        crossing = np.flatnonzero(through_ok)
        tails = np.concatenate([2 * self._arc_from[arc_ok] + 1, 2 * crossing])
        heads = np.concatenate([2 * self._arc_to[arc_ok], 2 * crossing + 1])
        costs = np.concatenate([arc_cost[arc_ok], np.zeros(crossing.size)])
        return tails, heads, costs

    def _matrix(self, tails: np.ndarray, heads: np.ndarray, costs: np.ndarray) -> csr_matrix:
        size = 2 * len(self._nodes)
        # Explicit zeros (free crossings) stay edges in scipy.sparse.csgraph.
        return csr_matrix((costs, (tails, heads)), shape=(size, size))

    def _arc_costs(self, weight: Any) -> tuple[str | None, np.ndarray]:
        """Cache key (``None``: not cached) and cost of each link arc for ``weight``."""
        if weight is None:
            return "hops", np.ones(self._arc_link.size)
        if isinstance(weight, str):
            if weight != "length":
                raise ValueError(f"weight={weight!r} must be None, 'length' or a per-link array")
            bad = self._link_ids[~(self._link_length[self._link_ids] > 0)]
            if bad.size:
                raise ValueError(f"link {int(bad[0])} has no positive length for weight='length'")
            return "length", self._link_length[self._arc_link]
        values = np.asarray(weight, dtype=float)
        if values.shape != (self._n_links,):
            raise ValueError(
                f"weight has shape {values.shape}, expected one value per link ({self._n_links},)"
            )
        good = np.isfinite(values[self._link_ids]) & (values[self._link_ids] > 0)
        if not good.all():
            link = int(self._link_ids[~good][0])
            raise ValueError(f"weight[{link}]={float(values[link])!r} must be finite and > 0")
        return None, values[self._arc_link]

    def _walk(self, predecessors: np.ndarray, source: int, target: int) -> list[int] | None:
        """Split-graph vertices from ``source``'s exit to ``target``'s entry, or None."""
        vertex, start = 2 * target, 2 * source + 1
        if predecessors[vertex] == _NO_PREDECESSOR:
            return None
        vertices = [vertex]
        while vertex != start:
            vertex = int(predecessors[vertex])
            vertices.append(vertex)
        vertices.reverse()
        return vertices

    def _nodes_of(self, vertices: list[int]) -> Route:
        """Return the node path of a split-graph vertex path (exit of the source, then entries)."""
        return (self._nodes[vertices[0] // 2], *(self._nodes[v // 2] for v in vertices[1::2]))

    # -- queries --------------------------------------------------------------------------------

    def link_of(self, u: Hashable, v: Hashable) -> int:
        """Return the id of the link between ``u`` and ``v`` (either orientation).

        Raises
        ------
        KeyError
            If no link joins them.
        """
        try:
            return self._link_by_pair[u, v]
        except (KeyError, TypeError):
            raise KeyError(f"no link between {u!r} and {v!r}") from None

    def path_links(self, path: Sequence[Hashable]) -> tuple[int, ...]:
        """Return the link ids of the hops of ``path``.

        Raises
        ------
        KeyError
            If two consecutive nodes are not linked.
        """
        return tuple(self.link_of(u, v) for u, v in itertools.pairwise(path))

    def _ends(self, source: Hashable, target: Hashable) -> tuple[int, int]:
        for name, node in (("source", source), ("target", target)):
            try:
                kind = self._kind.get(node)
            except TypeError:
                kind = None
            if kind is None:
                raise ValueError(f"{name}={node!r} is not a node of the graph")
            if kind == "relay":
                raise ValueError(f"{name}={node!r} is a relay, which holds no key")
        if source == target:
            raise ValueError(f"source and target are both {source!r}")
        for node in (source, target):
            if node in self._excluded_nodes:
                raise NoKeyPathError(
                    f"no key path between {source!r} and {target!r}: {node!r} is excluded"
                )
        return self._index[source], self._index[target]

    def _no_path(self, source: Hashable, target: Hashable) -> NoKeyPathError:
        return NoKeyPathError(
            f"no key path between {source!r} and {target!r} through trusted nodes avoiding "
            f"{len(self._excluded_nodes)} excluded nodes and {len(self._excluded_links)} "
            "excluded links"
        )

    def _remember(self, cache: dict, key: tuple, paths: tuple[Route, ...], value: Any) -> None:
        nodes = frozenset(node for path in paths for node in path)
        links = frozenset(link for path in paths for link in self.path_links(path))
        cache[key] = (value, nodes, links)

    def _trees_from(self, sources: Iterable[int], weight: Any) -> dict[int, np.ndarray]:
        """Shortest-path predecessor arrays from each source (kept for this state if cached)."""
        key, arc_cost = self._arc_costs(weight)
        found: dict[int, np.ndarray] = {}
        missing = []
        for source in dict.fromkeys(sources):
            tree = None if key is None else self._trees.get((source, key))
            if tree is None:
                missing.append(source)
            else:
                found[source] = tree
        if missing:
            self._stats["misses"] += len(missing)
            matrix = None if key is None else self._matrices.get(key)
            if matrix is None:
                matrix = self._matrix(*self._arcs(self._arc_ok, self._through_ok, arc_cost))
                if key is not None:
                    self._matrices[key] = matrix
            _, predecessors = dijkstra(
                matrix,
                directed=True,
                indices=[2 * source + 1 for source in missing],
                return_predecessors=True,
                unweighted=weight is None,  # hops: a crossing counts too, 2 h - 1 is monotone
            )
            for source, row in zip(missing, predecessors, strict=True):
                found[source] = row
                if key is not None:
                    self._trees[source, key] = row
        return found

    def shortest_path(self, source: Hashable, target: Hashable, *, weight: Any = None) -> Route:
        """Return the shortest key path from ``source`` to ``target`` in the current state.

        Parameters
        ----------
        source, target : node
            Two distinct key-holding nodes.
        weight : None, "length" or array of float
            ``None``: fewest hops; ``"length"``: shortest in km (the edges' length attribute);
            an array of ``n_links`` positive costs indexed by link id, e.g. ``1 / residual``
            (not cached).

        Returns
        -------
        tuple
            The nodes from ``source`` to ``target``.

        Raises
        ------
        NoKeyPathError
            If no path of usable links through trusted nodes joins them (or one is excluded).
        ValueError
            If a node is unknown or a relay, or ``weight`` is invalid.
        """
        path = self.shortest_paths([(source, target)], weight=weight)[0]
        if path is None:
            self._ends(source, target)  # raises if an end is excluded
            raise self._no_path(source, target)
        return path

    def shortest_paths(
        self, pairs: Iterable[tuple[Hashable, Hashable]], *, weight: Any = None
    ) -> list[Route | None]:
        """Shortest key paths of many pairs at once (one search per distinct source).

        Parameters
        ----------
        pairs : iterable of (source, target)
            Pairs of distinct key-holding nodes.
        weight : None, "length" or array of float
            As for :meth:`shortest_path`.

        Returns
        -------
        list
            One path per pair, ``None`` where no path exists (or an end is excluded).

        Raises
        ------
        ValueError
            If a node is unknown or a relay, a pair repeats its node, or ``weight`` is invalid.
        """
        key, _ = self._arc_costs(weight)
        results: list[Route | None] = []
        todo: list[tuple[int, int, int]] = []  # (position, source index, target index)
        for position, (source, target) in enumerate(pairs):
            try:
                s, t = self._ends(source, target)
            except NoKeyPathError:
                results.append(None)
                continue
            cached = self._routes.get((source, target, key)) if key is not None else None
            if cached is not None:
                self._stats["hits"] += 1
                results.append(cached[0])
            else:
                results.append(None)
                todo.append((position, s, t))
        if todo:
            trees = self._trees_from((s for _, s, _ in todo), weight)
            for position, s, t in todo:
                vertices = self._walk(trees[s], s, t)
                if vertices is None:
                    continue
                path = self._nodes_of(vertices)
                results[position] = path
                if key is not None:
                    self._remember(self._routes, (path[0], path[-1], key), (path,), path)
        return results

    def widest_path(
        self, source: Hashable, target: Hashable, residual_bits: np.ndarray
    ) -> tuple[Route, float]:
        """Return the key path whose scarcest link holds the most key; fewest hops among those.

        The bottleneck is found by bisection over the distinct residual values (a path whose
        links all hold at least ``c`` exists iff ``source`` reaches ``target`` over those
        links), then the fewest-hop path over the links holding at least the bottleneck.

        Parameters
        ----------
        source, target : node
            Two distinct key-holding nodes.
        residual_bits : array of float, shape (n_links,)
            Key available on each link (bits), e.g. :attr:`network.keys.KeyStore.available`.

        Returns
        -------
        (tuple, float)
            The path and its bottleneck (the least residual along it, bits).

        Raises
        ------
        NoKeyPathError
            If no usable path joins the two nodes.
        ValueError
            If a node is unknown or a relay, or ``residual_bits`` has the wrong shape or holds
            NaN.
        """
        s, t = self._ends(source, target)
        residual = np.asarray(residual_bits, dtype=float)
        if residual.shape != (self._n_links,):
            raise ValueError(
                f"residual_bits has shape {residual.shape}, expected ({self._n_links},)"
            )
        if np.isnan(residual[self._link_ids]).any():
            raise ValueError("residual_bits holds NaN")
        arc_residual = residual[self._arc_link]
        levels = np.unique(arc_residual[self._arc_ok])
        hops = np.ones(self._arc_link.size)

        def route(level: float) -> list[int] | None:
            usable = self._arc_ok & (arc_residual >= level)
            matrix = self._matrix(*self._arcs(usable, self._through_ok, hops))
            predecessors = dijkstra(
                matrix, directed=True, indices=2 * s + 1, return_predecessors=True, unweighted=True
            )[1]
            return self._walk(predecessors, s, t)

        best = route(levels[0]) if levels.size else None
        if best is None:
            raise self._no_path(source, target)
        low, high = 0, levels.size - 1
        while low < high:  # levels[low] admits a path (best), levels[high + 1] does not
            middle = (low + high + 1) // 2
            found = route(levels[middle])
            if found is None:
                high = middle - 1
            else:
                low, best = middle, found
        return self._nodes_of(best), float(levels[low])

    def disjoint_paths(
        self,
        source: Hashable,
        target: Hashable,
        *,
        max_paths: int | None = None,
        weight: Any = None,
    ) -> tuple[Route, ...]:
        """Node-disjoint key paths from ``source`` to ``target``, cheapest first.

        The paths share no node but their ends (no trusted node sees two of them) and cross
        trusted nodes only. They are a minimum-cost flow (successive shortest paths): as many
        paths as exist (a maximum flow; networkx ``node_disjoint_paths`` finds the same number)
        or ``max_paths``, and among all sets of that many disjoint paths, one of least total
        cost. Sorted by cost, then hops.

        Parameters
        ----------
        source, target : node
            Two distinct key-holding nodes.
        max_paths : int, optional
            At most this many paths (>= 1).
        weight : None, "length" or array of float
            As for :meth:`shortest_path`.

        Returns
        -------
        tuple of tuple
            The paths, cheapest first.

        Raises
        ------
        NoKeyPathError
            If no usable path joins the two nodes.
        ValueError
            If a node is unknown or a relay, ``max_paths`` < 1 or ``weight`` is invalid.

        References
        ----------
        J. W. Suurballe, Networks 4, 125 (1974) (disjoint paths of least total length);
        J. Edmonds and R. M. Karp, J. ACM 19, 248 (1972) (successive shortest paths with
        potentials that keep the reduced costs non-negative).
        """
        s, t = self._ends(source, target)
        if max_paths is not None:
            if isinstance(max_paths, bool) or not isinstance(max_paths, numbers.Integral):
                raise TypeError(f"max_paths={max_paths!r} must be an integer or None")
            if max_paths < 1:
                raise ValueError(f"max_paths={max_paths!r} must be >= 1")
            max_paths = int(max_paths)
        key, arc_cost = self._arc_costs(weight)
        cache_key = (source, target, max_paths, key)
        if key is not None and cache_key in self._disjoint:
            self._stats["hits"] += 1
            return self._disjoint[cache_key][0]
        self._stats["misses"] += 1
        paths = self._min_cost_paths(s, t, max_paths, arc_cost)
        if not paths:
            raise self._no_path(source, target)
        if key is not None:
            self._remember(self._disjoint, cache_key, paths, paths)
        return paths

    def _min_cost_paths(
        self, s: int, t: int, max_paths: int | None, arc_cost: np.ndarray
    ) -> tuple[Route, ...]:
        """Successive shortest augmenting paths on the split graph (unit capacities).

        Each step is one Dijkstra search over reduced costs ``c + p(u) - p(v)`` (non-negative
        thanks to the potentials ``p``), stopped once past the target: vertices further than
        the target's distance ``d_t`` get ``p += d_t``, which keeps every reduced cost
        non-negative.
        """
        m2, n = self._n_candidates
        through = self._through_ok.copy()
        through[[s, t]] = False  # the ends are never crossed
        arc_flow = np.zeros(m2, dtype=bool)
        node_flow = np.zeros(n, dtype=bool)
        cost = np.concatenate([arc_cost, -arc_cost, np.zeros(2 * n)])
        potential = np.zeros(2 * n)
        tails, heads = self._residual_tail, self._residual_head
        matrix, order = self._residual, self._residual_order
        typical = float(np.mean(arc_cost)) if arc_cost.size else 1.0
        guess = None  # search radius tried first (None: the whole graph)
        found = 0
        while max_paths is None or found < max_paths:
            present = np.concatenate(
                [self._arc_ok & ~arc_flow, arc_flow, through & ~node_flow, node_flow]
            )
            reduced = np.maximum(cost + potential[tails] - potential[heads], 0.0)
            matrix.data[:] = np.where(present, reduced, _ABSENT)[order]
            for limit in (guess, _SEARCH_LIMIT) if guess is not None else (_SEARCH_LIMIT,):
                distance, predecessors = dijkstra(
                    matrix,
                    directed=True,
                    indices=2 * s + 1,
                    return_predecessors=True,
                    limit=limit,
                )
                if np.isfinite(distance[2 * t]):
                    break
            vertices = self._walk(predecessors, s, t)
            if vertices is None:
                break
            for u, v in itertools.pairwise(vertices):
                if u // 2 == v // 2:  # a crossing, forwards (entry -> exit) or back
                    node_flow[u // 2] = u % 2 == 0
                elif u % 2 == 1:  # exit of u -> entry of v: a link arc forwards
                    arc_flow[self._arc_of[u // 2, v // 2]] = True
                else:  # entry of u -> exit of v: the link arc v -> u cancelled
                    arc_flow[self._arc_of[v // 2, u // 2]] = False
            target_distance = float(distance[2 * t])
            potential += np.minimum(distance, target_distance)
            guess = 2.0 * max(target_distance, typical)
            found += 1
        return self._decompose(s, t, arc_flow, arc_cost)

    def _decompose(
        self, s: int, t: int, arc_flow: np.ndarray, arc_cost: np.ndarray
    ) -> tuple[Route, ...]:
        """Return the node paths of a unit flow from ``s`` to ``t``, cheapest first."""
        successor = {
            int(a): (int(b), j)
            for j, a, b in zip(
                np.flatnonzero(arc_flow),
                self._arc_from[arc_flow],
                self._arc_to[arc_flow],
                strict=True,
            )
            if a != s
        }
        paths = []
        for j in np.flatnonzero(arc_flow & (self._arc_from == s)).tolist():
            route, total, node = [s], float(arc_cost[j]), int(self._arc_to[j])
            while True:
                route.append(node)
                if node == t:
                    break
                node, arc = successor[node]
                total += float(arc_cost[arc])
            paths.append((total, len(route), tuple(self._nodes[i] for i in route)))
        paths.sort(key=lambda entry: entry[:2])
        return tuple(path for _, _, path in paths)

    def __repr__(self) -> str:
        return (
            f"KeyRouter(nodes={len(self._nodes)}, links={self._link_ids.size}, "
            f"excluded_nodes={len(self._excluded_nodes)}, "
            f"excluded_links={len(self._excluded_links)})"
        )
