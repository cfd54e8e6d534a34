"""Who learns what in quantum secret sharing (no Qiskit).

**HBB99** (M. Hillery, V. Buzek, A. Berthiaume, PRA 59, 1829 (1999)). Every party measures its
GHZ qubit in X or Y. With ``k`` parties measuring Y, GHZ is an eigenstate of ``X^(n-k) Y^k`` iff
``k`` is even, with eigenvalue ``(-1)^(k/2)``: such rounds are kept and the XOR of all bits is
``(k/2) mod 2`` (three parties: XXX gives ``a = b XOR c``; XYY, YXY, YYX give
``a = b XOR c XOR 1``); rounds with odd ``k`` are discarded. :func:`hbb_qber_from_table` and
:func:`hbb_depolarized_qber` give the dealer-vs-players QBER, :func:`coalition_information` the
exact information a coalition of players holds about the dealer's bit.

**Threshold sharing** (R. Cleve, D. Gottesman, H.-K. Lo, PRL 83, 648 (1999)). A ((k, n))
quantum threshold scheme exists iff ``n < 2k``; :class:`ThresholdScheme` answers which node sets
can reconstruct, and builds the ((3, 5)) circuits of :mod:`qkdcircuits.circuits.five_qubit`
(importing Qiskit only then).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from qkdcircuits._validation import check_positive_int, check_probability

if TYPE_CHECKING:
    from qiskit import QuantumCircuit

__all__ = [
    "MAX_PARTIES",
    "ThresholdScheme",
    "coalition_information",
    "hbb_depolarized_qber",
    "hbb_qber_from_table",
]


MAX_PARTIES = 12
"""Largest number of parties (the engine holds a ``2**n x 2**n`` table)."""


def check_parties(n_parties: int, name: str = "n_parties") -> int:
    """Return ``n_parties`` as an int after checking it lies in 2..:data:`MAX_PARTIES`."""
    n_parties = check_positive_int(n_parties, name)
    if not 2 <= n_parties <= MAX_PARTIES:
        raise ValueError(f"{name}={n_parties!r} not in 2..{MAX_PARTIES}")
    return n_parties


def popcount_table(n_bits: int) -> np.ndarray:
    """Count the set bits of every integer below ``2**n_bits``."""
    values = np.arange(1 << n_bits)
    counts = np.zeros(values.size, dtype=np.int64)
    for i in range(n_bits):
        counts += (values >> i) & 1
    return counts


def kept_and_offset(n_parties: int) -> tuple[np.ndarray, np.ndarray]:
    """Per setting: kept (even number of Y) and the parity offset ``(k/2) mod 2``."""
    y_count = popcount_table(n_parties)
    return y_count % 2 == 0, (y_count // 2) % 2


def error_lut(n_parties: int) -> np.ndarray:
    """``error[s, o]``: in kept setting ``s`` the players' reconstruction of outcome ``o`` fails."""
    _, offset = kept_and_offset(n_parties)
    parity = popcount_table(n_parties) % 2
    return (parity[None, :] ^ offset[:, None]).astype(bool)


def _table_parties(table: np.ndarray) -> tuple[np.ndarray, int]:
    table = np.asarray(table, dtype=float)
    n_parties = table.shape[0].bit_length() - 1 if table.ndim == 2 else 0
    if table.ndim != 2 or table.shape != (1 << n_parties, 1 << n_parties) or n_parties < 2:
        raise ValueError(
            f"table has shape {table.shape}; expected (2**n, 2**n) for n >= 2 parties "
            "(from hbb_outcome_table)"
        )
    return table, n_parties


