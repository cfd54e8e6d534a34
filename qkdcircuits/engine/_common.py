"""What the round engines share (private).

Argument checks done before any circuit runs, the memory check of per-round arrays, sifting
lookups, statistics from histograms, the summary every result carries, the depolarised input
and setting distributions.

Every engine ends the same way: a histogram of (setting, outcome) pairs is reduced through
boolean lookup tables (:class:`SiftingLookup`: sifted, error, basis, heralded) into per-basis
:class:`~qkdcircuits.analysis.statistics.QBEREstimate` values (:func:`rounds_statistics`), with
the interval widened when the outcome table itself was estimated from shots.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from qkdcircuits._validation import (
    SeedLike,
    as_generator,
    check_choice,
    check_confidence,
    check_positive_int,
    check_probability,
)
from qkdcircuits.analysis.statistics import INTERVAL_METHODS, QBEREstimate, estimate_qber
from qkdcircuits.circuits.bb84 import BASES
from qkdcircuits.circuits.mdi import bob_flip, heralded_outcomes
from qkdcircuits.engine._sampling import (
    bit_distribution,
    check_chunk_rounds,
    mix,
    product_distribution,
)
from qkdcircuits.execution import ExecutionTarget
from qkdcircuits.noise import ArmNoise


@dataclass(frozen=True)
class RunSetup:
    """Arguments of a round simulation, validated before any circuit runs.

    ``rng`` is the Generator built once from ``seed``; ``circuit_seed`` the integer seed for
    transpilation and shots (see :meth:`qkdcircuits.execution.ExecutionTarget.circuit_seed`).
    """

    rounds: int
    rng: np.random.Generator
    seed: SeedLike
    circuit_seed: int | None
    target: ExecutionTarget
    z_basis_prob: float
    confidence: float
    interval: str
    chunk_rounds: int | None = None

    def provenance(self) -> dict[str, Any]:
        """Seed, source and shots for result metadata."""
        return self.target.provenance(self.seed)


def prepare_run(
    rounds: int,
    seed: SeedLike,
    target: ExecutionTarget,
    z_basis_prob: float = 0.5,
    confidence: float = 0.95,
    interval: str = "wilson",
    *,
    bytes_per_round: int = 0,
    counts_path: str | None = None,
    chunk_rounds: int | None = None,
) -> RunSetup:
    """Check every argument under the caller's parameter names, then build the Generator.

    ``target`` is the caller's :class:`~qkdcircuits.execution.ExecutionTarget` (validated when
    it was built). Nothing runs before this returns, so a bad backend, a probability out of
    range or more rounds than memory holds fail at once. ``bytes_per_round`` is what the result
    keeps per round (checked by :func:`check_round_memory`, which names ``counts_path``);
    ``chunk_rounds`` is the counts path's chunk size (see
    :func:`qkdcircuits.engine._sampling.check_chunk_rounds`).
    """
    rounds = check_positive_int(rounds, "rounds")
    z_basis_prob = check_probability(z_basis_prob, "z_basis_prob")
    confidence = check_confidence(confidence)
    check_choice(interval, "interval", INTERVAL_METHODS)
    if bytes_per_round:
        check_round_memory(rounds, bytes_per_round, counts_path)
    rng = as_generator(seed)
    chunk_rounds = check_chunk_rounds(chunk_rounds, rounds)
    return RunSetup(
        rounds=rounds,
        rng=rng,
        seed=seed,
        circuit_seed=target.circuit_seed(seed, rng),
        target=target,
        z_basis_prob=z_basis_prob,
        confidence=confidence,
        interval=interval,
        chunk_rounds=chunk_rounds,
    )


def available_memory_bytes() -> int | None:
    """Memory the operating system can give this process now (``MemAvailable``), if known."""
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, OSError, ValueError):
        return None


def check_round_memory(
    rounds: int, bytes_per_round: int, counts_path: str | None, available: int | None = None
) -> None:
    """Refuse, before any work, a run whose per-round arrays cannot fit in memory.

    Raises
    ------
    ValueError
        Naming ``rounds``, the memory the arrays need and what is available, and the
        counts-only path that needs none.
    """
    needed = rounds * bytes_per_round
    available = available_memory_bytes() if available is None else available
    if available is None or needed <= available:
        return
    hint = (
        f"; {counts_path} samples the same statistics without per-round arrays, in bounded "
        "memory (command line: --counts-only)"
        if counts_path
        else "; run fewer rounds per call and combine the counts"
    )
    raise ValueError(
        f"rounds={rounds} needs {needed / 2**30:.3g} GiB for its per-round arrays "
        f"({bytes_per_round} bytes a round), more than the {available / 2**30:.3g} GiB "
        f"available{hint}"
    )


def mdi_metadata(
    variant: str, alice: ArmNoise, bob: ArmNoise, z_basis_prob: float, provenance: dict[str, Any]
) -> dict[str, Any]:
    """Metadata of an MDI-QKD result (shared with the counts-only path and the relay attack)."""
    return {
        "protocol": "mdi",
        "variant": variant,
        "z_basis_prob": z_basis_prob,
        "noise": {"alice": alice.to_dict(), "bob": bob.to_dict()},
        **provenance,
    }


def bb84_metadata(
    noise: ArmNoise, z_basis_prob: float, provenance: dict[str, Any]
) -> dict[str, Any]:
    """Metadata of a BB84 result (shared with the counts-only path and intercept-resend)."""
    return {
        "protocol": "bb84",
        "z_basis_prob": z_basis_prob,
        "noise": noise.to_dict(),
        **provenance,
    }


def depolarize_input(table: np.ndarray, prob: float, axis: int) -> np.ndarray:
    """Mix the state on one party's (basis, bit) axes with the maximally mixed state.

    ``table`` has axes (..., basis, bit, ..., outcome); ``axis`` is the basis axis. The maximally
    mixed input is the average of the two Z-basis preparations (``I/2 = (|0><0| + |1><1|)/2``,
    unchanged by the misalignment rotation that precedes the channel).
    """
    if prob == 0.0:
        return table
    mixed = np.take(table, 0, axis=axis).mean(axis=axis, keepdims=True)
    return mix(table, np.expand_dims(mixed, axis), prob)


@dataclass(frozen=True)
class SiftingLookup:
    """Boolean/int lookup tables over (setting, outcome) pairs, shape ``(n_settings, n_outcomes)``.

    ``sifted``: heralded with matching bases; ``error``: Bob's key bit differs from Alice's;
    ``basis``: Alice's basis code; ``heralded``: announced as a success.
    """

    sifted: np.ndarray
    error: np.ndarray
    basis: np.ndarray
    heralded: np.ndarray


@functools.lru_cache(maxsize=4)
def mdi_lookup(variant: str) -> SiftingLookup:
    s = np.arange(16)[:, None]
    o = np.arange(4)[None, :]
    alice_basis, alice_bit, bob_basis, bob_bit = (s >> 3) & 1, (s >> 2) & 1, (s >> 1) & 1, s & 1
    herald = np.broadcast_to(heralded_outcomes(variant)[o], (16, 4))
    return SiftingLookup(
        sifted=herald & (alice_basis == bob_basis),
        error=np.broadcast_to(alice_bit != (bob_bit ^ bob_flip(bob_basis, o)), (16, 4)),
        basis=np.broadcast_to(alice_basis, (16, 4)),
        heralded=herald,
    )


@functools.lru_cache(maxsize=1)
def bb84_lookup() -> SiftingLookup:
    s = np.arange(8)[:, None]
    o = np.arange(2)[None, :]
    alice_basis, alice_bit, bob_basis = (s >> 2) & 1, (s >> 1) & 1, s & 1
    return SiftingLookup(
        sifted=np.broadcast_to(alice_basis == bob_basis, (8, 2)),
        error=np.broadcast_to(alice_bit != o, (8, 2)),
        basis=np.broadcast_to(alice_basis, (8, 2)),
        heralded=np.ones((8, 2), dtype=bool),
    )


def rounds_statistics(
    histogram: np.ndarray, lookup: SiftingLookup, run: RunSetup, *, table: np.ndarray
) -> tuple[QBEREstimate, QBEREstimate, int]:
    """Per-basis QBER estimates and the heralded count from a (setting, outcome) histogram.

    The intervals have ``run``'s confidence and method. When the outcome ``table`` was estimated
    from shots (``run.target.table_shots``), each basis's interval accounts for the shots behind
    its sifted entries (see :func:`qkdcircuits.analysis.statistics.estimate_qber`).
    """
    confidence, method, shots = run.confidence, run.interval, run.target.table_shots
    estimates = []
    flat = np.asarray(table, dtype=float).reshape(lookup.sifted.shape)
    for code, basis in enumerate(BASES):
        in_basis = lookup.sifted & (lookup.basis == code)
        sifted = int(histogram[in_basis].sum())
        errors = int(histogram[in_basis & lookup.error].sum())
        table_samples = None
        if shots is not None:
            table_samples = shots * float(flat[in_basis].sum()) or None
        estimates.append(
            estimate_qber(
                errors,
                sifted,
                basis=basis,
                confidence=confidence,
                method=method,
                table_samples=table_samples,
            )
        )
    return estimates[0], estimates[1], int(histogram[lookup.heralded].sum())


def setting_probs(z_basis_prob: float, pattern: str) -> np.ndarray | None:
    """Build the setting distribution of packed bits (``"b"`` basis, ``"c"`` fair coin, MSB first).

    ``None`` (uniform, the sampler's fast path) when the bases are unbiased.
    """
    if z_basis_prob == 0.5:
        return None
    basis = bit_distribution(1.0 - z_basis_prob)  # code 1 is the X basis
    coin = bit_distribution(0.5)
    return product_distribution(*(basis if bit == "b" else coin for bit in pattern))


def exact_basis_qber(table: np.ndarray, lookup: SiftingLookup) -> dict[str, float]:
    """QBER per basis of a table whose settings have equal bit probabilities within a basis."""
    out = {}
    for code, basis in enumerate(BASES):
        in_basis = lookup.sifted & (lookup.basis == code)
        sifted = float(table[in_basis].sum())
        out[basis] = (
            float(table[in_basis & lookup.error].sum() / sifted) if sifted else float("nan")
        )
    return out


@dataclass(frozen=True, eq=False, kw_only=True)
class RoundSummary:
    """Sifting statistics that every MDI-QKD / BB84 result carries (per-round or counts-only).

    Attributes
    ----------
    rounds : int
        Number of protocol rounds.
    z, x : QBEREstimate
        QBER with its confidence interval in the Z (key) and X (test) bases.
    heralded : int
        Rounds the measurement station announced as successful.
    metadata : dict
        Protocol, noise and provenance (seed, where the circuits ran, shots).
    """

    rounds: int
    z: QBEREstimate
    x: QBEREstimate
    heralded: int
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def qber_z(self) -> float:
        """QBER of the sifted Z-basis (key) rounds."""
        return self.z.qber

    @property
    def qber_x(self) -> float:
        """QBER of the sifted X-basis (test) rounds."""
        return self.x.qber

    @property
    def sifted_z(self) -> int:
        """Number of sifted Z-basis rounds (the raw key length)."""
        return self.z.sifted

    @property
    def sifted_x(self) -> int:
        """Number of sifted X-basis rounds."""
        return self.x.sifted

    @property
    def heralding_rate(self) -> float:
        """Fraction of rounds the measurement station announced as successful."""
        return self.heralded / self.rounds

    def qber(self, basis: str) -> QBEREstimate:
        """Return the :class:`~qkdcircuits.analysis.statistics.QBEREstimate` of ``basis`` ("Z"/"X").

        Raises
        ------
        ValueError
            If ``basis`` is neither.
        """
        if basis == "Z":
            return self.z
        if basis == "X":
            return self.x
        raise ValueError(f"basis={basis!r} must be 'Z' or 'X'")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (no per-round arrays)."""
        return {
            "protocol": self.metadata.get("protocol"),
            "rounds": self.rounds,
            "heralded": self.heralded,
            "heralding_rate": self.heralding_rate,
            "sifted_z": self.z.sifted,
            "sifted_x": self.x.sifted,
            "errors_z": self.z.errors,
            "errors_x": self.x.errors,
            "qber_z": self.z.to_dict()["qber"],
            "qber_x": self.x.to_dict()["qber"],
            "qber_z_ci": [self.z.low, self.z.high],
            "qber_x_ci": [self.x.low, self.x.high],
            "confidence": self.z.confidence,
            **{k: v for k, v in self.metadata.items() if k != "protocol"},
        }
