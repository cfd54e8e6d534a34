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
:mod:`qkdcircuits._sampling`). The registers are ``party`` (qubits) and ``bits`` (bit ``i`` is
party ``i``'s outcome).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
from qiskit import ClassicalRegister, QuantumCircuit, QuantumRegister

from qkdcircuits._sampling import depolarize_bit, sample_table
from qkdcircuits._validation import (
    SeedLike,
    as_generator,
    check_choice,
    check_positive_int,
    derive_int_seed,
    int_seed,
)
from qkdcircuits.execution import describe_target, outcome_distributions, table_shots
from qkdcircuits.noise import NOISELESS, ArmNoise
from qkdcircuits.sifting import QBEREstimate, estimate_qber

__all__ = [
    "PARTY_BASES",
    "HBBRounds",
    "coalition_information",
    "ghz_state",
    "hbb_circuit",
    "hbb_depolarized_qber",
    "hbb_outcome_table",
    "hbb_qber_from_table",
    "simulate_hbb",
]

PARTY_BASES: tuple[str, str] = ("X", "Y")
"""Measurement bases of HBB99; in setting indices bit ``i`` is 1 when party ``i`` measures Y."""

MAX_PARTIES = 12
"""Largest number of parties (the engine holds a ``2**n x 2**n`` table)."""


# ----------------------------------------------------------------------------------------------
# Circuits
# ----------------------------------------------------------------------------------------------


def _check_parties(n_parties: int, name: str = "n_parties") -> int:
    n_parties = check_positive_int(n_parties, name)
    if not 2 <= n_parties <= MAX_PARTIES:
        raise ValueError(f"{name}={n_parties!r} not in 2..{MAX_PARTIES}")
    return n_parties


def _noise_per_party(
    noise: ArmNoise | Sequence[ArmNoise], n_parties: int, name: str = "noise"
) -> tuple[ArmNoise, ...]:
    if isinstance(noise, ArmNoise):
        return (noise,) * n_parties
    if isinstance(noise, (str, bytes)) or not isinstance(noise, Sequence):
        raise TypeError(f"{name}={noise!r} must be an ArmNoise or a sequence of them")
    arms = tuple(noise)
    if len(arms) != n_parties:
        raise ValueError(f"{name} has {len(arms)} entries, expected one per party ({n_parties})")
    for index, arm in enumerate(arms):
        if not isinstance(arm, ArmNoise):
            raise TypeError(f"{name}[{index}]={arm!r} must be an ArmNoise")
    return arms


def ghz_state(n_qubits: int, *, register: str = "party") -> QuantumCircuit:
    """Circuit preparing ``(|0...0> + |1...1>)/sqrt(2)`` with H and a chain of CNOTs.

    A chain (``0 -> 1 -> 2 ...``) rather than a star needs only nearest-neighbour couplings on a
    device.

    Examples
    --------
    >>> from qiskit.quantum_info import Statevector
    >>> Statevector(ghz_state(3)).probabilities().round(6).tolist()
    [0.5, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.5]
    """
    n_qubits = _check_parties(n_qubits, "n_qubits")
    qreg = QuantumRegister(n_qubits, register)
    circuit = QuantumCircuit(qreg, name=f"ghz_{n_qubits}")
    circuit.h(qreg[0])
    for i in range(n_qubits - 1):
        circuit.cx(qreg[i], qreg[i + 1])
    return circuit


def _apply_basis(circuit: QuantumCircuit, qubit: Any, basis: str) -> None:
    """Rotate so that a Z measurement reads ``basis`` (bit 0 = +1 eigenvector)."""
    if basis == "X":
        circuit.h(qubit)
    elif basis == "Y":
        # S^dag maps |+i> to |+>, then H maps |+> to |0>.
        circuit.sdg(qubit)
        circuit.h(qubit)


def _check_bases(bases: str | Sequence[str]) -> str:
    if not isinstance(bases, str):
        bases = "".join(bases)
    for index, basis in enumerate(bases):
        check_choice(basis, f"bases[{index}]", PARTY_BASES)
    _check_parties(len(bases), "len(bases)")
    return bases


def hbb_circuit(
    *,
    bases: str | Sequence[str],
    noise: ArmNoise | Sequence[ArmNoise] = NOISELESS,
    explicit_channels: bool = True,
) -> QuantumCircuit:
    """HBB99 circuit for one basis setting: GHZ source, one arm per party, X/Y measurements.

    Parameters
    ----------
    bases : str or sequence of str
        ``"X"`` or ``"Y"`` for each party, dealer first, e.g. ``"XYY"``.
    noise : ArmNoise or sequence of ArmNoise
        Channel from the source to each party (one for all, or one per party).
    explicit_channels : bool
        Insert depolarising channels as Aer instructions (Aer only). The engine passes
        ``False`` and applies them exactly to the distributions.

    Returns
    -------
    QuantumCircuit
        Qubits ``party``; classical register ``bits`` (bit ``i`` = party ``i``).

    Examples
    --------
    >>> qc = hbb_circuit(bases="XYY")
    >>> [creg.name for creg in qc.cregs], qc.num_qubits
    (['bits'], 3)
    """
    bases = _check_bases(bases)
    n = len(bases)
    arms = _noise_per_party(noise, n)
    circuit = ghz_state(n)
    circuit.name = f"hbb_{bases}"
    bits = ClassicalRegister(n, "bits")
    circuit.add_register(bits)
    qreg = circuit.qregs[0]
    circuit.barrier(label="source")
    for qubit, arm in zip(qreg, arms, strict=True):
        arm.apply(circuit, qubit, explicit_channels=explicit_channels)
    for qubit, basis in zip(qreg, bases, strict=True):
        _apply_basis(circuit, qubit, basis)
    circuit.measure(qreg, bits)
    return circuit


def _setting_bases(setting: int, n_parties: int) -> str:
    return "".join(PARTY_BASES[(setting >> i) & 1] for i in range(n_parties))


# ----------------------------------------------------------------------------------------------
# Outcome table
# ----------------------------------------------------------------------------------------------


def _popcount_table(n_bits: int) -> np.ndarray:
    values = np.arange(1 << n_bits)
    counts = np.zeros(values.size, dtype=np.int64)
    for i in range(n_bits):
        counts += (values >> i) & 1
    return counts


def _kept_and_offset(n_parties: int) -> tuple[np.ndarray, np.ndarray]:
    """Per setting: kept (even number of Y) and the parity offset ``(k/2) mod 2``."""
    y_count = _popcount_table(n_parties)
    return y_count % 2 == 0, (y_count // 2) % 2


def _hbb_circuits(n_parties: int, thetas: tuple[float, ...]) -> list[QuantumCircuit]:
    arms = [ArmNoise(misalignment_rad=theta) for theta in thetas]
    return [
        hbb_circuit(bases=_setting_bases(s, n_parties), noise=arms, explicit_channels=False)
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
    n_parties = _check_parties(n_parties)
    arms = _noise_per_party(noise, n_parties)
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


def _error_lut(n_parties: int) -> np.ndarray:
    """``error[s, o]``: in kept setting ``s`` the players' reconstruction of outcome ``o`` fails."""
    _, offset = _kept_and_offset(n_parties)
    parity = _popcount_table(n_parties) % 2
    return (parity[None, :] ^ offset[:, None]).astype(bool)


def hbb_qber_from_table(table: np.ndarray) -> float:
    """Exact QBER (dealer bit vs players' reconstruction) over kept settings of a table.

    Settings are chosen uniformly, so the kept settings are equally likely.
    """
    table = np.asarray(table, dtype=float)
    n_parties = round(math.log2(table.shape[0]))
    kept, _ = _kept_and_offset(n_parties)
    errors = (table * _error_lut(n_parties)).sum(axis=1)
    return float(errors[kept].mean())


def hbb_depolarized_qber(depolarizing_probs: float | Sequence[float], n_parties: int = 3) -> float:
    """Closed-form HBB QBER when each party's arm depolarises with probability ``p_i``.

    ``depolarizing_probs`` is one probability for all ``n_parties`` arms, or one per arm (then
    ``n_parties`` is ignored).

    Each bit becomes a fair coin with probability ``p_i``, i.e. flips with ``p_i / 2``; the
    parity of independent flips is odd with probability ``(1 - prod_i (1 - p_i)) / 2``.

    Examples
    --------
    >>> round(hbb_depolarized_qber(0.1, n_parties=3), 6)
    0.1355
    """
    if isinstance(depolarizing_probs, (int, float)):
        probs = [float(depolarizing_probs)] * _check_parties(n_parties)
    else:
        probs = [float(p) for p in depolarizing_probs]
    for index, p in enumerate(probs):
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"depolarizing_probs[{index}]={p!r} not in [0, 1]")
    return (1.0 - math.prod(1.0 - p for p in probs)) / 2.0


def coalition_information(table: np.ndarray, coalition: Iterable[int]) -> float:
    """Mutual information (bits) between the dealer's bit and a coalition's bits, kept rounds.

    ``I(A; B_S | setting)`` averaged over the kept settings (equally likely), computed exactly
    from the outcome table. The announced bases are public, hence the conditioning. For the full
    set of players of a noiseless run it is 1 bit; for any proper subset it is 0: the dealer's
    bit is recoverable only when all players cooperate. Depolarisation keeps proper subsets at 0.
    Misalignment does not: ``RY(2 theta)`` tilts an X measurement to ``cos(2 theta) X -
    sin(2 theta) Z``, and GHZ pairs are classically correlated in Z, so in the setting XXX of three
    parties the dealer and one player share the correlation ``c = sin^2(2 theta)``, a leak of
    ``(1 - H2((1 - c)/2)) / 4`` bits per kept round.

    Parameters
    ----------
    table : numpy.ndarray
        From :func:`hbb_outcome_table`.
    coalition : iterable of int
        Player indices in ``1..n-1``.

    Examples
    --------
    >>> table = hbb_outcome_table(n_parties=3)
    >>> round(coalition_information(table, [1, 2]), 9), round(coalition_information(table, [1]), 9)
    (1.0, 0.0)
    """
    table = np.asarray(table, dtype=float)
    n_parties = round(math.log2(table.shape[0]))
    members = sorted(set(int(c) for c in coalition))
    for member in members:
        if not 1 <= member < n_parties:
            raise ValueError(f"coalition member {member!r} not a player in 1..{n_parties - 1}")
    kept, _ = _kept_and_offset(n_parties)
    outcomes = np.arange(table.shape[1])
    coalition_value = np.zeros_like(outcomes)
    for position, member in enumerate(members):
        coalition_value |= ((outcomes >> member) & 1) << position
    joint_index = (outcomes & 1) * (1 << len(members)) + coalition_value
    info = []
    for row in table[kept]:
        joint = np.bincount(joint_index, weights=row, minlength=2 << len(members)).reshape(2, -1)
        p_a = joint.sum(axis=1, keepdims=True)
        p_b = joint.sum(axis=0, keepdims=True)
        mask = joint > 0
        info.append(float(np.sum(joint[mask] * np.log2(joint[mask] / (p_a @ p_b)[mask]))))
    return float(np.mean(info))


# ----------------------------------------------------------------------------------------------
# Rounds
# ----------------------------------------------------------------------------------------------


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
        kept, _ = _kept_and_offset(self.n_parties)
        return kept[self.settings]

    @property
    def dealer_bits(self) -> np.ndarray:
        """The dealer's (party 0) bit per round."""
        return self.bits[:, 0]

    @cached_property
    def reconstructed_bits(self) -> np.ndarray:
        """Players' joint estimate of the dealer's bit: XOR of their bits XOR ``(k/2) mod 2``."""
        _, offset = _kept_and_offset(self.n_parties)
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


def _hbb_result(
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
    :mod:`qkdcircuits.adversary`)."""
    kept_lut, _ = _kept_and_offset(n_parties)
    error_lut = _error_lut(n_parties)
    kept = int(histogram[kept_lut].sum())
    errors = int(histogram[kept_lut][error_lut[kept_lut]].sum())
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
    >>> result = simulate_hbb(rounds=200_000, noise=ArmNoise(depolarizing_prob=0.1), seed=3)
    >>> result.qber.low <= hbb_depolarized_qber(0.1) <= result.qber.high
    True
    """
    rounds = check_positive_int(rounds, "rounds")
    n_parties = _check_parties(n_parties)
    arms = _noise_per_party(noise, n_parties)
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
    return _hbb_result(
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
