"""Privacy amplification by Toeplitz hashing, with an exact FFT implementation.

An ``m x n`` binary Toeplitz matrix is fixed by ``n + m - 1`` seed bits ``s``; this module uses
``T[i, j] = s[i - j + n - 1]`` (first row ``s[n-1], s[n-2], ..., s[0]``, first column
``s[n-1], ..., s[n+m-2]``). The hash of an ``n``-bit string ``x`` is ``y = T x (mod 2)``, i.e.
``y[i] = sum_j s[i - j + n - 1] x[j]``: a slice of the integer convolution ``s * x``, taken mod 2.

The convolution is computed with real FFTs on tiles of at most ``tile`` output bits by ``tile``
input bits: every tile value is an integer of at most ``tile`` (not ``n``), so double-precision
round-off stays far below 1/2 for any key length (for a tile of ``2**20`` the FFT error is of
order ``1e-16 * 21 * 2**20 ~ 2e-9``); each tile is rounded, checked to be within 0.25 of an
integer, and reduced mod 2, so the result equals the matrix product exactly.

References
----------
J. L. Carter and M. N. Wegman, "Universal classes of hash functions", J. Comput. Syst. Sci. 18,
143 (1979); H. Krawczyk, "LFSR-based hashing and authentication", CRYPTO '94, LNCS 839, 129
(1994): Toeplitz hashing is universal_2, ``Pr[T x = T x'] = 2**-m`` for ``x != x'``.
R. Impagliazzo, L. A. Levin, M. Luby, STOC '89, 12 (1989); M. Tomamichel, C. Schaffner, A. Smith,
R. Renner, "Leftover hashing against quantum side information", IEEE Trans. Inf. Theory 57, 5524
(2011), Eq. (4): a universal_2 hash to ``l <= H_min - 2 log2(1/eps)`` bits gives an output
``eps``-close to uniform and independent of the eavesdropper.
M. Tomamichel, C. C. W. Lim, N. Gisin, R. Renner, "Tight finite-key analysis for quantum
cryptography", Nat. Commun. 3, 634 (2012), Eq. (2): ``H_min >= n (1 - H2(e_ph)) - leak_EC``.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import fft as sp_fft

from qkdcircuits._validation import (
    SeedLike,
    as_generator,
    check_non_negative,
    check_positive_int,
    check_probability,
)
from qkdcircuits.links.rates import binary_entropy
from qkdcircuits.postprocessing._bits import check_bits, random_bits

__all__ = [
    "leftover_hash_length",
    "privacy_amplification",
    "secret_key_length",
    "toeplitz_hash",
    "toeplitz_hash_naive",
    "toeplitz_matrix",
]

DEFAULT_TILE = 1 << 20
"""Largest tile side (bits) of the FFT convolution: values stay below 2**20, far from FFT error."""


def _check_output_length(output_length: int) -> int:
    if isinstance(output_length, bool) or not isinstance(output_length, int | np.integer):
        raise TypeError(f"output_length={output_length!r} must be an int")
    if output_length < 0:
        raise ValueError(f"output_length={output_length!r} must be >= 0")
    return int(output_length)


def _check_lengths(bits: np.ndarray, seed_bits: np.ndarray, output_length: int) -> int:
    output_length = _check_output_length(output_length)
    expected = bits.size + int(output_length) - 1
    if output_length and seed_bits.size != expected:
        raise ValueError(
            f"seed_bits has {seed_bits.size} bits; an {output_length} x {bits.size} Toeplitz "
            f"matrix needs n + m - 1 = {expected}"
        )
    return int(output_length)


def toeplitz_matrix(seed_bits: np.ndarray, n: int, m: int) -> np.ndarray:
    """The ``m x n`` Toeplitz matrix ``T[i, j] = seed_bits[i - j + n - 1]`` (``uint8``)."""
    n = check_positive_int(n, "n")
    m = check_positive_int(m, "m")
    seed = check_bits(seed_bits, "seed_bits")
    if seed.size != n + m - 1:
        raise ValueError(f"seed_bits has {seed.size} bits, need n + m - 1 = {n + m - 1}")
    i = np.arange(m)[:, None]
    j = np.arange(n)[None, :]
    return seed[i - j + n - 1]


def toeplitz_hash_naive(bits: np.ndarray, seed_bits: np.ndarray, output_length: int) -> np.ndarray:
    """Reference implementation: build the matrix and multiply (``O(m n)`` memory and time).

    Use :func:`toeplitz_hash` for real key lengths.
    """
    x = check_bits(bits, "bits")
    seed = check_bits(seed_bits, "seed_bits")
    m = _check_lengths(x, seed, output_length)
    if m == 0 or x.size == 0:
        return np.zeros(m, dtype=np.uint8)
    matrix = toeplitz_matrix(seed, x.size, m).astype(np.int64)
    return ((matrix @ x.astype(np.int64)) & 1).astype(np.uint8)


def toeplitz_hash(
    bits: np.ndarray, seed_bits: np.ndarray, output_length: int, *, tile: int = DEFAULT_TILE
) -> np.ndarray:
    """Toeplitz hash ``T x mod 2`` of ``bits`` by exact tiled FFT convolution.

    Parameters
    ----------
    bits : numpy.ndarray
        The ``n`` input bits.
    seed_bits : numpy.ndarray
        ``n + m - 1`` bits defining the matrix (see the module docstring for the layout).
    output_length : int
        ``m``, the number of output bits.
    tile : int
        Side of the square tiles (bits); each tile is one FFT of length about ``2 tile``.

    Returns
    -------
    numpy.ndarray
        ``m`` bits (``uint8``), equal to :func:`toeplitz_hash_naive`.

    Raises
    ------
    RuntimeError
        If a tile's FFT result is not within 0.25 of an integer (cannot happen for the default
        tile size; the check makes exactness a verified property rather than an assumption).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> x = rng.integers(0, 2, 300, dtype=np.uint8)
    >>> s = rng.integers(0, 2, 300 + 40 - 1, dtype=np.uint8)
    >>> bool(np.array_equal(toeplitz_hash(x, s, 40), toeplitz_hash_naive(x, s, 40)))
    True
    """
    x = check_bits(bits, "bits")
    seed = check_bits(seed_bits, "seed_bits")
    m = _check_lengths(x, seed, output_length)
    tile = check_positive_int(tile, "tile")
    n = x.size
    out = np.zeros(m, dtype=np.int64)
    if m == 0 or n == 0:
        return out.astype(np.uint8)
    xf = x.astype(np.float64)
    sf = seed.astype(np.float64)
    for c0 in range(0, n, tile):
        chunk = xf[c0 : c0 + tile]
        cols = chunk.size
        chunk_spectra: dict[int, np.ndarray] = {}  # one transform per FFT length, reused by rows
        for r0 in range(0, m, tile):
            rows = min(tile, m - r0)
            # y[r0 + a] += sum_b s[base + a - b + cols - 1] x[c0 + b]  (overlap-save: circular
            # convolution of length rows + cols - 1 leaves the wanted slice free of wrap-around)
            base = r0 - c0 + n - cols
            segment = sf[base : base + rows + cols - 1]
            length = sp_fft.next_fast_len(rows + cols - 1, real=True)
            if length not in chunk_spectra:
                chunk_spectra[length] = sp_fft.rfft(chunk, length)
            spectrum = sp_fft.rfft(segment, length) * chunk_spectra[length]
            values = sp_fft.irfft(spectrum, length)[cols - 1 : cols - 1 + rows]
            rounded = np.rint(values)
            if rows and np.max(np.abs(values - rounded)) >= 0.25:
                raise RuntimeError(
                    f"FFT round-off too large for tile={tile}; use a smaller tile"
                )  # pragma: no cover - guarded by the error analysis above
            out[r0 : r0 + rows] += rounded.astype(np.int64)
    return (out & 1).astype(np.uint8)


def leftover_hash_length(*, min_entropy_bits: float, epsilon: float) -> int:
    """Output length ``floor(H_min - 2 log2(1/epsilon))`` of the leftover hash lemma (>= 0).

    Tomamichel, Schaffner, Smith, Renner, IEEE Trans. Inf. Theory 57, 5524 (2011), Eq. (4): hashing
    with a universal_2 family to this many bits leaves the output ``epsilon``-close (trace
    distance) to a uniform key independent of the adversary's (quantum) side information.

    Examples
    --------
    >>> leftover_hash_length(min_entropy_bits=1000.0, epsilon=2.0**-20)
    960
    """
    h_min = check_non_negative(min_entropy_bits, "min_entropy_bits")
    epsilon = check_probability(epsilon, "epsilon")
    if epsilon == 0.0:
        raise ValueError("epsilon=0.0 must be > 0")
    return max(0, math.floor(h_min - 2.0 * math.log2(1.0 / epsilon)))


def secret_key_length(
    *, n: int, phase_error_rate: float, leaked_bits: float, epsilon: float
) -> int:
    """Final key length after privacy amplification.

    ``l = floor(n (1 - H2(e_ph)) - leaked - 2 log2(1/epsilon))``, clipped at 0: the uncertainty
    relation bound on the smooth min-entropy of an ``n``-bit key whose phase-error rate is at most
    ``e_ph`` (Tomamichel et al., Nat. Commun. 3, 634 (2012), Eq. (2)), minus everything disclosed
    during error correction and verification, minus the leftover-hash-lemma penalty.

    ``e_ph`` should be an upper confidence bound (e.g. from the X-basis QBER in BB84/MDI-QKD);
    this is the asymptotic-form bound evaluated at that bound, not a full composable finite-key
    analysis (which adds a sampling correction to ``e_ph``).

    Examples
    --------
    >>> secret_key_length(n=10_000, phase_error_rate=0.02, leaked_bits=1600, epsilon=1e-10)
    6919
    """
    if isinstance(n, bool) or not isinstance(n, int | np.integer):
        raise TypeError(f"n={n!r} must be an int (a number of bits)")
    n = int(check_non_negative(n, "n"))
    e_ph = check_probability(phase_error_rate, "phase_error_rate")
    leaked = check_non_negative(leaked_bits, "leaked_bits")
    if e_ph >= 0.5:
        return 0
    return leftover_hash_length(
        min_entropy_bits=max(0.0, n * (1.0 - binary_entropy(e_ph)) - leaked), epsilon=epsilon
    )


def privacy_amplification(
    bits: np.ndarray,
    *,
    output_length: int,
    seed: SeedLike = None,
    seed_bits: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Hash ``bits`` to ``output_length`` bits with a random Toeplitz matrix.

    Parameters
    ----------
    bits : numpy.ndarray
        The reconciled key.
    output_length : int
        Final length, e.g. from :func:`secret_key_length`.
    seed : int, numpy.random.Generator or None
        Randomness for the public matrix seed (ignored when ``seed_bits`` is given).
    seed_bits : numpy.ndarray, optional
        The ``n + m - 1`` matrix seed, when it was agreed beforehand (Bob uses Alice's).

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        The final key and the matrix seed bits (public; send them to the other party).
    """
    x = check_bits(bits, "bits")
    output_length = _check_output_length(output_length)
    if seed_bits is None:
        seed_bits = (
            random_bits(as_generator(seed), x.size + output_length - 1)
            if output_length
            else np.zeros(0, dtype=np.uint8)
        )
    seed_bits = check_bits(seed_bits, "seed_bits")
    return toeplitz_hash(x, seed_bits, output_length), seed_bits
