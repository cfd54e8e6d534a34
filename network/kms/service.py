"""Key-management entities (KMEs) of ETSI GS QKD 014 as plain Python, without HTTP.

ETSI GS QKD 014 V1.1.1 (2019-02), "Quantum Key Distribution (QKD); Protocol and data format of
REST-based key delivery API", defines how a Secure Application Entity (SAE) obtains keys from
the Key Management Entity (KME) of its site. Two SAEs at two KMEs share a key in two steps
(clause 4): the *master* SAE asks its KME for keys for a *slave* SAE ("Get key", clause 5.3)
and receives them with their key IDs; it passes the IDs to the slave, which asks its own KME
for the same keys ("Get key with key IDs", clause 5.4). "Get status" (clause 5.2) tells the
master how much key its KME can give for a slave. :class:`KME` implements the three methods
on the data formats of clause 6 (as JSON-ready dicts); :mod:`network.kms.server` only puts
them behind HTTPS.

What this implementation guarantees
    * Each key is handed out once to each side: ``get_enc_keys`` hands the master's copy
      and keeps the slave's copy until ``get_dec_keys`` hands it out and forgets it; pool
      bits are drawn once (:class:`~network.kms.supply.NetworkKeySupply`). Concurrent calls
      never share a key: draws hold the supply's lock, pending keys a lock per KME pair.
    * Only the SAE named as slave in the ``get_enc_keys`` call may fetch a key with
      ``get_dec_keys`` (401 otherwise), and only at its own KME; the caller's SAE ID comes
      from its verified certificate, never from the request (the HTTP layer passes it).
    * A request refused (400, 401, 503) changes no pool and no pending key, except a relay
      that failed on the way (503): the pads it used are spent, as in a real network.

Status codes and messages (clauses 5.2-5.4, 6.5)
    400 with an Error body: bad request format, ``"size shall be a multiple of 8"`` (keys are
    whole bytes in base64), ``"not all extension_mandatory parameters are supported"``
    (details ``extension_mandatory_unsupported``), ``"not all extension_mandatory request
    options could be met"`` (details ``extension_mandatory_unmet``), ``"one or more keys
    specified are not found on KME"``; 401 without a body; 503 with an Error body when the
    network cannot give the key now (pool exhausted, no usable route, relay failed).

Vendor extension ``abft_route_type``
    In ``extension_mandatory`` or ``extension_optional`` (clause 6.2), in the spirit of the
    spec's route-type example: ``"direct"`` (one QKD link), ``"indirect"`` (hop-by-hop OTP
    through trusted nodes on the shortest path), ``"multipath"`` (Shamir shares over
    node-disjoint paths). A mandatory value that cannot be met gives 400; an optional one
    falls back to the shortest path; other optional extensions are ignored. Every key carries
    ``key_extension`` = ``{"abft_route_type", "abft_paths", "abft_exposed",
    "abft_exposed_to"}``: how it travelled and whether a compromised node learned it.

Examples
--------
>>> from network.topology import scenario
>>> from network.kms.supply import NetworkKeySupply
>>> supply = NetworkKeySupply(scenario("cambridge"))
>>> supply.advance(0.05)
>>> kms = KeyManagementService(supply, {"alice": "crl-user", "bob": "eed-user"})
>>> sent = kms.kme("crl-user").get_enc_keys("alice", "bob", number=2, size=128)
>>> ids = [key["key_ID"] for key in sent["keys"]]
>>> got = kms.kme("eed-user").get_dec_keys("bob", "alice", ids)
>>> [k["key"] for k in got["keys"]] == [k["key"] for k in sent["keys"]]
True
>>> kms.kme("eed-user").get_dec_keys("bob", "alice", ids)
Traceback (most recent call last):
    ...
network.kms.service.KMSError: 400 one or more keys specified are not found on KME
"""

from __future__ import annotations

import base64
import numbers
import re
import threading
import uuid
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from network.errors import InsufficientKeyError, NoKeyPathError
from network.kms.supply import (
    ROUTE_TYPES,
    KeyRelayError,
    KeySupply,
    RouteUnavailableError,
    SuppliedKey,
)

__all__ = [
    "KME",
    "MSG_EXTENSION_UNMET",
    "MSG_EXTENSION_UNSUPPORTED",
    "MSG_KEYS_NOT_FOUND",
    "MSG_SIZE_NOT_BYTES",
    "ROUTE_EXTENSION",
    "KMEConfig",
    "KMSError",
    "KeyManagementService",
    "check_sae_id",
]

