"""Key management: per-link pools and their ledger, OTP relay, multipath Shamir shares.

* :class:`KeyMaterial`, :func:`xor` (:mod:`network.keys.material`): key bits or their count,
  on one code path for the ``"accounting"`` and ``"material"`` modes.
* :class:`KeyStore`, :class:`LinkKey`, :class:`KeyLedger` (:mod:`network.keys.store`): the
  pools of all links, vectorised deposits with capacity, atomic takes, the ledger.
* :func:`relay_otp`, :class:`Delivery` (:mod:`network.keys.relay`): hop-by-hop one-time-pad
  relay through trusted nodes.
* :func:`relay_multipath` (:mod:`network.keys.multipath`): Shamir shares over node-disjoint
  paths with key confirmation.

Every name is imported from its module on first use: the relay modules use
:mod:`network.byzantine`, which itself uses :mod:`network.keys.material`, so either package can
be imported first, and ``import network`` reads this package's names without importing them.
"""

from __future__ import annotations

from qkdcircuits._lazy import exported_names, lazy_exports

# Public name -> module that defines it, imported on first use.
_EXPORTS_BY_MODULE: dict[str, tuple[str, ...]] = {
    "network.keys.material": ("KEY_MODES", "KeyMaterial", "xor"),
    "network.keys.store": ("UNLIMITED_BITS", "KeyLedger", "KeyStore", "LinkKey"),
    "network.keys.relay": ("Delivery", "relay_otp"),
    "network.keys.multipath": ("MAX_SHARES", "relay_multipath"),
}

__all__ = exported_names(_EXPORTS_BY_MODULE)

__getattr__, __dir__ = lazy_exports(globals(), _EXPORTS_BY_MODULE)
