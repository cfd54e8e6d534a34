"""Verification runs of entangled resources.

GHZ and Bell-pair fidelity bounds, CHSH, and the stabilisers of the encoded ((3,5)) state.

Each ``verify_*`` builds the measurement circuits (:mod:`qkdcircuits.circuits.measurement`), runs
each setting once through :func:`qkdcircuits.execution.outcome_distributions` and draws ``shots``
outcomes per setting (from the exact distribution on Aer, or the backend's own shots; see
:mod:`._shots`); the counts are analysed by :mod:`qkdcircuits.analysis.verification`, which holds
the bounds and their confidence intervals.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from qiskit import QuantumCircuit

from qkdcircuits._validation import SeedLike, check_choice
from qkdcircuits.analysis.verification import CHSH_SIGNS, VerificationResult, chsh_from_counts
from qkdcircuits.circuits.five_qubit import (
    FIVE_QUBIT_LOGICAL_X,
    FIVE_QUBIT_LOGICAL_Z,
    FIVE_QUBIT_STABILIZERS,
    five_qubit_encoder,
)
from qkdcircuits.circuits.ghz import ghz_state
from qkdcircuits.circuits.measurement import CHSH_ANGLES, chsh_circuit
from qkdcircuits.engine._shots import ghz_settings, parity_lut, run_options, verify_fidelity
from qkdcircuits.noise import NOISELESS, ArmNoise, noise_per_party

__all__ = ["verify_bell_pair", "verify_chsh", "verify_encoded_state", "verify_ghz"]


_SECRETS = ("0", "1", "+", "-")


def verify_ghz(
    n_qubits: int = 3,
    *,
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
    """Verify an n-qubit GHZ source with two settings (all-X parity, all-Z equality).

    Returns the Toth-Guehne lower bound ``F >= p_X + p_Z - 1`` on the fidelity with
    ``(|0...0> + |1...1>)/sqrt(2)``, with a confidence interval from ``shots`` shots per setting;
    it passes when the interval's lower end exceeds ``threshold`` (``F > 1/2`` certifies genuine
    ``n``-partite entanglement).

    Parameters
    ----------
    n_qubits : int
        Number of GHZ qubits (2..12; 2 is a Bell pair).
    shots : int
        Shots per setting (two settings).
    noise : ArmNoise or sequence of ArmNoise
        Channel from the source to each qubit's measurement.
    confidence, threshold
        Interval coverage and pass threshold.
    seed : int, numpy.random.Generator or None
        Shot sampling (and, if an int, transpilation and backend sampling).
    backend, sampler, noise_model, optimization_level
        Where the circuits run; see :func:`qkdcircuits.execution.outcome_distributions`.

    Returns
    -------
    VerificationResult
        The bound ``p_X + p_Z - 1`` with its interval (Toth-Guehne, PRL 94, 060501 (2005)).

    Raises
    ------
    TypeError, ValueError
        For any invalid argument (named in the message), checked before any circuit runs.

    References
    ----------
    G. Toth, O. Guehne, "Detecting genuine multipartite entanglement with two local
    measurements", Phys. Rev. Lett. 94, 060501 (2005).

    Examples
    --------
    >>> result = verify_ghz(3, shots=2000, noise=ArmNoise(depolarizing_prob=0.05), seed=1)
    >>> result.passed, round(result.exact, 4)  # (1 + 0.95**3)/2 + 0.975**3 + 0.025**3 - 1
    (True, 0.8556)
    """
    options = run_options(
        shots, confidence, threshold, seed, backend, sampler, noise_model, optimization_level
    )
    state = ghz_state(n_qubits)
    bases, luts = ghz_settings(n_qubits)
    return verify_fidelity(
        test="ghz" if n_qubits > 2 else "bell",
        states=[(1.0, state)],
        bases=bases,
        luts=luts,
        noise=noise,
        options=options,
    )


def verify_bell_pair(
    *,
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
    """Verify a ``|Phi+>`` source by its stabilisers XX and ZZ: ``F >= (<XX> + <ZZ>)/2``.

    The GHZ bound for two qubits (``p_X + p_Z - 1``). ``F > 1/2`` certifies entanglement.

    Parameters
    ----------
    shots, noise, confidence, threshold, seed, backend, sampler, noise_model, optimization_level
        As in :func:`verify_ghz` (``noise``: one arm for both photons, or one per photon).

    Returns
    -------
    VerificationResult

    Raises
    ------
    TypeError, ValueError
        For any invalid argument (named in the message), checked before any circuit runs.

    Examples
    --------
    >>> verify_bell_pair(shots=1000, seed=2).low > 0.99
    True
    """
    return verify_ghz(
        2,
        shots=shots,
        noise=noise,
        confidence=confidence,
        threshold=threshold,
        seed=seed,
        backend=backend,
        sampler=sampler,
        noise_model=noise_model,
        optimization_level=optimization_level,
    )


def verify_chsh(
    *,
    shots: int = 4096,
    noise: ArmNoise | Sequence[ArmNoise] = NOISELESS,
    confidence: float = 0.95,
    threshold: float = 2.0,
    seed: SeedLike = None,
    backend: Any = None,
    sampler: Any = None,
    noise_model: Any = None,
    optimization_level: int = 1,
) -> VerificationResult:
    """CHSH test of a ``|Phi+>`` source: four settings at :data:`CHSH_ANGLES`.

    Passes when the lower end of the interval on ``S`` exceeds ``threshold`` (2 by default: a
    certified Bell violation; J. F. Clauser et al., PRL 23, 880 (1969)).

    Parameters
    ----------
    shots : int
        Shots per setting (four settings).
    noise, confidence, seed, backend, sampler, noise_model, optimization_level
        As in :func:`verify_ghz`.
    threshold : float
        Value the lower end of the interval on ``S`` must exceed.

    Returns
    -------
    VerificationResult
        ``S`` with its interval; ``exact`` is ``2 sqrt(2) (1 - p_A)(1 - p_B)`` for depolarising
        arms on the exact path.

    Raises
    ------
    TypeError, ValueError
        For any invalid argument (named in the message), checked before any circuit runs.

    References
    ----------
    J. F. Clauser, M. A. Horne, A. Shimony, R. A. Holt, "Proposed experiment to test
    local hidden-variable theories", Phys. Rev. Lett. 23, 880 (1969).

    Examples
    --------
    >>> result = verify_chsh(shots=4000, noise=ArmNoise(depolarizing_prob=0.1), seed=4)
    >>> round(result.exact, 4), result.passed  # 2 sqrt(2) (1 - 0.1)^2
    (2.291, True)
    """
    options = run_options(
        shots, confidence, threshold, seed, backend, sampler, noise_model, optimization_level
    )
    arms = noise_per_party(noise, 2)
    misaligned = [arm.rotation_only for arm in arms]
    circuits = [
        [
            chsh_circuit(
                alice_angle_rad=a, bob_angle_rad=b, noise=misaligned, explicit_channels=False
            )
            for a, b in CHSH_ANGLES
        ]
    ]
    same = ~parity_lut([0, 1], 2)
    accepted, taken, exact_probs = options.run(circuits, [1.0], [same] * 4, arms)
    exact = None
    if exact_probs is not None:
        exact = float(sum(s * (2 * q - 1) for s, q in zip(CHSH_SIGNS, exact_probs, strict=True)))
    return chsh_from_counts(
        accepted,
        taken,
        confidence=options.confidence,
        threshold=options.threshold,
        exact=exact,
        metadata=options.provenance(arms),
    )


def _secret_circuit(secret: str) -> QuantumCircuit:
    circuit = QuantumCircuit(1, name=f"secret_{secret}")
    if secret in ("1", "-"):
        circuit.x(0)
    if secret in ("+", "-"):
        circuit.h(0)
    return circuit


def _stabilizer_settings(secret: str | None) -> tuple[list[str], list[np.ndarray]]:
    """Bases and accept look-up tables for the code's generators (and a known logical)."""
    pauli_strings = list(FIVE_QUBIT_STABILIZERS)
    signs = [0] * len(pauli_strings)
    if secret is not None:
        pauli_strings.append(FIVE_QUBIT_LOGICAL_Z if secret in "01" else FIVE_QUBIT_LOGICAL_X)
        signs.append(1 if secret in ("1", "-") else 0)
    bases, luts = [], []
    for pauli, sign in zip(pauli_strings, signs, strict=True):
        support = [q for q, p in enumerate(pauli) if p != "I"]
        parity = parity_lut(support, len(pauli))
        bases.append(pauli)
        luts.append(parity if sign else ~parity)
    return bases, luts


