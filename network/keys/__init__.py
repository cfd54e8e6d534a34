"""Key management: per-link pools and their ledger, OTP relay, multipath Shamir shares.

* :class:`KeyMaterial`, :func:`xor` (:mod:`network.keys.material`): key bits or their count,
  on one code path for the ``"accounting"`` and ``"material"`` modes.
* :class:`KeyStore`, :class:`LinkKey`, :class:`KeyLedger` (:mod:`network.keys.store`): the
  pools of all links, vectorised deposits with capacity, atomic takes, the ledger.
* :func:`relay_otp`, :class:`Delivery` (:mod:`network.keys.relay`): hop-by-hop one-time-pad
  relay through trusted nodes.
* :func:`relay_multipath` (:mod:`network.keys.multipath`): Shamir shares over node-disjoint
  paths with key confirmation.

The relay modules use :mod:`network.byzantine`, which itself uses :mod:`network.keys.material`;
they are imported on first use so that either package can be imported first.
"""

from __future__ import annotations

import importlib
from typing import Any

from network.keys.material import KEY_MODES, KeyMaterial, xor
from network.keys.store import UNLIMITED_BITS, KeyLedger, KeyStore, LinkKey

__all__ = [
    "KEY_MODES",
    "MAX_SHARES",
    "UNLIMITED_BITS",
    "Delivery",
    "KeyLedger",
    "KeyMaterial",
    "KeyStore",
    "LinkKey",
    "relay_multipath",
    "relay_otp",
    "xor",
]

_LAZY = {
    "Delivery": "network.keys.relay",
    "relay_otp": "network.keys.relay",
    "MAX_SHARES": "network.keys.multipath",
    "relay_multipath": "network.keys.multipath",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
