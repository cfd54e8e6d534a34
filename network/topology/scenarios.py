"""Built-in QKD network scenarios after deployed networks, with cited link lengths.

Four scenarios, each a :class:`~network.topology.QKDTopology` (trusted nodes, endpoint users on
short access links, some MDI-QKD links through untrusted relays) with default demands between
every pair of endpoint users:

============  =====================================================================  ==========
name          after                                                                  links
============  =====================================================================  ==========
``secoqc``    SECOQC trusted-repeater network, Vienna 2008 (Peev et al. 2009)        15
``tokyo``     Tokyo QKD Network 2010 (Sasaki et al. 2011)                            9
``cambridge`` Cambridge quantum network, a metro triangle (Dynes et al. 2019)        8
``backbone``  Beijing-Shanghai-style trusted-node chain (after Chen et al. 2021)     35
============  =====================================================================  ==========

Each builder's docstring separates the numbers taken from the paper from this package's
assumptions (access links, which links use MDI-QKD, relay positions, device parameters). Unless a
paper gives them, links use the reference parameter sets of :mod:`qkdcircuits`: GYS for decoy
BB84 (C. Gobby, Z. L. Yuan, A. J. Shields, Appl. Phys. Lett. 84, 3762 (2004), as used by X. Ma,
B. Qi, Y. Zhao, H.-K. Lo, Phys. Rev. A 72, 012326 (2005)) and Xu et al. for MDI-QKD (F. Xu,
M. Curty, B. Qi, H.-K. Lo, New J. Phys. 15, 113007 (2013)). The deployed systems differ (other
protocols such as COW, DPS, SARG04, continuous variables, entanglement; newer detectors); the
scenarios keep the papers' geometry and loss, not their devices. Parallel QKD systems on one
fibre route are one link here (a topology is a simple graph).

Examples
--------
>>> sorted(SCENARIOS)
['backbone', 'cambridge', 'secoqc', 'tokyo']
>>> topo = scenario("tokyo")
>>> topo.length_km(("koganei", "otemachi"))
45.0
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import types
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass

import networkx as nx

from network.errors import TopologyError
from network.topology.model import QKDTopology, link_parameters
from qkdcircuits import BB84DecoyParams, FiberChannel, MDIParams

__all__ = ["SCENARIOS", "ScenarioInfo", "scenario"]

GYS_SOURCE = (
    "X. Ma, B. Qi, Y. Zhao, H.-K. Lo, Phys. Rev. A 72, 012326 (2005): decoy BB84 with the GYS "
    "parameters of C. Gobby, Z. L. Yuan, A. J. Shields, Appl. Phys. Lett. 84, 3762 (2004)"
)
XU_SOURCE = "F. Xu, M. Curty, B. Qi, H.-K. Lo, New J. Phys. 15, 113007 (2013): MDI-QKD parameters"

# (u, v, protocol, length_km, relay or None, base parameters or None for the reference set)
LinkSpec = tuple[
    Hashable, Hashable, str, float, Hashable | None, BB84DecoyParams | MDIParams | None
]


def _with_loss(params: BB84DecoyParams | MDIParams, loss_db_per_km: float):
    """``params`` with every fibre's attenuation set to ``loss_db_per_km`` (dB/km)."""
    if isinstance(params, MDIParams):
        return dataclasses.replace(
            params,
            channel_a=dataclasses.replace(params.channel_a, loss_db_per_km=loss_db_per_km),
            channel_b=dataclasses.replace(params.channel_b, loss_db_per_km=loss_db_per_km),
        )
    return dataclasses.replace(params, channel=FiberChannel(loss_db_per_km=loss_db_per_km))


def _build(
    *,
    name: str,
    description: str,
    sources: Sequence[str],
    trusted: Sequence[Hashable],
    endpoints: Sequence[Hashable],
    links: Sequence[LinkSpec],
) -> QKDTopology:
    graph = nx.Graph()
    graph.add_nodes_from(trusted, kind="trusted")
    graph.add_nodes_from(endpoints, kind="endpoint")
    for u, v, protocol, length_km, relay, base in links:
        params = link_parameters(protocol, length_km=length_km, base=base, link=(u, v))
        attributes = {"protocol": protocol, "params": params}
        if relay is not None:
            graph.add_node(relay, kind="relay")
            attributes["relay"] = relay
        graph.add_edge(u, v, **attributes)
    return QKDTopology(
        graph,
        name=name,
        description=description,
        sources=(*sources, GYS_SOURCE, XU_SOURCE),
        demands=list(itertools.combinations(endpoints, 2)),
    )


