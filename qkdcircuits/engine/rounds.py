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

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from qkdcircuits._validation import (
    SeedLike,
    as_generator,
    check_choice,
    check_positive_int,
    check_probability,
    check_real,
    derive_int_seed,
    int_seed,
)
from qkdcircuits.analysis.statistics import INTERVAL_METHODS, QBEREstimate
from qkdcircuits.circuits.bb84 import BASES, bb84_circuit
from qkdcircuits.circuits.mdi import bob_flip, check_variant, heralded_outcomes, mdi_bsm_circuit
from qkdcircuits.engine._common import (
    bb84_lookup,
    depolarize_input,
    mdi_lookup,
    provenance,
    rounds_statistics,
    setting_probs,
)
from qkdcircuits.engine._sampling import sample_table
from qkdcircuits.execution import outcome_distributions, table_shots
from qkdcircuits.noise import NOISELESS, ArmNoise, check_arm, split_arm_noise

__all__ = [
    "BB84Rounds",
    "MDIRounds",
    "bb84_outcome_table",
    "mdi_outcome_table",
    "simulate_bb84",
    "simulate_mdi",
]


def _run_table(
    circuits, shape, backend, sampler, shots, noise_model, seed
) -> tuple[np.ndarray, Any]:
    dists = outcome_distributions(
        circuits, backend=backend, sampler=sampler, shots=shots, noise_model=noise_model, seed=seed
    )
    table = np.stack([d.probabilities for d in dists]).reshape(shape)
    return table, dists


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
    """
    variant = check_variant(variant)
    alice, bob = split_arm_noise(noise)
    if backend is None and sampler is None and shots is None and noise_model is None:
        table = _cached_mdi_table(variant, alice.misalignment_rad, bob.misalignment_rad).copy()
    else:
        circuits = _mdi_circuits(variant, alice.misalignment_rad, bob.misalignment_rad)
        table, _ = _run_table(circuits, (2, 2, 2, 2, 4), backend, sampler, shots, noise_model, seed)
    table = depolarize_input(table, alice.depolarizing_prob, axis=0)
    return depolarize_input(table, bob.depolarizing_prob, axis=2)


def _mdi_circuits(variant: str, theta_a: float, theta_b: float):
    arm_a, arm_b = ArmNoise(misalignment_rad=theta_a), ArmNoise(misalignment_rad=theta_b)
    return [
        mdi_bsm_circuit(
            alice_basis=ab,
            alice_bit=ax,
            bob_basis=bb,
            bob_bit=bx,
            variant=variant,
            alice_channel=arm_a,
            bob_channel=arm_b,
            explicit_channels=False,
        )
        for ab in BASES
        for ax in (0, 1)
        for bb in BASES
        for bx in (0, 1)
    ]


@functools.lru_cache(maxsize=256)
def _cached_mdi_table(variant: str, theta_a: float, theta_b: float) -> np.ndarray:
    table, _ = _run_table(
        _mdi_circuits(variant, theta_a, theta_b), (2, 2, 2, 2, 4), None, None, None, None, None
    )
    table.setflags(write=False)
    return table


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

    Returns
    -------
    numpy.ndarray
        Shape ``(2, 2, 2, 2)`` indexed ``[alice_basis, alice_bit, bob_basis, bob_bit]``.
    """
    noise = check_arm(noise, "noise")
    if backend is None and sampler is None and shots is None and noise_model is None:
        table = _cached_bb84_table(noise.misalignment_rad).copy()
    else:
        table, _ = _run_table(
            _bb84_circuits(noise.misalignment_rad),
            (2, 2, 2, 2),
            backend,
            sampler,
            shots,
            noise_model,
            seed,
        )
    return depolarize_input(table, noise.depolarizing_prob, axis=0)


def _bb84_circuits(theta: float):
    arm = ArmNoise(misalignment_rad=theta)
    return [
        bb84_circuit(
            alice_basis=ab, alice_bit=ax, bob_basis=bb, channel=arm, explicit_channels=False
        )
        for ab in BASES
        for ax in (0, 1)
        for bb in BASES
    ]


@functools.lru_cache(maxsize=256)
def _cached_bb84_table(theta: float) -> np.ndarray:
    table, _ = _run_table(_bb84_circuits(theta), (2, 2, 2, 2), None, None, None, None, None)
    table.setflags(write=False)
    return table


