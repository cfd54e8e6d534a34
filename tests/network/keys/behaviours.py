"""Small relay behaviours for the key-relay tests (each does one thing, deterministically)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from network.byzantine import NodeBehaviour, RelayAction, RelayOutcome
from network.keys import KeyMaterial


@dataclass(frozen=True)
class Drop(NodeBehaviour):
    """Withholds every block; not compromised (a faulty but honest node)."""

    def relay(self, *, key: KeyMaterial, rng: np.random.Generator) -> RelayOutcome:
        return RelayOutcome(RelayAction.WITHHOLD, None)


@dataclass(frozen=True)
class FlipBit(NodeBehaviour):
    """Compromised; flips bit ``index`` of every block (accounting mode: marks it altered)."""

    index: int = 0

    @property
    def compromised(self) -> bool:
        return True

    def relay(self, *, key: KeyMaterial, rng: np.random.Generator) -> RelayOutcome:
        if key.bits is None:
            return RelayOutcome(RelayAction.CORRUPT, KeyMaterial.counted(key.n_bits, altered=True))
        bits = key.bits.copy()
        bits[self.index] ^= 1
        return RelayOutcome(RelayAction.CORRUPT, KeyMaterial(n_bits=key.n_bits, bits=bits))


@dataclass(frozen=True)
class Spy(NodeBehaviour):
    """Compromised, forwards unchanged, and records every block it handles (the adversary's
    view)."""

    seen: list = field(default_factory=list, compare=False)

    @property
    def compromised(self) -> bool:
        return True

    def relay(self, *, key: KeyMaterial, rng: np.random.Generator) -> RelayOutcome:
        self.seen.append(key)
        return RelayOutcome(RelayAction.FORWARD, key)


@dataclass(frozen=True)
class Garbage(NodeBehaviour):
    """Returns something that is not a relay decision."""

    def relay(self, *, key: KeyMaterial, rng: np.random.Generator) -> RelayOutcome:
        return "forward"  # type: ignore[return-value]
