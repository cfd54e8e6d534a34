"""Cascade error correction (Brassard-Salvail), vectorised across blocks with numpy.

Cascade reconciles Alice's and Bob's sifted keys by public discussion: Alice discloses the parity
of blocks of a shuffled copy of her key, Bob compares them with his own parities, and every block
whose parities differ holds an odd number of errors, one of which a binary search (BINARY: Alice
discloses the parity of one half per step) locates and Bob flips. Flipping a bit changes the parity
of the blocks that hold it in every earlier pass, so those blocks are searched in turn (the
*cascade*) until every known block parity agrees. Every parity Alice discloses is one bit leaked
to an eavesdropper and must be removed by privacy amplification.

Vectorisation: the blocks of one pass are disjoint, so all of a pass's odd blocks are searched at
once: each BINARY step is one array operation over every open search (parities of ranges of the
shuffled key come from one prefix sum). The cascade is processed pass by pass, smallest blocks
first, which is the order Brassard and Salvail prescribe ("choose the smallest block"), applied to
all currently odd blocks of that size together.

Simulation note: the function sees both keys (it plays Alice and Bob in one process) and tracks the
error pattern ``alice XOR bob`` directly; a parity comparison Bob would make equals the parity of
the error pattern on that range. Only Alice's disclosed parities are counted as leaked, exactly the
bits that cross the public channel from Alice.

References
----------
G. Brassard and L. Salvail, "Secret-key reconciliation by public discussion", EUROCRYPT '93,
LNCS 765, pp. 410-423 (1994): Cascade (Sec. 4), BINARY, BICONF (Sec. 5), block size
``k1 ~ 0.73 / Q`` and ``k_i = 2 k_{i-1}``.
J. Martinez-Mateo, C. Pacher, M. Peev, A. Ciurana, V. Martin, "Demystifying the information
reconciliation protocol Cascade", Quantum Inf. Comput. 15, 453 (2015): efficiency
``f = leaked / (n H2(Q))`` and the BICONF/modified-block-size variants.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from qkdcircuits._validation import (
    SeedLike,
    as_generator,
    check_positive,
    check_positive_int,
    check_probability,
)
from qkdcircuits.links.rates import binary_entropy
from qkdcircuits.postprocessing._bits import check_pair

__all__ = [
    "CASCADE_BICONF",
    "CASCADE_ORIGINAL",
    "CASCADE_PRESETS",
    "CascadeConfig",
    "CascadeResult",
    "cascade_reconcile",
]


@dataclass(frozen=True)
class CascadeConfig:
    """Parameters of a Cascade run.

    Attributes
    ----------
    name : str
        Label used in reports and on the command line.
    passes : int
        Number of ordinary Cascade passes.
    first_block_factor : float
        The first pass uses blocks of ``k1 = round(first_block_factor / Q)`` bits, ``Q`` the
        estimated QBER (Brassard and Salvail 1994: ``0.73 / Q``).
    block_growth : float
        Pass ``i`` uses blocks of ``k1 * block_growth**(i-1)`` bits (2: block doubling).
    block_sizes : tuple of int or None
        Explicit block size of every pass (overrides the two rules above; "modified block sizes").
    top_pass_batch : int
        Odd blocks of the newest pass searched together before their corrections are cascaded
        through the earlier passes. Brassard and Salvail take them one at a time (1); larger
        batches vectorise better but occasionally search a block an earlier cascade would have
        fixed. Measured at n = 10^4 (40 seeds, same shuffles) against a one-block-at-a-time
        reference: +0.9% / +0.4% / +0.3% leaked bits at Q = 1% / 5% / 10% for 16, +1.3% to
        +1.6% for unlimited batches.
    biconf_rounds : int
        After the passes, run BICONF (Brassard and Salvail 1994, Sec. 5): compare the parity of a
        uniformly random subset of the key (each bit in it with probability 1/2), binary-search
        and cascade on a mismatch, and stop after this many consecutive agreeing checks. 0
        disables it. Any nonzero error pattern has odd parity on such a subset with probability
        exactly 1/2, so residual errors survive ``r`` clean checks with probability at most
        ``2**-r``.
    """

    name: str = "cascade"
    passes: int = 4
    first_block_factor: float = 0.73
    block_growth: float = 2.0
    block_sizes: tuple[int, ...] | None = None
    top_pass_batch: int = 16
    biconf_rounds: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"name={self.name!r} must be a non-empty string")
        check_positive_int(self.passes, "passes")
        check_positive(self.first_block_factor, "first_block_factor")
        growth = check_positive(self.block_growth, "block_growth")
        if growth < 1.0:
            raise ValueError(f"block_growth={growth!r} must be >= 1")
        if self.block_sizes is not None:
            sizes = tuple(self.block_sizes)
            for i, size in enumerate(sizes):
                check_positive_int(size, f"block_sizes[{i}]")
            if len(sizes) != self.passes:
                raise ValueError(
                    f"block_sizes={sizes!r} must give one size per pass (passes={self.passes})"
                )
            object.__setattr__(self, "block_sizes", sizes)
        check_positive_int(self.top_pass_batch, "top_pass_batch")
        if isinstance(self.biconf_rounds, bool) or not isinstance(self.biconf_rounds, int):
            raise TypeError(f"biconf_rounds={self.biconf_rounds!r} must be an int")
        if self.biconf_rounds < 0:
            raise ValueError(f"biconf_rounds={self.biconf_rounds!r} must be >= 0")

    def pass_block_sizes(self, n: int, qber: float) -> tuple[int, ...]:
        """Block size of every pass for an ``n``-bit key at estimated QBER ``qber``.

        Sizes are capped at ``n``; a QBER of 0 gives one block of the whole key.

        Examples
        --------
        >>> CASCADE_ORIGINAL.pass_block_sizes(10_000, 0.01)
        (73, 146, 292, 584)
        """
        n = check_positive_int(n, "n")
        qber = check_probability(qber, "qber")
        if self.block_sizes is not None:
            return tuple(min(k, n) for k in self.block_sizes)
        first = n if qber == 0.0 else max(1, round(self.first_block_factor / qber))
        return tuple(
            min(n, max(1, round(first * self.block_growth**i))) for i in range(self.passes)
        )


CASCADE_ORIGINAL = CascadeConfig()
"""Brassard-Salvail Cascade: 4 passes, ``k1 = 0.73/Q``, block doubling."""

CASCADE_BICONF = CascadeConfig(name="cascade-biconf", passes=2, biconf_rounds=10)
"""Two Cascade passes followed by BICONF checks until 10 consecutive ones agree."""

CASCADE_PRESETS: dict[str, CascadeConfig] = {
    CASCADE_ORIGINAL.name: CASCADE_ORIGINAL,
    CASCADE_BICONF.name: CASCADE_BICONF,
}
"""Named configurations, as offered on the command line (``--ec``)."""


@dataclass(frozen=True, eq=False)
class CascadeResult:
    """Outcome of :func:`cascade_reconcile`.

    Attributes
    ----------
    bob_bits : numpy.ndarray
        Bob's key after correction (read-only ``uint8``); equals Alice's key unless errors remain.
    leaked_bits : int
        Parities Alice disclosed (block parities, BINARY steps, BICONF checks).
    corrected_bits : int
        Bits Bob flipped.
    initial_errors : int
        Positions in which the input keys differed (known here because both keys are simulated).
    residual_errors : int
        Positions in which the output still differs; nonzero only when Cascade failed, which
        error verification detects.
    block_sizes : tuple of int
        Block size of each ordinary pass.
    biconf_checks : int
        BICONF parity checks performed.
    config : CascadeConfig
        The configuration used.
    disclosed : numpy.ndarray
        Alice's disclosed parity bits in the order sent (the transcript to authenticate).
    """

    bob_bits: np.ndarray = field(repr=False)
    leaked_bits: int
    corrected_bits: int
    initial_errors: int
    residual_errors: int
    block_sizes: tuple[int, ...]
    biconf_checks: int
    config: CascadeConfig
    disclosed: np.ndarray = field(repr=False)

    def __post_init__(self) -> None:
        self.bob_bits.setflags(write=False)
        self.disclosed.setflags(write=False)

    @property
    def length(self) -> int:
        """Key length in bits."""
        return int(self.bob_bits.size)

    @property
    def error_rate(self) -> float:
        """Fraction of positions that differed before reconciliation."""
        return self.initial_errors / self.length if self.length else math.nan

    @property
    def efficiency(self) -> float:
        """``f = leaked / (n H2(e))`` with ``e`` the realised error rate (Shannon limit: 1).

        ``nan`` when the keys were identical (``H2(0) = 0``).
        """
        entropy = binary_entropy(self.error_rate) if self.length else 0.0
        return self.leaked_bits / (self.length * entropy) if entropy > 0 else math.nan

    @property
    def success(self) -> bool:
        """Whether Bob's corrected key equals Alice's."""
        return self.residual_errors == 0

    def to_dict(self) -> dict[str, object]:
        """JSON-ready summary."""
        efficiency = self.efficiency
        return {
            "method": self.config.name,
            "length": self.length,
            "leaked_bits": self.leaked_bits,
            "corrected_bits": self.corrected_bits,
            "error_rate": self.error_rate,
            "efficiency": None if math.isnan(efficiency) else efficiency,
            "block_sizes": list(self.block_sizes),
            "biconf_checks": self.biconf_checks,
            "residual_errors": self.residual_errors,
        }


class _Pass:
    """One shuffle of the key cut into blocks.

    Memory is kept to what the cascade needs, so that many BICONF checks on long keys stay
    cheap: the shuffled order (``int32``) and, per original bit, ``1 + its block index`` in the
    smallest unsigned type that holds it (0: the pass does not hold the bit, as in BICONF).
    """

    __slots__ = ("block", "member", "n_blocks", "order", "size")

    def __init__(self, order: np.ndarray, block: int, n: int, n_blocks: int) -> None:
        self.order = order.astype(np.int32 if n < 2**31 else np.int64)
        self.size = order.size
        self.block = block
        self.n_blocks = n_blocks
        self.member = np.zeros(n, dtype=np.min_scalar_type(n_blocks + 1))
        blocks_of_positions = np.arange(self.size) // block
        covered = blocks_of_positions < n_blocks
        self.member[self.order[covered]] = blocks_of_positions[covered] + 1


def _block_parities(bits: np.ndarray, block: int, n_blocks: int) -> np.ndarray:
    """Parity of consecutive ``block``-bit blocks of ``bits`` (the first ``n_blocks`` of them)."""
    starts = np.arange(n_blocks) * block
    covered = bits[: n_blocks * block]
    # uint8 sums wrap modulo 256, which keeps their parity
    return np.add.reduceat(covered, starts, dtype=np.uint8) & np.uint8(1)


def _row_prefix(rows: np.ndarray, length: np.ndarray) -> np.ndarray:
    """Prefix sums along each row of ``rows``, counting only its first ``length[r]`` entries."""
    rows = np.where(np.arange(rows.shape[1]) < length[:, None], rows, 0)
    prefix = np.zeros((rows.shape[0], rows.shape[1] + 1), dtype=np.int32)
    np.cumsum(rows, axis=1, out=prefix[:, 1:])
    return prefix


class _Cascade:
    """Mutable state of one reconciliation: error pattern, passes, odd blocks, transcript."""

    def __init__(self, alice: np.ndarray, bob: np.ndarray, top_pass_batch: int) -> None:
        self.alice = alice
        self.top_pass_batch = top_pass_batch
        self.errors = alice ^ bob  # what Bob's parity comparisons reveal, block by block
        self.n = alice.size
        self.passes: list[_Pass] = []
        self.odd: list[np.ndarray] = []
        self.disclosed: list[np.ndarray] = []
        self.leaked = 0
        self.corrected = 0

    def _disclose(self, parities: np.ndarray) -> None:
        self.disclosed.append(parities.astype(np.uint8))
        self.leaked += int(parities.size)

    def add_pass(self, order: np.ndarray, block: int, blocks_disclosed: int | None = None) -> None:
        """Shuffle, cut into blocks, disclose Alice's block parities and note the odd blocks.

        ``blocks_disclosed`` limits the pass to its first blocks (BICONF discloses one).
        """
        n_blocks = -(-order.size // block)
        if blocks_disclosed is not None:
            n_blocks = min(n_blocks, blocks_disclosed)
        p = _Pass(order, block, self.n, n_blocks)
        self._disclose(_block_parities(self.alice[p.order], block, n_blocks))
        self.passes.append(p)
        self.odd.append(_block_parities(self.errors[p.order], block, n_blocks))

    def _binary(self, p: _Pass, blocks: np.ndarray) -> np.ndarray:
        """BINARY on many odd blocks of one pass at once; returns the error positions found.

        The odd blocks' bits are gathered into one row each, so the work is proportional to the
        bits in those blocks, not to the key length.
        """
        base = blocks * p.block
        length = np.minimum(p.block, p.size - base)
        index = p.order[np.minimum(base[:, None] + np.arange(p.block), p.size - 1)]
        errors = _row_prefix(self.errors[index], length)
        alice = _row_prefix(self.alice[index], length)
        lo = np.zeros(blocks.size, dtype=np.int64)
        hi = length.astype(np.int64)
        open_ = hi - lo > 1
        while open_.any():
            rows = np.flatnonzero(open_)
            start, stop = lo[rows], hi[rows]
            mid = (start + stop) // 2
            # Alice discloses the parity of the first half; Bob compares it with his own
            self._disclose((alice[rows, mid] - alice[rows, start]) & 1)
            left_odd = ((errors[rows, mid] - errors[rows, start]) & 1).astype(bool)
            hi[rows] = np.where(left_odd, mid, stop)
            lo[rows] = np.where(left_odd, start, mid)
            open_[rows] = hi[rows] - lo[rows] > 1
        return index[np.arange(blocks.size), lo].astype(np.int64)

    def _flip(self, positions: np.ndarray) -> None:
        self.errors[positions] ^= 1
        self.corrected += int(positions.size)
        for p, odd in zip(self.passes, self.odd, strict=True):
            member = p.member[positions].astype(np.int64)
            # a block's parity flips once per corrected bit it holds
            np.bitwise_xor.at(odd, member[member > 0] - 1, np.uint8(1))

    def settle(self) -> None:
        """Search odd blocks, smallest blocks (earliest passes) first, until none is left.

        Brassard and Salvail correct the newest pass block by block, cascading each correction
        through the earlier passes before the next block. Searching all of the newest pass's odd
        blocks at once would sometimes pay for a search that an earlier cascade had made
        unnecessary, so they are taken in batches of ``CascadeConfig.top_pass_batch`` blocks.
        """
        while True:
            for index, (p, odd) in enumerate(zip(self.passes, self.odd, strict=True)):
                blocks = np.flatnonzero(odd)
                if blocks.size:
                    if index == len(self.passes) - 1 and index > 0:
                        blocks = blocks[: self.top_pass_batch]
                    self._flip(self._binary(p, blocks))
                    break
            else:
                return


def cascade_reconcile(
    alice_bits: np.ndarray,
    bob_bits: np.ndarray,
    *,
    qber: float,
    config: CascadeConfig | str = CASCADE_ORIGINAL,
    seed: SeedLike = None,
) -> CascadeResult:
    """Reconcile Bob's key with Alice's by Cascade.

    Parameters
    ----------
    alice_bits, bob_bits : numpy.ndarray
        Sifted keys (0/1 integers, same length).
    qber : float
        Estimated QBER in [0, 1], which sets the block sizes (typically the sampled estimate).
    config : CascadeConfig or str
        A configuration or the name of a preset in :data:`CASCADE_PRESETS`
        (``"cascade"``, ``"cascade-biconf"``).
    seed : int, numpy.random.Generator or None
        Randomness of the public shuffles and BICONF subsets.

    Returns
    -------
    CascadeResult

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(1)
    >>> alice = rng.integers(0, 2, 10_000, dtype=np.uint8)
    >>> bob = alice ^ (rng.random(10_000) < 0.05).astype(np.uint8)
    >>> result = cascade_reconcile(alice, bob, qber=0.05, seed=2)
    >>> bool(np.array_equal(result.bob_bits, alice)), 1.0 < result.efficiency < 1.4
    (True, True)
    """
    alice, bob = check_pair(alice_bits, bob_bits)
    qber = check_probability(qber, "qber")
    if isinstance(config, str):
        if config not in CASCADE_PRESETS:
            raise ValueError(
                f"config={config!r} must be a CascadeConfig or one of "
                f"{', '.join(map(repr, CASCADE_PRESETS))}"
            )
        config = CASCADE_PRESETS[config]
    elif not isinstance(config, CascadeConfig):
        raise TypeError(f"config={config!r} must be a CascadeConfig or a preset name")
    rng = as_generator(seed)
    n = alice.size
    initial_errors = int(np.count_nonzero(alice != bob))
    if n == 0:
        empty = np.zeros(0, dtype=np.uint8)
        return CascadeResult(empty, 0, 0, 0, 0, (), 0, config, empty.copy())

    sizes = config.pass_block_sizes(n, qber)
    state = _Cascade(alice, bob, config.top_pass_batch)
    for block in sizes:
        state.add_pass(rng.permutation(n), block)
        state.settle()

    checks = 0
    clean = 0
    while clean < config.biconf_rounds:
        # A uniformly random subset (each bit with probability 1/2, independently) as one block
        # whose parity alone is disclosed: any nonzero error pattern then has odd overlap with
        # probability exactly 1/2. A fixed-size half does not have that property (an all-ones
        # pattern of even length always meets an even-sized half evenly).
        subset = np.flatnonzero(rng.random(n) < 0.5)
        checks += 1
        if subset.size == 0:  # the empty subset: parity 0 on both sides, nothing disclosed
            clean += 1
            continue
        state.add_pass(subset, int(subset.size), blocks_disclosed=1)
        clean = 0 if state.odd[-1].any() else clean + 1
        state.settle()

    corrected_bob = alice ^ state.errors
    disclosed = np.concatenate(state.disclosed) if state.disclosed else np.zeros(0, dtype=np.uint8)
    return CascadeResult(
        bob_bits=corrected_bob,
        leaked_bits=state.leaked,
        corrected_bits=state.corrected,
        initial_errors=initial_errors,
        residual_errors=int(np.count_nonzero(state.errors)),
        block_sizes=sizes,
        biconf_checks=checks,
        config=config,
        disclosed=disclosed,
    )
