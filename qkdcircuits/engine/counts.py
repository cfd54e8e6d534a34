"""Counts-only round engines: the sifting statistics of any number of rounds in bounded memory.

:func:`~qkdcircuits.engine.rounds.simulate_mdi` and
:func:`~qkdcircuits.engine.rounds.simulate_bb84` keep every round (2 bytes a round: 2 GB for
``10**9`` rounds). What most users need of a long run is its histogram of (setting, outcome)
pairs, from which the QBER, the sifted key length and the heralding rate follow. The functions
here sample that histogram directly: rounds are i.i.d., so the histogram of ``N`` rounds is
exactly ``Multinomial(N, P)`` over the cells ``P(s, o) = P(s) table[s, o]``, drawn block by
block (blocks of ``2**20`` rounds, in order, from one Generator; see
:func:`qkdcircuits.engine._sampling.sample_counts`). Memory is a few kilobytes whatever ``N``
and the time is about 10 microseconds per block.

Optional chunks (``chunk_rounds``, a multiple of ``2**20``) record the histogram of each run of
consecutive rounds as well, e.g. a QBER time series for a network's time slices. Chunking
groups whole blocks and never changes the draws: the same seed gives the same totals whatever
the chunk size.

The counts path draws from a different random stream than the per-round path, so for the same
seed the two give different (identically distributed) samples.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from qkdcircuits._validation import SeedLike
from qkdcircuits.engine._common import (
    RoundSummary,
    SiftingLookup,
    bb84_lookup,
    mdi_lookup,
    rounds_statistics,
    setting_probs,
)
from qkdcircuits.engine._sampling import COUNT_BLOCK_ROUNDS, sample_counts
from qkdcircuits.engine._tables import ProtocolRun, prepare_bb84, prepare_mdi
from qkdcircuits.noise import NOISELESS, ArmNoise

__all__ = ["COUNT_BLOCK_ROUNDS", "RoundCounts", "simulate_bb84_counts", "simulate_mdi_counts"]


@dataclass(frozen=True, eq=False, kw_only=True)
class RoundCounts(RoundSummary):
    """Sifting statistics of N MDI-QKD or BB84 rounds, without per-round arrays.

    Returned by :func:`simulate_mdi_counts` and :func:`simulate_bb84_counts`. The summary
    (``qber_z``, ``sifted_z``, ``heralding_rate``, :meth:`qber`, :meth:`to_dict`) is the one of
    :class:`~qkdcircuits.engine.rounds.MDIRounds` and
    :class:`~qkdcircuits.engine.rounds.BB84Rounds`.

    Attributes
    ----------
    rounds : int
        Number of rounds.
    histogram : numpy.ndarray
        Rounds per (setting, outcome) cell, int64, read-only; shape ``(16, 4)`` for MDI-QKD
        (settings packed as in :class:`~qkdcircuits.engine.rounds.MDIRounds`) or ``(8, 2)`` for
        BB84.
    chunk_histograms : numpy.ndarray or None
        Shape ``(n_chunks, *histogram.shape)``: the histogram of each chunk of ``chunk_rounds``
        consecutive rounds (the last chunk holds the rest); ``None`` without chunks.
    table : numpy.ndarray
        The outcome table the rounds were drawn from.
    z, x : QBEREstimate
        QBER with its confidence interval per basis.
    heralded : int
        Rounds the measurement station announced as successful.
    metadata : dict
        Protocol, noise, provenance and ``chunk_rounds``.

    Examples
    --------
    >>> counts = simulate_bb84_counts(rounds=10**9, seed=1)
    >>> int(counts.histogram.sum()), counts.qber_z
    (1000000000, 0.0)
    """

    histogram: np.ndarray = field(repr=False)
    chunk_histograms: np.ndarray | None = field(default=None, repr=False)
    table: np.ndarray = field(repr=False)

    def __post_init__(self) -> None:
        for array in (self.histogram, self.chunk_histograms, self.table):
            if array is not None:
                array.setflags(write=False)

    def _lookup(self) -> SiftingLookup:
        if self.metadata["protocol"] == "mdi":
            return mdi_lookup(self.metadata["variant"])
        return bb84_lookup()

    def chunk_counts(self, basis: str = "Z") -> tuple[np.ndarray, np.ndarray]:
        """Errors and sifted rounds in ``basis`` per chunk.

        Parameters
        ----------
        basis : {"Z", "X"}
            Key or test basis.

        Returns
        -------
        (numpy.ndarray, numpy.ndarray)
            Errors and sifted rounds of each chunk (int64); their ratio is the chunk's QBER.

        Raises
        ------
        ValueError
            If the run was not chunked, or ``basis`` is not "Z" or "X".

        Examples
        --------
        >>> counts = simulate_mdi_counts(rounds=3 * 2**20, chunk_rounds=2**20, seed=2)
        >>> errors, sifted = counts.chunk_counts("X")
        >>> errors.tolist(), int(sifted.sum()) == counts.sifted_x
        ([0, 0, 0], True)
        """
        code = 0 if self.qber(basis).basis == "Z" else 1
        if self.chunk_histograms is None:
            raise ValueError("no chunk histograms: run with chunk_rounds=... to record them")
        lookup = self._lookup()
        in_basis = lookup.sifted & (lookup.basis == code)
        chunks = self.chunk_histograms
        return (chunks * (in_basis & lookup.error)).sum(axis=(1, 2)), (chunks * in_basis).sum(
            axis=(1, 2)
        )


def _counts(protocol: ProtocolRun) -> RoundCounts:
    """Sample the histogram of a checked run and gather its statistics."""
    run, table = protocol.run, protocol.table
    histogram, chunks = sample_counts(
        run.rng,
        run.rounds,
        table.reshape(-1, table.shape[-1]),
        setting_probs(run.z_basis_prob, protocol.pattern),
        chunk_rounds=run.chunk_rounds,
    )
    z, x, heralded = rounds_statistics(histogram, protocol.lookup, run, table=table)
    return RoundCounts(
        rounds=run.rounds,
        histogram=histogram,
        chunk_histograms=chunks,
        table=table,
        z=z,
        x=x,
        heralded=heralded,
        metadata={**protocol.metadata, "counts_only": True, "chunk_rounds": run.chunk_rounds},
    )


def simulate_mdi_counts(
    *,
    rounds: int,
    variant: str = "gate",
    noise: ArmNoise | tuple[ArmNoise, ArmNoise] = NOISELESS,
    z_basis_prob: float = 0.5,
    seed: SeedLike = None,
    backend: Any = None,
    sampler: Any = None,
    shots: int | None = None,
    noise_model: Any = None,
    confidence: float = 0.95,
    interval: str = "wilson",
    chunk_rounds: int | None = None,
) -> RoundCounts:
    """MDI-QKD sifting statistics of ``rounds`` rounds without per-round arrays.

    The counts-only twin of :func:`qkdcircuits.engine.rounds.simulate_mdi`: the same 16
    setting circuits run once, then the (setting, outcome) histogram is sampled exactly in
    blocks (see the module docstring), in memory independent of ``rounds``.

    Parameters
    ----------
    rounds : int
        Number of protocol rounds (>= 1, any size: ``10**12`` takes seconds).
    variant, noise, z_basis_prob, seed, backend, sampler, shots, noise_model, confidence, \