SECOQC_DESCRIPTION = (
    "SECOQC trusted-repeater QKD network, Vienna and St. Poelten, October 2008: six trusted "
    "nodes (SIE, ERD, GUD, FOR, BRE, STP) and eight links, the longest the ~85 km fibre to St. "
    "Poelten (Peev et al. 2009). Urban link lengths, the pairing of the short free-space link, "
    "the four endpoint users, their access links and the MDI-QKD links are assumptions."
)


def secoqc() -> QKDTopology:
    """Build the SECOQC network in Vienna (2008) with four endpoint users.

    From M. Peev et al., "The SECOQC quantum key distribution network in Vienna", New J. Phys.
    11, 075001 (2009): six trusted nodes named after their sites (SIE, ERD, GUD, FOR, BRE, the
    city sites, and STP, St. Poelten), eight point-to-point QKD links (seven fibre links and one
    80 m free-space link), the longest being the ~85 km fibre from BRE to St. Poelten.

    Assumptions of this package (not from the paper): the lengths of the six urban fibre links
    (SIE-ERD 12 km, SIE-GUD 16 km, ERD-GUD 6 km, GUD-FOR 10 km, GUD-BRE 25 km, FOR-BRE 24 km,
    city-scale values), the 80 m link placed between ERD and FOR and modelled as fibre, every
    backbone link with the GYS decoy-BB84 parameters; four endpoint users (``sie-user``,
    ``gud-user``, ``bre-user``, ``stp-user``) with 1 km BB84 access links and, for the first
    three, a second access link by MDI-QKD (Xu et al. 2013 parameters) through an untrusted
    relay half-way to a second trusted node (10, 9 and 6 km), so that keys can travel over
    node-disjoint paths.

    Returns
    -------
    QKDTopology

    Examples
    --------
    >>> topo = secoqc()
    >>> len(topo.trusted_nodes), topo.length_km(("BRE", "STP"))
    (6, 85.0)
    """
    links: list[LinkSpec] = [
        ("SIE", "ERD", "bb84-decoy", 12.0, None, None),
        ("SIE", "GUD", "bb84-decoy", 16.0, None, None),
        ("ERD", "GUD", "bb84-decoy", 6.0, None, None),
        ("ERD", "FOR", "bb84-decoy", 0.08, None, None),
        ("GUD", "FOR", "bb84-decoy", 10.0, None, None),
        ("GUD", "BRE", "bb84-decoy", 25.0, None, None),
        ("FOR", "BRE", "bb84-decoy", 24.0, None, None),
        ("BRE", "STP", "bb84-decoy", 85.0, None, None),
        ("sie-user", "SIE", "bb84-decoy", 1.0, None, None),
        ("sie-user", "ERD", "mdi", 10.0, "relay-sie-erd", None),
        ("gud-user", "GUD", "bb84-decoy", 1.0, None, None),
        ("gud-user", "FOR", "mdi", 9.0, "relay-gud-for", None),
        ("bre-user", "BRE", "bb84-decoy", 1.0, None, None),
        ("bre-user", "GUD", "mdi", 6.0, "relay-bre-gud", None),
        ("stp-user", "STP", "bb84-decoy", 1.0, None, None),
    ]
    return _build(
        name="secoqc",
        description=SECOQC_DESCRIPTION,
        sources=(
            "M. Peev et al., The SECOQC quantum key distribution network in Vienna, New J. Phys. "
            "11, 075001 (2009)",
        ),
        trusted=("SIE", "ERD", "GUD", "FOR", "BRE", "STP"),
        endpoints=("sie-user", "gud-user", "bre-user", "stp-user"),
        links=links,
    )


