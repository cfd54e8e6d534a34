"""HBB99 quantum secret sharing with GHZ states, for 3 and for n parties.

A source distributes the n-qubit GHZ state ``(|0...0> + |1...1>)/sqrt(2)``, one qubit to each
party. Party 0 is the **dealer**; parties 1..n-1 are the **players**. Every party measures its
qubit in the X or the Y basis, chosen at random, and all announce their bases (never their bits).

Keep/discard rule (Hillery, Buzek, Berthiaume, PRA 59, 1829 (1999))
-------------------------------------------------------------------
With ``k`` parties measuring Y, the product ``X^(n-k) Y^k`` maps ``|0...0>`` to
``i^k |1...1>`` and ``|1...1>`` to ``(-i)^k |0...0>``, so GHZ is an eigenstate iff ``k`` is even,
with eigenvalue ``(-1)^(k/2)``. In outcome bits (0 for the +1 eigenvector):

* ``k`` even: kept, and ``XOR of all n bits = (k/2) mod 2``. For three parties: XXX gives
  ``a = b XOR c``; XYY, YXY, YYX give ``a = b XOR c XOR 1``;
* ``k`` odd: discarded (the bits are uncorrelated). Half of all basis choices are kept.

In a kept round the players together recover the dealer's bit as ``XOR(players' bits) XOR
(k/2 mod 2)``, while any proper subset of the players has bits independent of it
(:func:`coalition_information` computes the mutual information exactly).

Engine
------
The ``2**n`` basis settings are circuits (:func:`hbb_circuit`) run **once** each through
:func:`qkdcircuits.execution.outcome_distributions`; N rounds are then sampled from those
distributions with numpy. Channel noise per party is an :class:`~qkdcircuits.noise.ArmNoise`:
misalignment is a rotation in the circuits, depolarisation is applied exactly to the
distributions (each party's bit becomes a fair coin with probability ``p``; see
:mod:`qkdcircuits.engine._sampling`). The registers are ``party`` (qubits) and ``bits`` (bit ``i``
is party ``i``'s outcome).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
from qiskit import QuantumCircuit

from qkdcircuits._validation import (
    SeedLike,
    as_generator,
    check_positive_int,
    derive_int_seed,
    int_seed,
)
from qkdcircuits.analysis.sharing import (
    check_parties,
    error_lut,
    hbb_qber_from_table,
    kept_and_offset,
)
from qkdcircuits.analysis.statistics import QBEREstimate, estimate_qber
from qkdcircuits.circuits.ghz import hbb_circuit, setting_bases
from qkdcircuits.engine._sampling import depolarize_bit, sample_table
from qkdcircuits.execution import describe_target, outcome_distributions, table_shots
from qkdcircuits.noise import NOISELESS, ArmNoise, noise_per_party

__all__ = ["HBBRounds", "hbb_outcome_table", "simulate_hbb"]


def _hbb_circuits(n_parties: int, thetas: tuple[float, ...]) -> list[QuantumCircuit]:
    arms = [ArmNoise(misalignment_rad=theta) for theta in thetas]
    return [
        hbb_circuit(bases=setting_bases(s, n_parties), noise=arms, explicit_channels=False)
        for s in range(1 << n_parties)
    ]


@functools.lru_cache(maxsize=64)
def _cached_table(n_parties: int, thetas: tuple[float, ...]) -> np.ndarray:
    dists = outcome_distributions(_hbb_circuits(n_parties, thetas))
    table = np.stack([d.probabilities for d in dists])
    table.setflags(write=False)
    return table


def _depolarize_parties(table: np.ndarray, arms: Sequence[ArmNoise]) -> np.ndarray:
    for bit, arm in enumerate(arms):
        table = depolarize_bit(table, bit, arm.depolarizing_prob)
    return table


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
    """
    n_parties = check_parties(n_parties)
    arms = noise_per_party(noise, n_parties)
    thetas = tuple(arm.misalignment_rad for arm in arms)
    if backend is None and sampler is None and shots is None and noise_model is None:
        table = _cached_table(n_parties, thetas).copy()
    else:
        dists = outcome_distributions(
            _hbb_circuits(n_parties, thetas),
            backend=backend,
            sampler=sampler,
            shots=shots,
            noise_model=noise_model,
            seed=seed,
        )
        table = np.stack([d.probabilities for d in dists])
    return _depolarize_parties(table, arms)


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
        """The dealer's key and the players' reconstructed key (kept rounds), as uint8 arrays."""
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
    """Tally kept rounds and errors from the (setting, outcome) histogram (shared with
    :mod:`qkdcircuits.engine.attacks`)."""
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


def _noise_metadata(arms: Sequence[ArmNoise]) -> list[dict[str, float]]:
    return [
        {"depolarizing_prob": a.depolarizing_prob, "misalignment_rad": a.misalignment_rad}
        for a in arms
    ]


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

    Examples
    --------
    >>> from qkdcircuits import hbb_depolarized_qber
    >>> result = simulate_hbb(rounds=200_000, noise=ArmNoise(depolarizing_prob=0.1), seed=3)
    >>> result.qber.low <= hbb_depolarized_qber(0.1) <= result.qber.high
    True
    """
    rounds = check_positive_int(rounds, "rounds")
    n_parties = check_parties(n_parties)
    arms = noise_per_party(noise, n_parties)
    rng = as_generator(seed)
    used_shots = table_shots(backend, sampler, shots)
    circuit_seed = int_seed(seed) if used_shots is None else derive_int_seed(seed, rng)
    table = hbb_outcome_table(
        n_parties=n_parties,
        noise=arms,
        backend=backend,
        sampler=sampler,
        shots=shots,
        noise_model=noise_model,
        seed=circuit_seed,
    )
    settings, outcomes, histogram = sample_table(rng, rounds, table)
    metadata = {
        "noise": _noise_metadata(arms),
        "seed": int_seed(seed),
        "source": describe_target(backend, sampler, shots),
        "shots": shots,
    }
    return hbb_rounds(
        n_parties=n_parties,
        settings=settings,
        outcomes=outcomes,
        table=table,
        confidence=confidence,
        interval=interval,
        metadata=metadata,
        histogram=histogram,
        shots_per_setting=used_shots,
    )
