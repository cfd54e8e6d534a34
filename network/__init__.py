"""Network layer of abft-qkd: QKD networks built on :mod:`qkdcircuits` link reports.

Topology, key pools and relay, Byzantine behaviours, adaptive voting and PBFT consensus arrive
with later issues; this package depends on :mod:`qkdcircuits` only, never on :mod:`rl`.
"""

__all__: list[str] = []
