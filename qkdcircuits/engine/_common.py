"""What the round engines share (private): sifting lookups, statistics from histograms, the
depolarising mixture, setting distributions and provenance.

Every engine ends the same way: a histogram of (setting, outcome) pairs is reduced through
boolean lookup tables (:class:`SiftingLookup`: sifted, error, basis, heralded) into per-basis
:class:`~qkdcircuits.analysis.statistics.QBEREstimate` values (:func:`rounds_statistics`), with
the interval widened when the outcome table itself was estimated from shots.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import numpy as np

from qkdcircuits._validation import SeedLike, int_seed
from qkdcircuits.analysis.statistics import QBEREstimate, estimate_qber
from qkdcircuits.circuits.bb84 import BASES
from qkdcircuits.circuits.mdi import bob_flip, heralded_outcomes
from qkdcircuits.engine._sampling import bit_distribution, product_distribution
from qkdcircuits.execution import describe_target


def depolarize_input(table: np.ndarray, prob: float, axis: int) -> np.ndarray:
    """Mix the state on one party's (basis, bit) axes with the maximally mixed state.

    ``table`` has axes (..., basis, bit, ..., outcome); ``axis`` is the basis axis. The maximally
    mixed input is the average of the two Z-basis preparations (``I/2 = (|0><0| + |1><1|)/2``,
    unchanged by the misalignment rotation that precedes the channel).
    """
    if prob == 0.0:
        return table
    mixed = np.take(table, 0, axis=axis).mean(axis=axis, keepdims=True)
    mixed = np.expand_dims(mixed, axis)
    return (1.0 - prob) * table + prob * mixed


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
    histogram: np.ndarray,
    lookup: SiftingLookup,
    confidence: float,
    method: str,
    *,
    table: np.ndarray | None = None,
    shots: int | None = None,
) -> tuple[QBEREstimate, QBEREstimate, int]:
    """Per-basis QBER estimates and the heralded count from a (setting, outcome) histogram.

    When the outcome ``table`` was estimated from ``shots`` shots per setting, each basis's
    interval accounts for the shots behind its sifted entries (see
    :func:`qkdcircuits.analysis.statistics.estimate_qber`).
    """
    estimates = []
    flat = None if table is None else np.asarray(table, dtype=float).reshape(lookup.sifted.shape)
    for code, basis in enumerate(BASES):
        in_basis = lookup.sifted & (lookup.basis == code)
        sifted = int(histogram[in_basis].sum())
        errors = int(histogram[in_basis & lookup.error].sum())
        table_samples = None
        if shots is not None and flat is not None:
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


def provenance(seed: SeedLike, backend: Any, sampler: Any, shots: int | None) -> dict[str, Any]:
    return {
        "seed": int_seed(seed),
        "source": describe_target(backend, sampler, shots),
        "shots": shots,
    }


def setting_probs(z_basis_prob: float, pattern: str) -> np.ndarray | None:
    """Setting distribution for packed setting bits (``"b"`` basis, ``"c"`` fair coin, MSB first).

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