def hbb_qber_from_table(table: np.ndarray) -> float:
    """Exact QBER (dealer bit vs players' reconstruction) over the kept settings of a table.

    Settings are chosen uniformly, so the kept settings are equally likely.

    Parameters
    ----------
    table : numpy.ndarray
        Shape ``(2**n, 2**n)``, from :func:`qkdcircuits.engine.hbb.hbb_outcome_table`.

    Returns
    -------
    float
        Probability that the players' reconstruction differs from the dealer's bit.

    Raises
    ------
    ValueError
        If ``table`` does not have the shape of an n-party table.

    Examples
    --------
    >>> import numpy as np
    >>> hbb_qber_from_table(np.full((8, 8), 1 / 8))  # uncorrelated bits
    0.5
    """
    table, n_parties = _table_parties(table)
    kept, _ = kept_and_offset(n_parties)
    errors = (table * error_lut(n_parties)).sum(axis=1)
    return float(errors[kept].mean())


def hbb_depolarized_qber(
    *, depolarizing_probs: float | Sequence[float], n_parties: int = 3
) -> float:
    """Closed-form HBB QBER when each party's arm depolarises with probability ``p_i``.

    Each bit becomes a fair coin with probability ``p_i``, i.e. flips with ``p_i / 2``; the
    parity of independent flips is odd with probability ``(1 - prod_i (1 - p_i)) / 2``.

    Parameters
    ----------
    depolarizing_probs : float or sequence of float
        One depolarising probability for all ``n_parties`` arms, or one per arm (then
        ``n_parties`` is ignored); each in [0, 1].
    n_parties : int
        Dealer plus players (2..12) when one probability is given.

    Returns
    -------
    float
        The dealer-versus-players QBER of the kept rounds.

    Raises
    ------
    TypeError, ValueError
        If a probability is not a real number in [0, 1] or ``n_parties`` is out of range.

    Examples
    --------
    >>> round(hbb_depolarized_qber(depolarizing_probs=0.1, n_parties=3), 6)
    0.1355
    """
    if isinstance(depolarizing_probs, numbers.Real):
        probs = [depolarizing_probs] * check_parties(n_parties)
    else:
        probs = list(depolarizing_probs)
    probs = [check_probability(p, f"depolarizing_probs[{i}]") for i, p in enumerate(probs)]
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

    Returns
    -------
    float
        Mutual information in bits per kept round, in [0, 1].

    Raises
    ------
    ValueError
        If ``table`` has the wrong shape or a member is not a player.

    Examples
    --------
    >>> from qkdcircuits import hbb_outcome_table
    >>> table = hbb_outcome_table(n_parties=3)
    >>> round(coalition_information(table, [1, 2]), 9), round(coalition_information(table, [1]), 9)
    (1.0, 0.0)
    """
    table, n_parties = _table_parties(table)
    members = sorted(set(int(c) for c in coalition))
    for member in members:
        if not 1 <= member < n_parties:
            raise ValueError(f"coalition member {member!r} not a player in 1..{n_parties - 1}")
    kept, _ = kept_and_offset(n_parties)
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


_NUM_SHARES = 5


@dataclass(frozen=True)
class ThresholdScheme:
    """A ((k, n)) quantum threshold secret-sharing scheme: who can reconstruct the secret.

    Any ``k`` of the ``n`` shares reconstruct the secret qubit and any ``k - 1`` learn nothing.
    Such a scheme exists iff ``n < 2k`` (Cleve, Gottesman, Lo, PRL 83, 648 (1999)): two disjoint
    sets of ``k`` shares would otherwise both hold the secret, cloning it.

    Circuits are provided for ``k = 3``, ``n`` in {3, 4, 5}, from the five-qubit code (the dealer
    encodes five shares and keeps or discards the last ``5 - n``, which CGL show still gives a
    ((3, n)) scheme), and for the trivial ((1, 1)) scheme. Other ``(k, n)`` need qudit polynomial
    codes; for them only the classical questions (:meth:`can_reconstruct`) are answered.

    Parameters
    ----------
    k : int
        Threshold: the number of shares needed.
    n : int
        Number of shares (share holders).
    holders : tuple of hashable, optional
        Names of the share holders (e.g. network node ids); share ``i`` goes to ``holders[i]``.
        Without it, holders are the share indices ``0..n-1``.

    References
    ----------
    R. Cleve, D. Gottesman, H.-K. Lo, "How to share a quantum secret", Phys. Rev. Lett.
    83, 648 (1999).

    Examples
    --------
    >>> scheme = ThresholdScheme(k=3, n=5, holders=("a", "b", "c", "d", "e"))
    >>> scheme.can_reconstruct({"a", "c", "e"}), scheme.can_reconstruct({"b", "d"})
    (True, False)
    >>> scheme.reconstruction_circuit({"a", "c", "e"}).metadata["shares"]
    [0, 2, 4]
    """

    k: int
    n: int
    holders: tuple[Hashable, ...] | None = None

    def __post_init__(self) -> None:
        k = check_positive_int(self.k, "k")
        n = check_positive_int(self.n, "n")
        if k > n:
            raise ValueError(f"k={k} must not exceed n={n}")
        if not n < 2 * k:
            raise ValueError(
                f"n={n} must be < 2k={2 * k}: a ((k, n)) quantum threshold scheme with n >= 2k "
                "would let two disjoint groups hold the secret (no-cloning; Cleve-Gottesman-Lo)"
            )
        object.__setattr__(self, "k", k)
        object.__setattr__(self, "n", n)
        if self.holders is not None:
            holders = tuple(self.holders)
            if len(holders) != n:
                raise ValueError(f"holders={holders!r} must name exactly n={n} holders")
            if len(set(holders)) != n:
                raise ValueError(f"holders={holders!r} must be distinct")
            object.__setattr__(self, "holders", holders)

    @property
    def has_circuits(self) -> bool:
        """True when encoding and reconstruction circuits exist for this ``(k, n)``."""
        return (self.k == 3 and self.n <= _NUM_SHARES) or (self.k == 1 and self.n == 1)

    def share_indices(self, nodes: Iterable[Hashable]) -> tuple[int, ...]:
        """Return the sorted share indices held by ``nodes``.

        Parameters
        ----------
        nodes : hashable or iterable of hashable
            Share holders: names from ``holders``, or share indices ``0..n-1`` when the scheme
            has no ``holders``; one string counts as one node. Duplicates count once.

        Returns
        -------
        tuple of int
            The indices, sorted, each once.

        Raises
        ------
        ValueError
            If a node holds no share of this scheme (or is not an index ``0..n-1``).

        Examples
        --------
        >>> ThresholdScheme(k=3, n=5, holders=("a", "b", "c", "d", "e")).share_indices("ca")
        Traceback (most recent call last):
        ValueError: node 'ca' holds no share of this scheme
        >>> ThresholdScheme(k=3, n=5, holders=("a", "b", "c", "d", "e")).share_indices(["c", "a"])
        (0, 2)
        """
        if isinstance(nodes, (str, bytes)):
            nodes = [nodes]
        indices = set()
        for node in nodes:
            if self.holders is None:
                if (
                    isinstance(node, bool)
                    or not isinstance(node, numbers.Integral)
                    or not 0 <= node < self.n
                ):
                    raise ValueError(f"node {node!r} is not a share index in 0..{self.n - 1}")
                indices.add(int(node))
            else:
                try:
                    indices.add(self.holders.index(node))
                except ValueError:
                    raise ValueError(f"node {node!r} holds no share of this scheme") from None
        return tuple(sorted(indices))

    def can_reconstruct(self, nodes: Iterable[Hashable]) -> bool:
        """Tell whether the shares held by ``nodes`` reach the threshold ``k``.

        Parameters
        ----------
        nodes : hashable or iterable of hashable
            Share holders, as in :meth:`share_indices`.

        Returns
        -------
        bool
            ``True`` when ``nodes`` hold at least ``k`` distinct shares.

        Raises
        ------
        ValueError
            As :meth:`share_indices`.

        Examples
        --------
        >>> scheme = ThresholdScheme(k=3, n=5)
        >>> scheme.can_reconstruct([0, 1, 4]), scheme.can_reconstruct([0, 0, 1])
        (True, False)
        """
        return len(self.share_indices(nodes)) >= self.k

    def learns_nothing(self, nodes: Iterable[Hashable]) -> bool:
        """Tell whether ``nodes`` hold fewer than ``k`` shares, hence no information on the secret.

        Parameters
        ----------
        nodes : hashable or iterable of hashable
            Share holders, as in :meth:`share_indices`.

        Returns
        -------
        bool
            ``not can_reconstruct(nodes)``: in a ((k, n)) threshold scheme with ``n < 2k`` a
            set below the threshold learns nothing (Cleve, Gottesman and Lo, PRL 83, 648, 1999).

        Raises
        ------
        ValueError
            As :meth:`share_indices`.

        Examples
        --------
        >>> ThresholdScheme(k=3, n=5).learns_nothing([3, 4])
        True
        """
        return not self.can_reconstruct(nodes)

    def encoding_circuit(self, secret: QuantumCircuit | None = None) -> QuantumCircuit:
        """Build the dealer's encoder (five shares for k = 3; the last ``5 - n`` are kept back).

        Parameters
        ----------
        secret : qiskit.QuantumCircuit, optional
            A one-qubit circuit that prepares the secret on share 0 before encoding; without
            it the secret is whatever state share 0 holds.

        Returns
        -------
        qiskit.QuantumCircuit
            The encoder: one qubit for k = n = 1, five for k = 3.

        Raises
        ------
        NotImplementedError
            If no circuits exist for this ``(k, n)`` (see :attr:`has_circuits`).
        """
        self._require_circuits()
        from qiskit import QuantumCircuit, QuantumRegister

        from qkdcircuits.circuits.five_qubit import five_qubit_encoder

        if self.k == 1:
            circuit = QuantumCircuit(QuantumRegister(1, "share"), name="encode_1_1")
            if secret is not None:
                circuit.compose(secret, inplace=True)
            return circuit
        return five_qubit_encoder(secret)

    def reconstruction_circuit(self, nodes: Iterable[Hashable]) -> QuantumCircuit:
        """Build a circuit on ``k`` shares held by ``nodes`` that puts the secret on the first.

        The first ``k`` share indices (sorted) held by ``nodes`` are used; the circuit's
        ``metadata["shares"]`` lists them in qubit order.

        Parameters
        ----------
        nodes : hashable or iterable of hashable
            Share holders, as in :meth:`share_indices`.

        Returns
        -------
        qiskit.QuantumCircuit
            The reconstruction circuit on ``k`` qubits.

        Raises
        ------
        ValueError
            If ``nodes`` cannot reconstruct.
        NotImplementedError
            If no circuits exist for this ``(k, n)`` (see :attr:`has_circuits`).
        """
        indices = self.share_indices(nodes)
        if len(indices) < self.k:
            raise ValueError(
                f"nodes hold shares {list(indices)}: {len(indices)} < k={self.k} cannot reconstruct"
            )
        self._require_circuits()
        from qiskit import QuantumCircuit, QuantumRegister

        from qkdcircuits.circuits.five_qubit import share_reconstruction_circuit

        if self.k == 1:
            circuit = QuantumCircuit(QuantumRegister(1, "share"), name="reconstruct_0")
            circuit.metadata = {"shares": [0], "secret_on": 0}
            return circuit
        return share_reconstruction_circuit(indices[: self.k])

    def _require_circuits(self) -> None:
        if not self.has_circuits:
            raise NotImplementedError(
                f"no qubit circuits for a (({self.k}, {self.n})) scheme: they need qudit "
                "polynomial codes (Cleve-Gottesman-Lo); circuits exist for k=3, n<=5 and k=n=1"
            )
