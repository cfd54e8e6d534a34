"""Qubit-level channel noise for one optical arm.

A photon's polarisation qubit picks up two kinds of error on its way to the measurement:

* **misalignment**: the reference frames of sender and receiver differ by a rotation of the
  polarisation by ``misalignment_rad``. On the Bloch sphere this is ``RY(2 theta)``; a Z- or
  X-basis BB84 state is then found in the wrong state with probability ``sin(theta)**2``.
* **depolarisation**: with probability ``depolarizing_prob`` the qubit is replaced by the
  maximally mixed state, ``rho -> (1 - p) rho + p I/2``; a BB84 state is flipped with
  probability ``p/2`` in either basis.

Misalignment is a unitary and is always part of the circuits. Depolarisation is a channel: the
circuit builders can insert it as an explicit Aer instruction (``explicit_channels=True``, for
drawing and for direct Aer runs), while the round engine uses the exact identity

``P[(1-p) rho + p I/2] = (1-p) P[rho] + p (P[|0><0|] + P[|1><1|]) / 2``

(measurement statistics are linear in the input state), so that the same unitary circuits run
on Aer, on a user's noise model, on a fake backend or on hardware. The identity is exact when the
two Z-basis preparations average to ``I/2``, i.e. for ideal state preparation (every Aer run
without a noise model, where a test checks it against the density-matrix run of the explicit
channel). With device noise on the preparation gates themselves (a noise model or a backend), the
maximally mixed input is the average of two *noisy* preparations, which differs from ``I/2`` by
the preparation error: the mixture is then exact up to terms of order
``depolarizing_prob x preparation error``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from qiskit import QuantumCircuit
    from qiskit.circuit import Qubit

from qkdcircuits._validation import check_probability, check_real

__all__ = ["NOISELESS", "ArmNoise", "arm_error_probability", "combined_flip_probability"]


@dataclass(frozen=True)
class ArmNoise:
    """Noise on one optical arm (source to measurement).

    Parameters
    ----------
    depolarizing_prob : float
        Probability ``p`` in ``rho -> (1 - p) rho + p I/2``; must lie in [0, 1].
    misalignment_rad : float
        Polarisation rotation angle ``theta`` in radians (any finite real value).

    Raises
    ------
    TypeError
        If a field is not a real number.
    ValueError
        If ``depolarizing_prob`` is outside [0, 1] or a field is not finite.

    Examples
    --------
    >>> ArmNoise(depolarizing_prob=0.02).flip_probability
    0.01
    >>> ArmNoise(misalignment_rad=0.1).to_dict()
    {'depolarizing_prob': 0.0, 'misalignment_rad': 0.1}
    """

    depolarizing_prob: float = 0.0
    misalignment_rad: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(
            self,
            "depolarizing_prob",
            check_probability(self.depolarizing_prob, "depolarizing_prob"),
        )
        object.__setattr__(
            self, "misalignment_rad", check_real(self.misalignment_rad, "misalignment_rad")
        )

    @property
    def flip_probability(self) -> float:
        """Probability that a Z- or X-basis BB84 state arrives flipped.

        See :func:`arm_error_probability`.
        """
        return arm_error_probability(
            depolarizing_prob=self.depolarizing_prob, misalignment_rad=self.misalignment_rad
        )

    @property
    def rotation_only(self) -> ArmNoise:
        """The same arm without its depolarisation: the part that goes into the circuits."""
        return ArmNoise(misalignment_rad=self.misalignment_rad)

    def to_dict(self) -> dict[str, float]:
        """JSON-ready record of the two fields (stored in result metadata)."""
        return {
            "depolarizing_prob": self.depolarizing_prob,
            "misalignment_rad": self.misalignment_rad,
        }

    def apply(
        self, circuit: QuantumCircuit, qubit: Qubit | int, *, explicit_channels: bool
    ) -> None:
        """Append this arm's noise to ``qubit`` of ``circuit`` (in place).

        The misalignment is appended as ``RY(2 theta)`` labelled ``misalignment``; the
        depolarising channel, when ``explicit_channels`` is true, as an Aer ``QuantumError``
        instruction labelled ``depolarizing``. Circuits with that instruction run on Aer only.

        Parameters
        ----------
        circuit : QuantumCircuit
            Circuit to append to.
        qubit : qiskit.circuit.Qubit or int
            The photon's qubit.
        explicit_channels : bool
            Append the depolarising channel as an instruction (otherwise only the rotation).
        """
        if self.misalignment_rad != 0.0:
            circuit.ry(2.0 * self.misalignment_rad, qubit, label="misalignment")
        if explicit_channels and self.depolarizing_prob > 0.0:
            from qiskit_aer.noise import depolarizing_error

            instruction = depolarizing_error(self.depolarizing_prob, 1).to_instruction()
            instruction.label = "depolarizing"
            circuit.append(instruction, [qubit])


NOISELESS = ArmNoise()
"""An arm without noise."""


def arm_error_probability(*, depolarizing_prob: float, misalignment_rad: float) -> float:
    """Flip probability of a BB84 state after misalignment then depolarisation.

    ``eps = (1 - p) sin^2(theta) + p/2``: the rotation ``RY(2 theta)`` flips a Z- or X-basis
    state with probability ``sin^2(theta)``, and the depolarised part is a fair coin.

    Parameters
    ----------
    depolarizing_prob : float
        Depolarising probability ``p`` in [0, 1].
    misalignment_rad : float
        Polarisation rotation ``theta`` in radians.

    Returns
    -------
    float
        The flip probability ``eps`` in [0, 1].

    Raises
    ------
    TypeError, ValueError
        If an argument is not a finite real number, or ``p`` is outside [0, 1].

    Examples
    --------
    >>> arm_error_probability(depolarizing_prob=0.1, misalignment_rad=0.0)
    0.05
    """
    p = check_probability(depolarizing_prob, "depolarizing_prob")
    theta = check_real(misalignment_rad, "misalignment_rad")
    return (1.0 - p) * math.sin(theta) ** 2 + p / 2.0


def combined_flip_probability(*, alice_flip_prob: float, bob_flip_prob: float) -> float:
    """Probability that exactly one of two independent flips occurs.

    The QBER of ideal MDI-QKD with independent per-arm flip probabilities is
    ``eps_a + eps_b - 2 eps_a eps_b``: an error is announced when the parity of the two
    arms' flips is odd. With equal depolarising arms (``eps = p/2``) this is ``p (1 - p/2)``.

    Parameters
    ----------
    alice_flip_prob, bob_flip_prob : float
        Flip probability of each arm, in [0, 1] (e.g. :attr:`ArmNoise.flip_probability`).

    Returns
    -------
    float
        Probability of an odd number of flips.

    Raises
    ------
    TypeError, ValueError
        If an argument is not a probability.

    Examples
    --------
    >>> combined_flip_probability(alice_flip_prob=0.01, bob_flip_prob=0.01)
    0.0198
    """
    eps_a = check_probability(alice_flip_prob, "alice_flip_prob")
    eps_b = check_probability(bob_flip_prob, "bob_flip_prob")
    return eps_a + eps_b - 2.0 * eps_a * eps_b


def check_arm(noise: ArmNoise, name: str) -> ArmNoise:
    """Return ``noise`` if it is an :class:`ArmNoise`, else raise ``TypeError`` naming ``name``."""
    if not isinstance(noise, ArmNoise):
        raise TypeError(f"{name}={noise!r} must be an ArmNoise, not {type(noise).__name__}")
    return noise


def split_arm_noise(noise: ArmNoise | tuple[ArmNoise, ArmNoise]) -> tuple[ArmNoise, ArmNoise]:
    """``(alice, bob)`` arms from one arm for both or a pair (the ``noise`` argument of MDI).

    Raises
    ------
    TypeError, ValueError
        If ``noise`` is neither an :class:`ArmNoise` nor a pair of them.
    """
    if isinstance(noise, (tuple, list)):
        if len(noise) != 2:
            raise ValueError(f"noise={noise!r} must be one ArmNoise or a pair (alice, bob)")
        return check_arm(noise[0], "noise[0]"), check_arm(noise[1], "noise[1]")
    noise = check_arm(noise, "noise")
    return noise, noise


def noise_per_party(
    noise: ArmNoise | Sequence[ArmNoise], n_parties: int, name: str = "noise"
) -> tuple[ArmNoise, ...]:
    """One :class:`ArmNoise` per party from one for all or a sequence of ``n_parties``.

    Raises
    ------
    TypeError, ValueError
        If ``noise`` is not an arm or a sequence of ``n_parties`` arms.
    """
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
