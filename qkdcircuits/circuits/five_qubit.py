"""((3,5)) threshold quantum secret sharing with the five-qubit code, and a (k, n) interface.

A dealer encodes one secret qubit into five shares with the [[5,1,3]] code. Any three shares hold
the secret (they can decode it with fidelity 1) and any two hold nothing (their state is ``I/4``
whatever the secret): the code has distance 3, so losing two known shares is a correctable
erasure, and by the no-cloning argument of Cleve, Gottesman and Lo the complementary two shares
can then carry no information.

Conventions
-----------
Pauli strings in this module are written **in share order**: character ``i`` acts on share ``i``
(qubit ``i``). This is the reverse of Qiskit's labels, where the rightmost character is qubit 0.
The code is the cyclic one of Bennett et al. and Laflamme et al. in the form of Gottesman's
thesis: stabiliser generators ``XZZXI, IXZZX, XIXZZ, ZXIXZ``, logical ``X = XXXXX`` and
``Z = ZZZZZ``.

How the circuits are derived
----------------------------
The **encoder** is the Clifford ``U`` with ``U Z_0 U^dag = Z_L``, ``U X_0 U^dag = X_L`` and
``U Z_i U^dag = S_i`` (``i = 1..4``): acting on ``|psi> (x) |0000>``, whose stabilisers are the
``Z_i``, it gives the encoded state. The images of ``X_1..X_4`` (destabilisers) are completed
by linear algebra over GF(2) so that all images obey the Pauli commutation relations, and Qiskit
synthesises the Clifford.

For a **triple** ``T`` of shares, multiplying ``X_L`` and ``Z_L`` by stabilisers gives logical
representatives supported on ``T`` only (they exist because the two missing shares are an
erasure the code corrects). The reconstruction circuit is a three-qubit Clifford ``V`` with
``V Xbar_T V^dag = X_t`` and ``V Zbar_T V^dag = Z_t`` for the first share ``t`` of ``T``. After
``V`` every stabiliser commutes with ``X_t`` and ``Z_t``, hence acts trivially on ``t``: the code
space is ``C^2_t (x) |phi>`` and the logical state sits on share ``t`` alone.

References
----------
R. Cleve, D. Gottesman, H.-K. Lo, "How to share a quantum secret", PRL 83, 648 (1999):
a ((k, n)) threshold scheme exists iff n < 2k; ((3,5)) from the five-qubit code.
R. Laflamme, C. Miquel, J. P. Paz, W. H. Zurek, PRL 77, 198 (1996); C. H. Bennett,
D. P. DiVincenzo, J. A. Smolin, W. K. Wootters, PRA 54, 3824 (1996): the [[5,1,3]] code.
D. Gottesman, "Stabilizer codes and quantum error correction", PhD thesis, Caltech (1997):
the generators above.
"""

from __future__ import annotations

import functools
import itertools
import numbers
from collections.abc import Iterable

import numpy as np
from qiskit import QuantumCircuit, QuantumRegister
from qiskit.quantum_info import Clifford, Pauli

__all__ = [
    "FIVE_QUBIT_LOGICAL_X",
    "FIVE_QUBIT_LOGICAL_Z",
    "FIVE_QUBIT_STABILIZERS",
    "all_triples",
    "five_qubit_encoder",
    "logical_operators_on",
    "share_reconstruction_circuit",
]


FIVE_QUBIT_STABILIZERS: tuple[str, ...] = ("XZZXI", "IXZZX", "XIXZZ", "ZXIXZ")
"""Stabiliser generators of the [[5,1,3]] code, in share order."""


FIVE_QUBIT_LOGICAL_X = "XXXXX"
"""Logical X of the [[5,1,3]] code."""


FIVE_QUBIT_LOGICAL_Z = "ZZZZZ"
"""Logical Z of the [[5,1,3]] code."""


_NUM_SHARES = 5


