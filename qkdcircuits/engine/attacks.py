"""Round engines with an adversary active on a random fraction of the rounds.

Each attack's setting circuits (:mod:`qkdcircuits.circuits.attacks`: intercept-resend on BB84,
a dishonest MDI relay, a corrupted GHZ source) run once next to the honest ones; the rounds are
then sampled with a per-round "attacked" flag drawn with probability ``attack_prob``, so the
attacked fraction is mixed in exactly. The honest parties see an ordinary
:class:`~qkdcircuits.engine.rounds.BB84Rounds`, :class:`~qkdcircuits.engine.rounds.MDIRounds`
or :class:`~qkdcircuits.engine.hbb.HBBRounds`; :class:`AttackRounds` adds the flag, the
adversary's record and the exact QBER of the mixed table. The closed-form QBERs the simulations
are tested against, with their references, are in :mod:`qkdcircuits.analysis.attacks`.

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
    check_basis,
    check_choice,
    check_probability,
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
from qkdcircuits.circuits.ghz import ghz_state, setting_bases
from qkdcircuits.circuits.mdi import check_variant
from qkdcircuits.circuits.measurement import pauli_measurement_circuit
from qkdcircuits.engine._common import (
    bb84_lookup,
    bb84_metadata,
    depolarize_input,
    exact_basis_qber,
    mdi_lookup,
    mdi_metadata,
    prepare_run,
    rounds_statistics,
)
from qkdcircuits.engine._sampling import (
    bit_distribution,
    depolarize_bit,
    depolarize_parties,
    mix,
    product_distribution,
    sample_table,
)
from qkdcircuits.engine._shots import ghz_settings, run_options, verify_fidelity
from qkdcircuits.engine._tables import (
    BB84_SETTINGS,
    MDI_SETTINGS,
    bb84_circuits,
    mdi_circuits,
    run_groups,
    run_rows,
)
from qkdcircuits.engine.hbb import HBBRounds, hbb_rounds
from qkdcircuits.engine.rounds import BB84Rounds, MDIRounds
from qkdcircuits.execution import ExecutionTarget
from qkdcircuits.noise import NOISELESS, ArmNoise, check_arm, noise_per_party, split_arm_noise

__all__ = [
    "AttackRounds",
    "simulate_corrupted_source",
    "simulate_dishonest_relay",
    "simulate_intercept_resend",
    "verify_corrupted_source",
]


BYTES_PER_ROUND = 6
"""Peak bytes per round of the attack simulators (joint sample plus the honest view)."""


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

    Examples
    --------
    >>> out = simulate_intercept_resend(rounds=100_000, attack_prob=1.0, seed=5)
    >>> round(out.adversary_agreement("Z"), 2), out.expected_qber["Z"]
    (0.75, 0.25)
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
        """QBER estimate with interval: per basis for BB84/MDI, the only one for HBB.

        Parameters
        ----------
        basis : {"Z", "X", "XY"} or None
            ``None`` means the test basis X for BB84/MDI and the HBB QBER ("XY").

        Returns
        -------
        QBEREstimate
            The observed QBER of the attacked run, with its binomial interval.

        Raises
        ------
        ValueError
            For a basis the protocol does not have.
        """
        if isinstance(self.result, HBBRounds):
            if basis not in (None, "XY"):
                raise ValueError(f"basis={basis!r}: HBB rounds have one QBER (basis 'XY')")
            return self.result.qber
        return self.result.qber("X" if basis is None else basis)

    def detected(self, tolerated_qber: float, basis: str | None = None) -> bool:
        """Tell whether the QBER interval lies entirely above ``tolerated_qber``.

        Parameters
        ----------
        tolerated_qber : float
            The error rate the honest link is known to produce (from calibration or the closed
            forms of :mod:`qkdcircuits.analysis.attacks`).
        basis : {"Z", "X", "XY"} or None
            As in :meth:`qber` (X, the test basis, for BB84/MDI by default).

        Returns
        -------
        bool
            ``True`` when the interval's lower end exceeds ``tolerated_qber``.

        Raises
        ------
        ValueError
            If ``tolerated_qber`` is not a probability or ``basis`` is unknown.
        """
        tolerated_qber = check_probability(tolerated_qber, "tolerated_qber")
        return bool(self.qber(basis).low > tolerated_qber)

    def adversary_agreement(self, basis: str = "Z") -> float:
        """Fraction of attacked sifted rounds in ``basis`` where the adversary has Alice's bit.

        Defined for BB84 (intercept-resend) and MDI (z-measure relay).

        Parameters
        ----------
        basis : {"Z", "X"}
            Sifting basis of the rounds counted.

        Returns
        -------
        float
            The fraction in [0, 1]; ``nan`` when no attacked round was sifted in ``basis``.

        Raises
        ------
        ValueError
            If the adversary records no bits, or ``basis`` is not "Z" or "X".
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


