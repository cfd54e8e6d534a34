"""Seeded random QKD networks of any size: random geometric and Waxman graphs.

Nodes are placed uniformly at random in a square of side ``area_km``; a fraction of them are
endpoint users, the rest trusted nodes. Candidate links join

* **random geometric** graphs: every pair closer than ``radius_km`` (E. N. Gilbert, "Random plane
  networks", J. Soc. Ind. Appl. Math. 9, 533 (1961); M. Penrose, *Random Geometric Graphs*,
  Oxford University Press (2003)); the same edge set as :func:`networkx.random_geometric_graph`
  for the same positions, found with a k-d tree;
* **Waxman** graphs: each pair independently with probability ``beta * exp(-d / (alpha L))``, ``d``
  their distance and ``L`` the largest distance between two nodes (B. M. Waxman, "Routing of
  multipoint connections", IEEE J. Sel. Areas Commun. 6, 1617 (1988), Eq. 1; the convention of
  :func:`networkx.waxman_graph`), drawn for all pairs at once with numpy.

A link's length is the Euclidean distance of its ends in km. A fraction ``mdi_fraction`` of the
links (drawn at random) are MDI-QKD links with an untrusted relay node at their midpoint; the
rest are decoy BB84. Every link must be within reach of its protocol
(:func:`~network.topology.max_link_length_km`): a link too long for its protocol but within reach
of the other switches protocol, and a link beyond both reaches is dropped.

**Connectivity** (every pair of key-holding nodes can exchange key through trusted nodes) is
then guaranteed by construction: while the trusted nodes form several connected components, the
smallest component is joined to the nearest trusted node outside it (the shortest link that
leaves it; MDI-QKD with probability ``mdi_fraction`` when both reach, else the protocol that
does), and every endpoint with no trusted neighbour is joined to its nearest trusted node. If a
needed link is longer than both reaches, :class:`~network.errors.TopologyError` says so (raise
the density, the radius or ``alpha``, or shrink the area). The default square has side
``30 km * sqrt(n_nodes)`` (one node per 900 km^2).

The same seed gives the same network (positions, kinds, protocols and names). A 1,000-node
random geometric network (about 4,200 links) builds in about 0.8 s the first time, most of it
evaluating the two protocols' maximum distances once, and in about 0.3 s afterwards (one core).

Examples
--------
>>> topo = random_geometric_topology(50, seed=3)
>>> topo == random_geometric_topology(50, seed=3)
True
>>> len(topo.trusted_nodes) + len(topo.endpoints)
50
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping

import networkx as nx
import numpy as np
from scipy.spatial import cKDTree
from scipy.spatial.distance import cdist, pdist

from network.errors import TopologyError
from network.topology.model import (
    QKDTopology,
    decoy_by_protocol,
    link_parameters,
    max_link_length_km,
)
from qkdcircuits import BB84DecoyParams, MDIParams, default_params
from qkdcircuits._validation import SeedLike, as_generator, check_probability

__all__ = [
    "geometric_edges",
    "random_geometric_topology",
    "waxman_edges",
    "waxman_topology",
]

NODES_PER_KM2 = 1.0 / 900.0
"""Default node density: the square's side is ``sqrt(n_nodes / NODES_PER_KM2)`` km."""

GENERATOR_SOURCES: dict[str, str] = {
    "rgg": "E. N. Gilbert, Random plane networks, J. Soc. Ind. Appl. Math. 9, 533 (1961); "
    "M. Penrose, Random Geometric Graphs, Oxford University Press (2003)",
    "waxman": "B. M. Waxman, Routing of multipoint connections, IEEE J. Sel. Areas Commun. 6, "
    "1617 (1988)",
}


