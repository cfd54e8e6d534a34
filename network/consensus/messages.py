r"""PBFT protocol messages: frozen dataclasses with a canonical, injective byte encoding.

Every message has ``encode()`` (a type byte, then its fields: unsigned 64-bit big-endian
integers, length-prefixed byte strings, counted tuples) and ``digest``, the 16-byte BLAKE2b
digest of the encoding that authenticators tag (:mod:`network.consensus.auth`). A batch of
requests is named by :func:`batch_digest`, the digest of its requests' digests; the empty batch
is PBFT's null request.

The message set follows Castro & Liskov (ACM TOCS 20, 398, 2002): REQUEST, PRE-PREPARE,
PREPARE, COMMIT, REPLY (Sec. 2.3, 3.2.2), CHECKPOINT (Sec. 2.3.4), VIEW-CHANGE, VIEW-CHANGE-ACK
and NEW-VIEW of the MAC-only protocol (Sec. 3.2.4), with state and view-change fetching
(Sec. 5.3, 3.2.4) and a STATUS message that lets a replica that missed messages catch up (the
retransmission scheme of the BFT library, Sec. 5.2).

Examples
--------
>>> r = Request(client=7, timestamp=1, operation=b"noop")
>>> r == Request(7, 1, b"noop"), r.digest == Request(7, 2, b"noop").digest
(True, False)
>>> Prepare(view=0, seq=1, batch=batch_digest((r,)), sender=2).encode()[:1]
b'\x03'
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass, field
from functools import cached_property
from typing import ClassVar

from network.consensus.auth import DIGEST_BYTES, Authenticator, message_digest

__all__ = [
    "NULL_DIGEST",
    "BatchContent",
    "Checkpoint",
    "Commit",
    "FetchState",
    "FetchViewChange",
    "Message",
    "NewView",
    "Outgoing",
    "Packet",
    "PrePrepare",
    "Prepare",
    "RelayedViewChange",
    "Reply",
    "Request",
    "StateTransfer",
    "Status",
    "ViewChange",
    "ViewChangeAck",
    "batch_digest",
]

_MAX_U64 = (1 << 64) - 1


def _uint(value: object, name: str) -> None:
    if type(value) is int and 0 <= value <= _MAX_U64:
        return
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name}={value!r} must be an integer")
    if not 0 <= value <= _MAX_U64:
        raise ValueError(f"{name}={value!r} must be in [0, 2^64)")


def _bytes(value: object, name: str) -> None:
    if not isinstance(value, bytes):
        raise TypeError(f"{name}={value!r} must be bytes")


def _digest(value: object, name: str) -> None:
    _bytes(value, name)
    if len(value) != DIGEST_BYTES:
        raise ValueError(f"{name} must be a {DIGEST_BYTES}-byte digest, not {len(value)} bytes")


def _u(value: int) -> bytes:
    return value.to_bytes(8, "big")


def _b(data: bytes) -> bytes:
    return len(data).to_bytes(4, "big") + data


class Message:
    """Base of the protocol messages (``kind`` is the encoding's type byte)."""

    kind: ClassVar[int] = 0
    sender: int

    def encode(self) -> bytes:  # pragma: no cover - every subclass overrides it
        """Return the canonical byte encoding of the message (defined by each subclass).

        Returns
        -------
        bytes
            The type byte :attr:`kind`, then the fields; equal messages give equal bytes.

        Raises
        ------
        NotImplementedError
            On the base class, which has no fields to encode.
        """
        raise NotImplementedError

    @cached_property
    def digest(self) -> bytes:
        """16-byte BLAKE2b digest of :meth:`encode`."""
        return message_digest(self.encode())


@dataclass(frozen=True, eq=True)
class Request(Message):
    """A client's operation; ``timestamp`` orders one client's requests (at most once each).

    ``operation`` is opaque bytes for the replicated state machine.
    """

    kind: ClassVar[int] = 1
    client: int
    timestamp: int
    operation: bytes

    def __post_init__(self) -> None:
        _uint(self.client, "client")
        _uint(self.timestamp, "timestamp")
        _bytes(self.operation, "operation")

    @property
    def sender(self) -> int:
        """The client."""
        return self.client

    @property
    def key(self) -> tuple[int, int]:
        """``(client, timestamp)``: the identity of the request."""
        return (self.client, self.timestamp)

    def encode(self) -> bytes:
        """Return the canonical encoding of the REQUEST.

        Returns
        -------
        bytes
            Type byte ``0x01``, ``client`` and ``timestamp`` (unsigned 64-bit big-endian),
            then ``operation`` with a 4-byte length prefix.
        """
        return b"\x01" + _u(self.client) + _u(self.timestamp) + _b(self.operation)


NULL_DIGEST = message_digest(b"")
"""Digest of the empty batch (PBFT's null request)."""


def batch_digest(requests: tuple[Request, ...]) -> bytes:
    """Digest naming a batch: BLAKE2b of the concatenated request digests.

    Examples
    --------
    >>> batch_digest(()) == NULL_DIGEST
    True
    """
    return message_digest(b"".join(r.digest for r in requests))


def _requests(value: object, name: str) -> None:
    if not isinstance(value, tuple) or not all(isinstance(r, Request) for r in value):
        raise TypeError(f"{name} must be a tuple of Request")


def _encode_batch(requests: tuple[Request, ...]) -> bytes:
    return _u(len(requests)) + b"".join(r.digest for r in requests)


@dataclass(frozen=True, eq=True)
class PrePrepare(Message):
    """The primary's proposal of a batch at ``(view, seq)``.

    ``client_auths[i]`` is the client's authenticator of ``requests[i]`` (so that backups can
    check the request came from its client); it travels with the message but is not part of the
    encoding: the batch is named by the request digests.
    """

    kind: ClassVar[int] = 2
    view: int
    seq: int
    requests: tuple[Request, ...]
    sender: int
    client_auths: tuple[Authenticator, ...] = field(default=(), compare=False, repr=False)

    def __post_init__(self) -> None:
        _uint(self.view, "view")
        _uint(self.seq, "seq")
        _uint(self.sender, "sender")
        _requests(self.requests, "requests")
        if self.client_auths and len(self.client_auths) != len(self.requests):
            raise ValueError(
                f"client_auths has {len(self.client_auths)} entries for "
                f"{len(self.requests)} requests"
            )

    @cached_property
    def batch(self) -> bytes:
        """:func:`batch_digest` of the requests."""
        return batch_digest(self.requests)

    def encode(self) -> bytes:
        """Return the canonical encoding of the PRE-PREPARE (client authenticators excluded).

        Returns
        -------
        bytes
            Type byte ``0x02``, ``view``, ``seq`` and ``sender`` (unsigned 64-bit big-endian),
            then the 16-byte :func:`batch_digest` of the requests.
        """
        return b"\x02" + _u(self.view) + _u(self.seq) + _u(self.sender) + self.batch


@dataclass(frozen=True, eq=True)
class _Vote(Message):
    view: int
    seq: int
    batch: bytes
    sender: int

    def __post_init__(self) -> None:
        _uint(self.view, "view")
        _uint(self.seq, "seq")
        _digest(self.batch, "batch")
        _uint(self.sender, "sender")

    def encode(self) -> bytes:
        return bytes((self.kind,)) + _u(self.view) + _u(self.seq) + self.batch + _u(self.sender)


@dataclass(frozen=True, eq=True)
class Prepare(_Vote):
    """A backup's agreement with the pre-prepare of batch digest ``batch`` at ``(view, seq)``."""

    kind: ClassVar[int] = 3


@dataclass(frozen=True, eq=True)
class Commit(_Vote):
    """A replica's report that it prepared the batch digest ``batch`` at ``(view, seq)``."""

    kind: ClassVar[int] = 4


@dataclass(frozen=True, eq=True)
class Reply(Message):
    """A replica's result of the request ``(client, timestamp)``, executed in ``view``."""

    kind: ClassVar[int] = 5
    view: int
    client: int
    timestamp: int
    result: bytes
    sender: int

    def __post_init__(self) -> None:
        _uint(self.view, "view")
        _uint(self.client, "client")
        _uint(self.timestamp, "timestamp")
        _bytes(self.result, "result")
        _uint(self.sender, "sender")

    def encode(self) -> bytes:
        """Return the canonical encoding of the REPLY.

        Returns
        -------
        bytes
            Type byte ``0x05``, ``view``, ``client``, ``timestamp``, the length-prefixed
            ``result`` and ``sender``.
        """
        return (
            b"\x05"
            + _u(self.view)
            + _u(self.client)
            + _u(self.timestamp)
            + _b(self.result)
            + _u(self.sender)
        )


@dataclass(frozen=True, eq=True)
class Checkpoint(Message):
    """A replica's state digest after executing sequence number ``seq``."""

    kind: ClassVar[int] = 6
    seq: int
    state_digest: bytes
    sender: int

    def __post_init__(self) -> None:
        _uint(self.seq, "seq")
        _digest(self.state_digest, "state_digest")
        _uint(self.sender, "sender")

    def encode(self) -> bytes:
        """Return the canonical encoding of the CHECKPOINT.

        Returns
        -------
        bytes
            Type byte ``0x06``, ``seq``, the 16-byte ``state_digest`` and ``sender``.
        """
        return b"\x06" + _u(self.seq) + self.state_digest + _u(self.sender)


def _pairs(value: object, name: str, width: int) -> None:
    if not isinstance(value, tuple):
        raise TypeError(f"{name} must be a tuple")
    for entry in value:
        if not isinstance(entry, tuple) or len(entry) != width:
            raise TypeError(f"{name} entries must be {width}-tuples, got {entry!r}")
        _uint(entry[0], f"{name} sequence number")
        _digest(entry[1], f"{name} digest")
        if width == 3:
            _uint(entry[2], f"{name} view")


def _encode_entries(entries: tuple[tuple, ...]) -> bytes:
    parts = [_u(len(entries))]
    for entry in entries:
        parts.append(_u(entry[0]) + entry[1] + (_u(entry[2]) if len(entry) == 3 else b""))
    return b"".join(parts)


def _batches(value: object, name: str) -> None:
    if not isinstance(value, tuple):
        raise TypeError(f"{name} must be a tuple of batches")
    for batch in value:
        _requests(batch, f"{name} entry")


def _encode_batches(batches: tuple[tuple[Request, ...], ...]) -> bytes:
    return _u(len(batches)) + b"".join(_encode_batch(b) for b in batches)


@dataclass(frozen=True, eq=True)
class ViewChange(Message):
    """VIEW-CHANGE of the MAC-only protocol (TOCS 2002, Sec. 3.2.4).

    Attributes
    ----------
    view : int
        The view the sender moves to.
    stable_seq, stable_digest : int, bytes
        The sender's last stable checkpoint (its low watermark ``h``).
    checkpoints : tuple of (seq, digest)
        The checkpoints the sender holds at or above ``h`` (the set ``C``).
    prepared : tuple of (seq, digest, view)
        For each ``seq > h``, the batch the sender prepared in the latest view (the set ``P``).
    preprepared : tuple of (seq, digest, view)
        Batches the sender pre-prepared above ``h``, latest view per digest (the set ``Q``).
    batches : tuple of request tuples
        The contents of the batches in ``prepared`` (so a new primary can re-propose them).
    """

    kind: ClassVar[int] = 7
    view: int
    stable_seq: int
    stable_digest: bytes
    checkpoints: tuple[tuple[int, bytes], ...]
    prepared: tuple[tuple[int, bytes, int], ...]
    preprepared: tuple[tuple[int, bytes, int], ...]
    batches: tuple[tuple[Request, ...], ...]
    sender: int

    def __post_init__(self) -> None:
        _uint(self.view, "view")
        _uint(self.stable_seq, "stable_seq")
        _digest(self.stable_digest, "stable_digest")
        _pairs(self.checkpoints, "checkpoints", 2)
        _pairs(self.prepared, "prepared", 3)
        _pairs(self.preprepared, "preprepared", 3)
        _batches(self.batches, "batches")
        _uint(self.sender, "sender")

    def encode(self) -> bytes:
        """Return the canonical encoding of the VIEW-CHANGE.

        Returns
        -------
        bytes
            Type byte ``0x07``, ``view``, the stable checkpoint (``stable_seq``,
            ``stable_digest``), the counted ``checkpoints``, ``prepared`` and ``preprepared``
            entries, the counted ``batches`` (request digests) and ``sender``.
        """
        return (
            b"\x07"
            + _u(self.view)
            + _u(self.stable_seq)
            + self.stable_digest
            + _encode_entries(self.checkpoints)
            + _encode_entries(self.prepared)
            + _encode_entries(self.preprepared)
            + _encode_batches(self.batches)
            + _u(self.sender)
        )


@dataclass(frozen=True, eq=True)
class ViewChangeAck(Message):
    """VIEW-CHANGE-ACK: ``sender`` received ``origin``'s VIEW-CHANGE for ``view`` (digest)."""

    kind: ClassVar[int] = 8
    view: int
    origin: int
    change_digest: bytes
    sender: int

    def __post_init__(self) -> None:
        _uint(self.view, "view")
        _uint(self.origin, "origin")
        _digest(self.change_digest, "change_digest")
        _uint(self.sender, "sender")

    def encode(self) -> bytes:
        """Return the canonical encoding of the VIEW-CHANGE-ACK.

        Returns
        -------
        bytes
            Type byte ``0x08``, ``view``, ``origin``, the 16-byte ``change_digest`` and
            ``sender``.
        """
        return b"\x08" + _u(self.view) + _u(self.origin) + self.change_digest + _u(self.sender)


@dataclass(frozen=True, eq=True)
class NewView(Message):
    """NEW-VIEW: the VIEW-CHANGEs used (by digest), the checkpoint and the batch per seq."""

    kind: ClassVar[int] = 9
    view: int
    changes: tuple[tuple[int, bytes], ...]
    checkpoint_seq: int
    checkpoint_digest: bytes
    decisions: tuple[tuple[int, bytes], ...]
    batches: tuple[tuple[Request, ...], ...]
    sender: int

    def __post_init__(self) -> None:
        _uint(self.view, "view")
        _pairs(self.changes, "changes", 2)
        _uint(self.checkpoint_seq, "checkpoint_seq")
        _digest(self.checkpoint_digest, "checkpoint_digest")
        _pairs(self.decisions, "decisions", 2)
        _batches(self.batches, "batches")
        _uint(self.sender, "sender")

    def encode(self) -> bytes:
        """Return the canonical encoding of the NEW-VIEW.

        Returns
        -------
        bytes
            Type byte ``0x09``, ``view``, the counted ``changes``, the checkpoint
            (``checkpoint_seq``, ``checkpoint_digest``), the counted ``decisions`` and ``batches``
            and ``sender``.
        """
        return (
            b"\x09"
            + _u(self.view)
            + _encode_entries(self.changes)
            + _u(self.checkpoint_seq)
            + self.checkpoint_digest
            + _encode_entries(self.decisions)
            + _encode_batches(self.batches)
            + _u(self.sender)
        )


@dataclass(frozen=True, eq=True)
class Status(Message):
    """A replica's progress, sent while it has work pending so that peers fill its gaps."""

    kind: ClassVar[int] = 10
    view: int
    active: bool
    stable_seq: int
    last_executed: int
    sender: int

    def __post_init__(self) -> None:
        _uint(self.view, "view")
        if not isinstance(self.active, bool):
            raise TypeError(f"active={self.active!r} must be a bool")
        _uint(self.stable_seq, "stable_seq")
        _uint(self.last_executed, "last_executed")
        _uint(self.sender, "sender")

    def encode(self) -> bytes:
        """Return the canonical encoding of the STATUS.

        Returns
        -------
        bytes
            Type byte ``0x0a``, ``view``, one byte for ``active``, ``stable_seq``,
            ``last_executed`` and ``sender``.
        """
        return (
            b"\x0a"
            + _u(self.view)
            + (b"\x01" if self.active else b"\x00")
            + _u(self.stable_seq)
            + _u(self.last_executed)
            + _u(self.sender)
        )


@dataclass(frozen=True, eq=True)
class BatchContent(Message):
    """The requests of the batch committed at ``seq`` (trusted only by its digest)."""

    kind: ClassVar[int] = 11
    seq: int
    requests: tuple[Request, ...]
    sender: int

    def __post_init__(self) -> None:
        _uint(self.seq, "seq")
        _requests(self.requests, "requests")
        _uint(self.sender, "sender")

    def encode(self) -> bytes:
        """Return the canonical encoding of the batch content.

        Returns
        -------
        bytes
            Type byte ``0x0b``, ``seq``, the counted request digests and ``sender``.
        """
        return b"\x0b" + _u(self.seq) + _encode_batch(self.requests) + _u(self.sender)


@dataclass(frozen=True, eq=True)
class FetchState(Message):
    """Ask for the state at checkpoint ``seq`` (or a later stable one)."""

    kind: ClassVar[int] = 12
    seq: int
    sender: int

    def __post_init__(self) -> None:
        _uint(self.seq, "seq")
        _uint(self.sender, "sender")

    def encode(self) -> bytes:
        """Return the canonical encoding of the state fetch.

        Returns
        -------
        bytes
            Type byte ``0x0c``, ``seq`` and ``sender``.
        """
        return b"\x0c" + _u(self.seq) + _u(self.sender)


@dataclass(frozen=True, eq=True)
class StateTransfer(Message):
    """A checkpoint's snapshot; trusted when its digest has a certificate at the receiver."""

    kind: ClassVar[int] = 13
    seq: int
    state_digest: bytes
    snapshot: bytes
    sender: int

    def __post_init__(self) -> None:
        _uint(self.seq, "seq")
        _digest(self.state_digest, "state_digest")
        _bytes(self.snapshot, "snapshot")
        _uint(self.sender, "sender")

    def encode(self) -> bytes:
        """Return the canonical encoding of the state transfer.

        Returns
        -------
        bytes
            Type byte ``0x0d``, ``seq``, the 16-byte ``state_digest``, the length-prefixed
            ``snapshot`` and ``sender``.
        """
        return b"\x0d" + _u(self.seq) + self.state_digest + _b(self.snapshot) + _u(self.sender)


@dataclass(frozen=True, eq=True)
class FetchViewChange(Message):
    """Ask peers for ``origin``'s VIEW-CHANGE for ``view`` (named in a NEW-VIEW)."""

    kind: ClassVar[int] = 14
    view: int
    origin: int
    sender: int

    def __post_init__(self) -> None:
        _uint(self.view, "view")
        _uint(self.origin, "origin")
        _uint(self.sender, "sender")

    def encode(self) -> bytes:
        """Return the canonical encoding of the VIEW-CHANGE fetch.

        Returns
        -------
        bytes
            Type byte ``0x0e``, ``view``, ``origin`` and ``sender``.
        """
        return b"\x0e" + _u(self.view) + _u(self.origin) + _u(self.sender)


@dataclass(frozen=True, eq=True)
class RelayedViewChange(Message):
    """A VIEW-CHANGE that ``sender`` received from its origin and relays on request."""

    kind: ClassVar[int] = 15
    change: ViewChange
    sender: int

    def __post_init__(self) -> None:
        if not isinstance(self.change, ViewChange):
            raise TypeError(f"change={self.change!r} must be a ViewChange")
        _uint(self.sender, "sender")

    def encode(self) -> bytes:
        """Return the canonical encoding of the relayed VIEW-CHANGE.

        Returns
        -------
        bytes
            Type byte ``0x0f``, the 16-byte digest of ``change`` and ``sender``.
        """
        return b"\x0f" + self.change.digest + _u(self.sender)


@dataclass(frozen=True, slots=True)
class Packet:
    """A message with its authenticator (one tag per intended receiver)."""

    message: Message
    authenticator: Authenticator

    @property
    def sender(self) -> int:
        """The node the message claims to come from."""
        return self.message.sender


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A packet to deliver to ``receivers``, ``delay_ns`` after the network's own delay."""

    packet: Packet
    receivers: tuple[int, ...]
    delay_ns: int = 0