def _intercept_table(noise: ArmNoise, target: ExecutionTarget, seed: int | None) -> np.ndarray:
    """Tabulate the intercept-resend outcome distributions of every setting.

    Rows ``attacked<<4 | eve_basis<<3 | alice_basis<<2 | alice_bit<<1 | bob_basis``; columns
    ``bob_bit | eve_bit<<1``.
    """
    attacked = [
        intercept_resend_circuit(
            alice_basis=ab,
            alice_bit=ax,
            eve_basis=eb,
            bob_basis=bb,
            channel=noise.rotation_only,
            explicit_channels=False,
        )
        for eb in BASES
        for ab, ax, bb in BB84_SETTINGS
    ]
    honest, intercepted = run_groups([bb84_circuits(noise), attacked], target, seed)
    table = np.zeros((32, 4))
    table[:16, :2] = np.concatenate([honest, honest])  # Eve's basis is irrelevant
    table[16:] = intercepted
    # Depolarisation acts on the photon after Eve and before Bob's local measurement.
    return depolarize_bit(table, 0, noise.depolarizing_prob)


def simulate_intercept_resend(
    *,
    rounds: int,
    attack_prob: float,
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
    """BB84 rounds with intercept-resend on a random fraction ``attack_prob`` of them.

    On an attacked round Eve measures the photon in a random basis (a deferred measurement onto
    her ancilla) and resends what she found; the channel ``noise`` acts after her. The expected
    QBER is :func:`qkdcircuits.analysis.attacks.intercept_resend_qber`.

    Parameters
    ----------
    rounds : int
        Number of rounds.
    attack_prob : float
        Probability that Eve attacks a round, in [0, 1].
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

    Raises
    ------
    TypeError, ValueError
        For any invalid argument (named in the message), checked before any circuit runs.

    Examples
    --------
    >>> out = simulate_intercept_resend(rounds=200_000, attack_prob=0.4, seed=1)
    >>> out.expected_qber["X"], out.detected(0.0)
    (0.1, True)
    """
    p = check_probability(attack_prob, "attack_prob")
    noise = check_arm(noise, "noise")
    target = ExecutionTarget(backend=backend, sampler=sampler, shots=shots, noise_model=noise_model)
    run = prepare_run(
        rounds, seed, target, z_basis_prob, confidence, interval, bytes_per_round=BYTES_PER_ROUND
    )
    table = _intercept_table(noise, run.target, run.circuit_seed)
    basis = bit_distribution(1.0 - run.z_basis_prob)  # P(code 0 = Z), P(code 1 = X)
    coin = bit_distribution(0.5)
    probs = product_distribution(bit_distribution(p), coin, basis, coin, basis)
    settings, outcomes, joint = sample_table(run.rng, run.rounds, table, probs)

    lookup = bb84_lookup()
    # Rows (attacked, eve_basis, setting); columns (eve_bit, bob_bit): keep setting and bob_bit.
    histogram = joint.reshape(2, 2, 8, 2, 2).sum(axis=(0, 1, 3))
    # Effective table seen by Alice and Bob: attack mixed in, Eve's basis and bit averaged out.
    bob_marginal = table[:, [0, 1]] + table[:, [2, 3]]
    effective = mix(bob_marginal[:8], 0.5 * (bob_marginal[16:24] + bob_marginal[24:32]), p)
    z, x, _ = rounds_statistics(histogram, lookup, run, table=effective)
    result = BB84Rounds(
        rounds=run.rounds,
        settings=(settings & 7).astype(np.uint8),
        outcomes=(outcomes & 1).astype(np.uint8),
        table=effective.reshape(2, 2, 2, 2),
        z=z,
        x=x,
        heralded=run.rounds,
        metadata=bb84_metadata(noise, run.z_basis_prob, run.provenance()),
    )
    return AttackRounds(
        attack="intercept-resend",
        attack_prob=p,
        result=result,
        attacked=(settings >> 4).astype(bool),
        adversary_bits=((outcomes >> 1) & 1).astype(np.uint8),
        expected_qber=exact_basis_qber(effective, lookup),
        adversary_basis=((settings >> 3) & 1).astype(np.uint8),
        metadata={"noise_after_eve": True},
    )


def simulate_dishonest_relay(
    *,
    rounds: int,
    attack_prob: float,
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
    """MDI-QKD rounds in which the relay cheats on a random fraction ``attack_prob`` of them.

    The 16 honest and 16 dishonest setting circuits run once each; rounds are then sampled with
    a per-round "cheated" flag. The expected QBERs are
    :func:`qkdcircuits.analysis.attacks.dishonest_relay_qber`.

    Parameters
    ----------
    rounds : int
        Number of rounds.
    attack_prob : float
        Probability that the relay cheats on a round, in [0, 1].
    strategy : {"z-measure", "random"}
        What the relay does instead of a Bell-state measurement (see
        :func:`qkdcircuits.circuits.attacks.dishonest_relay_circuit`).
    variant, noise, z_basis_prob, seed, backend, sampler, shots, noise_model, confidence, interval
        As in :func:`qkdcircuits.engine.rounds.simulate_mdi`.

    Returns
    -------
    AttackRounds
        ``result`` is a :class:`~qkdcircuits.engine.rounds.MDIRounds`; ``adversary_bits`` is the
        relay's Z reading of Alice's photon (``"z-measure"``) or ``None`` (``"random"``).

    Raises
    ------
    TypeError, ValueError
        For any invalid argument (named in the message), checked before any circuit runs.

    Examples
    --------
    >>> out = simulate_dishonest_relay(rounds=200_000, attack_prob=0.2, seed=2)
    >>> out.expected_qber, out.detected(0.0, "X"), out.detected(0.0, "Z")
    ({'Z': 0.0, 'X': 0.1}, True, False)
    """
    f = check_probability(attack_prob, "attack_prob")
    strategy = check_choice(strategy, "strategy", RELAY_STRATEGIES)
    variant = check_variant(variant)
    alice, bob = split_arm_noise(noise)
    target = ExecutionTarget(backend=backend, sampler=sampler, shots=shots, noise_model=noise_model)
    run = prepare_run(
        rounds, seed, target, z_basis_prob, confidence, interval, bytes_per_round=BYTES_PER_ROUND
    )
    cheating = [
        dishonest_relay_circuit(
            alice_basis=ab,
            alice_bit=ax,
            bob_basis=bb,
            bob_bit=bx,
            strategy=strategy,
            variant=variant,
            alice_channel=alice.rotation_only,
            bob_channel=bob.rotation_only,
            explicit_channels=False,
        )
        for ab, ax, bb, bx in MDI_SETTINGS
    ]
    honest, cheated = run_groups(
        [mdi_circuits(variant, alice, bob), cheating], run.target, run.circuit_seed
    )
    table = np.zeros((32, 16))
    table[:16, :4] = honest
    table[16:] = cheated
    table = table.reshape(2, 2, 2, 2, 2, 16)
    table = depolarize_input(table, alice.depolarizing_prob, axis=1)
    table = depolarize_input(table, bob.depolarizing_prob, axis=3).reshape(32, 16)

    basis = bit_distribution(1.0 - run.z_basis_prob)
    coin = bit_distribution(0.5)
    probs = product_distribution(bit_distribution(f), basis, coin, basis, coin)
    settings, outcomes, joint = sample_table(run.rng, run.rounds, table, probs)

    lookup = mdi_lookup(variant)
    # Rows (cheated, setting); columns (relay record, bsm): keep setting and bsm.
    histogram = joint.reshape(2, 16, 4, 4).sum(axis=(0, 2))
    bsm_marginal = table.reshape(32, 4, 4).sum(axis=1)  # sum over the relay record bits
    effective = mix(bsm_marginal[:16], bsm_marginal[16:], f)
    z, x, heralded = rounds_statistics(histogram, lookup, run, table=effective)
    result = MDIRounds(
        rounds=run.rounds,
        settings=(settings & 15).astype(np.uint8),
        outcomes=(outcomes & 3).astype(np.uint8),
        table=effective.reshape(2, 2, 2, 2, 4),
        z=z,
        x=x,
        heralded=heralded,
        metadata=mdi_metadata(variant, alice, bob, run.z_basis_prob, run.provenance()),
    )
    return AttackRounds(
        attack="dishonest-relay",
        attack_prob=f,
        result=result,
        attacked=(settings >> 4).astype(bool),
        adversary_bits=((outcomes >> 2) & 1).astype(np.uint8) if strategy == "z-measure" else None,
        expected_qber=exact_basis_qber(effective, lookup),
        metadata={"strategy": strategy},
    )


def simulate_corrupted_source(
    *,
    rounds: int,
    attack_prob: float,
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
    """HBB99 rounds whose GHZ source is corrupted on a random fraction ``attack_prob``.

    The expected QBER is :func:`qkdcircuits.analysis.attacks.corrupted_source_qber`.

    Parameters
    ----------
    rounds : int
        Number of rounds.
    attack_prob : float
        Probability that the source is corrupted on a round, in [0, 1].
    strategy : {"eve-ancilla", "phase-flip"}
        How the source is corrupted (see :func:`qkdcircuits.circuits.attacks.corrupted_ghz_state`).
    n_parties, noise, seed, backend, sampler, shots, noise_model, confidence, interval
        As in :func:`qkdcircuits.engine.hbb.simulate_hbb`.

    Returns
    -------
    AttackRounds
        ``result`` is a :class:`~qkdcircuits.engine.hbb.HBBRounds` (its ``table`` is the
        mixture the parties see); ``adversary_bits`` is ``None``.

    Raises
    ------
    TypeError, ValueError
        For any invalid argument (named in the message), checked before any circuit runs.

    Examples
    --------
    >>> out = simulate_corrupted_source(rounds=100_000, attack_prob=0.2, seed=3)
    >>> out.expected_qber["XY"], out.detected(0.0)
    (0.1, True)
    """
    f = check_probability(attack_prob, "attack_prob")
    strategy = check_choice(strategy, "strategy", SOURCE_CORRUPTIONS)
    n = check_parties(n_parties)
    arms = noise_per_party(noise, n)
    target = ExecutionTarget(backend=backend, sampler=sampler, shots=shots, noise_model=noise_model)
    run = prepare_run(
        rounds,
        seed,
        target,
        confidence=confidence,
        interval=interval,
        bytes_per_round=BYTES_PER_ROUND,
    )
    rotations = [arm.rotation_only for arm in arms]
    states = [ghz_state(n), corrupted_ghz_state(n, strategy=strategy)]
    circuits = [
        pauli_measurement_circuit(
            state, setting_bases(s, n), noise=rotations, explicit_channels=False
        )
        for state in states
        for s in range(1 << n)
    ]
    table = depolarize_parties(run_rows(circuits, run.target, run.circuit_seed), arms)
    probs = product_distribution(bit_distribution(f), np.full(1 << n, 1.0 / (1 << n)))
    settings, outcomes, joint = sample_table(run.rng, run.rounds, table, probs)
    effective = mix(table[: 1 << n], table[1 << n :], f)
    result = hbb_rounds(
        n_parties=n,
        settings=settings & ((1 << n) - 1),
        outcomes=outcomes,
        table=effective,
        confidence=run.confidence,
        interval=run.interval,
        metadata={"noise": [arm.to_dict() for arm in arms], **run.provenance()},
        histogram=joint.reshape(2, 1 << n, 1 << n).sum(axis=0),
        shots_per_setting=run.target.table_shots,
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
    attack_prob: float,
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

    Each shot comes from the corrupted state with probability ``attack_prob``. On noiseless
    arms the bound's exact value is ``1 - f/2`` (``"eve-ancilla"``) or ``1 - f``
    (``"phase-flip"``): ``p_Z`` stays 1 while ``p_X`` drops to 1/2 or 0 on corrupted shots.

    Parameters
    ----------
    attack_prob : float
        Probability that a shot comes from the corrupted source, in [0, 1].
    strategy : {"eve-ancilla", "phase-flip"}
        How the source is corrupted.
    n_qubits, shots, noise, confidence, threshold, seed, backend, sampler, noise_model, \
optimization_level
        As in :func:`qkdcircuits.engine.verification.verify_ghz`.

    Returns
    -------
    VerificationResult
        The fidelity bound with its interval; ``metadata`` records ``attack_prob`` and
        ``strategy``.

    Raises
    ------
    TypeError, ValueError
        For any invalid argument (named in the message), checked before any circuit runs.

    Examples
    --------
    >>> result = verify_corrupted_source(attack_prob=0.5, shots=4000, seed=4, threshold=0.9)
    >>> result.exact, result.passed
    (0.75, False)
    """
    f = check_probability(attack_prob, "attack_prob")
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
        extra_metadata={"attack_prob": f, "strategy": strategy},
    )
