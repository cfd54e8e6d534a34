"""The validated, frozen graph model of a QKD network: :class:`QKDTopology`.

A topology is a networkx :class:`~networkx.Graph` whose nodes carry a ``kind`` and whose edges
are QKD links:

* node attribute ``kind`` in :data:`NODE_KINDS`: ``"trusted"`` nodes hold keys and relay them
  (they see relayed key in the clear), ``"endpoint"`` nodes are users that hold keys but never
  relay, ``"relay"`` nodes are untrusted MDI-QKD measurement stations that never hold key and
  have no edges of their own; optional ``pos_km`` = ``(x, y)`` in km;
* an edge joins two key-holding nodes and carries ``protocol`` in
  :data:`~qkdcircuits.PROTOCOLS` (``"bb84-decoy"`` or ``"mdi"``) and ``params``, a
  :class:`~qkdcircuits.BB84DecoyParams` or :class:`~qkdcircuits.MDIParams` of that protocol whose
  length(s) are the link's; an MDI link also has ``relay``, the relay node its photons meet at.

Links get stable integer ids ``0..m-1`` in the order of :attr:`QKDTopology.links` (the edge order
of the graph), so that per-link state can live in numpy arrays indexed by link id. The frozen
graph adds two derived edge attributes, ``link_id`` and ``length_km`` (km, usable as a networkx
``weight``).

Every link must be within reach: no longer than the maximum distance at which its parameters
still give a positive asymptotic key rate with optimised signal intensities
(:func:`qkdcircuits.max_distance`). That distance does not depend on the link's own length, so it
is computed once per parameter set (lengths set to 0; MDI-QKD: per relay position) and cached
under a key built from the parameters without their lengths: the first link of a parameter set
costs a few tenths of a second, every further link some tens of microseconds (a 4,000-link,
1,000-node network validates in about 0.1-0.2 s on one core).

Examples
--------
>>> import networkx as nx
>>> graph = nx.Graph()
>>> graph.add_nodes_from([("A", {"kind": "trusted"}), ("B", {"kind": "trusted"}),
...                       ("alice", {"kind": "endpoint"}), ("C", {"kind": "relay"})])
>>> graph.add_edge("A", "B", protocol="bb84-decoy",
...                params=link_parameters("bb84-decoy", length_km=40.0))
>>> graph.add_edge("alice", "A", protocol="mdi", relay="C",
...                params=link_parameters("mdi", length_km=10.0))
>>> topo = QKDTopology(graph, name="toy", demands=[("alice", "B")])
>>> topo.links
(('A', 'B'), ('A', 'alice'))
>>> topo.link_id("alice", "A"), topo.relay(1), topo.length_km(0)
(1, 'C', 40.0)
>>> sorted(topo.routing_graph.nodes)
['A', 'B', 'alice']
"""

from __future__ import annotations

import dataclasses
import functools
import math
import numbers
from collections.abc import Hashable, Iterable, Mapping, Sequence
from typing import Any

import networkx as nx
import numpy as np

from network.errors import TopologyError
from qkdcircuits import (
    DECOY_METHODS,
    PROTOCOLS,
    BB84DecoyParams,
    FiberChannel,
    MDIParams,
    default_params,
    max_distance,
)

__all__ = [
    "KEY_HOLDING_KINDS",
    "NODE_KINDS",
    "QKDTopology",
    "decoy_by_protocol",
    "link_parameters",
    "max_link_length_km",
]

NODE_KINDS: tuple[str, str, str] = ("trusted", "endpoint", "relay")
"""Node kinds: trusted nodes (hold and relay keys), endpoints (users), untrusted MDI relays."""

KEY_HOLDING_KINDS: tuple[str, str] = ("trusted", "endpoint")
"""Kinds of the nodes that hold keys, i.e. that may end a QKD link."""

NODE_ATTRIBUTES: tuple[str, ...] = ("kind", "pos_km")
"""Node attributes a topology accepts (``pos_km`` is optional)."""

LINK_ATTRIBUTES: tuple[str, ...] = ("protocol", "params", "relay", "length_km", "link_id")
"""Edge attributes a topology accepts; ``length_km`` must agree with ``params`` and ``link_id``
is recomputed (both are derived)."""


def _link_name(u: Hashable, v: Hashable) -> str:
    return f"link ({u!r}, {v!r})"