def verify_encoded_state(
    *,
    secret: str | None = None,
    shots: int = 4096,
    noise: ArmNoise | Sequence[ArmNoise] = NOISELESS,
    confidence: float = 0.95,
    threshold: float = 0.5,
    seed: SeedLike = None,
    backend: Any = None,
    sampler: Any = None,
    noise_model: Any = None,
    optimization_level: int = 1,
    state: QuantumCircuit | None = None,
) -> VerificationResult:
    """Verify the ((3,5)) shares by measuring the [[5,1,3]] stabiliser generators.

    With ``secret=None`` the four generators bound the weight of the code space,
    ``tr(rho P_code) >= 1 - sum_i (1 - <S_i>)/2``. With a known Pauli-eigenstate secret
    (``"0"``, ``"1"``, ``"+"``, ``"-"``) the matching logical operator is a fifth setting and the
    bound is on the fidelity with the encoded state itself.

    Parameters
    ----------
    secret : {"0", "1", "+", "-"} or None
        Secret the dealer encodes (``"0"`` when None, but only the code space is checked).
    state : QuantumCircuit, optional
        A five-qubit preparation to verify instead of the dealer's encoder (e.g. a faulty one).
    shots, noise, confidence, threshold, seed, backend, sampler, noise_model, optimization_level
        As in :func:`verify_ghz` (``noise``: one arm per share).

    Returns
    -------
    VerificationResult
        The bound ``1 - sum_i (1 - <S_i>)/2`` (with the logical operator as a fifth term when
        ``secret`` is given) and its interval.

    Raises
    ------
    TypeError, ValueError
        For an unknown secret, a ``state`` that is not a circuit of at least five qubits, or any
        invalid run argument, checked before any circuit runs.

    Examples
    --------
    >>> result = verify_encoded_state(secret="+", shots=1000, seed=5)
    >>> result.settings[-1], result.exact, result.passed
    ('XXXXX', 1.0, True)
    """
    if secret is not None:
        check_choice(secret, "secret", _SECRETS)
    options = run_options(
        shots, confidence, threshold, seed, backend, sampler, noise_model, optimization_level
    )
    if state is None:
        state = five_qubit_encoder(_secret_circuit(secret or "0"))
    elif not isinstance(state, QuantumCircuit):
        raise TypeError(f"state={state!r} must be a QuantumCircuit")
    elif state.num_qubits < 5:
        raise ValueError(f"state has {state.num_qubits} qubits; the code needs 5 shares")
    bases, luts = _stabilizer_settings(secret)
    return verify_fidelity(
        test="five-qubit-code",
        states=[(1.0, state)],
        bases=bases,
        luts=luts,
        noise=noise,
        options=options,
        extra_metadata={"secret": secret},
    )