TOKYO_DESCRIPTION = (
    "Tokyo QKD Network, October 2010: four access points Koganei, Otemachi, Hakusan, Hongo; "
    "Koganei-Otemachi 45 km of fibre at ~0.3 dB/km, Otemachi-Hakusan 12 km and Otemachi-Hongo "
    "13 km at ~0.5 dB/km (Sasaki et al. 2011). The Hakusan-Hongo MDI-QKD link, the four "
    "endpoint users and their access links are assumptions."
)


def tokyo() -> QKDTopology:
    """Build the Tokyo QKD Network (2010) with four endpoint users.

    From M. Sasaki et al., "Field test of quantum key distribution in the Tokyo QKD Network",
    Opt. Express 19, 10387 (2011): four access points, Koganei, Otemachi, Hakusan and Hongo; the
    Koganei-Otemachi fibre of 45 km with an average loss of about 0.3 dB/km (several QKD systems
    ran on it, one link here); Otemachi-Hakusan (12 km) and Otemachi-Hongo (13 km), about
    0.5 dB/km. The three links use the GYS parameters with those attenuations.

    Assumptions of this package (not from the paper): an MDI-QKD link of 4 km between Hakusan
    and Hongo (two sites of Bunkyo) through an untrusted relay half-way, with Xu et al. (2013)
    parameters at 0.5 dB/km, which gives the star around Otemachi a second path; four endpoint
    users with 1 km (Koganei: 2 km) BB84 access links at the reference 0.21 dB/km, and a second,
    MDI-QKD access link from ``hakusan-user`` to Hongo through the same relay (3 km).

    Returns
    -------
    QKDTopology

    Examples
    --------
    >>> topo = tokyo()
    >>> topo.params(("otemachi", "hongo")).channel.loss_db_per_km
    0.5
    """
    gys = BB84DecoyParams.gys()
    xu = MDIParams.xu2013()
    links: list[LinkSpec] = [
        ("koganei", "otemachi", "bb84-decoy", 45.0, None, _with_loss(gys, 0.3)),
        ("otemachi", "hakusan", "bb84-decoy", 12.0, None, _with_loss(gys, 0.5)),
        ("otemachi", "hongo", "bb84-decoy", 13.0, None, _with_loss(gys, 0.5)),
        ("hakusan", "hongo", "mdi", 4.0, "relay-bunkyo", _with_loss(xu, 0.5)),
        ("koganei-user", "koganei", "bb84-decoy", 2.0, None, None),
        ("otemachi-user", "otemachi", "bb84-decoy", 1.0, None, None),
        ("hakusan-user", "hakusan", "bb84-decoy", 1.0, None, None),
        ("hakusan-user", "hongo", "mdi", 3.0, "relay-bunkyo", _with_loss(xu, 0.5)),
        ("hongo-user", "hongo", "bb84-decoy", 1.0, None, None),
    ]
    return _build(
        name="tokyo",
        description=TOKYO_DESCRIPTION,
        sources=(
            "M. Sasaki et al., Field test of quantum key distribution in the Tokyo QKD Network, "
            "Opt. Express 19, 10387 (2011)",
        ),
        trusted=("koganei", "otemachi", "hakusan", "hongo"),
        endpoints=("koganei-user", "otemachi-user", "hakusan-user", "hongo-user"),
        links=links,
    )


CAMBRIDGE_DESCRIPTION = (
    "Cambridge quantum network: a metropolitan triangle of three trusted nodes on fibres that "
    "also carry data traffic, with link redundancy (Dynes et al. 2019). Node names, link "
    "lengths, the three endpoint users and the MDI-QKD access links are assumptions."
)


