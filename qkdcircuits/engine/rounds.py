"""The round engine: run each distinct protocol setting once, then sample N rounds with numpy.

A BB84 link has 8 settings (Alice's basis and bit, Bob's basis) and MDI-QKD has 16 (both
parties' bases and bits). Each setting's circuit is executed **once** through
:mod:`qkdcircuits.execution`, which returns its exact outcome distribution (or a shot estimate
on a backend). The N protocol rounds are then drawn from those distributions with vectorised
numpy from one seeded ``numpy.random.Generator``:

1. with unbiased bases, one 32-bit random word per round: its low bits give the setting (fair
   coins) and its high 28 bits a uniform variate ``u``; the outcome is the number of the
   setting's cumulative-probability thresholds (quantised to ``2**-28``, a bias below ``4e-9``
   per outcome, far below any sampling error) that ``u`` reaches. With biased bases, one
   double-precision uniform per round and an inverse-CDF search over the joint distribution
   (:func:`qkdcircuits.engine._sampling.sample_table`);
2. sifting statistics come from one histogram over (setting, outcome) pairs.

Depolarisation is applied to the distributions exactly (see :mod:`qkdcircuits.noise`), so the
circuits sent to a backend are the unitary protocol circuits of :mod:`qkdcircuits.circuits.bb84` and
:mod:`qkdcircuits.circuits.mdi`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, ClassVar, TypeVar

import numpy as np

from qkdcircuits._validation import SeedLike
from qkdcircuits.circuits.mdi import bob_flip, check_variant, heralded_outcomes
from qkdcircuits.engine._common import (
    RoundSummary,
    rounds_statistics,
    setting_probs,
)
from qkdcircuits.engine._sampling import sample_table
from qkdcircuits.engine._tables import (
    ProtocolRun,
    bb84_table,
    mdi_table,
    prepare_bb84,
    prepare_mdi,
)
from qkdcircuits.execution import ExecutionTarget
from qkdcircuits.noise import NOISELESS, ArmNoise, check_arm, split_arm_noise

__all__ = [
    "BB84Rounds",
    "MDIRounds",
    "bb84_outcome_table",
    "mdi_outcome_table",
    "simulate_bb84",
    "simulate_mdi",
]


BYTES_PER_ROUND = 2
"""Bytes the per-round results hold per round (packed setting and outcome, one byte each)."""


def mdi_outcome_table(
    *,
    variant: str = "gate",
    noise: ArmNoise | tuple[ArmNoise, ArmNoise] = NOISELESS,
    backend: Any = None,
    sampler: Any = None,
    shots: int | None = None,
    noise_model: Any = None,
    seed: int | None = None,
) -> np.ndarray:
    """Distribution of the ``bsm`` outcome for each of the 16 MDI-QKD settings.

    Parameters
    ----------
    variant : {"gate", "linear-optics"}
        Bell-state measurement at the relay.
    noise : ArmNoise or (ArmNoise, ArmNoise)
        Noise on both arms, or on (Alice's arm, Bob's arm).
    backend, sampler, shots, noise_model, seed
        Where the 16 circuits run; see :func:`qkdcircuits.execution.outcome_distributions`.

    Returns
    -------
    numpy.ndarray
        Shape ``(2, 2, 2, 2, 4)`` indexed ``[alice_basis, alice_bit, bob_basis, bob_bit, bsm]``
        (basis 0 = Z, 1 = X); each row over ``bsm`` sums to 1.

    Raises
    ------
    TypeError, ValueError
        For an unknown variant, noise that is not an :class:`~qkdcircuits.noise.ArmNoise` (or a
        pair), or an invalid execution target.

    Examples
    --------
    >>> table = mdi_outcome_table(noise=ArmNoise(depolarizing_prob=0.1))
    >>> table[0, 0, 0, 0].round(4).tolist()  # Z0 Z0: phi+/phi- unless one arm flipped
    [0.4525, 0.4525, 0.0475, 0.0475]
    """
    variant = check_variant(variant)
    alice, bob = split_arm_noise(noise)
    target = ExecutionTarget(backend=backend, sampler=sampler, shots=shots, noise_model=noise_model)
    return mdi_table(variant, alice, bob, target, seed)


def bb84_outcome_table(
    *,
    noise: ArmNoise = NOISELESS,
    backend: Any = None,
    sampler: Any = None,
    shots: int | None = None,
    noise_model: Any = None,
    seed: int | None = None,
) -> np.ndarray:
    """Distribution of Bob's bit for each of the 8 BB84 settings.

    Parameters
    ----------
    noise : ArmNoise
        The channel from Alice to Bob.
    backend, sampler, shots, noise_model, seed
        Where the 8 circuits run; see :func:`qkdcircuits.execution.outcome_distributions`.

    Returns
    -------
    numpy.ndarray
        Shape ``(2, 2, 2, 2)`` indexed ``[alice_basis, alice_bit, bob_basis, bob_bit]``.

    Raises
    ------
    TypeError, ValueError
        For noise that is not an :class:`~qkdcircuits.noise.ArmNoise` or an invalid execution
        target.

    Examples
    --------
    >>> bb84_outcome_table(noise=ArmNoise(depolarizing_prob=0.2))[0, 0, 0].tolist()
    [0.9, 0.1]
    """
    noise = check_arm(noise, "noise")
    target = ExecutionTarget(backend=backend, sampler=sampler, shots=shots, noise_model=noise_model)
    return bb84_table(noise, target, seed)


@dataclass(frozen=True, eq=False, kw_only=True)
class _Rounds(RoundSummary):
    settings: np.ndarray = field(repr=False)
    outcomes: np.ndarray = field(repr=False)
    table: np.ndarray = field(repr=False)

    def __post_init__(self) -> None:
        for name in ("settings", "outcomes", "table"):
            getattr(self, name).setflags(write=False)

    # Positions of Alice's basis, Alice's bit and Bob's basis in the packed setting byte.
    _ALICE_BASIS_BIT: ClassVar[int]
    _ALICE_BIT_BIT: ClassVar[int]
    _BOB_BASIS_BIT: ClassVar[int]

    def _setting_bit(self, position: int) -> np.ndarray:
        return (self.settings >> np.uint8(position)) & np.uint8(1)

    @cached_property
    def alice_basis(self) -> np.ndarray:
        """Alice's basis per round (0 = Z, 1 = X)."""
        return self._setting_bit(self._ALICE_BASIS_BIT)

    @cached_property
    def alice_bits(self) -> np.ndarray:
        """Alice's bit per round."""
        return self._setting_bit(self._ALICE_BIT_BIT)

    @cached_property
    def bob_basis(self) -> np.ndarray:
        """Bob's basis per round (0 = Z, 1 = X)."""
        return self._setting_bit(self._BOB_BASIS_BIT)

    @cached_property
    def error_mask(self) -> np.ndarray:
        """Sifted rounds in which Bob's key bit differs from Alice's."""
        return self.sifted_mask & (self.alice_bits != self.bob_key_bits)

    def sifted_key(self, basis: str = "Z") -> tuple[np.ndarray, np.ndarray]:
        """Alice's and Bob's sifted bits in ``basis`` (Bob's after any flip), as uint8 arrays.

        Raises
        ------
        ValueError
            If ``basis`` is not "Z" or "X".
        """
        code = 0 if self.qber(basis).basis == "Z" else 1
        mask = self.sifted_mask & (self.alice_basis == code)
        return self.alice_bits[mask], self.bob_key_bits[mask]


