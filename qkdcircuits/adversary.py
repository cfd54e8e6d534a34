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
from qiskit import ClassicalRegister, QuantumCircuit, QuantumRegister

from qkdcircuits._sampling import (
    bit_distribution,
    depolarize_bit,
    product_distribution,
    sample_table,
)
from qkdcircuits._validation import (
    SeedLike,
    as_generator,
    check_choice,
    check_positive_int,
    check_probability,
    derive_int_seed,
    int_seed,
)
from qkdcircuits.bb84 import BASES, bb84_circuit, check_basis, check_bit, prepare_bb84_state
from qkdcircuits.engine import (
    BB84Rounds,
    MDIRounds,
    _bb84_lookup,
    _mdi_lookup,
    _provenance,
    _rounds_statistics,
    _SiftingLookup,
)
from qkdcircuits.execution import outcome_distributions, table_shots
from qkdcircuits.ghz_sharing import (
    HBBRounds,
    _check_parties,
    _hbb_result,
    _noise_per_party,
    _setting_bases,
    ghz_state,
    hbb_qber_from_table,
)
from qkdcircuits.mdi import check_variant, mdi_bsm_circuit
from qkdcircuits.noise import NOISELESS, ArmNoise
from qkdcircuits.sifting import QBEREstimate
from qkdcircuits.verification import (
    VerificationResult,
    _ghz_settings,
    _options,
    _verify_fidelity,
    pauli_measurement_circuit,
)

__all__ = [
    "RELAY_STRATEGIES",
    "SOURCE_CORRUPTIONS",
    "AttackRounds",
    "corrupted_ghz_state",
    "corrupted_source_qber",
    "dishonest_relay_circuit",
    "dishonest_relay_qber",
    "intercept_resend_circuit",
    "intercept_resend_qber",
    "simulate_corrupted_source",
    "simulate_dishonest_relay",
    "simulate_intercept_resend",
    "verify_corrupted_source",
]

RELAY_STRATEGIES: tuple[str, str] = ("z-measure", "random")
"""Behaviours of a dishonest MDI relay."""

SOURCE_CORRUPTIONS: tuple[str, str] = ("eve-ancilla", "phase-flip")
"""Ways a GHZ source can be corrupted."""


# ----------------------------------------------------------------------------------------------
# Result
# ----------------------------------------------------------------------------------------------


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


def _exact_basis_qber(table: np.ndarray, lookup: _SiftingLookup) -> dict[str, float]:
    """QBER per basis of a table whose settings have equal bit probabilities within a basis."""
    out = {}
    for code, basis in enumerate(BASES):
        in_basis = lookup.sifted & (lookup.basis == code)
        sifted = float(table[in_basis].sum())
        out[basis] = (
            float(table[in_basis & lookup.error].sum() / sifted) if sifted else float("nan")
        )
    return out


# ----------------------------------------------------------------------------------------------
# Intercept-resend on BB84
# ----------------------------------------------------------------------------------------------


def intercept_resend_qber(intercept_prob: float, channel_flip_prob: float = 0.0) -> float:
    """Closed-form BB84 QBER under intercept-resend on a fraction of rounds.

    ``Q = eps + p (1 - 2 eps) / 4`` for intercept probability ``p`` and channel flip probability
    ``eps`` (after Eve); see the module docstring.

    Examples
    --------
    >>> intercept_resend_qber(1.0), intercept_resend_qber(0.2)
    (0.25, 0.05)
    """
    p = check_probability(intercept_prob, "intercept_prob")
    eps = check_probability(channel_flip_prob, "channel_flip_prob")
    return eps + p * (1.0 - 2.0 * eps) / 4.0


