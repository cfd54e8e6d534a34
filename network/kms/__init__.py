"""Key delivery to applications by ETSI GS QKD 014 over the simulated QKD network.

An optional part of :mod:`network` (nothing else in the package imports it): the HTTP server
needs ``pip install "abft-qkd[kms]"`` (FastAPI, uvicorn, httpx, cryptography, pydantic). Every
name below is imported on first use, so ``import network.kms`` itself needs none of them.

* :mod:`network.kms.supply` (no HTTP): :class:`NetworkKeySupply`, key drawn from the
  network's pools (direct, OTP relay, multipath), Byzantine nodes and the adaptive defence
  acting as in the simulation; :class:`NetworkClock` runs it in real or accelerated time;
  the :class:`KeySupply` protocol a KME needs.
* :mod:`network.kms.service` (no HTTP): :class:`KeyManagementService` and its :class:`KME`
  objects with the three API functions of the spec (``status``, ``get_enc_keys``,
  ``get_dec_keys``), :class:`KMSError` with the spec's status codes and Error bodies.
* :mod:`network.kms.models`: the spec's data formats as pydantic models.
* :mod:`network.kms.pki`: a test PKI (CA, KME and SAE certificates) and TLS contexts.
* :mod:`network.kms.server`: FastAPI apps and :class:`KMSCluster` (uvicorn, mutual TLS).
* :mod:`network.kms.cli`: ``abft-qkd kms pki`` and ``abft-qkd kms serve``.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "DEFENSES": "network.kms.supply",
    "ROUTE_TYPES": "network.kms.supply",
    "KeyRelayError": "network.kms.supply",
    "KeySupply": "network.kms.supply",
    "NetworkClock": "network.kms.supply",
    "NetworkKeySupply": "network.kms.supply",
    "RouteUnavailableError": "network.kms.supply",
    "SuppliedKey": "network.kms.supply",
    "majority_threshold": "network.kms.supply",
    "speed_factor": "network.kms.supply",
    "KME": "network.kms.service",
    "ROUTE_EXTENSION": "network.kms.service",
    "KMEConfig": "network.kms.service",
    "KMSError": "network.kms.service",
    "KeyManagementService": "network.kms.service",
    "check_sae_id": "network.kms.service",
    "Error": "network.kms.models",
    "Key": "network.kms.models",
    "KeyContainer": "network.kms.models",
    "KeyID": "network.kms.models",
    "KeyIDs": "network.kms.models",
    "KeyRequest": "network.kms.models",
    "Status": "network.kms.models",
    "client_ssl_context": "network.kms.pki",
    "create_test_pki": "network.kms.pki",
    "read_pki_map": "network.kms.pki",
    "sae_id_from_certificate": "network.kms.pki",
    "KMSCluster": "network.kms.server",
    "create_app": "network.kms.server",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