ROUTE_EXTENSION = "abft_route_type"
"""Name of the vendor extension that chooses how a key travels."""

MSG_SIZE_NOT_BYTES = "size shall be a multiple of 8"
MSG_EXTENSION_UNSUPPORTED = "not all extension_mandatory parameters are supported"
MSG_EXTENSION_UNMET = "not all extension_mandatory request options could be met"
MSG_KEYS_NOT_FOUND = "one or more keys specified are not found on KME"
_MSG_BAD_PARAMETERS = "requested parameters do not adhere to KME configuration"
_MSG_BAD_FORMAT = "bad request format"

_SAE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


class KMSError(Exception):
    """A refused KME request: the HTTP status code and the spec's Error body (clause 6.5).

    Attributes
    ----------
    status_code : int
        400, 401 or 503.
    message : str
        The Error ``message`` (empty for 401, which has no body).
    details : list of dict or None
        The Error ``details`` (name/value pairs).
    """

    def __init__(
        self, status_code: int, message: str = "", details: list[dict[str, Any]] | None = None
    ) -> None:
        if status_code not in (400, 401, 503):
            raise ValueError(f"status_code={status_code!r} is not one of 400, 401, 503")
        super().__init__(f"{status_code} {message}".rstrip())
        self.status_code = status_code
        self.message = message
        self.details = details

    def body(self) -> dict[str, Any] | None:
        """Return the Error data format (``None`` for 401: the spec gives it no body)."""
        if self.status_code == 401:
            return None
        body: dict[str, Any] = {"message": self.message}
        if self.details:
            body["details"] = self.details
        return body


def _unauthorized() -> KMSError:
    return KMSError(401)


def _bad_request(message: str, **detail: Any) -> KMSError:
    return KMSError(400, message, [detail] if detail else None)


def check_sae_id(sae_id: Any, name: str = "sae_id") -> str:
    """Check an SAE ID: 1-64 characters (letters, digits, ``_``, ``.``, ``-``), alphanumeric first.

    The same string names the SAE in its certificate (CN), in URLs and in JSON.

    Raises
    ------
    TypeError, ValueError
        If ``sae_id`` is not such a string.

    Examples
    --------
    >>> check_sae_id("sae-alice_1")
    'sae-alice_1'
    """
    if not isinstance(sae_id, str):
        raise TypeError(f"{name}={sae_id!r} must be a string")
    if not _SAE_ID.fullmatch(sae_id):
        raise ValueError(
            f"{name}={sae_id!r} must be 1-64 letters, digits, '_', '.', '-', starting with a "
            "letter or digit"
        )
    return sae_id


@dataclass(frozen=True)
class KMEConfig:
    """What every KME offers (reported in Status, clause 6.1).

    Attributes
    ----------
    key_size : int
        Default key size in bits (a multiple of 8 in [min_key_size, max_key_size]).
    min_key_size, max_key_size : int
        Smallest and largest key size in bits (multiples of 8, ``8 <= min <= max``).
    max_key_per_request : int
        Most keys one ``enc_keys`` or ``dec_keys`` request may ask for (>= 1).
    max_pending_keys : int
        Most keys of one KME pair waiting for their ``dec_keys`` (>= 1); beyond, ``enc_keys``
        answers 503 until the slaves fetch theirs (bounds the KMEs' memory).

    Examples
    --------
    >>> KMEConfig(key_size=12)
    Traceback (most recent call last):
        ...
    ValueError: key_size=12 must be a multiple of 8
    """

    key_size: int = 256
    min_key_size: int = 8
    max_key_size: int = 8192
    max_key_per_request: int = 128
    max_pending_keys: int = 4096

    def __post_init__(self) -> None:
        for name in (
            "key_size",
            "min_key_size",
            "max_key_size",
            "max_key_per_request",
            "max_pending_keys",
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Integral):
                raise TypeError(f"{name}={value!r} must be an integer")
            if value < 1:
                raise ValueError(f"{name}={value!r} must be >= 1")
            if name.endswith("key_size") and value % 8:
                raise ValueError(f"{name}={value!r} must be a multiple of 8")
        if not self.min_key_size <= self.key_size <= self.max_key_size:
            raise ValueError(
                f"need min_key_size <= key_size <= max_key_size, got {self.min_key_size}, "
                f"{self.key_size}, {self.max_key_size}"
            )