@dataclass(frozen=True, eq=False)
class _Rounds:
    rounds: int
    settings: np.ndarray = field(repr=False)
    outcomes: np.ndarray = field(repr=False)
    table: np.ndarray = field(repr=False)
    z: QBEREstimate
    x: QBEREstimate
    heralded: int
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("settings", "outcomes", "table"):
            getattr(self, name).setflags(write=False)

    # -- per-basis summary ----------------------------------------------------------------------
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
        """:class:`~qkdcircuits.analysis.statistics.QBEREstimate` for ``basis`` ("Z" or "X")."""
        if basis == "Z":
            return self.z
        if basis == "X":
            return self.x
        raise ValueError(f"basis={basis!r} must be 'Z' or 'X'")

    # -- per-round arrays (derived lazily from the packed settings) -------------------------------
    def _setting_bit(self, position: int) -> np.ndarray:
        return (self.settings >> np.uint8(position)) & np.uint8(1)

    def sifted_key(self, basis: str = "Z") -> tuple[np.ndarray, np.ndarray]:
        """Alice's and Bob's sifted bits in ``basis`` (Bob's after any flip), as uint8 arrays."""
        code = 0 if self.qber(basis).basis == "Z" else 1
        mask = self.sifted_mask & (self.alice_basis == code)
        return self.alice_bits[mask], self.bob_key_bits[mask]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (per-round arrays are not included)."""
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


@dataclass(frozen=True, eq=False)
class MDIRounds(_Rounds):
    """N sampled MDI-QKD rounds and their sifting statistics.

    Settings are packed one byte per round as
    ``alice_basis << 3 | alice_bit << 2 | bob_basis << 1 | bob_bit`` (basis 0 = Z, 1 = X);
    ``outcomes`` holds the ``bsm`` value (a :class:`~qkdcircuits.circuits.mdi.BellOutcome` code).
    The per-round views below are computed on first access.
    """

    @cached_property
    def alice_basis(self) -> np.ndarray:
        """Alice's basis per round (0 = Z, 1 = X)."""
        return self._setting_bit(3)

    @cached_property
    def alice_bits(self) -> np.ndarray:
        """Alice's bit per round."""
        return self._setting_bit(2)

    @cached_property
    def bob_basis(self) -> np.ndarray:
        """Bob's basis per round (0 = Z, 1 = X)."""
        return self._setting_bit(1)

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

    @cached_property
    def error_mask(self) -> np.ndarray:
        """Sifted rounds in which Bob's key bit differs from Alice's."""
        return self.sifted_mask & (self.alice_bits != self.bob_key_bits)


@dataclass(frozen=True, eq=False)
class BB84Rounds(_Rounds):
    """N sampled prepare-and-measure BB84 rounds and their sifting statistics.

    Settings are packed as ``alice_basis << 2 | alice_bit << 1 | bob_basis``; ``outcomes`` holds
    Bob's measured bit.
    """

    @cached_property
    def alice_basis(self) -> np.ndarray:
        """Alice's basis per round (0 = Z, 1 = X)."""
        return self._setting_bit(2)

    @cached_property
    def alice_bits(self) -> np.ndarray:
        """Alice's bit per round."""
        return self._setting_bit(1)

    @cached_property
    def bob_basis(self) -> np.ndarray:
        """Bob's measurement basis per round (0 = Z, 1 = X)."""
        return self._setting_bit(0)

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

    @cached_property
    def error_mask(self) -> np.ndarray:
        """Sifted rounds in which Bob's bit differs from Alice's."""
        return self.sifted_mask & (self.alice_bits != self.outcomes)


def _noise_dict(noise: ArmNoise) -> dict[str, float]:
    return {
        "depolarizing_prob": noise.depolarizing_prob,
        "misalignment_rad": noise.misalignment_rad,
    }