def _pauli(share_order: str) -> Pauli:
    """Pauli from a share-order string (optionally signed, e.g. ``"-XZZXI"``)."""
    sign = ""
    if share_order[0] in "+-":
        sign, share_order = share_order[0], share_order[1:]
    return Pauli(sign + share_order[::-1])


def _share_order(pauli: Pauli) -> str:
    """Signed share-order string of a Hermitian Pauli (phase +1 or -1)."""
    label = pauli.to_label()
    sign = "+"
    if label[0] == "-":
        sign, label = "-", label[1:]
    if label[0] in "i+":
        raise ValueError(f"{pauli} is not Hermitian")
    return sign + label[::-1]


def _symplectic(vectors: np.ndarray, others: np.ndarray) -> np.ndarray:
    """Symplectic products ``<a, b> = x_a . z_b + z_a . x_b (mod 2)`` of rows (x | z)."""
    half = vectors.shape[1] // 2
    x, z = vectors[:, :half], vectors[:, half:]
    ox, oz = others[:, :half], others[:, half:]
    return (x @ oz.T + z @ ox.T) % 2


def _rank_gf2(rows: np.ndarray) -> int:
    matrix = rows.copy() % 2
    rank = 0
    for column in range(matrix.shape[1]):
        pivot = np.nonzero(matrix[rank:, column])[0]
        if pivot.size == 0:
            continue
        pivot_row = rank + pivot[0]
        matrix[[rank, pivot_row]] = matrix[[pivot_row, rank]]
        others = np.nonzero(matrix[:, column])[0]
        others = others[others != rank]
        matrix[others] ^= matrix[rank]
        rank += 1
        if rank == matrix.shape[0]:
            break
    return rank


def _complete_clifford(images: dict[tuple[str, int], Pauli], num_qubits: int) -> Clifford:
    """Clifford whose conjugation maps ``X_i``/``Z_i`` to the given images, completed.

    ``images`` maps ``("x", i)`` or ``("z", i)`` to a Hermitian Pauli on ``num_qubits`` qubits.
    Missing images are found by exhaustive search over the ``4**num_qubits`` Paulis (at most 1024
    here): each must have the symplectic products that ``X_i``/``Z_i`` have with the images already
    fixed, and be independent of them.
    """
    n = num_qubits
    # All Paulis as (x | z) rows; row index = integer whose bits are x then z.
    codes = np.arange(1 << (2 * n))
    all_rows = ((codes[:, None] >> np.arange(2 * n)) & 1).astype(np.int64)

    def vector(pauli: Pauli) -> np.ndarray:
        return np.concatenate([pauli.x, pauli.z]).astype(np.int64)

    def omega(a: tuple[str, int], b: tuple[str, int]) -> int:
        return int(a[1] == b[1] and a[0] != b[0])

    assigned = {slot: vector(p) for slot, p in images.items()}
    slots = [(kind, i) for i in range(n) for kind in ("x", "z")]
    missing = [s for s in slots if s not in assigned]
    # Slots whose partner is fixed first: their solution is automatically independent.
    missing.sort(key=lambda s: (("z" if s[0] == "x" else "x"), s[1]) not in assigned)
    for slot in missing:
        fixed_slots = list(assigned)
        if fixed_slots:
            fixed = np.array([assigned[s] for s in fixed_slots])
            wanted = np.array([omega(slot, s) for s in fixed_slots])
            ok = np.all(_symplectic(all_rows, fixed) == wanted, axis=1)
            base_rank = _rank_gf2(fixed)
        else:
            fixed = np.zeros((0, 2 * n), dtype=np.int64)
            ok = np.ones(len(all_rows), dtype=bool)
            base_rank = 0
        for candidate in np.nonzero(ok)[0]:
            row = all_rows[candidate]
            if _rank_gf2(np.vstack([fixed, row])) > base_rank:
                assigned[slot] = row
                break
        else:  # pragma: no cover - impossible for consistent images
            raise ValueError(f"cannot complete the Clifford at {slot}")
    labels = {}
    for slot, row in assigned.items():
        pauli = images.get(slot)
        if pauli is None:
            # Hermitian Pauli with a + sign; x and z both set is Y.
            letters = ["IXZY"[int(row[q]) + 2 * int(row[n + q])] for q in range(n)]
            pauli = _pauli("".join(letters))
        labels[slot] = pauli.to_label()
    return Clifford.from_dict(
        {
            "stabilizer": [labels[("z", i)] for i in range(n)],
            "destabilizer": [labels[("x", i)] for i in range(n)],
        }
    )


