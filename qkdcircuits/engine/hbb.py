"""The HBB99 secret-sharing round engine: GHZ settings run once, N rounds sampled with numpy.

A source distributes the n-qubit GHZ state, one qubit to each party; party 0 is the dealer and
parties 1..n-1 the players; every party measures X or Y at random. The ``2**n`` basis-setting
circuits (:func:`qkdcircuits.circuits.ghz.hbb_circuit`) run **once** each through
:mod:`qkdcircuits.execution`; N rounds are then sampled from their outcome distributions.
Misalignment is a rotation in the circuits; depolarisation is mixed into the distributions
exactly (each party's bit becomes a fair coin with probability ``p``; see
:mod:`qkdcircuits.engine._sampling`).

The keep/discard rule, the players' reconstruction of the dealer's bit, the closed-form QBER
and the information of coalitions are analysis without circuits and live in
:mod:`qkdcircuits.analysis.sharing` (M. Hillery, V. Buzek, A. Berthiaume, PRA 59, 1829 (1999)).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
from qiskit import QuantumCircuit

from qkdcircuits._validation import SeedLike
from qkdcircuits.analysis.sharing import (
    check_parties,
    error_lut,
    hbb_qber_from_table,
    kept_and_offset,
)
from qkdcircuits.analysis.statistics import QBEREstimate, estimate_qber
from qkdcircuits.circuits.ghz import hbb_circuit, setting_bases
from qkdcircuits.engine._common import prepare_run
from qkdcircuits.engine._sampling import depolarize_parties, sample_table
from qkdcircuits.execution import ExecutionTarget
from qkdcircuits.noise import NOISELESS, ArmNoise, noise_per_party

__all__ = ["HBBRounds", "hbb_outcome_table", "simulate_hbb"]


BYTES_PER_ROUND = 6
"""Peak bytes per round of :func:`simulate_hbb` (two uint16 arrays and the sampler's uint8)."""


def _hbb_circuits(arms: Sequence[ArmNoise]) -> list[QuantumCircuit]:
    rotations = [arm.rotation_only for arm in arms]
    return [
        hbb_circuit(bases=setting_bases(s, len(arms)), noise=rotations, explicit_channels=False)
        for s in range(1 << len(arms))
    ]


@functools.lru_cache(maxsize=64)
def _ideal_rows(thetas: tuple[float, ...]) -> np.ndarray:
    arms = [ArmNoise(misalignment_rad=theta) for theta in thetas]
    rows = np.stack([d.probabilities for d in ExecutionTarget().run(_hbb_circuits(arms))])
    rows.setflags(write=False)
    return rows


def hbb_table(arms: Sequence[ArmNoise], target: ExecutionTarget, seed: int | None) -> np.ndarray:
    """Outcome table of the ``2**n`` settings on ``target``, depolarisation mixed in."""
    if target.ideal:
        rows = _ideal_rows(tuple(arm.misalignment_rad for arm in arms))
    else:
        rows = np.stack([d.probabilities for d in target.run(_hbb_circuits(arms), seed=seed)])
    return np.array(depolarize_parties(rows, arms), dtype=float)


def hbb_outcome_table(
    *,
    n_parties: int = 3,
    noise: ArmNoise | Sequence[ArmNoise] = NOISELESS,
    backend: Any = None,
    sampler: Any = None,
    shots: int | None = None,
    noise_model: Any = None,
    seed: int | None = None,
) -> np.ndarray:
    """Distribution of the parties' bits for every basis setting.

    Parameters
    ----------
    n_parties : int
        Dealer plus players (2..12).
    noise : ArmNoise or sequence of ArmNoise
        Channel noise per party.
    backend, sampler, shots, noise_model, seed
        Where the ``2**n`` circuits run; see :func:`qkdcircuits.execution.outcome_distributions`.

    Returns
    -------
    numpy.ndarray
        Shape ``(2**n, 2**n)``: row = setting (bit ``i`` set when party ``i`` measures Y),
        column = outcome (bit ``i`` = party ``i``'s bit); rows sum to 1.

    Raises
    ------
    TypeError, ValueError
        For a number of parties outside 2..12, noise of the wrong kind or length, or an
        invalid execution target.

    Examples
    --------
    >>> table = hbb_outcome_table(n_parties=3)
    >>> table[0].round(3).tolist()  # XXX: the parity of the three bits is even
    [0.25, 0.0, 0.0, 0.25, 0.0, 0.25, 0.25, 0.0]
    """
    n_parties = check_parties(n_parties)
    arms = noise_per_party(noise, n_parties)
    target = ExecutionTarget(backend=backend, sampler=sampler, shots=shots, noise_model=noise_model)
    return hbb_table(arms, target, seed)


@dataclass(frozen=True, eq=False)
class HBBRounds:
    """N sampled HBB99 rounds and the QBER between the dealer and the cooperating players.

    Attributes
    ----------
    rounds : int
        Number of rounds.
    n_parties : int
        Dealer plus players.
    settings : numpy.ndarray
        Per round, bit ``i`` set when party ``i`` measured Y.
    outcomes : numpy.ndarray
        Per round, bit ``i`` = party ``i``'s measured bit.
    table : numpy.ndarray
        The outcome table the rounds were drawn from.
    qber : QBEREstimate
        Errors among kept rounds, with a binomial confidence interval (basis label ``"XY"``).
    kept : int
        Rounds kept by the basis rule.
    metadata : dict
        Noise, provenance (seed, where the circuits ran).

    Examples
    --------
    >>> result = simulate_hbb(rounds=1000, seed=1)
    >>> dealer, players = result.shared_key()
    >>> result.kept == dealer.size, bool((dealer == players).all())
    (True, True)
    """

    rounds: int
    n_parties: int
    settings: np.ndarray = field(repr=False)
    outcomes: np.ndarray = field(repr=False)
    table: np.ndarray = field(repr=False)
    qber: QBEREstimate
    kept: int
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("settings", "outcomes", "table"):
            getattr(self, name).setflags(write=False)

    @property
    def keep_rate(self) -> float:
        """Fraction of rounds kept (1/2 in expectation)."""
        return self.kept / self.rounds

    @cached_property
    def bases(self) -> np.ndarray:
        """Shape ``(rounds, n_parties)``: 0 for X, 1 for Y."""
        return ((self.settings[:, None] >> np.arange(self.n_parties)) & 1).astype(np.uint8)

    @cached_property
    def bits(self) -> np.ndarray:
        """Shape ``(rounds, n_parties)``: each party's measured bit."""
        return ((self.outcomes[:, None] >> np.arange(self.n_parties)) & 1).astype(np.uint8)

    @cached_property
    def kept_mask(self) -> np.ndarray:
        """Rounds with an even number of Y measurements."""
        kept, _ = kept_and_offset(self.n_parties)
        return kept[self.settings]

    @property
    def dealer_bits(self) -> np.ndarray:
        """The dealer's (party 0) bit per round."""
        return self.bits[:, 0]

    @cached_property
    def reconstructed_bits(self) -> np.ndarray:
        """Players' joint estimate of the dealer's bit: XOR of their bits XOR ``(k/2) mod 2``."""
        _, offset = kept_and_offset(self.n_parties)
        players = np.bitwise_xor.reduce(self.bits[:, 1:], axis=1)
        return (players ^ offset[self.settings]).astype(np.uint8)

    @cached_property
    def error_mask(self) -> np.ndarray:
        """Kept rounds where the reconstruction differs from the dealer's bit."""
        return self.kept_mask & (self.reconstructed_bits != self.dealer_bits)

    def shared_key(self) -> tuple[np.ndarray, np.ndarray]:
        """Return the dealer's key and the players' reconstructed key (kept rounds).

        Returns
        -------
        tuple of numpy.ndarray
            ``(dealer_bits, reconstructed_bits)`` of the kept rounds, uint8 arrays of equal
            length; they differ where an error occurred.
        """
        return self.dealer_bits[self.kept_mask], self.reconstructed_bits[self.kept_mask]

    @property
    def expected_qber(self) -> float:
        """Exact QBER of the table the rounds were drawn from."""
        return hbb_qber_from_table(self.table)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (per-round arrays are not included)."""
        return {
            "protocol": "hbb99",
            "rounds": self.rounds,
            "n_parties": self.n_parties,
            "kept": self.kept,
            "keep_rate": self.keep_rate,
            "errors": self.qber.errors,
            "qber": self.qber.to_dict()["qber"],
            "qber_ci": [self.qber.low, self.qber.high],
            "confidence": self.qber.confidence,
            **self.metadata,
        }


def hbb_rounds(
    *,
    n_parties: int,
    settings: np.ndarray,
    outcomes: np.ndarray,
    table: np.ndarray,
    confidence: float,
    interval: str,
    metadata: dict[str, Any],
    histogram: np.ndarray,
    shots_per_setting: int | None = None,
) -> HBBRounds:
    """Build an :class:`HBBRounds` from sampled rounds.

    Kept rounds and errors are tallied from the (setting, outcome) ``histogram``; the interval
    is widened for a table estimated from ``shots_per_setting`` shots (shared with
    :mod:`qkdcircuits.engine.attacks`).
    """
    kept_lut, _ = kept_and_offset(n_parties)
    errors_lut = error_lut(n_parties)
    kept = int(histogram[kept_lut].sum())
    errors = int(histogram[kept_lut][errors_lut[kept_lut]].sum())
    # A shot-estimated table carries its own sampling noise into the interval.
    table_samples = None
    if shots_per_setting is not None:
        table_samples = (
            shots_per_setting * float(np.asarray(table, dtype=float)[kept_lut].sum()) or None
        )
    qber = estimate_qber(
        errors,
        kept,
        basis="XY",
        confidence=confidence,
        method=interval,
        table_samples=table_samples,
    )
    dtype = np.uint16 if n_parties <= 16 else np.uint32
    return HBBRounds(
        rounds=int(settings.size),
        n_parties=n_parties,
        settings=settings.astype(dtype),
        outcomes=outcomes.astype(dtype),
        table=np.asarray(table, dtype=float),
        qber=qber,
        kept=kept,
        metadata=metadata,
    )


def simulate_hbb(
    *,
    rounds: int,
    n_parties: int = 3,
    noise: ArmNoise | Sequence[ArmNoise] = NOISELESS,
    seed: SeedLike = None,
    backend: Any = None,
    sampler: Any = None,
    shots: int | None = None,
    noise_model: Any = None,
    confidence: float = 0.95,
    interval: str = "wilson",
) -> HBBRounds:
    """Simulate ``rounds`` rounds of HBB99 GHZ secret sharing.

    The ``2**n`` basis-setting circuits run once (exactly on Aer by default, or on the given
    backend or sampler); every round's bases (uniform X/Y per party) and bits are then sampled
    with numpy.

    Parameters
    ----------
    rounds : int
        Number of GHZ rounds (>= 1).
    n_parties : int
        Dealer plus players (2..12; HBB99 is the case 3).
    noise : ArmNoise or sequence of ArmNoise
        Channel noise from the source to each party.
    seed : int, numpy.random.Generator or None
        Randomness of the round sampling (and, if an int, of transpilation/shots).
    backend, sampler, shots, noise_model
        Where the circuits run; see :func:`qkdcircuits.execution.outcome_distributions`.
    confidence, interval
        Confidence level and method ("wilson" or "clopper-pearson") of the QBER interval.

    Returns
    -------
    HBBRounds

    Raises
    ------
    TypeError, ValueError
        For any invalid argument (named in the message), checked before any circuit runs;
        ``ValueError`` also when the per-round arrays would not fit in the available memory.

    Examples
    --------
    >>> from qkdcircuits import hbb_depolarized_qber
    >>> result = simulate_hbb(rounds=200_000, noise=ArmNoise(depolarizing_prob=0.1), seed=3)
    >>> result.qber.low <= hbb_depolarized_qber(depolarizing_probs=0.1) <= result.qber.high
    True
    """
    n_parties = check_parties(n_parties)
    arms = noise_per_party(noise, n_parties)
    target = ExecutionTarget(backend=backend, sampler=sampler, shots=shots, noise_model=noise_model)
    run = prepare_run(
        rounds,
        seed,
        target,
        confidence=confidence,
        interval=interval,
        bytes_per_round=BYTES_PER_ROUND,
    )
    table = hbb_table(arms, run.target, run.circuit_seed)
    settings, outcomes, histogram = sample_table(run.rng, run.rounds, table)
    return hbb_rounds(
        n_parties=n_parties,
        settings=settings,
        outcomes=outcomes,
        table=table,
        confidence=run.confidence,
        interval=run.interval,
        metadata={"noise": [arm.to_dict() for arm in arms], **run.provenance()},
        histogram=histogram,
        shots_per_setting=run.target.table_shots,
    )