def _simulate(
    *,
    rounds: int,
    seed: SeedLike,
    z_basis_prob: float,
    confidence: float,
    interval: str,
    shots: int | None,
    table_fn: Callable[[int | None], np.ndarray],
) -> tuple[int, np.random.Generator, float, np.ndarray]:
    """Validate, build the Generator, then compute the outcome table.

    ``shots`` is the shot count behind the table (``None`` when exact); shot-based runs get an
    integer circuit seed even when ``seed`` is a Generator, so they stay reproducible.
    """
    rounds = check_positive_int(rounds, "rounds")
    rng = as_generator(seed)
    z_basis_prob = check_probability(z_basis_prob, "z_basis_prob")
    # Checked here, before any circuit runs, and under the caller's parameter names.
    if not 0.0 < check_real(confidence, "confidence") < 1.0:
        raise ValueError(f"confidence={confidence!r} not in (0, 1)")
    check_choice(interval, "interval", INTERVAL_METHODS)
    circuit_seed = int_seed(seed) if shots is None else derive_int_seed(seed, rng)
    return rounds, rng, z_basis_prob, table_fn(circuit_seed)


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
    sampler); every round's settings and Bell outcome are then sampled with numpy.

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
    confidence, interval
        Confidence level and method ("wilson" or "clopper-pearson") of the QBER intervals.

    Returns
    -------
    MDIRounds

    Examples
    --------
    >>> result = simulate_mdi(rounds=100_000, noise=ArmNoise(depolarizing_prob=0.02), seed=7)
    >>> abs(result.qber_z - 0.02 * (1 - 0.02 / 2)) < 3e-3
    True
    """
    variant = check_variant(variant)
    alice, bob = split_arm_noise(noise)
    used_shots = table_shots(backend, sampler, shots)
    rounds, rng, z_basis_prob, table = _simulate(
        rounds=rounds,
        seed=seed,
        z_basis_prob=z_basis_prob,
        confidence=confidence,
        interval=interval,
        shots=used_shots,
        table_fn=lambda circuit_seed: mdi_outcome_table(
            variant=variant,
            noise=(alice, bob),
            backend=backend,
            sampler=sampler,
            shots=shots,
            noise_model=noise_model,
            seed=circuit_seed,
        ),
    )
    settings, outcomes, histogram = sample_table(
        rng, rounds, table.reshape(16, 4), setting_probs(z_basis_prob, "bcbc")
    )
    z, x, heralded = rounds_statistics(
        histogram, mdi_lookup(variant), confidence, interval, table=table, shots=used_shots
    )
    metadata = {
        "protocol": "mdi",
        "variant": variant,
        "z_basis_prob": z_basis_prob,
        "noise": {"alice": _noise_dict(alice), "bob": _noise_dict(bob)},
        **provenance(seed, backend, sampler, shots),
    }
    return MDIRounds(
        rounds=rounds,
        settings=settings,
        outcomes=outcomes,
        table=table,
        z=z,
        x=x,
        heralded=heralded,
        metadata=metadata,
    )


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

    The 8 setting circuits run once; every round is then sampled with numpy. Parameters as in
    :func:`simulate_mdi` (``noise`` is the single Alice-to-Bob channel).

    Examples
    --------
    >>> result = simulate_bb84(rounds=100_000, noise=ArmNoise(depolarizing_prob=0.1), seed=1)
    >>> abs(result.qber_x - 0.05) < 5e-3
    True
    """
    noise = check_arm(noise, "noise")
    used_shots = table_shots(backend, sampler, shots)
    rounds, rng, z_basis_prob, table = _simulate(
        rounds=rounds,
        seed=seed,
        z_basis_prob=z_basis_prob,
        confidence=confidence,
        interval=interval,
        shots=used_shots,
        table_fn=lambda circuit_seed: bb84_outcome_table(
            noise=noise,
            backend=backend,
            sampler=sampler,
            shots=shots,
            noise_model=noise_model,
            seed=circuit_seed,
        ),
    )
    settings, outcomes, histogram = sample_table(
        rng, rounds, table.reshape(8, 2), setting_probs(z_basis_prob, "bcb")
    )
    z, x, _ = rounds_statistics(
        histogram, bb84_lookup(), confidence, interval, table=table, shots=used_shots
    )
    metadata = {
        "protocol": "bb84",
        "z_basis_prob": z_basis_prob,
        "noise": _noise_dict(noise),
        **provenance(seed, backend, sampler, shots),
    }
    return BB84Rounds(
        rounds=rounds,
        settings=settings,
        outcomes=outcomes,
        table=table,
        z=z,
        x=x,
        heralded=rounds,
        metadata=metadata,
    )