def geometric_edges(positions_km: np.ndarray, radius_km: float) -> np.ndarray:
    """All pairs of points closer than ``radius_km`` (distance <= radius), sorted.

    Parameters
    ----------
    positions_km : array_like, shape (n, 2)
        Point coordinates in km.
    radius_km : float
        Connection radius in km (>= 0).

    Returns
    -------
    numpy.ndarray, shape (m, 2)
        Index pairs ``i < j``, in lexicographic order.

    Examples
    --------
    >>> geometric_edges([[0, 0], [3, 4], [10, 0]], 5.0).tolist()
    [[0, 1]]
    """
    points = np.asarray(positions_km, dtype=float).reshape(-1, 2)
    pairs = cKDTree(points).query_pairs(float(radius_km), output_type="ndarray")
    pairs = np.sort(pairs.reshape(-1, 2), axis=1)
    return pairs[np.lexsort((pairs[:, 1], pairs[:, 0]))]


def waxman_edges(
    positions_km: np.ndarray, *, alpha: float, beta: float, seed: SeedLike = None
) -> np.ndarray:
    """Waxman random edges: each pair with probability ``beta exp(-d / (alpha L))``.

    ``d`` is the pair's distance and ``L`` the largest distance between two of the points
    (Waxman 1988, Eq. 1; :func:`networkx.waxman_graph` with ``L=None``).

    Parameters
    ----------
    positions_km : array_like, shape (n, 2)
        Point coordinates in km.
    alpha : float
        Distance scale as a fraction of ``L`` (> 0).
    beta : float
        Probability scale, in (0, 1].
    seed : int, numpy.random.Generator or None
        Randomness (one uniform draw per pair, in ``numpy.triu_indices`` order).

    Returns
    -------
    numpy.ndarray, shape (m, 2)
        Index pairs ``i < j`` in lexicographic order.

    Examples
    --------
    >>> waxman_edges([[0, 0], [1, 0], [2, 0]], alpha=1.0, beta=1.0, seed=0).shape[1]
    2
    """
    points = np.asarray(positions_km, dtype=float).reshape(-1, 2)
    if not (isinstance(alpha, numbers.Real) and alpha > 0 and math.isfinite(alpha)):
        raise ValueError(f"alpha={alpha!r} must be a positive number")
    beta = check_probability(beta, "beta")
    rng = as_generator(seed)
    n = len(points)
    if n < 2:
        return np.empty((0, 2), dtype=np.intp)
    distances = pdist(points)
    scale = float(alpha) * float(distances.max())
    with np.errstate(over="ignore"):
        probability = (
            beta * np.exp(-distances / scale) if scale > 0 else np.full_like(distances, beta)
        )
    chosen = rng.random(distances.size) < probability
    rows, cols = np.triu_indices(n, k=1)
    return np.column_stack((rows[chosen], cols[chosen])).astype(np.intp)


def _check_count(n_nodes: int) -> int:
    if isinstance(n_nodes, bool) or not isinstance(n_nodes, numbers.Integral) or n_nodes < 2:
        raise ValueError(f"n_nodes={n_nodes!r} must be an integer >= 2")
    return int(n_nodes)


def _check_length(value: float, name: str, *, positive: bool) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name}={value!r} must be a number (km)")
    value = float(value)
    if not math.isfinite(value) or value < 0 or (positive and value == 0):
        raise ValueError(f"{name}={value!r} must be finite and {'> 0' if positive else '>= 0'} km")
    return value


def _base(params: BB84DecoyParams | MDIParams | None, protocol: str, name: str):
    if params is None:
        return default_params(protocol)
    if not isinstance(params, BB84DecoyParams | MDIParams) or params.protocol != protocol:
        raise TypeError(f"{name}={params!r} must be the parameters of a {protocol!r} link")
    return params