@dataclass
class _Pending:
    """The slave's copy of a key handed to a master, waiting for ``dec_keys``."""

    master_sae: str
    slave_sae: str
    key: str  # base64
    extension: dict[str, Any]


class _Pair:
    """The keys of one pair of KMEs waiting for their slaves, under the pair's lock."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.pending: dict[str, _Pending] = {}


def _key_extension(supplied: SuppliedKey) -> dict[str, Any]:
    return {
        "abft_route_type": supplied.route_type,
        "abft_paths": [[str(node) for node in path] for path in supplied.paths],
        "abft_exposed": supplied.exposed,
        "abft_exposed_to": [str(node) for node in supplied.exposed_to],
    }


def _base64_keys(bits: np.ndarray, number: int) -> list[str]:
    packed = np.packbits(bits).reshape(number, -1)
    return [base64.b64encode(row.tobytes()).decode("ascii") for row in packed]


class KeyManagementService:
    """The KMEs of a network and the SAEs attached to them.

    Parameters
    ----------
    supply : KeySupply
        Where key comes from (e.g. :class:`~network.kms.supply.NetworkKeySupply`).
    saes : mapping SAE ID -> node
        Each SAE and the node whose KME serves it (a node of ``supply.nodes``).
    config : KMEConfig, optional
        Limits of every KME.
    kme_nodes : iterable of nodes, optional
        Nodes with a KME (default: every node of ``supply.nodes``); must include every SAE's.

    Raises
    ------
    TypeError, ValueError
        If an SAE ID is invalid or an SAE's node has no KME (the message names them).
    """

    def __init__(
        self,
        supply: KeySupply,
        saes: Mapping[str, Hashable],
        *,
        config: KMEConfig | None = None,
        kme_nodes: Iterable[Hashable] | None = None,
    ) -> None:
        if not isinstance(supply, KeySupply):
            raise TypeError(f"supply must implement KeySupply, not {type(supply).__name__}")
        self._supply = supply
        self._config = KMEConfig() if config is None else config
        if not isinstance(self._config, KMEConfig):
            raise TypeError(f"config must be a KMEConfig, not {type(config).__name__}")
        nodes = tuple(supply.nodes if kme_nodes is None else kme_nodes)
        unknown = [node for node in nodes if node not in supply.nodes]
        if unknown:
            raise ValueError(f"kme_nodes names {unknown[0]!r}, which cannot hold key")
        if not isinstance(saes, Mapping):
            raise TypeError(f"saes must map SAE ID -> node, not {type(saes).__name__}")
        self._sae_node: dict[str, Hashable] = {}
        for sae, node in saes.items():
            check_sae_id(sae, "SAE ID")
            if node not in nodes:
                raise ValueError(f"SAE {sae!r} is attached to {node!r}, which has no KME")
            self._sae_node[sae] = node
        ids = [str(node) for node in nodes]
        if len(set(ids)) != len(ids):
            raise ValueError("KME nodes must have distinct names")
        self._kmes = {node: KME(self, node) for node in nodes}
        self._pairs: dict[frozenset, _Pair] = {}
        self._pairs_lock = threading.Lock()

    @property
    def supply(self) -> KeySupply:
        """Where the keys come from."""
        return self._supply

    @property
    def config(self) -> KMEConfig:
        """The KMEs' limits."""
        return self._config

    @property
    def saes(self) -> dict[str, Hashable]:
        """SAE ID -> node of its KME (a copy)."""
        return dict(self._sae_node)

    @property
    def kmes(self) -> dict[Hashable, KME]:
        """Node -> its KME (a copy)."""
        return dict(self._kmes)

    def kme(self, node: Hashable) -> KME:
        """Return the KME of ``node``.

        Raises
        ------
        KeyError
            If ``node`` has no KME.
        """
        try:
            return self._kmes[node]
        except (KeyError, TypeError):
            raise KeyError(f"no KME at node {node!r}") from None

    def node_of(self, sae: Any) -> Hashable | None:
        """Return the node of a registered SAE, or ``None``."""
        return self._sae_node.get(sae) if isinstance(sae, str) else None

    def pair(self, a: Hashable, b: Hashable) -> _Pair:
        """Return the pending-key state of the KME pair ``{a, b}`` (created on first use)."""
        key = frozenset((a, b))
        with self._pairs_lock:
            state = self._pairs.get(key)
            if state is None:
                state = self._pairs[key] = _Pair()
            return state

    def pending_count(self) -> int:
        """Keys handed to masters whose slaves have not fetched them yet (all pairs)."""
        with self._pairs_lock:
            pairs = list(self._pairs.values())
        total = 0
        for state in pairs:
            with state.lock:
                total += len(state.pending)
        return total