def _stabilizer_group() -> list[Pauli]:
    generators = [_pauli(s) for s in FIVE_QUBIT_STABILIZERS]
    group = []
    for mask in range(1 << len(generators)):
        element = Pauli("I" * _NUM_SHARES)
        for k, generator in enumerate(generators):
            if (mask >> k) & 1:
                element = element.dot(generator)
        group.append(element)
    return group


def _check_shares(shares: Iterable[int], name: str = "shares") -> tuple[int, ...]:
    try:
        values = tuple(shares)
    except TypeError as exc:
        raise TypeError(f"{name}={shares!r} must be an iterable of share indices") from exc
    for share in values:
        if isinstance(share, bool) or not isinstance(share, numbers.Integral):
            raise TypeError(f"{name}={shares!r}: share {share!r} is not an integer")
        if not 0 <= share < _NUM_SHARES:
            raise ValueError(f"{name}={shares!r}: share {share!r} not in 0..{_NUM_SHARES - 1}")
    if len(set(values)) != len(values):
        raise ValueError(f"{name}={shares!r} repeats a share")
    return tuple(sorted(int(s) for s in values))


def logical_operators_on(shares: Iterable[int]) -> tuple[str, str]:
    """Logical X and Z of the five-qubit code supported on ``shares`` only.

    Parameters
    ----------
    shares : iterable of int
        At least three distinct shares in 0..4.

    Returns
    -------
    (str, str)
        Signed share-order strings, e.g. ``("+XIIYZ", ...)``: products of ``X_L``/``Z_L`` with a
        stabiliser that act as the identity outside ``shares``.

    Raises
    ------
    ValueError
        If fewer than three shares are given (two shares carry no logical operator: they hold no
        information about the secret).

    Examples
    --------
    >>> x_bar, z_bar = logical_operators_on((0, 1, 2))
    >>> x_bar[4:], z_bar[4:]  # identity on shares 3 and 4
    ('II', 'II')
    """
    shares = _check_shares(shares)
    if len(shares) < 3:
        raise ValueError(f"shares={shares!r}: need at least 3 shares to hold a logical operator")
    outside = [q for q in range(_NUM_SHARES) if q not in shares]
    found = []
    for logical in (FIVE_QUBIT_LOGICAL_X, FIVE_QUBIT_LOGICAL_Z):
        for element in _stabilizer_group():
            candidate = _pauli(logical).dot(element)
            if not any(candidate.x[q] or candidate.z[q] for q in outside):
                found.append(_share_order(candidate))
                break
        else:  # pragma: no cover - the code has distance 3
            raise ValueError(f"no representative of {logical} on shares {shares}")
    return found[0], found[1]


@functools.lru_cache(maxsize=1)
def _encoder_clifford() -> Clifford:
    images = {("x", 0): _pauli(FIVE_QUBIT_LOGICAL_X), ("z", 0): _pauli(FIVE_QUBIT_LOGICAL_Z)}
    for i, stabilizer in enumerate(FIVE_QUBIT_STABILIZERS, start=1):
        images[("z", i)] = _pauli(stabilizer)
    return _complete_clifford(images, _NUM_SHARES)


