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

from qkdcircuits._lazy import exported_names, lazy_exports

# Public name -> module that defines it, imported on first use.
_EXPORTS_BY_MODULE: dict[str, tuple[str, ...]] = {
    "network.kms.supply": (
        "DEFENSES",
        "ROUTE_TYPES",
        "KeyRelayError",
        "KeySupply",
        "NetworkClock",
        "NetworkKeySupply",
        "RouteUnavailableError",
        "SuppliedKey",
        "majority_threshold",
        "speed_factor",
    ),
    "network.kms.service": (
        "KME",
        "ROUTE_EXTENSION",
        "KMEConfig",
        "KMSError",
        "KeyManagementService",
        "check_sae_id",
    ),
    "network.kms.models": (
        "Error",
        "Key",
        "KeyContainer",
        "KeyID",
        "KeyIDs",
        "KeyRequest",
        "Status",
    ),
    "network.kms.pki": (
        "client_ssl_context",
        "create_test_pki",
        "read_pki_map",
        "sae_id_from_certificate",
    ),
    "network.kms.server": (
        "KMSCluster",
        "create_app",
    ),
}

__all__ = exported_names(_EXPORTS_BY_MODULE)

__getattr__, __dir__ = lazy_exports(globals(), _EXPORTS_BY_MODULE)