class KME:
    """The key-management entity of one node (create through :class:`KeyManagementService`).

    Its three methods are the three API functions of ETSI GS QKD 014 clause 5; ``caller`` is
    the SAE ID the transport authenticated (its certificate), never a field of the request.
    Every method raises :class:`KMSError` with the spec's status code and Error body.
    """

    def __init__(self, service: KeyManagementService, node: Hashable) -> None:
        self._service = service
        self._node = node

    @property
    def node(self) -> Hashable:
        """The node this KME serves."""
        return self._node

    @property
    def kme_id(self) -> str:
        """The KME ID (the node's name)."""
        return str(self._node)

    def __repr__(self) -> str:
        return f"KME({self._node!r})"

    # -- checks -------------------------------------------------------------------------------

    def _check_caller(self, caller: Any) -> str:
        """401 unless ``caller`` is an SAE attached to this KME."""
        node = self._service.node_of(caller)
        if node is None or node != self._node:
            raise _unauthorized()
        return caller

    def _peer_node(self, sae: Any, role: str, caller: str) -> Hashable:
        """Return the node of the other SAE (400 if unknown, or at this very KME)."""
        node = self._service.node_of(sae)
        if node is None:
            raise _bad_request(f"{role}_SAE_ID {sae!r} is not known to this KMS")
        if node == self._node:
            raise _bad_request(
                f"{role}_SAE_ID {sae!r} is attached to the same KME as {caller!r}: keys are "
                "delivered between two KMEs only"
            )
        return node

    def _count(self, value: Any, name: str, default: int, low: int, high: int) -> int:
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise _bad_request(_MSG_BAD_FORMAT, **{name: f"{value!r} is not an integer"})
        if name == "size" and value % 8:
            raise _bad_request(MSG_SIZE_NOT_BYTES, size=int(value))
        if not low <= value <= high:
            raise _bad_request(
                _MSG_BAD_PARAMETERS, **{name: f"{int(value)} is outside [{low}, {high}]"}
            )
        return int(value)

    @staticmethod
    def _extensions(value: Any, name: str) -> list[dict[str, Any]]:
        if value is None:
            return []
        if not isinstance(value, Sequence) or isinstance(value, (str, bytes)):
            raise _bad_request(_MSG_BAD_FORMAT, **{name: "must be an array of objects"})
        if not all(isinstance(item, Mapping) for item in value):
            raise _bad_request(_MSG_BAD_FORMAT, **{name: "must be an array of objects"})
        return [dict(item) for item in value]

    def _route_type(self, mandatory: Any, optional: Any) -> tuple[str | None, bool]:
        """Return the route type asked for, and whether it is mandatory (clause 6.2 extensions)."""
        required = self._extensions(mandatory, "extension_mandatory")
        wished = self._extensions(optional, "extension_optional")
        unsupported, chosen = [], set()
        for item in required:
            for name, value in item.items():
                if name != ROUTE_EXTENSION:
                    unsupported.append(f"{name} is not supported")
                elif value not in ROUTE_TYPES:
                    unsupported.append(f"{name}={value!r} is not supported (one of {ROUTE_TYPES})")
                else:
                    chosen.add(value)
        if unsupported:
            raise KMSError(
                400,
                MSG_EXTENSION_UNSUPPORTED,
                [{"extension_mandatory_unsupported": text} for text in unsupported],
            )
        if len(chosen) > 1:
            raise KMSError(
                400,
                MSG_EXTENSION_UNMET,
                [{"extension_mandatory_unmet": f"conflicting {ROUTE_EXTENSION} {sorted(chosen)}"}],
            )
        if chosen:
            return chosen.pop(), True
        for item in wished:
            value = item.get(ROUTE_EXTENSION)
            if isinstance(value, str) and value in ROUTE_TYPES:
                return value, False
        return None, False

    # -- the API ------------------------------------------------------------------------------

    def status(self, caller: str, slave_sae: str) -> dict[str, Any]:
        """Get status (clause 5.2): the Status data format (clause 6.1) for a slave SAE.

        Parameters
        ----------
        caller : str
            The authenticated SAE (the master).
        slave_sae : str
            The slave SAE ID from the URL.

        Returns
        -------
        dict
            ``source_KME_ID``, ``target_KME_ID``, ``master_SAE_ID``, ``slave_SAE_ID``,
            ``key_size``, ``stored_key_count`` (keys of ``key_size`` the default route can
            give now: the bits of its poorest pool), ``max_key_count``,
            ``max_key_per_request``, ``max_key_size``, ``min_key_size``, ``max_SAE_ID_count``.

        Raises
        ------
        KMSError
            401 if ``caller`` is not an SAE of this KME; 400 if ``slave_sae`` is unknown.
        """
        master = self._check_caller(caller)
        slave_node = self._peer_node(slave_sae, "slave", master)
        config = self._service.config
        available, capacity = self._service.supply.available_bits(self._node, slave_node)
        return {
            "source_KME_ID": self.kme_id,
            "target_KME_ID": str(slave_node),
            "master_SAE_ID": master,
            "slave_SAE_ID": slave_sae,
            "key_size": config.key_size,
            "stored_key_count": available // config.key_size,
            "max_key_count": capacity // config.key_size,
            "max_key_per_request": config.max_key_per_request,
            "max_key_size": config.max_key_size,
            "min_key_size": config.min_key_size,
            "max_SAE_ID_count": 0,
        }

    def get_enc_keys(
        self,
        caller: str,
        slave_sae: str,
        *,
        number: int | None = None,
        size: int | None = None,
        additional_slave_sae_ids: Sequence[str] | None = None,
        extension_mandatory: Sequence[Mapping[str, Any]] | None = None,
        extension_optional: Sequence[Mapping[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """Get key (clause 5.3): ``number`` keys of ``size`` bits for the master ``caller``.

        The parameters are those of the Key request data format (clause 6.2). The slave's
        copies stay with the slave's KME until it fetches them (:meth:`get_dec_keys`).

        Parameters
        ----------
        caller : str
            The authenticated SAE (the master).
        slave_sae : str
            The slave SAE ID from the URL.
        number : int, optional
            Number of keys (default 1), in [1, max_key_per_request].
        size : int, optional
            Key size in bits (default ``key_size``): a multiple of 8 in
            [min_key_size, max_key_size].
        additional_slave_sae_ids : sequence of str, optional
            Must be empty: this KMS has ``max_SAE_ID_count`` 0.
        extension_mandatory, extension_optional : sequence of dict, optional
            Extensions; ``{"abft_route_type": "direct" | "indirect" | "multipath"}`` is
            supported (see the module docstring).

        Returns
        -------
        dict
            The Key container data format (clause 6.3): ``{"keys": [{"key_ID", "key",
            "key_extension"}, ...]}``, ``key`` base64 of ``size`` bits.

        Raises
        ------
        KMSError
            401: ``caller`` is not an SAE of this KME. 400: bad parameters (the spec's
            messages). 503: no key now (pool exhausted, no usable route, relay failed, too many
            keys waiting for their slave). Nothing is consumed on 400 and 401.
        """
        master = self._check_caller(caller)
        slave_node = self._peer_node(slave_sae, "slave", master)
        config = self._service.config
        size = self._count(size, "size", config.key_size, config.min_key_size, config.max_key_size)
        number = self._count(number, "number", 1, 1, config.max_key_per_request)
        if additional_slave_sae_ids is not None:
            if isinstance(additional_slave_sae_ids, (str, bytes)) or not isinstance(
                additional_slave_sae_ids, Sequence
            ):
                raise _bad_request(_MSG_BAD_FORMAT, additional_slave_SAE_IDs="must be an array")
            if len(additional_slave_sae_ids):
                raise _bad_request(
                    _MSG_BAD_PARAMETERS,
                    additional_slave_SAE_IDs="not supported: max_SAE_ID_count is 0",
                )
        route_type, mandatory = self._route_type(extension_mandatory, extension_optional)
        pair = self._service.pair(self._node, slave_node)
        with pair.lock:
            if len(pair.pending) + number > config.max_pending_keys:
                raise KMSError(
                    503,
                    f"{len(pair.pending)} keys of KMEs {self.kme_id} and {slave_node} still "
                    "wait for their dec_keys request",
                    [{"max_pending_keys": config.max_pending_keys}],
                )
            supplied = self._draw(slave_node, number * size, route_type, mandatory)
            extension = _key_extension(supplied)
            keys, copies = [], []
            master_keys = _base64_keys(supplied.master_bits, number)
            slave_keys = _base64_keys(supplied.slave_bits, number)
            for master_key, slave_key in zip(master_keys, slave_keys, strict=True):
                key_id = str(uuid.uuid4())
                keys.append({"key_ID": key_id, "key": master_key, "key_extension": extension})
                copies.append((key_id, _Pending(master, slave_sae, slave_key, extension)))
            pair.pending.update(copies)
        return {"keys": keys}

    def _draw(
        self, slave_node: Hashable, n_bits: int, route_type: str | None, mandatory: bool
    ) -> SuppliedKey:
        supply = self._service.supply
        try:
            try:
                return supply.draw(self._node, slave_node, n_bits, route_type=route_type)
            except RouteUnavailableError as exc:
                if mandatory:
                    raise KMSError(
                        400, MSG_EXTENSION_UNMET, [{"extension_mandatory_unmet": str(exc)}]
                    ) from None
                return supply.draw(self._node, slave_node, n_bits, route_type=None)
        except InsufficientKeyError as exc:
            raise KMSError(
                503,
                f"not enough key between KMEs {self.kme_id} and {slave_node} now",
                [{"pool": str(exc)}],
            ) from None
        except NoKeyPathError as exc:
            raise KMSError(503, "no usable key path now", [{"route": str(exc)}]) from None
        except KeyRelayError as exc:
            raise KMSError(503, "key relay failed", [{"relay": str(exc)}]) from None

    def get_dec_keys(self, caller: str, master_sae: str, key_ids: Sequence[str]) -> dict[str, Any]:
        """Get key with key IDs (clause 5.4): the slave ``caller`` fetches its copies.

        Parameters
        ----------
        caller : str
            The authenticated SAE (the slave).
        master_sae : str
            The master SAE ID from the URL.
        key_ids : sequence of str
            The key IDs (UUIDs, from the Key IDs data format, clause 6.4), distinct, at most
            ``max_key_per_request``.

        Returns
        -------
        dict
            The Key container (clause 6.3), keys in the order of ``key_ids``.

        Raises
        ------
        KMSError
            401: ``caller`` is not an SAE of this KME, or not the slave the keys were made
            for. 400: bad key IDs, or ``"one or more keys specified are not found on KME"``.
            Nothing is handed out unless every key is.
        """
        slave = self._check_caller(caller)
        master_node = self._peer_node(master_sae, "master", slave)
        limit = self._service.config.max_key_per_request
        if isinstance(key_ids, (str, bytes)) or not isinstance(key_ids, Sequence):
            raise _bad_request(_MSG_BAD_FORMAT, key_IDs="must be an array")
        if not 1 <= len(key_ids) <= limit:
            raise _bad_request(_MSG_BAD_PARAMETERS, key_IDs=f"{len(key_ids)} not in [1, {limit}]")
        wanted = []
        for key_id in key_ids:
            if not isinstance(key_id, str) or not _UUID.fullmatch(key_id):
                raise _bad_request(_MSG_BAD_FORMAT, key_ID=f"{key_id!r} is not a UUID")
            wanted.append(key_id.lower())
        if len(set(wanted)) != len(wanted):
            raise _bad_request(_MSG_BAD_FORMAT, key_IDs="a key_ID appears twice")
        pair = self._service.pair(master_node, self._node)
        with pair.lock:
            found = [pair.pending.get(key_id) for key_id in wanted]
            missing = [
                key_id
                for key_id, item in zip(wanted, found, strict=True)
                if item is None or item.master_sae != master_sae
            ]
            if missing:
                raise KMSError(400, MSG_KEYS_NOT_FOUND, [{"key_IDs_not_found": missing}])
            if any(item.slave_sae != slave for item in found):
                raise _unauthorized()
            for key_id in wanted:
                del pair.pending[key_id]
        return {
            "keys": [
                {"key_ID": key_id, "key": item.key, "key_extension": item.extension}
                for key_id, item in zip(wanted, found, strict=True)
            ]
        }