def link_parameters(
    protocol: str,
    *,
    length_km: float,
    base: BB84DecoyParams | MDIParams | None = None,
    relay_fraction: float = 0.5,
    link: tuple[Hashable, Hashable] | None = None,
) -> BB84DecoyParams | MDIParams:
    """Parameters of a link of ``protocol`` and total length ``length_km``.

    Parameters
    ----------
    protocol : {"bb84-decoy", "mdi"}
        The link's protocol.
    length_km : float
        Total fibre length in km (MDI-QKD: Alice to Bob through the relay).
    base : BB84DecoyParams or MDIParams, optional
        Source, channel loss, detector and post-processing of the link (its own length is
        replaced); the reference set of the protocol (:func:`qkdcircuits.default_params`: GYS for
        BB84, Xu et al. 2013 for MDI-QKD) when omitted.
    relay_fraction : float
        MDI-QKD: the relay's position as a fraction of the length from the first end, in [0, 1].
    link : tuple, optional
        ``(u, v)``: named in the error message.

    Returns
    -------
    BB84DecoyParams or MDIParams

    Raises
    ------
    TopologyError
        For an unknown protocol, a ``base`` of the wrong protocol, or a negative, NaN or
        infinite length or bad relay fraction (the parameters' own message, prefixed with the
        link when given).

    Examples
    --------
    >>> link_parameters("mdi", length_km=30.0, relay_fraction=0.2).length_a_km
    6.0
    >>> link_parameters("bb84-decoy", length_km=float("nan"), link=("A", "B"))
    Traceback (most recent call last):
    ...
    network.errors.TopologyError: link ('A', 'B'): length_km=nan must be finite
    """
    prefix = "" if link is None else f"{_link_name(*link)}: "
    if protocol not in PROTOCOLS:
        raise TopologyError(f"{prefix}protocol={protocol!r} must be one of {PROTOCOLS}")
    if base is None:
        base = default_params(protocol)
    elif not isinstance(base, BB84DecoyParams | MDIParams) or base.protocol != protocol:
        raise TopologyError(f"{prefix}base={base!r} must be the parameters of a {protocol!r} link")
    try:
        if isinstance(base, MDIParams):
            return base.with_length(length_km=length_km, relay_fraction=relay_fraction)
        return base.with_length(length_km=length_km)
    except (TypeError, ValueError) as exc:
        raise TopologyError(f"{prefix}{exc}") from exc


def _relay_fraction(params: BB84DecoyParams | MDIParams) -> float:
    """Return the MDI relay's position as a fraction of the length from Alice.

    0.5 for BB84 or a zero-length link.
    """
    if isinstance(params, MDIParams):
        total = params.length_a_km + params.length_b_km
        return 0.5 if total == 0.0 else params.length_a_km / total
    return 0.5


@functools.cache
def _field_names(cls: type) -> tuple[str, ...]:
    return tuple(field.name for field in dataclasses.fields(cls))


_CHANNEL_FIELDS = tuple(name for name in _field_names(FiberChannel) if name != "length_km")


def _without_lengths(params: BB84DecoyParams | MDIParams) -> tuple:
    """Return every field of ``params`` except the fibre lengths.

    Equal for links that differ only in length (built field by field, far cheaper than a
    validated copy with zero lengths).
    """
    parts: list[Any] = [type(params)]
    for name in _field_names(type(params)):
        value = getattr(params, name)
        if isinstance(value, FiberChannel):
            value = tuple(getattr(value, field) for field in _CHANNEL_FIELDS)
        parts.append(value)
    return tuple(parts)


_REACH: dict[tuple, float] = {}
"""Cache of :func:`max_link_length_km`: (parameters without lengths, decoy, relay position)."""


def max_link_length_km(params: BB84DecoyParams | MDIParams, *, decoy: str = "infinite") -> float:
    """Longest total length (km) at which a link with these parameters still yields key.

    The asymptotic secret-key rate, maximised over the signal intensities, is positive below
    this distance (:func:`qkdcircuits.max_distance` with ``optimize=True``). The link's own
    length is ignored; MDI-QKD keeps the relay's position as a fraction of the length
    (``L_A / (L_A + L_B)``, the middle for a zero-length link). Results are cached per parameter
    set, decoy method and relay position.

    Parameters
    ----------
    params : BB84DecoyParams or MDIParams
        The link.
    decoy : str
        Decoy method (``"infinite"``, BB84: ``"vacuum-weak"``, ``"two-decoy"``; MDI-QKD:
        ``"three-intensity"``).

    Returns
    -------
    float
        Maximum distance in km (``inf`` for a link without loss or noise, 0 if no key at all).

    Raises
    ------
    TypeError
        If ``params`` is not a parameter object.
    ValueError
        For a decoy method the protocol does not support.

    References
    ----------
    X. Ma, B. Qi, Y. Zhao, H.-K. Lo, Phys. Rev. A 72, 012326 (2005) (decoy BB84, GYS set:
    "over 140 km"); F. Xu, M. Curty, B. Qi, H.-K. Lo, New J. Phys. 15, 113007 (2013) (MDI-QKD).

    Examples
    --------
    >>> round(max_link_length_km(link_parameters("bb84-decoy", length_km=5.0)), 1)
    142.2
    """
    if not isinstance(params, BB84DecoyParams | MDIParams):
        raise TypeError(f"params={params!r} must be a BB84DecoyParams or an MDIParams")
    if decoy not in DECOY_METHODS[params.protocol]:
        raise ValueError(
            f"decoy={decoy!r} is not available for protocol {params.protocol!r}; choose one of "
            f"{DECOY_METHODS[params.protocol]}"
        )
    fraction = _relay_fraction(params)
    key = (_without_lengths(params), decoy, fraction)
    reach = _REACH.get(key)
    if reach is None:
        if isinstance(params, MDIParams):
            at_zero = params.with_lengths(length_a_km=0.0, length_b_km=0.0)
        else:
            at_zero = params.with_length(length_km=0.0)
        reach = float(max_distance(at_zero, decoy=decoy, optimize=True, relay_fraction=fraction))
        _REACH[key] = reach
    return reach


