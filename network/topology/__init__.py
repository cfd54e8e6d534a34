"""QKD network topologies: the graph model, built-in scenarios, random generators, file formats.

* :class:`QKDTopology` (:mod:`network.topology.model`): a validated, frozen networkx graph of
  trusted nodes, endpoint users and untrusted MDI relays whose edges are QKD links carrying
  :mod:`qkdcircuits` parameters, with stable link ids for per-link arrays.
* :func:`scenario` / :data:`SCENARIOS` (:mod:`network.topology.scenarios`): SECOQC (Vienna
  2008), the Tokyo QKD Network (2010), a Cambridge metro triangle and a Beijing-Shanghai-style
  backbone, with cited link lengths.
* :func:`random_geometric_topology`, :func:`waxman_topology`
  (:mod:`network.topology.generators`): seeded random networks of any size, every link within
  reach, key-connected.
* :func:`save_topology` / :func:`load_topology` (:mod:`network.topology.io`): JSON and GraphML
  that round-trip exactly, written atomically; :func:`resolve_topology` takes a scenario name or
  a file path (what ``--topology NAME|FILE`` options need).
"""

from __future__ import annotations

from qkdcircuits._lazy import exported_names, lazy_exports

# Public name -> module that defines it, imported on first use (`network` derives its flat names
# from this map without importing the modules).
_EXPORTS_BY_MODULE: dict[str, tuple[str, ...]] = {
    "network.topology.model": (
        "KEY_HOLDING_KINDS",
        "NODE_KINDS",
        "QKDTopology",
        "link_parameters",
        "max_link_length_km",
    ),
    "network.topology.scenarios": ("SCENARIOS", "ScenarioInfo", "scenario"),
    "network.topology.generators": ("random_geometric_topology", "waxman_topology"),
    "network.topology.io": ("load_topology", "resolve_topology", "save_topology"),
}

__all__ = exported_names(_EXPORTS_BY_MODULE)

__getattr__, __dir__ = lazy_exports(globals(), _EXPORTS_BY_MODULE)