class _Layout:
    """Positions, kinds and reach shared by both generators."""

    def __init__(
        self,
        n_nodes: int,
        *,
        area_km: float | None,
        endpoint_fraction: float,
        mdi_fraction: float,
        bb84_params: BB84DecoyParams | None,
        mdi_params: MDIParams | None,
        decoy: str | Mapping[str, str],
        seed: SeedLike,
    ) -> None:
        self.n = _check_count(n_nodes)
        side = math.sqrt(self.n / NODES_PER_KM2) if area_km is None else area_km
        self.side = _check_length(side, "area_km", positive=True)
        self.endpoint_fraction = check_probability(endpoint_fraction, "endpoint_fraction")
        self.mdi_fraction = check_probability(mdi_fraction, "mdi_fraction")
        n_endpoints = round(self.endpoint_fraction * self.n)
        if n_endpoints >= self.n:
            raise ValueError(
                f"endpoint_fraction={endpoint_fraction!r} leaves no trusted node among "
                f"{self.n} nodes (endpoints never relay)"
            )
        self.bb84 = _base(bb84_params, "bb84-decoy", "bb84_params")
        self.mdi = _base(mdi_params, "mdi", "mdi_params")
        self.decoy = decoy_by_protocol(decoy)
        self.reach = {
            "bb84-decoy": max_link_length_km(self.bb84, decoy=self.decoy["bb84-decoy"]),
            # MDI links get their relay at the midpoint: the reach of a symmetric link.
            "mdi": max_link_length_km(self.mdi.with_length(length_km=0.0), decoy=self.decoy["mdi"]),
        }
        self.rng = rng = as_generator(seed)
        self.positions = rng.uniform(0.0, self.side, size=(self.n, 2))
        self.is_endpoint = np.zeros(self.n, dtype=bool)
        self.is_endpoint[rng.choice(self.n, size=n_endpoints, replace=False)] = True

    def protocols(self, lengths: np.ndarray) -> np.ndarray:
        """Protocol per link (True: MDI) drawn by fraction, switched to the one that reaches."""
        mdi = self.rng.random(lengths.size) < self.mdi_fraction
        too_long_bb84 = lengths > self.reach["bb84-decoy"]
        too_long_mdi = lengths > self.reach["mdi"]
        mdi = np.where(mdi & too_long_mdi & ~too_long_bb84, False, mdi)
        return np.where(~mdi & too_long_bb84 & ~too_long_mdi, True, mdi)

    def assemble(self, pairs: np.ndarray, *, name: str, description: str, source: str):
        pairs = np.asarray(pairs, dtype=np.intp).reshape(-1, 2)
        lengths = np.linalg.norm(self.positions[pairs[:, 0]] - self.positions[pairs[:, 1]], axis=1)
        mdi = self.protocols(lengths)
        longest = max(self.reach.values())
        keep = lengths <= longest
        pairs, lengths, mdi = pairs[keep], lengths[keep], mdi[keep]
        extra = self._repair(pairs)
        if len(extra):
            extra_lengths = np.linalg.norm(
                self.positions[extra[:, 0]] - self.positions[extra[:, 1]], axis=1
            )
            pairs = np.concatenate([pairs, extra])
            lengths = np.concatenate([lengths, extra_lengths])
            mdi = np.concatenate([mdi, self.protocols(extra_lengths)])
        return self._topology(
            pairs, lengths, mdi, name=name, description=description, source=source
        )

    def _repair(self, pairs: np.ndarray) -> np.ndarray:
        """Return the links that join the trusted nodes and give endpoints a trusted neighbour.

        The links make the trusted nodes one component and give every endpoint a trusted
        neighbour (nearest-node joins; see the module docstring).
        """
        trusted = np.flatnonzero(~self.is_endpoint)
        component = np.full(self.n, -1)
        both_trusted = ~self.is_endpoint[pairs[:, 0]] & ~self.is_endpoint[pairs[:, 1]]
        graph = nx.Graph()
        graph.add_nodes_from(trusted.tolist())
        graph.add_edges_from(pairs[both_trusted].tolist())
        for index, members in enumerate(nx.connected_components(graph)):
            component[list(members)] = index
        longest = max(self.reach.values())
        added = []
        groups = {c: trusted[component[trusted] == c] for c in np.unique(component[trusted])}
        while len(groups) > 1:
            smallest = min(groups, key=lambda c: (len(groups[c]), c))
            inside = groups[smallest]
            outside = trusted[component[trusted] != smallest]
            distances = cdist(self.positions[inside], self.positions[outside])
            i, j = np.unravel_index(int(np.argmin(distances)), distances.shape)
            a, b = int(inside[i]), int(outside[j])
            self._check_reach(distances[i, j], a, b, longest)
            added.append((min(a, b), max(a, b)))
            target = component[b]
            component[inside] = target
            groups[target] = np.concatenate([groups[target], inside])
            del groups[smallest]
        has_trusted_neighbour = np.zeros(self.n, dtype=bool)
        for x, y in ((0, 1), (1, 0)):
            mask = ~self.is_endpoint[pairs[:, y]]
            has_trusted_neighbour[pairs[mask, x]] = True
        lonely = np.flatnonzero(self.is_endpoint & ~has_trusted_neighbour)
        if len(lonely):
            distances, nearest = cKDTree(self.positions[trusted]).query(self.positions[lonely])
            for endpoint, distance, k in zip(lonely, distances, nearest, strict=True):
                self._check_reach(distance, int(endpoint), int(trusted[k]), longest)
                added.append(tuple(sorted((int(endpoint), int(trusted[k])))))
        return np.array(added, dtype=np.intp).reshape(-1, 2)

    @staticmethod
    def _check_reach(distance: float, a: int, b: int, longest: float) -> None:
        if distance > longest:
            raise TopologyError(
                f"cannot connect the network: nodes {a} and {b}, the nearest pair needed, are "
                f"{distance:.1f} km apart, beyond every protocol's reach ({longest:.1f} km); "
                "increase the density, the radius or alpha, or shrink the area"
            )

    def _topology(self, pairs, lengths, mdi, *, name: str, description: str, source: str):
        width = len(str(self.n - 1))
        names = [
            f"{'E' if endpoint else 'T'}{i:0{width}d}"
            for i, endpoint in enumerate(self.is_endpoint)
        ]
        graph = nx.Graph()
        for i, label in enumerate(names):
            kind = "endpoint" if self.is_endpoint[i] else "trusted"
            graph.add_node(label, kind=kind, pos_km=tuple(self.positions[i].tolist()))
        relay_width = len(str(max(len(pairs) - 1, 0)))
        for k, ((i, j), length, is_mdi) in enumerate(zip(pairs, lengths, mdi, strict=True)):
            u, v = names[i], names[j]
            if is_mdi:
                relay = f"R{k:0{relay_width}d}"
                middle = (self.positions[i] + self.positions[j]) / 2.0
                graph.add_node(relay, kind="relay", pos_km=tuple(middle.tolist()))
                params = link_parameters("mdi", length_km=float(length), base=self.mdi)
                graph.add_edge(u, v, protocol="mdi", params=params, relay=relay)
            else:
                params = link_parameters("bb84-decoy", length_km=float(length), base=self.bb84)
                graph.add_edge(u, v, protocol="bb84-decoy", params=params)
        return QKDTopology(
            graph,
            name=name,
            description=description,
            sources=(source, "qkdcircuits reference parameter sets (GYS BB84, Xu 2013 MDI-QKD)"),
            decoy=self.decoy,
        )


