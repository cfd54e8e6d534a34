"""Adversaries at circuit level, and the statistics that detect them.

Three attacks, each built into circuits that run once per setting like the honest protocol,
with the attacked fraction of rounds mixed in exactly by sampling a per-round "attacked" flag:

**Intercept-resend on BB84** (:func:`simulate_intercept_resend`). On a fraction ``p`` of the
rounds Eve measures the photon in a random basis (Z or X) and resends the state she found. Her
measurement is a deferred measurement: in her basis she copies the photon's value onto an
ancilla with a CNOT, which leaves the photon dephased in her basis, exactly a
measure-and-resend, and the ancilla read at the end is her bit. In a sifted round her basis is
wrong with probability 1/2, and then Bob's bit is a fair coin; with channel flip probability
``eps`` (after Eve) the QBER is

``Q = (1 - p) eps + p [ (1/2) eps + (1/2)(1/2) ] = eps + p (1 - 2 eps) / 4``,

``p/4`` on a noiseless line (25 % for a full attack; C. H. Bennett, G. Brassard, Proc. IEEE
ICCSSP (1984); N. Gisin, G. Ribordy, W. Tittel, H. Zbinden, Rev. Mod. Phys. 74, 145 (2002)).
Eve's bit agrees with Alice's sifted bit with probability 3/4 on attacked rounds.

**Dishonest relay in MDI-QKD** (:func:`simulate_dishonest_relay`). On a fraction ``f`` of the
rounds Charlie does not perform a Bell-state measurement but announces a false outcome:

* ``"z-measure"``: he measures both photons in Z (deferred, onto his ancillas, so he learns both
  bits) and then runs the BSM on the dephased photons: the announced parity matches the Z bits
  (the Z-basis key is correct and known to him) while the phase bit is a fair coin. The X-basis
  test rounds then err with probability 1/2:
  ``Q_Z = Q_Z,honest``, ``Q_X = (1 - f) Q_X,honest + f/2``;
* ``"random"``: he announces a uniformly random outcome from two coins of his own:
  ``Q_Z = (1-f) Q_Z,honest + f/2``, likewise for X.

Both keep the honest heralding rate (1 for the gate BSM, 1/2 for linear optics), so the mixture
weights are ``1 - f`` and ``f`` in every basis. MDI-QKD's security rests on exactly this: any
relay behaviour is caught by the X-basis error rate (H.-K. Lo, M. Curty, B. Qi, PRL 108, 130503
(2012)).

**Corrupted GHZ source** (:func:`simulate_corrupted_source`, :func:`verify_corrupted_source`).
On a fraction ``f`` of the rounds the source emits

* ``"eve-ancilla"``: an (n+1)-qubit GHZ state whose last qubit Eve keeps; the parties' state is
  the dephased mixture ``(|0..0><0..0| + |1..1><1..1|)/2``, their X/Y correlations vanish
  (HBB QBER 1/2 on those rounds) while all-Z correlations stay perfect;
* ``"phase-flip"``: ``(|0..0> - |1..1>)/sqrt(2)``: every kept parity is flipped (QBER 1).

With depolarising arms of HBB QBER ``e``: ``Q = (1 - f) e + f/2`` and ``(1 - f) e + f (1 - e)``.
The GHZ verification bound (:mod:`qkdcircuits.verification`) drops to ``1 - f/2`` and ``1 - f``
respectively on noiseless arms (``p_Z`` stays 1, ``p_X`` becomes 1/2 or 0 on those rounds).

Detection: :meth:`AttackRounds.detected` flags an attack when the lower end of the QBER's
confidence interval exceeds the QBER the honest link is known to have.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from qkdcircuits._validation import (
    BASES,
    SeedLike,
    as_generator,
    check_basis,
    check_choice,
    check_positive_int,
    check_probability,
    derive_int_seed,
    int_seed,
)
from qkdcircuits.analysis.attacks import RELAY_STRATEGIES, SOURCE_CORRUPTIONS
from qkdcircuits.analysis.sharing import check_parties, hbb_qber_from_table
from qkdcircuits.analysis.statistics import QBEREstimate
from qkdcircuits.analysis.verification import VerificationResult
from qkdcircuits.circuits.attacks import (
    corrupted_ghz_state,
    dishonest_relay_circuit,
    intercept_resend_circuit,
)
from qkdcircuits.circuits.bb84 import bb84_circuit
from qkdcircuits.circuits.ghz import ghz_state, setting_bases
from qkdcircuits.circuits.mdi import check_variant, mdi_bsm_circuit
from qkdcircuits.circuits.measurement import pauli_measurement_circuit
from qkdcircuits.engine._common import (
    bb84_lookup,
    depolarize_input,
    exact_basis_qber,
    mdi_lookup,
    provenance,
    rounds_statistics,
)
from qkdcircuits.engine._sampling import (
    bit_distribution,
    depolarize_bit,
    product_distribution,
    sample_table,
)
from qkdcircuits.engine._shots import ghz_settings, run_options, verify_fidelity
from qkdcircuits.engine.hbb import HBBRounds, hbb_rounds
from qkdcircuits.engine.rounds import BB84Rounds, MDIRounds
from qkdcircuits.execution import outcome_distributions, table_shots
from qkdcircuits.noise import NOISELESS, ArmNoise, noise_per_party

__all__ = [
    "AttackRounds",
    "simulate_corrupted_source",
    "simulate_dishonest_relay",
    "simulate_intercept_resend",
    "verify_corrupted_source",
]


@dataclass(frozen=True, eq=False)
class AttackRounds:
    """Protocol rounds with an adversary active on a random fraction of them.

    Attributes
    ----------
    attack : str
        ``"intercept-resend"``, ``"dishonest-relay"`` or ``"corrupted-source"``.
    attack_prob : float
        Probability that a round is attacked.
    result : BB84Rounds, MDIRounds or HBBRounds
        The rounds as the honest parties see them (their QBER estimates with intervals).
    attacked : numpy.ndarray
        Per round, whether the adversary acted.
    adversary_bits : numpy.ndarray or None
        Per round, the adversary's record of the sender's bit (Eve's measured bit; the relay's Z
        reading of Alice's photon), meaningful on attacked rounds; ``None`` when it learns none.
    expected_qber : dict
        Exact QBER per basis (``"Z"``, ``"X"``, or ``"XY"`` for HBB) of the mixed outcome table.
    adversary_basis : numpy.ndarray or None
        Per round, Eve's measurement basis (0 = Z, 1 = X) for intercept-resend.
    metadata : dict
        Attack parameters and provenance.
    """

    attack: str
    attack_prob: float
    result: BB84Rounds | MDIRounds | HBBRounds
    attacked: np.ndarray = field(repr=False)
    adversary_bits: np.ndarray | None = field(repr=False)
    expected_qber: dict[str, float]
    adversary_basis: np.ndarray | None = field(default=None, repr=False)
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for array in (self.attacked, self.adversary_bits, self.adversary_basis):
            if array is not None:
                array.setflags(write=False)

    @property
    def rounds(self) -> int:
        """Number of rounds."""
        return self.result.rounds

    def qber(self, basis: str | None = None) -> QBEREstimate:
        """QBER estimate with interval: per basis for BB84/MDI, the only one for HBB."""
        if isinstance(self.result, HBBRounds):
            if basis not in (None, "XY"):
                raise ValueError(f"basis={basis!r}: HBB rounds have one QBER (basis 'XY')")
            return self.result.qber
        return self.result.qber("X" if basis is None else basis)

    def detected(self, tolerated_qber: float, basis: str | None = None) -> bool:
        """True when the QBER interval lies entirely above ``tolerated_qber``.

        ``tolerated_qber`` is the error rate the honest link is known to produce (from
        calibration or the closed forms); ``basis`` defaults to X (the test basis) for BB84/MDI.
        """
        tolerated_qber = check_probability(tolerated_qber, "tolerated_qber")
        return bool(self.qber(basis).low > tolerated_qber)

    def adversary_agreement(self, basis: str = "Z") -> float:
        """Fraction of attacked sifted rounds in ``basis`` where the adversary has Alice's bit.

        Defined for BB84 (intercept-resend) and MDI (z-measure relay); ``nan`` if none.
        """
        if self.adversary_bits is None or isinstance(self.result, HBBRounds):
            raise ValueError(f"the {self.attack!r} adversary records no bits of Alice's")
        code = 0 if check_basis(basis) == "Z" else 1
        result = self.result
        mask = self.attacked & result.sifted_mask & (result.alice_basis == code)
        if not mask.any():
            return float("nan")
        return float(np.mean(self.adversary_bits[mask] == result.alice_bits[mask]))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary."""
        return {
            "attack": self.attack,
            "attack_prob": self.attack_prob,
            "attacked_rounds": int(self.attacked.sum()),
            "expected_qber": dict(self.expected_qber),
            "rounds": self.result.to_dict(),
            **self.metadata,
        }


def _intercept_table(
    noise: ArmNoise,
    *,
    backend: Any,
    sampler: Any,
    shots: int | None,
    noise_model: Any,
    seed: int | None,
) -> np.ndarray:
    """Rows ``attacked<<4 | eve_basis<<3 | alice_basis<<2 | alice_bit<<1 | bob_basis``; columns
    ``bob_bit | eve_bit<<1``."""
    arm = ArmNoise(misalignment_rad=noise.misalignment_rad)
    honest = [
        bb84_circuit(
            alice_basis=ab, alice_bit=ax, bob_basis=bb, channel=arm, explicit_channels=False
        )
        for ab in BASES
        for ax in (0, 1)
        for bb in BASES
    ]
    attacked = [
        intercept_resend_circuit(
            alice_basis=ab,
            alice_bit=ax,
            eve_basis=eb,
            bob_basis=bb,
            channel=arm,
            explicit_channels=False,
        )
        for eb in BASES
        for ab in BASES
        for ax in (0, 1)
        for bb in BASES
    ]
    dists = outcome_distributions(
        honest + attacked,
        backend=backend,
        sampler=sampler,
        shots=shots,
        noise_model=noise_model,
        seed=seed,
    )
    table = np.zeros((32, 4))
    honest_probs = np.stack([d.probabilities for d in dists[:8]])
    table[:16, :2] = np.concatenate([honest_probs, honest_probs])  # Eve's basis is irrelevant
    table[16:] = np.stack([d.probabilities for d in dists[8:]])
    # Depolarisation acts on the photon after Eve and before Bob's local measurement.
    return depolarize_bit(table, 0, noise.depolarizing_prob)


def simulate_intercept_resend(
    *,
    rounds: int,
    intercept_prob: float,
    noise: ArmNoise = NOISELESS,
    z_basis_prob: float = 0.5,
    seed: SeedLike = None,
    backend: Any = None,
    sampler: Any = None,
    shots: int | None = None,
    noise_model: Any = None,
    confidence: float = 0.95,
    interval: str = "wilson",
) -> AttackRounds:
    """BB84 rounds with intercept-resend on a random fraction ``intercept_prob`` of them.

    Parameters
    ----------
    rounds : int
        Number of rounds.
    intercept_prob : float
        Probability that Eve attacks a round.
    noise : ArmNoise
        Channel between Eve and Bob.
    z_basis_prob : float
        Probability that Alice and Bob each choose Z (Eve chooses fairly).
    seed, backend, sampler, shots, noise_model, confidence, interval
        As in :func:`qkdcircuits.engine.rounds.simulate_bb84`.

    Returns
    -------
    AttackRounds
        ``result`` is a :class:`~qkdcircuits.engine.rounds.BB84Rounds`; ``adversary_bits`` Eve's
        bits.

    Examples
    --------
    >>> out = simulate_intercept_resend(rounds=200_000, intercept_prob=0.4, seed=1)
    >>> out.expected_qber["X"], out.detected(0.0)
    (0.1, True)
    """
    rounds = check_positive_int(rounds, "rounds")
    p = check_probability(intercept_prob, "intercept_prob")
    z_basis_prob = check_probability(z_basis_prob, "z_basis_prob")
    if not isinstance(noise, ArmNoise):
        raise TypeError(f"noise={noise!r} must be an ArmNoise")
    rng = as_generator(seed)
    used_shots = table_shots(backend, sampler, shots)
    circuit_seed = int_seed(seed) if used_shots is None else derive_int_seed(seed, rng)
    table = _intercept_table(
        noise,
        backend=backend,
        sampler=sampler,
        shots=shots,
        noise_model=noise_model,
        seed=circuit_seed,
    )
    basis = bit_distribution(1.0 - z_basis_prob)  # P(code 0 = Z), P(code 1 = X)
    coin = bit_distribution(0.5)
    probs = product_distribution(bit_distribution(p), coin, basis, coin, basis)
    settings, outcomes, joint = sample_table(rng, rounds, table, probs)

    bb84_settings = (settings & 7).astype(np.uint8)
    bob_bits = (outcomes & 1).astype(np.uint8)
    lookup = bb84_lookup()
    # Rows (attacked, eve_basis, setting); columns (eve_bit, bob_bit): keep setting and bob_bit.
    histogram = joint.reshape(2, 2, 8, 2, 2).sum(axis=(0, 1, 3))
    # Effective table seen by Alice and Bob: attack mixed in, Eve's basis and bit averaged out.
    bob_marginal = table[:, [0, 1]] + table[:, [2, 3]]
    honest = bob_marginal[:8]
    attacked = 0.5 * (bob_marginal[16:24] + bob_marginal[24:32])
    effective = (1.0 - p) * honest + p * attacked
    z, x, _ = rounds_statistics(
        histogram, lookup, confidence, interval, table=effective, shots=used_shots
    )
    expected = exact_basis_qber(effective, lookup)
    metadata = {
        "protocol": "bb84",
        "z_basis_prob": z_basis_prob,
        "noise": {
            "depolarizing_prob": noise.depolarizing_prob,
            "misalignment_rad": noise.misalignment_rad,
        },
        **provenance(seed, backend, sampler, shots),
    }
    result = BB84Rounds(
        rounds=rounds,
        settings=bb84_settings,
        outcomes=bob_bits,
        table=effective.reshape(2, 2, 2, 2),
        z=z,
        x=x,
        heralded=rounds,
        metadata=metadata,
    )
    return AttackRounds(
        attack="intercept-resend",
        attack_prob=p,
        result=result,
        attacked=(settings >> 4).astype(bool),
        adversary_bits=((outcomes >> 1) & 1).astype(np.uint8),
        expected_qber=expected,
        adversary_basis=((settings >> 3) & 1).astype(np.uint8),
        metadata={"noise_after_eve": True},
    )


def simulate_dishonest_relay(
    *,
    rounds: int,
    cheat_prob: float,
    strategy: str = "z-measure",
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
) -> AttackRounds:
    """MDI-QKD rounds in which the relay cheats on a random fraction ``cheat_prob`` of them.

    The 16 honest and 16 dishonest setting circuits run once each; rounds are then sampled with
    a per-round "cheated" flag.

    Returns
    -------
    AttackRounds
        ``result`` is a :class:`~qkdcircuits.engine.rounds.MDIRounds`; ``adversary_bits`` is the
        relay's Z reading of Alice's photon (``"z-measure"``) or ``None`` (``"random"``).

    Examples
    --------
    >>> out = simulate_dishonest_relay(rounds=200_000, cheat_prob=0.2, seed=2)
    >>> out.expected_qber, out.detected(0.0, "X"), out.detected(0.0, "Z")
    ({'Z': 0.0, 'X': 0.1}, True, False)
    """
    rounds = check_positive_int(rounds, "rounds")
    f = check_probability(cheat_prob, "cheat_prob")
    strategy = check_choice(strategy, "strategy", RELAY_STRATEGIES)
    variant = check_variant(variant)
    z_basis_prob = check_probability(z_basis_prob, "z_basis_prob")
    if isinstance(noise, ArmNoise):
        arms = (noise, noise)
    else:
        arms = tuple(noise)
        if len(arms) != 2 or not all(isinstance(a, ArmNoise) for a in arms):
            raise ValueError(f"noise={noise!r} must be one ArmNoise or a pair (alice, bob)")
    rng = as_generator(seed)
    used_shots = table_shots(backend, sampler, shots)
    circuit_seed = int_seed(seed) if used_shots is None else derive_int_seed(seed, rng)
    rot_a = ArmNoise(misalignment_rad=arms[0].misalignment_rad)
    rot_b = ArmNoise(misalignment_rad=arms[1].misalignment_rad)
    grid = [(ab, ax, bb, bx) for ab in BASES for ax in (0, 1) for bb in BASES for bx in (0, 1)]
    honest = [
        mdi_bsm_circuit(
            alice_basis=ab,
            alice_bit=ax,
            bob_basis=bb,
            bob_bit=bx,
            variant=variant,
            alice_channel=rot_a,
            bob_channel=rot_b,
            explicit_channels=False,
        )
        for ab, ax, bb, bx in grid
    ]
    cheating = [
        dishonest_relay_circuit(
            alice_basis=ab,
            alice_bit=ax,
            bob_basis=bb,
            bob_bit=bx,
            strategy=strategy,
            variant=variant,
            alice_channel=rot_a,
            bob_channel=rot_b,
            explicit_channels=False,
        )
        for ab, ax, bb, bx in grid
    ]
    dists = outcome_distributions(
        honest + cheating,
        backend=backend,
        sampler=sampler,
        shots=shots,
        noise_model=noise_model,
        seed=circuit_seed,
    )
    table = np.zeros((32, 16))
    table[:16, :4] = np.stack([d.probabilities for d in dists[:16]])
    table[16:] = np.stack([d.probabilities for d in dists[16:]])
    table = table.reshape(2, 2, 2, 2, 2, 16)
    table = depolarize_input(table, arms[0].depolarizing_prob, axis=1)
    table = depolarize_input(table, arms[1].depolarizing_prob, axis=3)
    table = table.reshape(32, 16)

    basis = bit_distribution(1.0 - z_basis_prob)
    coin = bit_distribution(0.5)
    probs = product_distribution(bit_distribution(f), basis, coin, basis, coin)
    settings, outcomes, joint = sample_table(rng, rounds, table, probs)
    mdi_settings = (settings & 15).astype(np.uint8)
    bsm = (outcomes & 3).astype(np.uint8)

    lookup = mdi_lookup(variant)
    # Rows (cheated, setting); columns (relay record, bsm): keep setting and bsm.
    histogram = joint.reshape(2, 16, 4, 4).sum(axis=(0, 2))
    bsm_marginal = table.reshape(32, 4, 4).sum(axis=1)  # sum over the relay record bits
    effective = (1.0 - f) * bsm_marginal[:16] + f * bsm_marginal[16:]
    z, x, heralded = rounds_statistics(
        histogram, lookup, confidence, interval, table=effective, shots=used_shots
    )
    expected = exact_basis_qber(effective, lookup)
    metadata = {
        "protocol": "mdi",
        "variant": variant,
        "z_basis_prob": z_basis_prob,
        "noise": {
            name: {"depolarizing_prob": a.depolarizing_prob, "misalignment_rad": a.misalignment_rad}
            for name, a in zip(("alice", "bob"), arms, strict=True)
        },
        **provenance(seed, backend, sampler, shots),
    }
    result = MDIRounds(
        rounds=rounds,
        settings=mdi_settings,
        outcomes=bsm,
        table=effective.reshape(2, 2, 2, 2, 4),
        z=z,
        x=x,
        heralded=heralded,
        metadata=metadata,
    )
    return AttackRounds(
        attack="dishonest-relay",
        attack_prob=f,
        result=result,
        attacked=(settings >> 4).astype(bool),
        adversary_bits=((outcomes >> 2) & 1).astype(np.uint8) if strategy == "z-measure" else None,
        expected_qber=expected,
        metadata={"strategy": strategy},
    )


def simulate_corrupted_source(
    *,
    rounds: int,
    corruption_prob: float,
    strategy: str = "eve-ancilla",
    n_parties: int = 3,
    noise: ArmNoise | Sequence[ArmNoise] = NOISELESS,
    seed: SeedLike = None,
    backend: Any = None,
    sampler: Any = None,
    shots: int | None = None,
    noise_model: Any = None,
    confidence: float = 0.95,
    interval: str = "wilson",
) -> AttackRounds:
    """HBB99 rounds whose source is corrupted on a random fraction ``corruption_prob``.

    Returns
    -------
    AttackRounds
        ``result`` is a :class:`~qkdcircuits.engine.hbb.HBBRounds` (its ``table`` is the
        mixture the parties see); ``adversary_bits`` is ``None``.

    Examples
    --------
    >>> out = simulate_corrupted_source(rounds=100_000, corruption_prob=0.2, seed=3)
    >>> out.expected_qber["XY"], out.detected(0.0)
    (0.1, True)
    """
    rounds = check_positive_int(rounds, "rounds")
    f = check_probability(corruption_prob, "corruption_prob")
    strategy = check_choice(strategy, "strategy", SOURCE_CORRUPTIONS)
    n = check_parties(n_parties)
    arms = noise_per_party(noise, n)
    rng = as_generator(seed)
    used_shots = table_shots(backend, sampler, shots)
    circuit_seed = int_seed(seed) if used_shots is None else derive_int_seed(seed, rng)
    misaligned = [ArmNoise(misalignment_rad=a.misalignment_rad) for a in arms]
    states = [ghz_state(n), corrupted_ghz_state(n, strategy=strategy)]
    circuits = [
        pauli_measurement_circuit(
            state, setting_bases(s, n), noise=misaligned, explicit_channels=False
        )
        for state in states
        for s in range(1 << n)
    ]
    dists = outcome_distributions(
        circuits,
        backend=backend,
        sampler=sampler,
        shots=shots,
        noise_model=noise_model,
        seed=circuit_seed,
    )
    table = np.stack([d.probabilities for d in dists])
    for bit, arm in enumerate(arms):
        table = depolarize_bit(table, bit, arm.depolarizing_prob)
    probs = product_distribution(bit_distribution(f), np.full(1 << n, 1.0 / (1 << n)))
    settings, outcomes, joint = sample_table(rng, rounds, table, probs)
    mask = (1 << n) - 1
    effective = (1.0 - f) * table[: 1 << n] + f * table[1 << n :]
    result = hbb_rounds(
        n_parties=n,
        settings=settings & mask,
        outcomes=outcomes,
        table=effective,
        confidence=confidence,
        interval=interval,
        metadata={
            "noise": [
                {"depolarizing_prob": a.depolarizing_prob, "misalignment_rad": a.misalignment_rad}
                for a in arms
            ],
            **provenance(seed, backend, sampler, shots),
        },
        histogram=joint.reshape(2, 1 << n, 1 << n).sum(axis=0),
        shots_per_setting=used_shots,
    )
    return AttackRounds(
        attack="corrupted-source",
        attack_prob=f,
        result=result,
        attacked=(settings >> n).astype(bool),
        adversary_bits=None,
        expected_qber={"XY": hbb_qber_from_table(effective)},
        metadata={"strategy": strategy},
    )


def verify_corrupted_source(
    *,
    corruption_prob: float,
    strategy: str = "eve-ancilla",
    n_qubits: int = 3,
    shots: int = 4096,
    noise: ArmNoise | Sequence[ArmNoise] = NOISELESS,
    confidence: float = 0.95,
    threshold: float = 0.5,
    seed: SeedLike = None,
    backend: Any = None,
    sampler: Any = None,
    noise_model: Any = None,
    optimization_level: int = 1,
) -> VerificationResult:
    """GHZ verification (:func:`qkdcircuits.engine.verification.verify_ghz`) of a corrupted source.

    Each shot comes from the corrupted state with probability ``corruption_prob``. On noiseless
    arms the bound's exact value is ``1 - f/2`` (``"eve-ancilla"``) or ``1 - f``
    (``"phase-flip"``).

    Examples
    --------
    >>> result = verify_corrupted_source(corruption_prob=0.5, shots=4000, seed=4, threshold=0.9)
    >>> result.exact, result.passed
    (0.75, False)
    """
    f = check_probability(corruption_prob, "corruption_prob")
    strategy = check_choice(strategy, "strategy", SOURCE_CORRUPTIONS)
    n = check_parties(n_qubits, "n_qubits")
    options = run_options(
        shots, confidence, threshold, seed, backend, sampler, noise_model, optimization_level
    )
    bases, luts = ghz_settings(n)
    return verify_fidelity(
        test="ghz",
        states=[(1.0 - f, ghz_state(n)), (f, corrupted_ghz_state(n, strategy=strategy))],
        bases=bases,
        luts=luts,
        noise=noise,
        options=options,
        extra_metadata={"corruption_prob": f, "strategy": strategy},
    )