def cambridge() -> QKDTopology:
    """Build a metro triangle after the Cambridge quantum network, with three endpoint users.

    From J. F. Dynes et al., "Cambridge quantum network", npj Quantum Inf. 5, 101 (2019): three
    geographically separated nodes joined pairwise by QKD links over deployed fibre (a triangle,
    so that the loss of one link leaves a path).

    Assumptions of this package (not from the paper): the node names ``CRL`` (an industrial
    research laboratory), ``ENG`` and ``EED`` (two university sites), link lengths of metro scale
    (CRL-ENG 10 km, CRL-EED 8 km, ENG-EED 3 km), the GYS parameters on every BB84 link; three
    endpoint users with 1 km BB84 access links, two of them with a second, MDI-QKD access link
    (Xu et al. 2013) through an untrusted relay half-way (``eed-user`` to ENG, 4 km;
    ``crl-user`` to ENG, 9 km).

    Returns
    -------
    QKDTopology

    Examples
    --------
    >>> topo = cambridge()
    >>> sorted(topo.graph.subgraph(topo.trusted_nodes).degree())
    [('CRL', 2), ('EED', 2), ('ENG', 2)]
    """
    links: list[LinkSpec] = [
        ("CRL", "ENG", "bb84-decoy", 10.0, None, None),
        ("CRL", "EED", "bb84-decoy", 8.0, None, None),
        ("ENG", "EED", "bb84-decoy", 3.0, None, None),
        ("crl-user", "CRL", "bb84-decoy", 1.0, None, None),
        ("crl-user", "ENG", "mdi", 9.0, "relay-north", None),
        ("eng-user", "ENG", "bb84-decoy", 1.0, None, None),
        ("eed-user", "EED", "bb84-decoy", 1.0, None, None),
        ("eed-user", "ENG", "mdi", 4.0, "relay-west", None),
    ]
    return _build(
        name="cambridge",
        description=CAMBRIDGE_DESCRIPTION,
        sources=("J. F. Dynes et al., Cambridge quantum network, npj Quantum Inf. 5, 101 (2019)",),
        trusted=("CRL", "ENG", "EED"),
        endpoints=("crl-user", "eng-user", "eed-user"),
        links=links,
    )


BACKBONE_CITIES: dict[str, float] = {
    "beijing": 0.0,
    "jinan": 367.0,
    "hefei": 904.3,
    "shanghai": 1312.0,
}
"""Position of the four metropolitan networks along the backbone, in km from Beijing: great-circle
legs Beijing-Jinan 367.0, Jinan-Hefei 537.2, Hefei-Shanghai 407.8 km (haversine, mean Earth
radius 6371.0 km, city-centre coordinates), summed. Used only to place the cities on the chain
in proportion (an assumption: the fibre route follows these legs)."""

BACKBONE_DESCRIPTION = (
    "Beijing-Shanghai-style trusted-node backbone: a chain of 32 trusted nodes with 31 fibre "
    "links of 65 km (2,015 km, over the 2,000 km of the backbone of Chen et al. 2021) joining "
    "the metropolitan networks of Beijing, Jinan, Hefei and Shanghai. Uniform spacing, city "
    "positions along the chain, the four endpoint users and their access links are assumptions."
)