LAYOUT_ARGUMENTS: tuple[str, ...] = (
    "n_nodes",
    "area_km",
    "endpoint_fraction",
    "mdi_fraction",
    "bb84_params",
    "mdi_params",
    "decoy",
    "seed",
)
"""Arguments both generators pass on unchanged to the shared layout."""


def _layout_arguments(arguments: Mapping[str, object]) -> dict[str, object]:
    """Return the shared arguments of a generator call (its ``locals()``), by name."""
    return {name: arguments[name] for name in LAYOUT_ARGUMENTS}


def _seed_label(seed: SeedLike) -> str:
    return (
        f"-seed{seed}" if isinstance(seed, numbers.Integral) and not isinstance(seed, bool) else ""
    )


def random_geometric_topology(
    n_nodes: int,
    *,
    radius_km: float = 50.0,
    area_km: float | None = None,
    endpoint_fraction: float = 0.2,
    mdi_fraction: float = 0.2,
    bb84_params: BB84DecoyParams | None = None,
    mdi_params: MDIParams | None = None,
    decoy: str | Mapping[str, str] = "infinite",
    seed: SeedLike = None,
) -> QKDTopology:
    """Build a random geometric QKD network (links between nodes closer than ``radius_km``).

    Parameters
    ----------
    n_nodes : int
        Trusted nodes plus endpoints (>= 2); MDI relays come on top, one per MDI link.
    radius_km : float
        Connection radius in km (>= 0).
    area_km : float, optional
        Side of the square in km (default ``30 * sqrt(n_nodes)``).
    endpoint_fraction : float
        Fraction of the nodes that are endpoint users (rounded; at least one trusted node).
    mdi_fraction : float
        Probability that a link is MDI-QKD (relay at its midpoint), before reach adjustments.
    bb84_params, mdi_params : optional
        Base parameters of the two protocols (lengths replaced); the reference sets by default.
    decoy : str or mapping
        Decoy method for the reach (see :class:`QKDTopology`).
    seed : int, numpy.random.Generator or None
        Randomness; the same seed gives the same network.

    Returns
    -------
    QKDTopology
        Nodes ``T..`` (trusted), ``E..`` (endpoints), ``R..`` (relays), each with ``pos_km``.

    Raises
    ------
    ValueError, TypeError
        For bad arguments.
    TopologyError
        If the network cannot be connected within the protocols' reach.

    Examples
    --------
    >>> topo = random_geometric_topology(30, radius_km=40.0, seed=1)
    >>> bool(all(topo.connected(a, b) for a in topo.endpoints for b in topo.endpoints))
    True
    """
    radius = _check_length(radius_km, "radius_km", positive=False)
    layout = _Layout(**_layout_arguments(locals()))
    return layout.assemble(
        geometric_edges(layout.positions, radius),
        name=f"rgg-{layout.n}{_seed_label(seed)}",
        description=(
            f"Random geometric QKD network: {layout.n} nodes uniform in a {layout.side:.1f} km "
            f"square, links below {radius:g} km, endpoint fraction {layout.endpoint_fraction:g}, "
            f"MDI fraction {layout.mdi_fraction:g}, joined into one key-connected network."
        ),
        source=GENERATOR_SOURCES["rgg"],
    )


