"""Per-link key pools and their ledger, in accounting or material mode.

Every QKD link has one key pool whose contents both ends hold identically. A
:class:`KeyStore` keeps the pools of ``m`` links (indexed by link id) on one code path for the
two modes of :data:`~network.keys.material.KEY_MODES`:

``"accounting"``
    Only bit counts, in ``int64`` numpy arrays: depositing, checking and taking key is a few
    vectorised operations whatever the number of links, so thousands of links can run for hours
    of simulated time.
``"material"``
    Real bits: each link has one :class:`qkdcircuits.postprocessing.KeyPool` per end, filled with
    the same fresh secret bits from the operating system (:mod:`secrets`); a take hands out each
    end's copy, and every bit is handed out at most once (the pools erase what they hand out).

Deposits may be fractional (a key rate times a time slice): each link carries its fraction over
to the next deposit and only whole bits enter the pool. A pool holds at most its capacity; bits
beyond it are discarded on arrival and counted.

Ledger
    Per link, in bits: ``generated`` (whole bits deposited, including those discarded on
    arrival), ``consumed`` (taken for use), ``delivered`` (consumed bits that went into a key
    the target received and accepted: see :meth:`KeyStore.mark_delivered`), ``discarded``
    (overflow beyond the capacity and key thrown away by :meth:`KeyStore.discard`) and
    ``stored``. Conservation holds at every moment, per link::

        generated == stored + consumed + discarded,   0 <= delivered <= consumed

    and :meth:`KeyStore.check_ledger` verifies it (and, in material mode, that both ends' pools
    hold exactly ``stored`` bits).

Examples
--------
>>> import numpy as np
>>> store = KeyStore(3, mode="accounting", capacity_bits=1000)
>>> store.deposit(np.array([100.5, 2000.0, 0.25]))
>>> store.available.tolist()
[100, 1000, 0]
>>> block = store.take(0, 64)
>>> block.link, block.offset, block.ends[0].n_bits
(0, 0, 64)
>>> ledger = store.ledger()
>>> ledger.totals()
{'generated_bits': 2100, 'stored_bits': 1036, 'consumed_bits': 64, 'delivered_bits': 0, \
'discarded_bits': 1000}
"""

from __future__ import annotations

import numbers
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from network.errors import InsufficientKeyError
from network.keys.material import KEY_MODES, KeyMaterial
from qkdcircuits._validation import check_choice, check_positive_int
from qkdcircuits.postprocessing import KeyPool

__all__ = ["UNLIMITED_BITS", "KeyLedger", "KeyStore", "LinkKey"]

UNLIMITED_BITS: int = int(np.iinfo(np.int64).max)
"""Capacity of a pool without a limit."""

_CARRY_TOLERANCE = 1e-9

_LEDGER_FIELDS = ("generated", "stored", "consumed", "delivered", "discarded")


def _link_ids(links: Any, n_links: int, name: str = "links") -> np.ndarray:
    """``links`` (an int or a sequence of ints) as a 1-D int64 array of valid link ids."""
    array = np.asarray(links)
    if array.dtype == bool or not (np.issubdtype(array.dtype, np.integer) or array.size == 0):
        raise TypeError(f"{name}={links!r} must be link ids (integers)")
    array = np.atleast_1d(array).astype(np.int64)
    if array.ndim != 1:
        raise ValueError(f"{name} must be a link id or a 1-D sequence of link ids")
    bad = array[(array < 0) | (array >= n_links)]
    if bad.size:
        raise ValueError(f"{name} holds link {int(bad[0])}, not in [0, {n_links})")
    return array


def _bit_counts(n_bits: Any, size: int, name: str = "n_bits") -> np.ndarray:
    """``n_bits`` (one count or one per link) as an int64 array of ``size`` positive counts."""
    array = np.asarray(n_bits)
    if array.dtype == bool or not np.issubdtype(array.dtype, np.integer):
        raise TypeError(f"{name}={n_bits!r} must be an integer number of bits")
    if array.ndim == 0:
        array = np.full(size, int(array), dtype=np.int64)
    if array.shape != (size,):
        raise ValueError(f"{name} has shape {array.shape}, expected one count or {size}")
    array = array.astype(np.int64)
    if size and array.min() < 1:
        raise ValueError(f"{name}={int(array.min())} must be >= 1")
    return array