def backbone(*, n_trusted: int = 32, spacing_km: float = 65.0) -> QKDTopology:
    """Build a Beijing-Shanghai-style chain of trusted nodes with endpoint users at four cities.

    From Y.-A. Chen et al., "An integrated space-to-ground quantum communication network over
    4,600 kilometres", Nature 589, 214 (2021): a trusted-relay fibre backbone of more than
    2,000 km joining the metropolitan networks of Beijing, Jinan, Hefei and Shanghai.

    Assumptions of this package (not from the paper): ``n_trusted`` trusted nodes evenly spaced
    by ``spacing_km`` (defaults 32 and 65 km: 2,015 km); the four cities placed on the chain in
    proportion to their great-circle distances (:data:`BACKBONE_CITIES`); the GYS parameters on
    every backbone link; one endpoint user per city, Beijing and Shanghai by a 5 km BB84 access
    link, Jinan and Hefei by a 10 km MDI-QKD access link (Xu et al. 2013) through an untrusted
    relay in the city. Intermediate nodes are named ``tn01``, ``tn02``, ...

    Parameters
    ----------
    n_trusted : int
        Trusted nodes on the chain (>= 4, so that the four cities are distinct nodes).
    spacing_km : float
        Length of every backbone link in km.

    Returns
    -------
    QKDTopology

    Raises
    ------
    TopologyError
        For fewer than 4 nodes, or a spacing that is negative or beyond the reach of the GYS
        parameters (about 142 km).

    Examples
    --------
    >>> topo = backbone()
    >>> trunk = topo.graph.subgraph(topo.trusted_nodes)
    >>> len(trunk), trunk.size(weight="length_km")
    (32, 2015.0)
    """
    if isinstance(n_trusted, bool) or not isinstance(n_trusted, int) or n_trusted < 4:
        raise TopologyError(f"n_trusted={n_trusted!r} must be an integer >= 4")
    total = BACKBONE_CITIES["shanghai"]
    city_at = {
        round(position / total * (n_trusted - 1)): city
        for city, position in BACKBONE_CITIES.items()
    }
    if len(city_at) != len(BACKBONE_CITIES):
        raise TopologyError(f"n_trusted={n_trusted} is too small to place the four cities apart")
    width = len(str(n_trusted - 1))
    chain = [city_at.get(i, f"tn{i:0{width}d}") for i in range(n_trusted)]
    links: list[LinkSpec] = [
        (a, b, "bb84-decoy", spacing_km, None, None) for a, b in itertools.pairwise(chain)
    ]
    links += [
        ("beijing-user", "beijing", "bb84-decoy", 5.0, None, None),
        ("jinan-user", "jinan", "mdi", 10.0, "relay-jinan", None),
        ("hefei-user", "hefei", "mdi", 10.0, "relay-hefei", None),
        ("shanghai-user", "shanghai", "bb84-decoy", 5.0, None, None),
    ]
    return _build(
        name="backbone",
        description=BACKBONE_DESCRIPTION,
        sources=(
            "Y.-A. Chen et al., An integrated space-to-ground quantum communication network "
            "over 4,600 kilometres, Nature 589, 214 (2021)",
        ),
        trusted=chain,
        endpoints=("beijing-user", "jinan-user", "hefei-user", "shanghai-user"),
        links=links,
    )


@dataclass(frozen=True)
class ScenarioInfo:
    """A built-in scenario: its name, description, sources and builder.

    Attributes
    ----------
    name : str
        Registry key.
    description : str
        What the scenario is, what comes from the paper and what is assumed.
    sources : tuple of str
        The papers the geometry comes from (the topology's ``sources`` add the parameter sets).
    build : callable
        Zero-argument function returning the :class:`QKDTopology`.
    """

    name: str
    description: str
    sources: tuple[str, ...]
    build: Callable[[], QKDTopology] = dataclasses.field(repr=False, compare=False)


def _info(name: str, description: str, source: str, build: Callable[[], QKDTopology]):
    return ScenarioInfo(name=name, description=description, sources=(source,), build=build)


SCENARIOS: Mapping[str, ScenarioInfo] = types.MappingProxyType(
    {
        "secoqc": _info(
            "secoqc",
            SECOQC_DESCRIPTION,
            "M. Peev et al., New J. Phys. 11, 075001 (2009)",
            secoqc,
        ),
        "tokyo": _info(
            "tokyo", TOKYO_DESCRIPTION, "M. Sasaki et al., Opt. Express 19, 10387 (2011)", tokyo
        ),
        "cambridge": _info(
            "cambridge",
            CAMBRIDGE_DESCRIPTION,
            "J. F. Dynes et al., npj Quantum Inf. 5, 101 (2019)",
            cambridge,
        ),
        "backbone": _info(
            "backbone", BACKBONE_DESCRIPTION, "Y.-A. Chen et al., Nature 589, 214 (2021)", backbone
        ),
    }
)
"""The built-in scenarios by name (read-only)."""


@functools.cache
def scenario(name: str) -> QKDTopology:
    """Return the built-in scenario ``name`` (built once, then shared: topologies are immutable).

    Parameters
    ----------
    name : {"secoqc", "tokyo", "cambridge", "backbone"}
        Scenario name (see :data:`SCENARIOS`).

    Returns
    -------
    QKDTopology

    Raises
    ------
    ValueError
        For an unknown name (the message lists the choices).

    Examples
    --------
    >>> scenario("cambridge").endpoints
    ('crl-user', 'eng-user', 'eed-user')
    """
    if not isinstance(name, str) or name not in SCENARIOS:
        raise ValueError(f"scenario name={name!r} must be one of {sorted(SCENARIOS)}")
    return SCENARIOS[name].build()