_R = TypeVar("_R", bound=_Rounds)


@dataclass(frozen=True, eq=False, kw_only=True)
class MDIRounds(_Rounds):
    """N sampled MDI-QKD rounds and their sifting statistics.

    Returned by :func:`simulate_mdi`. Settings are packed one byte per round as
    ``alice_basis << 3 | alice_bit << 2 | bob_basis << 1 | bob_bit`` (basis 0 = Z, 1 = X);
    ``outcomes`` holds the ``bsm`` value (a :class:`~qkdcircuits.circuits.mdi.BellOutcome` code).
    The per-round views below are computed on first access.

    Attributes
    ----------
    rounds : int
        Number of rounds.
    settings, outcomes : numpy.ndarray
        Packed setting and ``bsm`` outcome per round (uint8, read-only).
    table : numpy.ndarray
        The outcome table the rounds were drawn from, shape ``(2, 2, 2, 2, 4)``.
    z, x : QBEREstimate
        QBER with confidence interval per basis.
    heralded : int
        Rounds the relay announced as successful.
    metadata : dict
        Protocol, variant, noise, seed, source and shots.

    Examples
    --------
    >>> result = simulate_mdi(rounds=1000, variant="linear-optics", seed=1)
    >>> result.heralded == int(result.heralded_mask.sum()), result.qber_z
    (True, 0.0)
    """

    _ALICE_BASIS_BIT, _ALICE_BIT_BIT, _BOB_BASIS_BIT = 3, 2, 1

    @cached_property
    def bob_bits(self) -> np.ndarray:
        """Bob's prepared bit per round (before any flip)."""
        return self._setting_bit(0)

    @property
    def bsm(self) -> np.ndarray:
        """Bell-state measurement outcome per round (``BellOutcome`` codes)."""
        return self.outcomes

    @cached_property
    def heralded_mask(self) -> np.ndarray:
        """Rounds the relay announced as successful."""
        return heralded_outcomes(self.metadata["variant"])[self.outcomes]

    @cached_property
    def bob_key_bits(self) -> np.ndarray:
        """Bob's bit after the flip rule for his basis and the announced outcome."""
        return self.bob_bits ^ bob_flip(self.bob_basis, self.outcomes)

    @cached_property
    def sifted_mask(self) -> np.ndarray:
        """Heralded rounds in which Alice's and Bob's bases agree."""
        return self.heralded_mask & (self.alice_basis == self.bob_basis)