def waxman_topology(
    n_nodes: int,
    *,
    alpha: float = 0.05,
    beta: float = 0.4,
    area_km: float | None = None,
    endpoint_fraction: float = 0.2,
    mdi_fraction: float = 0.2,
    bb84_params: BB84DecoyParams | None = None,
    mdi_params: MDIParams | None = None,
    decoy: str | Mapping[str, str] = "infinite",
    seed: SeedLike = None,
) -> QKDTopology:
    """Build a Waxman QKD network (pair linked with probability ``beta exp(-d / (alpha L))``).

    ``L`` is the largest distance between two nodes, so at fixed density the mean degree grows
    with ``n_nodes`` (about ``4 pi beta alpha^2 n`` at the default density, less near the
    square's edges); the defaults give a mean degree of about 9 at 1,000 nodes. See
    :func:`random_geometric_topology` for the other parameters.

    Parameters
    ----------
    n_nodes : int
        Trusted nodes plus endpoints (>= 2).
    alpha : float
        Distance scale as a fraction of ``L`` (> 0).
    beta : float
        Link probability at zero distance, in [0, 1].
    area_km, endpoint_fraction, mdi_fraction, bb84_params, mdi_params, decoy, seed
        As for :func:`random_geometric_topology`.

    Returns
    -------
    QKDTopology

    Raises
    ------
    ValueError, TypeError
        For bad arguments.
    TopologyError
        If the network cannot be connected within the protocols' reach.

    Examples
    --------
    >>> topo = waxman_topology(40, seed=2)
    >>> topo.name, len(topo.trusted_nodes)
    ('waxman-40-seed2', 32)
    """
    layout = _Layout(**_layout_arguments(locals()))
    pairs = waxman_edges(layout.positions, alpha=alpha, beta=beta, seed=layout.rng)
    return layout.assemble(
        pairs,
        name=f"waxman-{layout.n}{_seed_label(seed)}",
        description=(
            f"Waxman QKD network: {layout.n} nodes uniform in a {layout.side:.1f} km square, "
            f"alpha={alpha:g}, beta={beta:g}, endpoint fraction {layout.endpoint_fraction:g}, "
            f"MDI fraction {layout.mdi_fraction:g}, joined into one key-connected network."
        ),
        source=GENERATOR_SOURCES["waxman"],
    )