def intercept_resend_circuit(
    *,
    alice_basis: str,
    alice_bit: int,
    eve_basis: str,
    bob_basis: str,
    channel: ArmNoise = NOISELESS,
    explicit_channels: bool = True,
) -> QuantumCircuit:
    """BB84 setting with Eve's measure-and-resend, as a deferred measurement.

    Alice prepares; Eve rotates into her basis, copies the photon's value onto her ancilla with
    a CNOT and rotates back (the photon leaves dephased in her basis, as if measured and
    resent); the channel acts; Bob measures.

    Returns
    -------
    QuantumCircuit
        Qubits ``photon`` and ``eve``; registers ``bob_bit`` (bit 0 of the outcome) and
        ``eve_bit`` (bit 1).

    Examples
    --------
    >>> from qkdcircuits.execution import outcome_distributions
    >>> qc = intercept_resend_circuit(alice_basis="Z", alice_bit=0, eve_basis="X", bob_basis="Z")
    >>> outcome_distributions(qc)[0].marginal("bob_bit").round(3).tolist()
    [0.5, 0.5]
    """
    alice_basis = check_basis(alice_basis, "alice_basis")
    eve_basis = check_basis(eve_basis, "eve_basis")
    bob_basis = check_basis(bob_basis, "bob_basis")
    alice_bit = check_bit(alice_bit, "alice_bit")
    if not isinstance(channel, ArmNoise):
        raise TypeError(f"channel={channel!r} must be an ArmNoise")
    photon = QuantumRegister(1, "photon")
    eve = QuantumRegister(1, "eve")
    bob_reg = ClassicalRegister(1, "bob_bit")
    eve_reg = ClassicalRegister(1, "eve_bit")
    circuit = QuantumCircuit(
        photon,
        eve,
        bob_reg,
        eve_reg,
        name=f"intercept_{alice_basis}{alice_bit}_{eve_basis}_{bob_basis}",
    )
    prepare_bb84_state(circuit, photon[0], basis=alice_basis, bit=alice_bit)
    circuit.barrier(label="eve")
    if eve_basis == "X":
        circuit.h(photon[0])
    circuit.cx(photon[0], eve[0])
    if eve_basis == "X":
        circuit.h(photon[0])
    circuit.barrier(label="resend")
    channel.apply(circuit, photon[0], explicit_channels=explicit_channels)
    if bob_basis == "X":
        circuit.h(photon[0])
    circuit.measure(photon[0], bob_reg[0])
    circuit.measure(eve[0], eve_reg[0])
    return circuit


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
        As in :func:`qkdcircuits.engine.simulate_bb84`.

    Returns
    -------
    AttackRounds
        ``result`` is a :class:`~qkdcircuits.engine.BB84Rounds`; ``adversary_bits`` Eve's bits.

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
    lookup = _bb84_lookup()
    # Rows (attacked, eve_basis, setting); columns (eve_bit, bob_bit): keep setting and bob_bit.
    histogram = joint.reshape(2, 2, 8, 2, 2).sum(axis=(0, 1, 3))
    # Effective table seen by Alice and Bob: attack mixed in, Eve's basis and bit averaged out.
    bob_marginal = table[:, [0, 1]] + table[:, [2, 3]]
    honest = bob_marginal[:8]
    attacked = 0.5 * (bob_marginal[16:24] + bob_marginal[24:32])
    effective = (1.0 - p) * honest + p * attacked
    z, x, _ = _rounds_statistics(
        histogram, lookup, confidence, interval, table=effective, shots=used_shots
    )
    expected = _exact_basis_qber(effective, lookup)
    metadata = {
        "protocol": "bb84",
        "z_basis_prob": z_basis_prob,
        "noise": {
            "depolarizing_prob": noise.depolarizing_prob,
            "misalignment_rad": noise.misalignment_rad,
        },
        **_provenance(seed, backend, sampler, shots),
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


# ----------------------------------------------------------------------------------------------
# Dishonest relay in MDI-QKD
# ----------------------------------------------------------------------------------------------


def dishonest_relay_qber(
    *, cheat_prob: float, strategy: str, basis: str, honest_qber: float = 0.0
) -> float:
    """Closed-form MDI QBER in ``basis`` when the relay cheats on a fraction of rounds.

    Examples
    --------
    >>> dishonest_relay_qber(cheat_prob=0.3, strategy="z-measure", basis="X")
    0.15
    >>> dishonest_relay_qber(cheat_prob=0.3, strategy="z-measure", basis="Z", honest_qber=0.02)
    0.02
    """
    f = check_probability(cheat_prob, "cheat_prob")
    strategy = check_choice(strategy, "strategy", RELAY_STRATEGIES)
    basis = check_basis(basis)
    e = check_probability(honest_qber, "honest_qber")
    if strategy == "z-measure" and basis == "Z":
        return e
    return (1.0 - f) * e + f / 2.0


def dishonest_relay_circuit(
    *,
    alice_basis: str,
    alice_bit: int,
    bob_basis: str,
    bob_bit: int,
    strategy: str = "z-measure",
    variant: str = "gate",
    alice_channel: ArmNoise = NOISELESS,
    bob_channel: ArmNoise = NOISELESS,
    explicit_channels: bool = True,
) -> QuantumCircuit:
    """MDI-QKD setting in which the relay announces a false Bell outcome.

    Parameters
    ----------
    strategy : {"z-measure", "random"}
        ``"z-measure"``: Charlie copies both photons' Z values onto his two ancillas (a deferred
        Z measurement) and then runs the ``variant`` BSM on the dephased photons;
        ``"random"``: he announces the outcome of two fair coins (his ancillas in ``|+>``).
    Other parameters
        As in :func:`qkdcircuits.mdi.mdi_bsm_circuit`.

    Returns
    -------
    QuantumCircuit
        Qubits ``alice``, ``bob``, ``relay`` (2); registers ``bsm`` (the announcement, bits 0-1)
        and ``relay`` (Charlie's Z readings of Alice's and Bob's photons, bits 2-3; zeros for
        ``"random"``).

    Examples
    --------
    >>> qc = dishonest_relay_circuit(alice_basis="X", alice_bit=0, bob_basis="X", bob_bit=0)
    >>> [creg.name for creg in qc.cregs]
    ['bsm', 'relay']
    """
    strategy = check_choice(strategy, "strategy", RELAY_STRATEGIES)
    variant = check_variant(variant)
    alice_basis = check_basis(alice_basis, "alice_basis")
    bob_basis = check_basis(bob_basis, "bob_basis")
    alice_bit = check_bit(alice_bit, "alice_bit")
    bob_bit = check_bit(bob_bit, "bob_bit")
    for name, channel in (("alice_channel", alice_channel), ("bob_channel", bob_channel)):
        if not isinstance(channel, ArmNoise):
            raise TypeError(f"{name}={channel!r} must be an ArmNoise")
    alice = QuantumRegister(1, "alice")
    bob = QuantumRegister(1, "bob")
    relay = QuantumRegister(2, "relay")
    bsm = ClassicalRegister(2, "bsm")
    record = ClassicalRegister(2, "relay")
    circuit = QuantumCircuit(
        alice,
        bob,
        relay,
        bsm,
        record,
        name=f"relay_{strategy}_{alice_basis}{alice_bit}_{bob_basis}{bob_bit}_{variant}",
    )
    prepare_bb84_state(circuit, alice[0], basis=alice_basis, bit=alice_bit)
    prepare_bb84_state(circuit, bob[0], basis=bob_basis, bit=bob_bit)
    alice_channel.apply(circuit, alice[0], explicit_channels=explicit_channels)
    bob_channel.apply(circuit, bob[0], explicit_channels=explicit_channels)
    circuit.barrier(label="relay")
    if strategy == "z-measure":
        circuit.cx(alice[0], relay[0])
        circuit.cx(bob[0], relay[1])
        circuit.cx(alice[0], bob[0])
        if variant == "gate":
            circuit.h(alice[0])
        else:
            circuit.ch(bob[0], alice[0])
        circuit.measure(alice[0], bsm[0])
        circuit.measure(bob[0], bsm[1])
        circuit.measure(relay[0], record[0])
        circuit.measure(relay[1], record[1])
    else:
        circuit.h(relay)
        circuit.measure(relay[0], bsm[0])
        circuit.measure(relay[1], bsm[1])
    return circuit


def _depolarize_input(table: np.ndarray, prob: float, basis_axis: int) -> np.ndarray:
    """Mix one party's input with ``I/2`` = the average of its two Z-basis preparations.

    ``table`` has axes ``(cheated, a_basis, a_bit, b_basis, b_bit, outcome)``. Measurement
    statistics are linear in the input state; the misalignment rotation before the channel
    leaves ``I/2`` unchanged (see :mod:`qkdcircuits.noise`).
    """
    if prob == 0.0:
        return table
    mixed = np.take(table, 0, axis=basis_axis).mean(axis=basis_axis, keepdims=True)
    mixed = np.expand_dims(mixed, basis_axis)
    return (1.0 - prob) * table + prob * mixed


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
        ``result`` is a :class:`~qkdcircuits.engine.MDIRounds`; ``adversary_bits`` is the relay's
        Z reading of Alice's photon (``"z-measure"``) or ``None`` (``"random"``).

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
    table = _depolarize_input(table, arms[0].depolarizing_prob, basis_axis=1)
    table = _depolarize_input(table, arms[1].depolarizing_prob, basis_axis=3)
    table = table.reshape(32, 16)

    basis = bit_distribution(1.0 - z_basis_prob)
    coin = bit_distribution(0.5)
    probs = product_distribution(bit_distribution(f), basis, coin, basis, coin)
    settings, outcomes, joint = sample_table(rng, rounds, table, probs)
    mdi_settings = (settings & 15).astype(np.uint8)
    bsm = (outcomes & 3).astype(np.uint8)

    lookup = _mdi_lookup(variant)
    # Rows (cheated, setting); columns (relay record, bsm): keep setting and bsm.
    histogram = joint.reshape(2, 16, 4, 4).sum(axis=(0, 2))
    bsm_marginal = table.reshape(32, 4, 4).sum(axis=1)  # sum over the relay record bits
    effective = (1.0 - f) * bsm_marginal[:16] + f * bsm_marginal[16:]
    z, x, heralded = _rounds_statistics(
        histogram, lookup, confidence, interval, table=effective, shots=used_shots
    )
    expected = _exact_basis_qber(effective, lookup)
    metadata = {
        "protocol": "mdi",
        "variant": variant,
        "z_basis_prob": z_basis_prob,
        "noise": {
            name: {"depolarizing_prob": a.depolarizing_prob, "misalignment_rad": a.misalignment_rad}
            for name, a in zip(("alice", "bob"), arms, strict=True)
        },
        **_provenance(seed, backend, sampler, shots),
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


# ----------------------------------------------------------------------------------------------
# Corrupted GHZ source
# ----------------------------------------------------------------------------------------------


def corrupted_source_qber(
    *, corruption_prob: float, strategy: str, honest_qber: float = 0.0
) -> float:
    """Closed-form HBB QBER with a corrupted source on a fraction of rounds.

    Exact for depolarising arms (``honest_qber`` from
    :func:`qkdcircuits.ghz_sharing.hbb_depolarized_qber`).

    Examples
    --------
    >>> corrupted_source_qber(corruption_prob=0.2, strategy="eve-ancilla")
    0.1
    """
    f = check_probability(corruption_prob, "corruption_prob")
    strategy = check_choice(strategy, "strategy", SOURCE_CORRUPTIONS)
    e = check_probability(honest_qber, "honest_qber")
    corrupted = 0.5 if strategy == "eve-ancilla" else 1.0 - e
    return (1.0 - f) * e + f * corrupted


def corrupted_ghz_state(n_qubits: int, *, strategy: str) -> QuantumCircuit:
    """A GHZ source gone bad (see the module docstring).

    ``"eve-ancilla"`` returns ``n_qubits + 1`` qubits, the last one Eve's (never measured by the
    parties); ``"phase-flip"`` returns ``n_qubits`` qubits in ``(|0..0> - |1..1>)/sqrt(2)``.

    Examples
    --------
    >>> corrupted_ghz_state(3, strategy="eve-ancilla").num_qubits
    4
    """
    strategy = check_choice(strategy, "strategy", SOURCE_CORRUPTIONS)
    n_qubits = _check_parties(n_qubits, "n_qubits")
    if strategy == "eve-ancilla":
        circuit = ghz_state(n_qubits + 1)
    else:
        circuit = ghz_state(n_qubits)
        circuit.z(0)
    circuit.name = f"ghz_{n_qubits}_{strategy}"
    return circuit


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
        ``result`` is a :class:`~qkdcircuits.ghz_sharing.HBBRounds` (its ``table`` is the
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
    n = _check_parties(n_parties)
    arms = _noise_per_party(noise, n)
    rng = as_generator(seed)
    used_shots = table_shots(backend, sampler, shots)
    circuit_seed = int_seed(seed) if used_shots is None else derive_int_seed(seed, rng)
    misaligned = [ArmNoise(misalignment_rad=a.misalignment_rad) for a in arms]
    states = [ghz_state(n), corrupted_ghz_state(n, strategy=strategy)]
    circuits = [
        pauli_measurement_circuit(
            state, _setting_bases(s, n), noise=misaligned, explicit_channels=False
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
    result = _hbb_result(
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
            **_provenance(seed, backend, sampler, shots),
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
    """GHZ verification (:func:`qkdcircuits.verification.verify_ghz`) of a corrupted source.

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
    n = _check_parties(n_qubits, "n_qubits")
    options = _options(
        shots, confidence, threshold, seed, backend, sampler, noise_model, optimization_level
    )
    bases, luts = _ghz_settings(n)
    return _verify_fidelity(
        test="ghz",
        states=[(1.0 - f, ghz_state(n)), (f, corrupted_ghz_state(n, strategy=strategy))],
        bases=bases,
        luts=luts,
        noise=noise,
        options=options,
        extra_metadata={"corruption_prob": f, "strategy": strategy},
    )