def _check_node_name(node: Any) -> None:
    if isinstance(node, bool) or not isinstance(node, str | numbers.Integral):
        raise TopologyError(f"node {node!r}: names must be str or int, not {type(node).__name__}")
    if isinstance(node, str) and not node:
        raise TopologyError("node '': names must not be empty")


def _check_pos(node: Hashable, value: Any) -> tuple[float, float]:
    try:
        x, y = value
        pos = (float(x), float(y))
    except (TypeError, ValueError) as exc:
        raise TopologyError(
            f"node {node!r}: pos_km={value!r} must be a pair of numbers (km)"
        ) from exc
    if isinstance(x, bool) or isinstance(y, bool) or not all(map(math.isfinite, pos)):
        raise TopologyError(f"node {node!r}: pos_km={value!r} must be a pair of finite numbers")
    return pos


def decoy_by_protocol(decoy: str | Mapping[str, str]) -> dict[str, str]:
    """Return the decoy method of each protocol, from one method or a mapping protocol -> method.

    Parameters
    ----------
    decoy : str or mapping
        One method for every protocol, or ``{protocol: method}`` (protocols left out get
        ``"infinite"``).

    Returns
    -------
    dict
        ``{"bb84-decoy": method, "mdi": method}``.

    Raises
    ------
    TopologyError
        For an unknown protocol, or a method that a protocol does not support.

    Examples
    --------
    >>> decoy_by_protocol({"mdi": "three-intensity"})
    {'bb84-decoy': 'infinite', 'mdi': 'three-intensity'}
    """
    if isinstance(decoy, str):
        chosen = {protocol: decoy for protocol in PROTOCOLS}
    elif isinstance(decoy, Mapping):
        unknown = set(decoy) - set(PROTOCOLS)
        if unknown:
            raise TopologyError(f"decoy={dict(decoy)!r}: unknown protocol(s) {sorted(unknown)}")
        chosen = {protocol: decoy.get(protocol, "infinite") for protocol in PROTOCOLS}
    else:
        raise TopologyError(f"decoy={decoy!r} must be a str or a mapping protocol -> method")
    for protocol, method in chosen.items():
        if method not in DECOY_METHODS[protocol]:
            raise TopologyError(
                f"decoy={method!r} is not available for protocol {protocol!r}; choose one of "
                f"{DECOY_METHODS[protocol]}"
            )
    return chosen