@dataclass(frozen=True, eq=False, kw_only=True)
class BB84Rounds(_Rounds):
    """N sampled prepare-and-measure BB84 rounds and their sifting statistics.

    Returned by :func:`simulate_bb84` (its fields are those of :class:`MDIRounds`; there are no
    constructor parameters to call by hand). Settings are packed as
    ``alice_basis << 2 | alice_bit << 1 | bob_basis``; ``outcomes`` holds Bob's measured bit.
    Fields as in :class:`MDIRounds` (``table`` has shape ``(2, 2, 2, 2)``; every round is
    heralded).

    Examples
    --------
    >>> result = simulate_bb84(rounds=1000, seed=1)
    >>> result.heralding_rate, int(result.sifted_mask.sum()) == result.sifted_z + result.sifted_x
    (1.0, True)
    """

    _ALICE_BASIS_BIT, _ALICE_BIT_BIT, _BOB_BASIS_BIT = 2, 1, 0

    @property
    def bob_bits(self) -> np.ndarray:
        """Bob's measured bit per round."""
        return self.outcomes

    @property
    def bob_key_bits(self) -> np.ndarray:
        """Bob's key bit (his measured bit: no flip in prepare-and-measure BB84)."""
        return self.outcomes

    @cached_property
    def heralded_mask(self) -> np.ndarray:
        """Every round is detected in this qubit-level model."""
        return np.ones(self.rounds, dtype=bool)

    @cached_property
    def sifted_mask(self) -> np.ndarray:
        """Rounds in which Alice's and Bob's bases agree."""
        return self.alice_basis == self.bob_basis