interval
        As in :func:`qkdcircuits.engine.rounds.simulate_mdi`.
    chunk_rounds : int, optional
        Also record the histogram of every ``chunk_rounds`` consecutive rounds (a multiple of
        :data:`COUNT_BLOCK_ROUNDS`; at most ``2**20`` chunks). Does not change the totals.

    Returns
    -------
    RoundCounts

    Raises
    ------
    TypeError, ValueError
        For any invalid argument (named in the message), checked before any circuit runs.

    Examples
    --------
    >>> counts = simulate_mdi_counts(rounds=10**10, noise=ArmNoise(depolarizing_prob=0.02), seed=1)
    >>> abs(counts.qber_z - 0.02 * (1 - 0.02 / 2)) < 1e-4, counts.heralding_rate
    (True, 1.0)
    """
    execution = {"backend": backend, "sampler": sampler, "shots": shots, "noise_model": noise_model}
    return _counts(
        prepare_mdi(
            rounds,
            variant,
            noise,
            z_basis_prob,
            seed,
            execution,
            confidence,
            interval,
            chunk_rounds=chunk_rounds,
        )
    )


def simulate_bb84_counts(
    *,
    rounds: int,
    noise: ArmNoise = NOISELESS,
    z_basis_prob: float = 0.5,
    seed: SeedLike = None,
    backend: Any = None,
    sampler: Any = None,
    shots: int | None = None,
    noise_model: Any = None,
    confidence: float = 0.95,
    interval: str = "wilson",
    chunk_rounds: int | None = None,
) -> RoundCounts:
    """BB84 sifting statistics of ``rounds`` rounds without per-round arrays.

    The counts-only twin of :func:`qkdcircuits.engine.rounds.simulate_bb84`.

    Parameters
    ----------
    rounds : int
        Number of protocol rounds (>= 1, any size).
    noise, z_basis_prob, seed, backend, sampler, shots, noise_model, confidence, interval
        As in :func:`qkdcircuits.engine.rounds.simulate_bb84`.
    chunk_rounds : int, optional
        As in :func:`simulate_mdi_counts`.

    Returns
    -------
    RoundCounts

    Raises
    ------
    TypeError, ValueError
        For any invalid argument (named in the message), checked before any circuit runs.

    Examples
    --------
    >>> counts = simulate_bb84_counts(rounds=10**9, noise=ArmNoise(depolarizing_prob=0.1), seed=3)
    >>> abs(counts.qber_x - 0.05) < 1e-4
    True
    """
    execution = {"backend": backend, "sampler": sampler, "shots": shots, "noise_model": noise_model}
    return _counts(
        prepare_bb84(
            rounds,
            noise,
            z_basis_prob,
            seed,
            execution,
            confidence,
            interval,
            chunk_rounds=chunk_rounds,
        )
    )