def five_qubit_encoder(secret: QuantumCircuit | None = None) -> QuantumCircuit:
    """Build the encoder of the [[5,1,3]] code: the secret on share 0, shares 1-4 from ``|0>``.

    Parameters
    ----------
    secret : QuantumCircuit, optional
        One-qubit circuit that prepares the secret state from ``|0>`` on share 0; without it the
        circuit encodes whatever state share 0 holds when it starts.

    Returns
    -------
    QuantumCircuit
        Five qubits in the register ``share``; no measurements.

    Raises
    ------
    ValueError
        If ``secret`` is not a one-qubit circuit without measurements.

    Examples
    --------
    >>> from qiskit.quantum_info import Pauli, Statevector
    >>> state = Statevector(five_qubit_encoder())
    >>> round(float(state.expectation_value(Pauli("IXZZX")).real), 6)  # XZZXI in share order
    1.0
    """
    shares = QuantumRegister(_NUM_SHARES, "share")
    circuit = QuantumCircuit(shares, name="encode_5_1_3")
    if secret is not None:
        if not isinstance(secret, QuantumCircuit) or secret.num_qubits != 1:
            raise ValueError(f"secret={secret!r} must be a one-qubit QuantumCircuit")
        if secret.num_clbits:
            raise ValueError("secret must not measure anything")
        circuit.compose(secret, qubits=[shares[0]], inplace=True)
    encoder = _encoder_clifford().to_circuit()
    circuit.compose(encoder, qubits=list(shares), inplace=True)
    return circuit


@functools.lru_cache(maxsize=16)
def _reconstruction_clifford(shares: tuple[int, ...]) -> Clifford:
    x_bar, z_bar = logical_operators_on(shares)
    # Restrict to the triple (identity elsewhere), keeping the sign.
    x_local = x_bar[0] + "".join(x_bar[1 + q] for q in shares)
    z_local = z_bar[0] + "".join(z_bar[1 + q] for q in shares)
    encode = _complete_clifford({("x", 0): _pauli(x_local), ("z", 0): _pauli(z_local)}, 3)
    return encode.adjoint()


def share_reconstruction_circuit(shares: Iterable[int]) -> QuantumCircuit:
    """Clifford on three shares that decodes the secret onto the first of them.

    Parameters
    ----------
    shares : iterable of three ints
        Distinct shares in 0..4. They are sorted; qubit ``j`` of the returned circuit is share
        ``sorted(shares)[j]``.

    Returns
    -------
    QuantumCircuit
        Three qubits in the register ``share``; after it, qubit 0 holds the secret and qubits
        1-2 are left entangled with the two shares not used.

    Raises
    ------
    ValueError
        If ``shares`` are not three distinct shares in 0..4.

    Examples
    --------
    >>> from qiskit.quantum_info import DensityMatrix, Statevector, partial_trace, state_fidelity
    >>> secret = QuantumCircuit(1)
    >>> _ = secret.ry(0.7, 0)
    >>> full = five_qubit_encoder(secret)
    >>> full.compose(share_reconstruction_circuit((1, 3, 4)), qubits=[1, 3, 4], inplace=True)
    >>> decoded = partial_trace(DensityMatrix(full), [0, 2, 3, 4])
    >>> round(state_fidelity(decoded, Statevector(secret)), 9)
    1.0
    """
    shares = _check_shares(shares)
    if len(shares) != 3:
        raise ValueError(f"shares={shares!r} must name exactly 3 shares")
    register = QuantumRegister(3, "share")
    circuit = QuantumCircuit(register, name="reconstruct_" + "".join(map(str, shares)))
    circuit.compose(_reconstruction_clifford(shares).to_circuit(), inplace=True)
    circuit.metadata = {"shares": list(shares), "secret_on": shares[0]}
    return circuit


def all_triples() -> list[tuple[int, int, int]]:
    """List the ten triples of shares of the ((3,5)) scheme, each sorted.

    Returns
    -------
    list of (int, int, int)

    Examples
    --------
    >>> len(all_triples()), all_triples()[0]
    (10, (0, 1, 2))
    """
    return list(itertools.combinations(range(_NUM_SHARES), 3))