def simulate_mdi(
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
) -> MDIRounds:
    """Simulate ``rounds`` rounds of qubit-level MDI-QKD with a Bell-state-measuring relay.

    The 16 setting circuits run once (exactly on Aer by default, or on the given backend or
    sampler); every round's settings and Bell outcome are then sampled with numpy. The result
    holds 2 bytes per round; :func:`qkdcircuits.engine.counts.simulate_mdi_counts` gives the
    same statistics without per-round arrays, for any number of rounds.

    Parameters
    ----------
    rounds : int
        Number of protocol rounds (>= 1).
    variant : {"gate", "linear-optics"}
        Bell-state measurement at the relay.
    noise : ArmNoise or (ArmNoise, ArmNoise)
        Channel noise on both arms, or on (Alice's, Bob's) arm.
    z_basis_prob : float
        Probability that each party picks the Z basis.
    seed : int, numpy.random.Generator or None
        Randomness of the round sampling (and, if an int, of transpilation/shots).
    backend, sampler, shots, noise_model
        Where the circuits run; see :func:`qkdcircuits.execution.outcome_distributions`.
    confidence : float
        Coverage of the QBER intervals, in (0, 1).
    interval : {"wilson", "clopper-pearson"}
        Method of the QBER intervals.

    Returns
    -------
    MDIRounds

    Raises
    ------
    TypeError, ValueError
        For any invalid argument (named in the message), checked before any circuit runs;
        ``ValueError`` also when the per-round arrays would not fit in the available memory.

    Examples
    --------
    >>> result = simulate_mdi(rounds=100_000, noise=ArmNoise(depolarizing_prob=0.02), seed=7)
    >>> abs(result.qber_z - 0.02 * (1 - 0.02 / 2)) < 3e-3
    True
    """
    execution = {"backend": backend, "sampler": sampler, "shots": shots, "noise_model": noise_model}
    protocol = prepare_mdi(
        rounds,
        variant,
        noise,
        z_basis_prob,
        seed,
        execution,
        confidence,
        interval,
        bytes_per_round=BYTES_PER_ROUND,
        counts_path="simulate_mdi_counts",
    )
    return _sample_rounds(MDIRounds, protocol)


def simulate_bb84(
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
) -> BB84Rounds:
    """Simulate ``rounds`` rounds of qubit-level prepare-and-measure BB84.

    The 8 setting circuits run once; every round is then sampled with numpy. The result holds
    2 bytes per round; :func:`qkdcircuits.engine.counts.simulate_bb84_counts` gives the same
    statistics without per-round arrays.

    Parameters
    ----------
    rounds : int
        Number of protocol rounds (>= 1).
    noise : ArmNoise
        The channel from Alice to Bob.
    z_basis_prob, seed, backend, sampler, shots, noise_model, confidence, interval
        As in :func:`simulate_mdi`.

    Returns
    -------
    BB84Rounds

    Raises
    ------
    TypeError, ValueError
        As :func:`simulate_mdi`.

    Examples
    --------
    >>> result = simulate_bb84(rounds=100_000, noise=ArmNoise(depolarizing_prob=0.1), seed=1)
    >>> abs(result.qber_x - 0.05) < 5e-3
    True
    """
    execution = {"backend": backend, "sampler": sampler, "shots": shots, "noise_model": noise_model}
    protocol = prepare_bb84(
        rounds,
        noise,
        z_basis_prob,
        seed,
        execution,
        confidence,
        interval,
        bytes_per_round=BYTES_PER_ROUND,
        counts_path="simulate_bb84_counts",
    )
    return _sample_rounds(BB84Rounds, protocol)


def _sample_rounds(cls: type[_R], protocol: ProtocolRun) -> _R:
    """Sample the rounds of a checked run and gather their statistics into ``cls``."""
    run, table = protocol.run, protocol.table
    settings, outcomes, histogram = sample_table(
        run.rng,
        run.rounds,
        table.reshape(-1, table.shape[-1]),
        setting_probs(run.z_basis_prob, protocol.pattern),
    )
    z, x, heralded = rounds_statistics(histogram, protocol.lookup, run, table=table)
    return cls(
        rounds=run.rounds,
        settings=settings,
        outcomes=outcomes,
        table=table,
        z=z,
        x=x,
        heralded=heralded,
        metadata=protocol.metadata,
    )