def _totals(ids: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the distinct link ids (sorted) and the sum of ``counts`` for each.

    O(k log k) for k requests, whatever the number of links.
    """
    unique, inverse = np.unique(ids, return_inverse=True)
    sums = np.zeros(unique.size, dtype=np.int64)
    np.add.at(sums, inverse, counts)
    return unique, sums


def _secret_bits(n_bits: int) -> np.ndarray:
    """``n_bits`` fresh secret bits from the operating system (never a seeded generator)."""
    raw = np.frombuffer(secrets.token_bytes(-(-n_bits // 8)), dtype=np.uint8)
    return np.unpackbits(raw)[:n_bits]


@dataclass(frozen=True, eq=False)
class LinkKey:
    """A block of key taken once from one link's pool: each end's copy.

    Attributes
    ----------
    link : int
        The link id.
    offset : int
        Position of the block's first bit in the link's lifetime key stream (bits that ever
        left the pool before it, by a take or a discard); blocks of one link never overlap.
    n_bits : int
        Length of the block in bits.
    ends : tuple of KeyMaterial
        The copies held by the link's two ends (identical: real bits in material mode, a
        count in accounting mode). By convention the sending side of a hop uses ``ends[0]``
        and the receiving side ``ends[1]``.

    Examples
    --------
    >>> import numpy as np
    >>> store = KeyStore(1, mode="material")
    >>> store.deposit([128])
    >>> first, second = store.take(0, 64), store.take(0, 64)
    >>> first.offset, second.offset, bool(np.array_equal(*(e.bits for e in second.ends)))
    (0, 64, True)
    """

    link: int
    offset: int
    n_bits: int
    ends: tuple[KeyMaterial, KeyMaterial] = field(repr=False)

    def __post_init__(self) -> None:
        if len(self.ends) != 2 or not all(isinstance(e, KeyMaterial) for e in self.ends):
            raise TypeError("ends must be two KeyMaterial blocks")
        if any(e.n_bits != self.n_bits for e in self.ends):
            raise ValueError(f"both ends must hold n_bits={self.n_bits} bits")


@dataclass(frozen=True)
class KeyLedger:
    """Snapshot of a :class:`KeyStore`'s ledger: one ``int64`` array per quantity, per link.

    Attributes
    ----------
    generated, stored, consumed, delivered, discarded : numpy.ndarray
        Bits per link (see the :mod:`network.keys.store` module docstring for definitions).

    Examples
    --------
    >>> store = KeyStore(2)
    >>> store.deposit([10, 20])
    >>> store.ledger().generated.tolist()
    [10, 20]
    """

    generated: np.ndarray = field(repr=False)
    stored: np.ndarray = field(repr=False)
    consumed: np.ndarray = field(repr=False)
    delivered: np.ndarray = field(repr=False)
    discarded: np.ndarray = field(repr=False)

    def __post_init__(self) -> None:
        shape = np.shape(self.generated)
        for name in _LEDGER_FIELDS:
            array = np.array(getattr(self, name), dtype=np.int64)
            if array.ndim != 1 or array.shape != shape:
                raise ValueError(f"{name} must be a 1-D array of shape {shape}")
            array.setflags(write=False)
            object.__setattr__(self, name, array)

    def totals(self) -> dict[str, int]:
        """Return the sum over all links of each quantity.

        Returns
        -------
        dict of str to int
            Bits, keyed ``generated_bits``, ``stored_bits``, ``consumed_bits``,
            ``delivered_bits`` and ``discarded_bits`` (plain ints).
        """
        return {f"{name}_bits": int(getattr(self, name).sum()) for name in _LEDGER_FIELDS}

    def violations(self) -> np.ndarray:
        """Ids of the links whose counts break conservation (empty when the ledger holds)."""
        balance = self.generated != self.stored + self.consumed + self.discarded
        negative = (
            (self.stored < 0) | (self.consumed < 0) | (self.discarded < 0) | (self.delivered < 0)
        )
        return np.flatnonzero(balance | negative | (self.delivered > self.consumed))

    def __repr__(self) -> str:
        items = ", ".join(f"{k}={v}" for k, v in self.totals().items())
        return f"KeyLedger(n_links={self.generated.size}, {items})"


class KeyStore:
    """Key pools of ``n_links`` QKD links, both ends of each holding identical bits.

    Parameters
    ----------
    n_links : int
        Number of links (ids ``0 .. n_links - 1``), >= 1.
    mode : {"accounting", "material"}
        Bit counts only, or real secret bits in one :class:`~qkdcircuits.postprocessing.KeyPool`
        per link end.
    capacity_bits : int, array of int, or None
        Largest number of bits a pool holds (one value for all links or one per link, >= 0);
        ``None``: no limit.

    Raises
    ------
    TypeError, ValueError
        If an argument is not of the documented type or range (the message names it).

    Examples
    --------
    >>> import numpy as np
    >>> store = KeyStore(2, mode="material")
    >>> store.deposit([256, 0])
    >>> block = store.take(0, 128)
    >>> bool(np.array_equal(block.ends[0].bits, block.ends[1].bits))
    True
    >>> store.take(1, 1)
    Traceback (most recent call last):
        ...
    network.errors.InsufficientKeyError: link 1 holds 0 bits, 1 requested; nothing was consumed
    """

    def __init__(
        self,
        n_links: int,
        *,
        mode: str = "accounting",
        capacity_bits: int | Sequence[int] | np.ndarray | None = None,
    ) -> None:
        self._n_links = check_positive_int(n_links, "n_links")
        self._mode = check_choice(mode, "mode", KEY_MODES)
        self._capacity = self._check_capacity(capacity_bits)
        zeros = np.zeros(self._n_links, dtype=np.int64)
        self._generated = zeros.copy()
        self._stored = zeros.copy()
        self._consumed = zeros.copy()
        self._delivered = zeros.copy()
        self._discarded = zeros.copy()
        self._flushed = zeros.copy()  # bits that left the pool by discard(): part of the stream
        self._carry = np.zeros(self._n_links, dtype=float)
        self._counted: dict[int, KeyMaterial] = {}
        self._pools: list[tuple[KeyPool, KeyPool]] | None = None
        if self._mode == "material":
            self._pools = [KeyPool.pair(np.zeros(0, dtype=np.uint8)) for _ in range(self._n_links)]

    def _check_capacity(self, capacity_bits: Any) -> np.ndarray:
        if capacity_bits is None:
            return np.full(self._n_links, UNLIMITED_BITS, dtype=np.int64)
        array = np.asarray(capacity_bits)
        if array.dtype == bool or not np.issubdtype(array.dtype, np.integer):
            raise TypeError(f"capacity_bits={capacity_bits!r} must be an integer or None")
        if array.ndim == 0:
            array = np.full(self._n_links, int(array), dtype=np.int64)
        if array.shape != (self._n_links,):
            raise ValueError(
                f"capacity_bits has shape {array.shape}, expected one value or {self._n_links}"
            )
        if array.min() < 0:
            raise ValueError(f"capacity_bits={int(array.min())} must be >= 0")
        return array.astype(np.int64)

    # -- properties -----------------------------------------------------------------------------

    @property
    def n_links(self) -> int:
        """Number of links."""
        return self._n_links

    @property
    def mode(self) -> str:
        """``"accounting"`` or ``"material"``."""
        return self._mode

    @property
    def capacity_bits(self) -> np.ndarray:
        """Capacity of each pool in bits (read-only copy; :data:`UNLIMITED_BITS` if none)."""
        return self._frozen(self._capacity)

    @property
    def available(self) -> np.ndarray:
        """Unused bits in each link's pool (read-only copy, ``int64``)."""
        return self._frozen(self._stored)

    @staticmethod
    def _frozen(array: np.ndarray) -> np.ndarray:
        copy = array.copy()
        copy.setflags(write=False)
        return copy

    # -- filling --------------------------------------------------------------------------------

    def deposit(self, bits_per_link: Sequence[float] | np.ndarray) -> None:
        """Add freshly distilled key to every link's pool at once.

        Parameters
        ----------
        bits_per_link : array of float, shape (n_links,)
            Bits of secret key each link produced (e.g. key rate in bit/s times the slice in s),
            finite and >= 0. Fractions are carried over per link: only whole bits enter the
            pool. Bits beyond a pool's capacity are discarded (and counted as discarded).

        Raises
        ------
        TypeError, ValueError
            If ``bits_per_link`` is not numeric, has the wrong shape, or holds a negative,
            NaN or infinite value; nothing is deposited then.

        Examples
        --------
        >>> store = KeyStore(2)
        >>> store.deposit([0.6, 1.0]); store.deposit([0.6, 1.0])
        >>> store.available.tolist()
        [1, 2]
        """
        amounts = np.asarray(bits_per_link)
        if amounts.dtype == bool or not np.issubdtype(amounts.dtype, np.number):
            raise TypeError(f"bits_per_link must be numeric, not dtype {amounts.dtype}")
        if np.iscomplexobj(amounts):
            raise TypeError("bits_per_link must be real")
        if amounts.shape != (self._n_links,):
            raise ValueError(
                f"bits_per_link has shape {amounts.shape}, expected ({self._n_links},)"
            )
        amounts = amounts.astype(float)
        bad = ~np.isfinite(amounts) | (amounts < 0)
        if bad.any():
            link = int(np.flatnonzero(bad)[0])
            raise ValueError(
                f"bits_per_link[{link}]={float(amounts[link])!r} must be finite and >= 0"
            )
        carried = self._carry + amounts
        # The tolerance keeps sums such as ten deposits of 0.1 bit from losing a bit to
        # rounding; it creates at most 1e-9 bit per deposit.
        whole = np.floor(carried + _CARRY_TOLERANCE)
        self._carry = np.maximum(carried - whole, 0.0)
        whole = whole.astype(np.int64)
        accepted = np.minimum(whole, self._capacity - self._stored)
        self._generated += whole
        self._discarded += whole - accepted
        self._stored += accepted
        if self._pools is not None:
            self._fill_pools(accepted)

    def _fill_pools(self, accepted: np.ndarray) -> None:
        links = np.flatnonzero(accepted)
        if not links.size:
            return
        fresh = _secret_bits(int(accepted[links].sum()))
        bounds = np.cumsum(accepted[links])[:-1]
        for link, bits in zip(links, np.split(fresh, bounds), strict=True):
            first, second = self._pools[link]  # type: ignore[index]
            first.extend(bits.copy())
            second.extend(bits)  # the pools zero the arrays they are given

    # -- taking ---------------------------------------------------------------------------------

    def check_available(self, links: Any, n_bits: Any) -> None:
        """Raise unless every link in ``links`` can give its ``n_bits`` (consumes nothing).

        A link that appears several times must hold the sum of its requests.

        Parameters
        ----------
        links : int or sequence of int
            Link ids (e.g. the hops of a path).
        n_bits : int or sequence of int
            Bits wanted from each entry of ``links`` (one count for all, or one each), >= 1.

        Raises
        ------
        InsufficientKeyError
            Naming the first link whose pool holds too little.
        TypeError, ValueError
            If a link id or a count is invalid.
        """
        ids = _link_ids(links, self._n_links)
        unique, needed = _totals(ids, _bit_counts(n_bits, ids.size))
        short = np.flatnonzero(needed > self._stored[unique])
        if short.size:
            link, want = int(unique[short[0]]), int(needed[short[0]])
            raise InsufficientKeyError(
                f"link {link} holds {int(self._stored[link])} bits, {want} requested; "
                "nothing was consumed"
            )

    def take(self, link: int, n_bits: int) -> LinkKey:
        """Take ``n_bits`` unused bits from one link's pool, both ends' copies; atomic.

        Parameters
        ----------
        link : int
            The link id.
        n_bits : int
            Number of bits, >= 1.

        Returns
        -------
        LinkKey
            The block: its offset in the link's key stream and each end's copy.

        Raises
        ------
        InsufficientKeyError
            If the pool holds fewer than ``n_bits`` bits (nothing is consumed).
        TypeError, ValueError
            If ``link`` or ``n_bits`` is invalid.
        """
        if isinstance(link, bool) or not isinstance(link, numbers.Integral):
            raise TypeError(f"link={link!r} must be an integer link id")
        n_bits = check_positive_int(n_bits, "n_bits")
        if not 0 <= link < self._n_links:
            raise ValueError(f"link={link!r} not in [0, {self._n_links})")
        held = int(self._stored[link])
        if n_bits > held:
            raise InsufficientKeyError(
                f"link {link} holds {held} bits, {n_bits} requested; nothing was consumed"
            )
        return self._take_unchecked(int(link), n_bits)

    def take_path(self, links: Sequence[int] | np.ndarray, n_bits: Any) -> tuple[LinkKey, ...]:
        """Take a block from every link of a path, all or nothing.

        Every hop is checked before any key is consumed, so a path with one short link consumes
        nothing (a reservation for the whole path).

        Parameters
        ----------
        links : sequence of int
            Link ids, in path order.
        n_bits : int or sequence of int
            Bits per hop (one count for all hops or one each), >= 1.

        Returns
        -------
        tuple of LinkKey
            One block per entry of ``links``, in order.

        Raises
        ------
        InsufficientKeyError
            Naming the first link whose pool holds too little (nothing consumed).
        TypeError, ValueError
            If a link id or a count is invalid.

        Examples
        --------
        >>> store = KeyStore(3)
        >>> store.deposit([64, 64, 10])
        >>> store.take_path([0, 2], 32)
        Traceback (most recent call last):
            ...
        network.errors.InsufficientKeyError: link 2 holds 10 bits, 32 requested; nothing was \
consumed
        >>> [block.n_bits for block in store.take_path([0, 1], 32)], store.available.tolist()
        ([32, 32], [32, 32, 10])
        """
        ids = _link_ids(links, self._n_links)
        counts = _bit_counts(n_bits, ids.size)
        self.check_available(ids, counts)
        return tuple(
            self._take_unchecked(int(link), int(n)) for link, n in zip(ids, counts, strict=True)
        )

    def _take_unchecked(self, link: int, n_bits: int) -> LinkKey:
        offset = int(self._consumed[link] + self._flushed[link])
        if self._pools is None:
            block = self._counted.get(n_bits)
            if block is None:  # count-only blocks are immutable: one per size serves all takes
                block = self._counted[n_bits] = KeyMaterial.counted(n_bits)
            ends = (block, block)
        else:
            first, second = (pool.take(n_bits) for pool in self._pools[link])
            if first.offset != second.offset:  # pragma: no cover - pools move in lockstep
                raise RuntimeError(f"link {link}: the two ends' pools are out of step")
            offset = first.offset
            ends = (
                KeyMaterial(n_bits=n_bits, bits=first.bits),
                KeyMaterial(n_bits=n_bits, bits=second.bits),
            )
        self._stored[link] -= n_bits
        self._consumed[link] += n_bits
        return LinkKey(link=link, offset=offset, n_bits=n_bits, ends=ends)

    # -- ledger ---------------------------------------------------------------------------------

    def mark_delivered(self, links: Any, n_bits: Any) -> None:
        """Record consumed bits of ``links`` as delivered (part of a key the target accepted).

        Parameters
        ----------
        links : int or sequence of int
            Link ids (a link may repeat).
        n_bits : int or sequence of int
            Bits per entry of ``links``, >= 1.

        Raises
        ------
        ValueError
            If a link would have more bits delivered than consumed (nothing is recorded then),
            or a link id or count is invalid.
        TypeError
            If a link id or count is not an integer.
        """
        ids = _link_ids(links, self._n_links)
        counts = _bit_counts(n_bits, ids.size)
        unique, added = _totals(ids, counts)
        after = self._delivered[unique] + added
        over = np.flatnonzero(after > self._consumed[unique])
        if over.size:
            link = int(unique[over[0]])
            raise ValueError(
                f"link {link}: {int(after[over[0]])} bits delivered would exceed the "
                f"{int(self._consumed[link])} consumed"
            )
        self._delivered[unique] = after

    def discard(self, links: Any) -> int:
        """Throw away all stored key of ``links`` (e.g. a link found compromised).

        The bits are counted as discarded; in material mode both ends' pools erase them.

        Parameters
        ----------
        links : int or sequence of int
            Link ids.

        Returns
        -------
        int
            Number of bits discarded (over all the links).

        Examples
        --------
        >>> store = KeyStore(2)
        >>> store.deposit([100, 50])
        >>> store.discard([1]), store.available.tolist(), store.ledger().discarded.tolist()
        (50, [100, 0], [0, 50])
        """
        ids = np.unique(_link_ids(links, self._n_links))
        dropped = self._stored[ids].copy()
        if self._pools is not None:
            for link, n in zip(ids, dropped, strict=True):
                if n:
                    for pool in self._pools[link]:
                        pool.take(int(n))  # the pool erases the bits; nothing keeps them
        self._flushed[ids] += dropped
        self._discarded[ids] += dropped
        self._stored[ids] = 0
        return int(dropped.sum())

    def ledger(self) -> KeyLedger:
        """Return a snapshot of the ledger (copies of the per-link counts)."""
        return KeyLedger(
            generated=self._generated,
            stored=self._stored,
            consumed=self._consumed,
            delivered=self._delivered,
            discarded=self._discarded,
        )

    def check_ledger(self) -> None:
        """Verify conservation on every link (and the pools' contents in material mode).

        Raises
        ------
        RuntimeError
            Naming the first link where ``generated != stored + consumed + discarded``,
            ``delivered > consumed``, a count is negative, or (material mode) an end's pool does
            not hold exactly ``stored`` bits.
        """
        bad = self.ledger().violations()
        if bad.size:
            link = int(bad[0])
            counts = {name: int(getattr(self, f"_{name}")[link]) for name in _LEDGER_FIELDS}
            raise RuntimeError(f"key ledger of link {link} is inconsistent: {counts}")
        if self._pools is not None:
            for link, pools in enumerate(self._pools):
                held, stored = [pool.remaining for pool in pools], int(self._stored[link])
                if held != [stored, stored]:
                    raise RuntimeError(f"link {link}: pools hold {held} bits, ledger says {stored}")

    def __repr__(self) -> str:
        return (
            f"KeyStore(n_links={self._n_links}, mode={self._mode!r}, "
            f"stored_bits={int(self._stored.sum())})"
        )