class QKDTopology:
    """A validated, frozen QKD network: nodes with kinds, links with protocols and parameters.

    Parameters
    ----------
    graph : networkx.Graph
        Nodes with attribute ``kind`` (and optionally ``pos_km``), edges with ``protocol``,
        ``params`` and, for MDI-QKD, ``relay`` (see the module docstring). The graph is copied
        and frozen; the original is not modified.
    name : str
        Short name (``"secoqc"``, ``"rgg-100-seed1"``).
    description : str
        One-paragraph description (what is from a paper, what is assumed).
    sources : sequence of str
        Citations (authors, journal, year) of the numbers used.
    demands : sequence of (node, node) pairs, optional
        Pairs of key-holding nodes that request keys; each must be connected through trusted
        nodes (endpoints never relay).
    decoy : str or mapping
        Decoy method used for the reach check, for every protocol (``"infinite"``) or per
        protocol (``{"bb84-decoy": "vacuum-weak", "mdi": "three-intensity"}``; protocols left
        out use ``"infinite"``).

    Raises
    ------
    TypeError
        If ``graph`` is not an undirected simple :class:`networkx.Graph`.
    TopologyError
        Naming the node or link at fault: a node name that is not a non-empty str or an int, two
        names with the same text, an unknown node kind or attribute, a self-loop, a link touching
        a relay, an unknown protocol, parameters of the wrong type or protocol, an MDI link
        without a relay or with a relay that is not of kind ``"relay"``, a relay used by no link,
        a ``length_km`` attribute that disagrees with the parameters, a link longer than its
        parameters' maximum distance, a bad decoy method, or a demand between nodes that are not
        connected through trusted nodes.

    Examples
    --------
    >>> from network.topology import scenario
    >>> topo = scenario("cambridge")
    >>> topo.trusted_nodes
    ('CRL', 'ENG', 'EED')
    >>> topo.graph.edges["CRL", "ENG"]["length_km"] == topo.length_km(topo.link_id("ENG", "CRL"))
    True
    """

    __slots__ = (
        "_components",
        "_decoy",
        "_demands",
        "_description",
        "_graph",
        "_lengths",
        "_link_ids",
        "_links",
        "_name",
        "_node_index",
        "_nodes",
        "_reach",
        "_routing",
        "_sources",
    )

    def __init__(
        self,
        graph: nx.Graph,
        *,
        name: str = "custom",
        description: str = "",
        sources: Sequence[str] = (),
        demands: Iterable[tuple[Hashable, Hashable]] | None = None,
        decoy: str | Mapping[str, str] = "infinite",
    ) -> None:
        if not isinstance(graph, nx.Graph) or graph.is_directed() or graph.is_multigraph():
            raise TypeError(
                f"graph must be an undirected networkx.Graph (not {type(graph).__name__})"
            )
        for label, value in (("name", name), ("description", description)):
            if not isinstance(value, str):
                raise TopologyError(f"{label}={value!r} must be a str")
        if isinstance(sources, str) or not isinstance(sources, Iterable):
            raise TopologyError(f"sources={sources!r} must be a sequence of str")
        sources = tuple(sources)
        if not all(isinstance(source, str) for source in sources):
            raise TopologyError(f"sources={sources!r} must be a sequence of str")
        self._name = name
        self._description = description
        self._sources = sources
        self._decoy = decoy_by_protocol(decoy)

        copy = nx.Graph()
        copy.graph["name"] = name
        self._check_nodes(graph, copy)
        self._check_links(graph, copy)
        self._graph = nx.freeze(copy)
        self._nodes = tuple(copy.nodes)
        self._node_index = {node: i for i, node in enumerate(self._nodes)}
        self._routing: nx.Graph | None = None
        self._components: dict[Hashable, int] | None = None
        self._demands = None if demands is None else self.check_demands(demands)

    # -- validation -------------------------------------------------------------------------

    @staticmethod
    def _check_nodes(graph: nx.Graph, copy: nx.Graph) -> None:
        texts: dict[str, Hashable] = {}
        for node, data in graph.nodes(data=True):
            _check_node_name(node)
            text = str(node)
            if text in texts:
                raise TopologyError(
                    f"nodes {texts[text]!r} and {node!r} have the same name text {text!r}"
                )
            texts[text] = node
            unknown = set(data) - set(NODE_ATTRIBUTES)
            if unknown:
                raise TopologyError(
                    f"node {node!r}: unknown attribute(s) {sorted(unknown)}; nodes take "
                    f"{NODE_ATTRIBUTES}"
                )
            kind = data.get("kind")
            if kind not in NODE_KINDS:
                raise TopologyError(f"node {node!r}: kind={kind!r} must be one of {NODE_KINDS}")
            attributes: dict[str, Any] = {"kind": kind}
            if "pos_km" in data:
                attributes["pos_km"] = _check_pos(node, data["pos_km"])
            copy.add_node(node, **attributes)

    def _check_links(self, graph: nx.Graph, copy: nx.Graph) -> None:
        kinds = nx.get_node_attributes(copy, "kind")
        used_relays: set[Hashable] = set()
        links = []
        for link_id, (u, v, data) in enumerate(graph.edges(data=True)):
            where = _link_name(u, v)
            if u == v:
                raise TopologyError(f"{where}: self-loops are not links")
            for end in (u, v):
                if kinds[end] == "relay":
                    raise TopologyError(
                        f"{where} touches relay {end!r}: relays join MDI links only through "
                        "the link's 'relay' attribute"
                    )
            unknown = set(data) - set(LINK_ATTRIBUTES)
            if unknown:
                raise TopologyError(
                    f"{where}: unknown attribute(s) {sorted(unknown)}; links take {LINK_ATTRIBUTES}"
                )
            protocol = data.get("protocol")
            if protocol not in PROTOCOLS:
                raise TopologyError(f"{where}: protocol={protocol!r} must be one of {PROTOCOLS}")
            params = data.get("params")
            if not isinstance(params, BB84DecoyParams | MDIParams):
                raise TopologyError(
                    f"{where}: params={params!r} must be a BB84DecoyParams or an MDIParams"
                )
            if params.protocol != protocol:
                raise TopologyError(
                    f"{where}: params are for protocol {params.protocol!r}, the link is "
                    f"{protocol!r}"
                )
            length = float(params.length_km)
            if not (math.isfinite(length) and length >= 0.0):
                raise TopologyError(f"{where}: length_km={length!r} must be finite and >= 0")
            if "length_km" in data and data["length_km"] != length:
                raise TopologyError(
                    f"{where}: length_km={data['length_km']!r} disagrees with its parameters "
                    f"({length!r} km)"
                )
            relay = data.get("relay")
            attributes: dict[str, Any] = {"protocol": protocol, "params": params}
            if protocol == "mdi":
                if relay is None:
                    raise TopologyError(f"{where}: an MDI link needs a 'relay' node")
                if not isinstance(relay, Hashable) or relay not in kinds:
                    raise TopologyError(f"{where}: relay {relay!r} is not a node")
                if kinds[relay] != "relay":
                    raise TopologyError(
                        f"{where}: relay {relay!r} is of kind {kinds[relay]!r}, not 'relay'"
                    )
                used_relays.add(relay)
                attributes["relay"] = relay
            elif relay is not None:
                raise TopologyError(f"{where}: relay={relay!r} given for a {protocol!r} link")
            reach = max_link_length_km(params, decoy=self._decoy[protocol])
            if length > reach:
                raise TopologyError(
                    f"{where} is {length:g} km long, beyond the {reach:.3f} km maximum distance "
                    f"of its {protocol} parameters (decoy={self._decoy[protocol]!r})"
                )
            copy.add_edge(u, v, **attributes, link_id=link_id, length_km=length)
            links.append((u, v, length, reach))
        for node, kind in kinds.items():
            if kind == "relay" and node not in used_relays:
                raise TopologyError(f"node {node!r}: relay used by no MDI link")
        # Link ids follow the edge order (and orientation) networkx reports for the copy, which
        # is what a file round trip rebuilds.
        reach_of = {frozenset((u, v)): reach for u, v, _, reach in links}
        self._links = tuple(copy.edges)
        self._link_ids = {}
        for link_id, (u, v) in enumerate(self._links):
            copy.edges[u, v]["link_id"] = link_id
            self._link_ids[u, v] = link_id
            self._link_ids[v, u] = link_id
        self._lengths = np.array([copy.edges[e]["length_km"] for e in self._links], dtype=float)
        self._reach = np.array([reach_of[frozenset(e)] for e in self._links], dtype=float)
        self._lengths.flags.writeable = False
        self._reach.flags.writeable = False

    def _trusted_components(self) -> dict[Hashable, int]:
        trusted = self._graph.subgraph(self.trusted_nodes)
        return {
            node: index
            for index, component in enumerate(nx.connected_components(trusted))
            for node in component
        }

    def _reachable_components(self, node: Hashable) -> set[int]:
        """Components of the trusted subgraph that ``node`` is in or adjacent to."""
        if self._components is None:
            self._components = self._trusted_components()
        components = self._components
        if node in components:
            return {components[node]}
        return {components[n] for n in self._graph.neighbors(node) if n in components}

    # -- demands and connectivity -----------------------------------------------------------

    def connected(self, a: Hashable, b: Hashable) -> bool:
        """Whether key can travel between ``a`` and ``b`` (key-holding nodes).

        True when they share a link, or when a path joins them whose interior nodes are all
        trusted (endpoints hold keys but do not relay; relays hold none).

        Parameters
        ----------
        a, b : node
            Key-holding nodes.

        Returns
        -------
        bool

        Raises
        ------
        TopologyError
            If ``a`` or ``b`` is not a key-holding node of the topology.

        Examples
        --------
        >>> from network.topology import scenario
        >>> scenario("backbone").connected("beijing-user", "shanghai-user")
        True
        """
        for node in (a, b):
            if node not in self._node_index:
                raise TopologyError(f"node {node!r} is not in topology {self._name!r}")
            if self.kind(node) not in KEY_HOLDING_KINDS:
                raise TopologyError(
                    f"node {node!r} is of kind {self.kind(node)!r} and holds no key"
                )
        if a == b or self._graph.has_edge(a, b):
            return True
        return bool(self._reachable_components(a) & self._reachable_components(b))

    def check_demands(
        self, demands: Iterable[tuple[Hashable, Hashable]]
    ) -> tuple[tuple[Hashable, Hashable], ...]:
        """Validate demand pairs and return them as a tuple of pairs.

        Parameters
        ----------
        demands : iterable of (node, node)
            Pairs of distinct key-holding nodes; each unordered pair at most once.

        Returns
        -------
        tuple of (node, node)

        Raises
        ------
        TopologyError
            Naming the demand: not a pair, unknown or key-less node, a node paired with itself,
            a repeated pair, or a pair not connected through trusted nodes.

        Examples
        --------
        >>> from network.topology import scenario
        >>> scenario("tokyo").check_demands([("koganei-user", "hongo-user")])
        (('koganei-user', 'hongo-user'),)
        """
        if isinstance(demands, str | bytes):
            raise TopologyError(f"demands={demands!r} must be an iterable of node pairs")
        checked = []
        seen: set[frozenset] = set()
        for demand in demands:
            try:
                a, b = demand
            except (TypeError, ValueError) as exc:
                raise TopologyError(f"demand {demand!r} must be a pair of nodes") from exc
            if a == b:
                raise TopologyError(f"demand ({a!r}, {b!r}) pairs a node with itself")
            key = frozenset((a, b))
            if key in seen:
                raise TopologyError(f"demand ({a!r}, {b!r}) is repeated")
            seen.add(key)
            try:
                ok = self.connected(a, b)
            except TopologyError as exc:
                raise TopologyError(f"demand ({a!r}, {b!r}): {exc}") from exc
            if not ok:
                raise TopologyError(f"demand ({a!r}, {b!r}) is not connected through trusted nodes")
            checked.append((a, b))
        return tuple(checked)

    # -- metadata ---------------------------------------------------------------------------

    @property
    def name(self) -> str:
        """Short name of the topology."""
        return self._name

    @property
    def description(self) -> str:
        """Description: what the numbers are and where they come from."""
        return self._description

    @property
    def sources(self) -> tuple[str, ...]:
        """Citations of the numbers used."""
        return self._sources

    @property
    def demands(self) -> tuple[tuple[Hashable, Hashable], ...] | None:
        """Validated demand pairs, or ``None`` when none were given."""
        return self._demands

    @property
    def decoy(self) -> dict[str, str]:
        """Decoy method per protocol used for the reach check (a copy)."""
        return dict(self._decoy)

    # -- nodes ------------------------------------------------------------------------------

    @property
    def graph(self) -> nx.Graph:
        """The frozen graph.

        Nodes carry ``kind`` and ``pos_km``; edges carry ``protocol``, ``params``, ``relay``,
        ``link_id`` and ``length_km``.
        """
        return self._graph

    @property
    def nodes(self) -> tuple[Hashable, ...]:
        """All nodes, in graph order (:meth:`node_index` gives a node's position)."""
        return self._nodes

    def node_index(self, node: Hashable) -> int:
        """Position of ``node`` in :attr:`nodes` (the row of per-node arrays).

        Parameters
        ----------
        node : node name

        Returns
        -------
        int

        Raises
        ------
        KeyError
            If ``node`` is not in the topology.

        Examples
        --------
        >>> from network.topology import scenario
        >>> scenario("cambridge").node_index("EED")
        2
        """
        try:
            return self._node_index[node]
        except (KeyError, TypeError):
            raise KeyError(f"node {node!r} is not in topology {self._name!r}") from None

    def kind(self, node: Hashable) -> str:
        """Kind of ``node``: ``"trusted"``, ``"endpoint"`` or ``"relay"``.

        Parameters
        ----------
        node : node name

        Returns
        -------
        str

        Raises
        ------
        KeyError
            If ``node`` is not in the topology.

        Examples
        --------
        >>> from network.topology import scenario
        >>> scenario("tokyo").kind("relay-bunkyo")
        'relay'
        """
        self.node_index(node)
        return self._graph.nodes[node]["kind"]

    def nodes_of_kind(self, kind: str) -> tuple[Hashable, ...]:
        """Nodes of one kind, in graph order.

        Parameters
        ----------
        kind : {"trusted", "endpoint", "relay"}

        Returns
        -------
        tuple

        Raises
        ------
        ValueError
            For an unknown kind.

        Examples
        --------
        >>> from network.topology import scenario
        >>> scenario("secoqc").nodes_of_kind("relay")
        ('relay-sie-erd', 'relay-gud-for', 'relay-bre-gud')
        """
        if kind not in NODE_KINDS:
            raise ValueError(f"kind={kind!r} must be one of {NODE_KINDS}")
        return tuple(n for n, k in self._graph.nodes(data="kind") if k == kind)

    @property
    def trusted_nodes(self) -> tuple[Hashable, ...]:
        """Trusted nodes (hold keys and relay them)."""
        return self.nodes_of_kind("trusted")

    @property
    def endpoints(self) -> tuple[Hashable, ...]:
        """Endpoint users (hold keys, never relay)."""
        return self.nodes_of_kind("endpoint")

    @property
    def relays(self) -> tuple[Hashable, ...]:
        """Untrusted MDI relays (hold no key)."""
        return self.nodes_of_kind("relay")

    @property
    def key_holding_nodes(self) -> tuple[Hashable, ...]:
        """Trusted nodes and endpoints, in graph order."""
        return tuple(n for n, k in self._graph.nodes(data="kind") if k in KEY_HOLDING_KINDS)

    @property
    def routing_graph(self) -> nx.Graph:
        """Frozen graph of the key-holding nodes and the links.

        Edges carry ``link_id`` and ``length_km``; relays are removed; endpoints remain but must
        not be interior nodes of a relay path.
        """
        if self._routing is None:
            self._routing = nx.freeze(self._graph.subgraph(self.key_holding_nodes).copy())
        return self._routing

    # -- links ------------------------------------------------------------------------------

    @property
    def links(self) -> tuple[tuple[Hashable, Hashable], ...]:
        """``(u, v)`` of every link; the position is the link id."""
        return self._links

    @property
    def n_links(self) -> int:
        """Number of links."""
        return len(self._links)

    def link_id(self, u: Hashable, v: Hashable) -> int:
        """Id of the link between ``u`` and ``v``, in either orientation.

        Parameters
        ----------
        u, v : node names
            The link's ends.

        Returns
        -------
        int
            Position of the link in :attr:`links` (and in every per-link array).

        Raises
        ------
        KeyError
            If no link joins ``u`` and ``v``.

        Examples
        --------
        >>> from network.topology import scenario
        >>> topo = scenario("cambridge")
        >>> topo.link_id("ENG", "CRL") == topo.link_id("CRL", "ENG") == 0
        True
        """
        try:
            return self._link_ids[u, v]
        except (KeyError, TypeError):
            raise KeyError(f"no link between {u!r} and {v!r} in {self._name!r}") from None

    def _edge(self, link: int | tuple[Hashable, Hashable]) -> dict[str, Any]:
        if isinstance(link, numbers.Integral) and not isinstance(link, bool):
            if not 0 <= link < len(self._links):
                raise KeyError(f"link id {link!r} not in [0, {len(self._links)})")
            u, v = self._links[int(link)]
        else:
            u, v = self._links[self.link_id(*link)]
        return self._graph.edges[u, v]

    def protocol(self, link: int | tuple[Hashable, Hashable]) -> str:
        """Protocol of a link, ``"bb84-decoy"`` or ``"mdi"``.

        Parameters
        ----------
        link : int or (node, node)
            Link id, or the link's ends in either orientation.

        Returns
        -------
        str

        Raises
        ------
        KeyError
            For an unknown link.

        Examples
        --------
        >>> from network.topology import scenario
        >>> scenario("tokyo").protocol(("hongo", "hakusan"))
        'mdi'
        """
        return self._edge(link)["protocol"]

    def params(self, link: int | tuple[Hashable, Hashable]) -> BB84DecoyParams | MDIParams:
        """Parameters of a link (its lengths are the link's).

        Parameters
        ----------
        link : int or (node, node)
            Link id, or the link's ends in either orientation.

        Returns
        -------
        BB84DecoyParams or MDIParams

        Raises
        ------
        KeyError
            For an unknown link.

        Examples
        --------
        >>> from network.topology import scenario
        >>> scenario("tokyo").params(("hongo", "hakusan")).length_a_km
        2.0
        """
        return self._edge(link)["params"]

    def relay(self, link: int | tuple[Hashable, Hashable]) -> Hashable | None:
        """Relay node of an MDI link; ``None`` for a BB84 link.

        Parameters
        ----------
        link : int or (node, node)
            Link id, or the link's ends in either orientation.

        Returns
        -------
        node name or None

        Raises
        ------
        KeyError
            For an unknown link.

        Examples
        --------
        >>> from network.topology import scenario
        >>> scenario("tokyo").relay(("hongo", "hakusan"))
        'relay-bunkyo'
        """
        return self._edge(link).get("relay")

    def length_km(self, link: int | tuple[Hashable, Hashable]) -> float:
        """Total length of a link in km (MDI-QKD: through the relay).

        Parameters
        ----------
        link : int or (node, node)
            Link id, or the link's ends in either orientation.

        Returns
        -------
        float

        Raises
        ------
        KeyError
            For an unknown link.

        Examples
        --------
        >>> from network.topology import scenario
        >>> scenario("secoqc").length_km(("STP", "BRE"))
        85.0
        """
        return self._edge(link)["length_km"]

    @property
    def lengths_km(self) -> np.ndarray:
        """Read-only array of link lengths (km), indexed by link id."""
        return self._lengths

    @property
    def reach_km(self) -> np.ndarray:
        """Read-only array of each link's maximum distance (km) under its parameters."""
        return self._reach

    @property
    def link_protocols(self) -> tuple[str, ...]:
        """Protocol of every link, indexed by link id."""
        return tuple(self._graph.edges[u, v]["protocol"] for u, v in self._links)

    @property
    def link_params(self) -> tuple[BB84DecoyParams | MDIParams, ...]:
        """Parameters of every link, indexed by link id."""
        return tuple(self._graph.edges[u, v]["params"] for u, v in self._links)

    @property
    def link_ends(self) -> np.ndarray:
        """``(n_links, 2)`` integer array: positions in :attr:`nodes` of each link's ends."""
        ends = np.array(
            [(self._node_index[u], self._node_index[v]) for u, v in self._links], dtype=np.intp
        ).reshape(-1, 2)
        ends.flags.writeable = False
        return ends

    def links_of(self, node: Hashable) -> tuple[int, ...]:
        """Ids of the links ending at ``node`` (for a relay: the MDI links through it).

        Parameters
        ----------
        node : node name

        Returns
        -------
        tuple of int
            Sorted link ids.

        Raises
        ------
        KeyError
            If ``node`` is not in the topology.

        Examples
        --------
        >>> from network.topology import scenario
        >>> topo = scenario("tokyo")
        >>> [topo.links[i] for i in topo.links_of("relay-bunkyo")]
        [('hakusan', 'hongo'), ('hongo', 'hakusan-user')]
        """
        kind = self.kind(node)
        if kind == "relay":
            return tuple(
                i
                for i, (u, v) in enumerate(self._links)
                if self._graph.edges[u, v].get("relay") == node
            )
        return tuple(sorted(self._graph.edges[node, n]["link_id"] for n in self._graph[node]))

    # -- serialisation ----------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description (:meth:`from_dict` inverts it exactly).

        Returns
        -------
        dict
            ``format``, ``version``, ``name``, ``description``, ``sources``, ``decoy``,
            ``demands`` (list of pairs or None), ``nodes`` (``name``, ``kind``, optional
            ``pos_km``) and ``links`` (``ends``, ``protocol``, ``params`` as
            ``params.to_dict()``, ``relay`` for MDI) in link-id order.

        Examples
        --------
        >>> from network.topology import scenario
        >>> data = scenario("cambridge").to_dict()
        >>> data["links"][0]["ends"], data["links"][0]["protocol"]
        (['CRL', 'ENG'], 'bb84-decoy')
        """
        nodes = []
        for node, data in self._graph.nodes(data=True):
            entry: dict[str, Any] = {"name": node, "kind": data["kind"]}
            if "pos_km" in data:
                entry["pos_km"] = list(data["pos_km"])
            nodes.append(entry)
        links = []
        for u, v in self._links:
            data = self._graph.edges[u, v]
            entry = {
                "ends": [u, v],
                "protocol": data["protocol"],
                "params": data["params"].to_dict(),
            }
            if "relay" in data:
                entry["relay"] = data["relay"]
            links.append(entry)
        return {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "name": self._name,
            "description": self._description,
            "sources": list(self._sources),
            "decoy": dict(self._decoy),
            "demands": None if self._demands is None else [list(d) for d in self._demands],
            "nodes": nodes,
            "links": links,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> QKDTopology:
        """Rebuild a topology from :meth:`to_dict` output.

        Parameters
        ----------
        data : mapping
            A :meth:`to_dict` result (e.g. parsed JSON).

        Returns
        -------
        QKDTopology

        Raises
        ------
        TopologyError
            For a missing or malformed entry (naming it), parameters that do not rebuild (naming
            the link), or any validation failure of :class:`QKDTopology`.

        Examples
        --------
        >>> from network.topology import QKDTopology, scenario
        >>> topo = scenario("tokyo")
        >>> QKDTopology.from_dict(topo.to_dict()) == topo
        True
        """
        from qkdcircuits import params_from_dict

        if not isinstance(data, Mapping):
            raise TopologyError(f"topology data must be a mapping, not {type(data).__name__}")
        if data.get("format", FORMAT) != FORMAT:
            raise TopologyError(f"format={data.get('format')!r} is not {FORMAT!r}")
        if data.get("version", FORMAT_VERSION) != FORMAT_VERSION:
            raise TopologyError(
                f"version={data.get('version')!r} is not supported (expected {FORMAT_VERSION})"
            )
        for key in ("nodes", "links"):
            if not isinstance(data.get(key), list):
                raise TopologyError(f"topology data needs a list under {key!r}")
        graph = nx.Graph()
        for i, entry in enumerate(data["nodes"]):
            if not isinstance(entry, Mapping) or "name" not in entry:
                raise TopologyError(f"nodes[{i}]={entry!r} must be a mapping with a 'name'")
            attributes = {k: v for k, v in entry.items() if k != "name"}
            name = _hashable_name(entry["name"], f"nodes[{i}]")
            if name in graph:
                raise TopologyError(f"nodes[{i}]: node {name!r} is listed twice")
            graph.add_node(name, **attributes)
        for i, entry in enumerate(data["links"]):
            if not isinstance(entry, Mapping):
                raise TopologyError(f"links[{i}]={entry!r} must be a mapping")
            ends = entry.get("ends")
            if not isinstance(ends, list | tuple) or len(ends) != 2:
                raise TopologyError(f"links[{i}]: ends={ends!r} must be a pair of node names")
            u, v = (_hashable_name(end, f"links[{i}].ends") for end in ends)
            where = _link_name(u, v)
            for end in (u, v):
                if end not in graph:
                    raise TopologyError(f"{where}: node {end!r} is not listed in 'nodes'")
            if graph.has_edge(u, v):
                raise TopologyError(f"{where} is listed twice")
            unknown = set(entry) - {"ends", "protocol", "params", "relay"}
            if unknown:
                raise TopologyError(f"{where}: unknown field(s) {sorted(unknown)}")
            try:
                params = params_from_dict(dict(entry.get("params")))
            except (TypeError, ValueError) as exc:
                raise TopologyError(f"{where}: params: {exc}") from exc
            attributes = {"protocol": entry.get("protocol"), "params": params}
            if entry.get("relay") is not None:
                attributes["relay"] = _hashable_name(entry["relay"], f"{where}: relay")
            graph.add_edge(u, v, **attributes)
        demands = data.get("demands")
        if demands is not None:
            if not isinstance(demands, list):
                raise TopologyError(f"demands={demands!r} must be a list of pairs or null")
            demands = [
                tuple(_hashable_name(n, "demands") for n in d) if isinstance(d, list) else d
                for d in demands
            ]
        return cls(
            graph,
            name=data.get("name", "custom"),
            description=data.get("description", ""),
            sources=tuple(data.get("sources", ())),
            demands=demands,
            decoy=data.get("decoy", "infinite"),
        )

    # -- comparison and display -------------------------------------------------------------

    def _key(self) -> tuple:
        nodes = tuple(
            (node, data["kind"], data.get("pos_km")) for node, data in self._graph.nodes(data=True)
        )
        links = tuple(
            (u, v, d["protocol"], d["params"], d.get("relay"))
            for u, v in self._links
            for d in (self._graph.edges[u, v],)
        )
        return (
            self._name,
            self._description,
            self._sources,
            tuple(sorted(self._decoy.items())),
            self._demands,
            nodes,
            links,
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, QKDTopology):
            return NotImplemented
        return self._key() == other._key()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        counts = ", ".join(f"{k}={len(self.nodes_of_kind(k))}" for k in NODE_KINDS)
        return f"QKDTopology(name={self._name!r}, {counts}, links={self.n_links})"

    def summary(self) -> dict[str, Any]:
        """Return counts and metadata for listings (what ``abft-qkd network topologies`` prints).

        Returns
        -------
        dict
            ``name``, ``description``, ``sources``, ``nodes`` (``name`` and ``kind`` of each),
            ``node_counts`` per kind, ``link_counts`` per protocol and in total,
            ``total_length_km``, ``longest_link_km`` and ``demands`` (count).

        Examples
        --------
        >>> from network.topology import scenario
        >>> scenario("cambridge").summary()["link_counts"]
        {'bb84-decoy': 6, 'mdi': 2, 'total': 8}
        """
        protocols = self.link_protocols
        return {
            "name": self._name,
            "description": self._description,
            "sources": list(self._sources),
            "nodes": [{"name": n, "kind": k} for n, k in self._graph.nodes(data="kind")],
            "node_counts": {k: len(self.nodes_of_kind(k)) for k in NODE_KINDS},
            "link_counts": {
                **{p: protocols.count(p) for p in PROTOCOLS},
                "total": self.n_links,
            },
            "total_length_km": float(self._lengths.sum()),
            "longest_link_km": float(self._lengths.max()) if self.n_links else 0.0,
            "demands": 0 if self._demands is None else len(self._demands),
        }


FORMAT = "abft-qkd-topology"
"""Value of the ``format`` field of a serialised topology."""

FORMAT_VERSION = 1
"""Version of the serialised form written by :meth:`QKDTopology.to_dict`."""


def _hashable_name(value: Any, where: str) -> Hashable:
    """Check a node name read from a file: str or int (JSON gives nothing else usable)."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise TopologyError(f"{where}: node name {value!r} must be a str or an int")
    return value
