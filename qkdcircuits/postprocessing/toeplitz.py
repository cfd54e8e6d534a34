"""Privacy amplification by Toeplitz hashing, with an exact FFT implementation.

An ``m x n`` binary Toeplitz matrix is fixed by ``n + m - 1`` seed bits ``s``; this module uses
``T[i, j] = s[i - j + n - 1]`` (first row ``s[n-1], s[n-2], ..., s[0]``, first column
``s[n-1], ..., s[n+m-2]``). The hash of an ``n``-bit string ``x`` is ``y = T x (mod 2)``, i.e.
``y[i] = sum_j s[i - j + n - 1] x[j]``: a slice of the integer convolution ``s * x``, taken mod 2.

The convolution is computed with real FFTs in a uniformly partitioned (overlap-save) scheme: the
input is cut into chunks and the output into blocks of at most ``tile`` bits, the products of
all chunks with one output block are summed in the frequency domain, and each block is
transformed back once, so the number of transforms grows linearly with the key length. Every
output value is an integer of at most ``n``; the double-precision FFT error is of order
``eps_machine log2(2 tile) n`` (about ``2e-9`` at ``n = 10^6``, ``2e-6`` at ``n = 10^9``), far
below 1/2. Each value is rounded, checked to be within 0.25 of an integer, and reduced mod 2, so
the result equals the matrix product exactly.

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
from qkdcircuits.postprocessing._checks import check_epsilon, out_of_memory

__all__ = [
    "leftover_hash_length",
    "privacy_amplification",
    "secret_key_length",
    "toeplitz_hash",
    "toeplitz_hash_naive",
    "toeplitz_matrix",
]

_MATRIX_LIMIT_BYTES = 1 << 31
"""Largest explicit matrix :func:`toeplitz_matrix` builds (it needs 9 bytes per entry)."""

DEFAULT_TILE = 1 << 20
"""Partition size (bits) of the FFT convolution: transforms of length about ``2**21``."""


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
    """Build the ``m x n`` Toeplitz matrix ``T[i, j] = seed_bits[i - j + n - 1]`` (``uint8``).

    Parameters
    ----------
    seed_bits : numpy.ndarray
        ``n + m - 1`` bits.
    n : int
        Columns (input length).
    m : int
        Rows (output length).

    Returns
    -------
    numpy.ndarray
        The ``(m, n)`` matrix.

    Raises
    ------
    ValueError
        If ``seed_bits`` does not hold ``n + m - 1`` bits or a size is not positive.
    MemoryError
        If the matrix would take more than 2 GiB (9 bytes per entry while it is built).

    Examples
    --------
    >>> import numpy as np
    >>> toeplitz_matrix(np.array([1, 0, 0, 1], dtype=np.uint8), 2, 3).tolist()
    [[0, 1], [0, 0], [1, 0]]
    """
    n = check_positive_int(n, "n")
    m = check_positive_int(m, "m")
    seed = check_bits(seed_bits, "seed_bits")
    if seed.size != n + m - 1:
        raise ValueError(f"seed_bits has {seed.size} bits, need n + m - 1 = {n + m - 1}")
    if 9 * m * n > _MATRIX_LIMIT_BYTES:
        raise out_of_memory(
            f"an explicit {m} x {n} Toeplitz matrix",
            9 * m * n,
            "use toeplitz_hash, which multiplies by the matrix without building it",
        )
    i = np.arange(m)[:, None]
    j = np.arange(n)[None, :]
    return seed[i - j + n - 1]


def toeplitz_hash_naive(bits: np.ndarray, seed_bits: np.ndarray, output_length: int) -> np.ndarray:
    """Hash by building the matrix and multiplying (reference; ``O(m n)`` memory and time).

    Use :func:`toeplitz_hash` for real key lengths.

    Parameters
    ----------
    bits : numpy.ndarray
        The ``n`` input bits.
    seed_bits : numpy.ndarray
        ``n + m - 1`` matrix seed bits.
    output_length : int
        ``m``.

    Returns
    -------
    numpy.ndarray
        ``T x mod 2`` (``uint8``).

    Raises
    ------
    ValueError
        If ``seed_bits`` does not hold ``n + m - 1`` bits.

    Examples
    --------
    >>> import numpy as np
    >>> s = np.array([1, 0, 0, 1], dtype=np.uint8)
    >>> toeplitz_hash_naive(np.array([1, 1], dtype=np.uint8), s, 3).tolist()
    [1, 0, 1]
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
    """Toeplitz hash ``T x mod 2`` of ``bits`` by exact, partitioned FFT convolution.

    Parameters
    ----------
    bits : numpy.ndarray
        The ``n`` input bits.
    seed_bits : numpy.ndarray
        ``n + m - 1`` bits defining the matrix (see the module docstring for the layout).
    output_length : int
        ``m``, the number of output bits.
    tile : int
        Partition size (bits): the input is cut into chunks and the output into blocks of at
        most ``tile`` bits; each transform has length about ``2 tile``.

    Returns
    -------
    numpy.ndarray
        ``m`` bits (``uint8``), equal to :func:`toeplitz_hash_naive`.

    Raises
    ------
    ValueError
        If ``seed_bits`` does not hold ``n + m - 1`` bits, or an argument is not a bit array.
    RuntimeError
        If an output's FFT value is not within 0.25 of an integer (cannot happen for any key
        that fits in memory; the check makes exactness a verified property).
    MemoryError
        If the inputs and spectra do not fit: the message gives the estimate and what to do.

    Notes
    -----
    Cost: ``ceil(n / tile)`` transforms of the input chunks, one per distinct diagonal of
    the block partition (``ceil(n / tile) + ceil(m / tile) - 1``) and ``ceil(m / tile)``
    inverse transforms: ``O((n + m) log tile)``, linear in the key length, plus
    ``n m / tile`` complex multiply-adds for the spectra (a few seconds at ``n = m = 10^8``).
    Memory: the spectra of the output blocks and of the seed segments still needed, about
    ``32 m`` bytes when ``m > tile`` and ``O(tile)`` otherwise, plus ``n + m`` bytes of padded
    inputs.

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
    if m == 0 or n == 0:
        return np.zeros(m, dtype=np.uint8)
    try:
        return _partitioned_hash(x, seed, m, tile)
    except MemoryError as exc:
        raise out_of_memory(
            f"a Toeplitz hash of {n} to {m} bits",
            2.0 * (n + m) + (32.0 * m if m > tile else 0.0) + 64.0 * tile,
            "distil the sifted key in smaller blocks (e.g. 10^7 bits per distill_key run, "
            "each with its own parameter estimation)",
        ) from exc


def _partitioned_hash(x: np.ndarray, seed: np.ndarray, m: int, tile: int) -> np.ndarray:
    """Compute the partitioned overlap-save product of :func:`toeplitz_hash` (checked inputs)."""
    n = x.size
    cols, rows = min(tile, n), min(tile, m)  # input chunk and output block sizes
    n_chunks, n_blocks = -(-n // cols), -(-m // rows)
    length = sp_fft.next_fast_len(rows + cols - 1, real=True)
    # Zero padding makes every chunk and block full-sized: x gets zeros after its end; the seed
    # gets as many zeros in front (so that y[i] = sum_j s'[i - j + n_chunks cols - 1] x'[j]) and
    # enough behind for the last output block.
    front = n_chunks * cols - n
    padded_x = np.zeros(n_chunks * cols, dtype=np.uint8)
    padded_x[:n] = x
    padded_seed = np.zeros(n_blocks * rows + n_chunks * cols - 1, dtype=np.uint8)
    padded_seed[front : front + seed.size] = seed
    # Block (r, c) needs the seed segment starting at r rows + (n_chunks - 1 - c) cols: blocks on
    # one diagonal share it, so its spectrum is computed once and dropped when no later chunk
    # needs it. The products of one output block are summed in the frequency domain and
    # transformed back once (overlap-save: the slice [cols - 1, cols - 1 + rows) of a circular
    # convolution of length >= rows + cols - 1 is free of wrap-around).
    accumulators = [np.zeros(length // 2 + 1, dtype=np.complex128) for _ in range(n_blocks)]
    segment_spectra: dict[int, np.ndarray] = {}
    for c in range(n_chunks):
        chunk_spectrum = sp_fft.rfft(padded_x[c * cols : (c + 1) * cols], length)
        for r in range(n_blocks):
            start = r * rows + (n_chunks - 1 - c) * cols
            spectrum = segment_spectra.get(start)
            if spectrum is None:
                segment = padded_seed[start : start + rows + cols - 1]
                spectrum = segment_spectra[start] = sp_fft.rfft(segment, length)
            accumulators[r] += spectrum * chunk_spectrum
        last_needed = (n_blocks - 1) * rows + (n_chunks - 2 - c) * cols
        for start in [key for key in segment_spectra if key > last_needed]:
            del segment_spectra[start]
    out = np.empty(n_blocks * rows, dtype=np.uint8)
    for r, accumulated in enumerate(accumulators):
        values = sp_fft.irfft(accumulated, length)[cols - 1 : cols - 1 + rows]
        rounded = np.rint(values)
        if np.max(np.abs(values - rounded)) >= 0.25:
            raise RuntimeError(
                f"FFT round-off too large for tile={tile}; use a smaller tile"
            )  # pragma: no cover - guarded by the error analysis in the module docstring
        out[r * rows : (r + 1) * rows] = rounded.astype(np.int64) & 1
        accumulators[r] = accumulated[:0]  # release the spectrum
    return out[:m].copy()


def leftover_hash_length(*, min_entropy_bits: float, epsilon: float) -> int:
    """Output length ``floor(H_min - 2 log2(1/epsilon))`` of the leftover hash lemma (>= 0).

    Hashing with a universal_2 family to this many bits leaves the output ``epsilon``-close
    (trace distance) to a uniform key independent of the adversary's (quantum) side information.

    Parameters
    ----------
    min_entropy_bits : float
        (Smooth) min-entropy of the input given the adversary, in bits (>= 0).
    epsilon : float
        Security parameter, in (0, 1): 0 is unreachable and 1 guarantees nothing.

    Returns
    -------
    int
        The output length in bits.

    Raises
    ------
    ValueError
        If ``min_entropy_bits`` is negative or ``epsilon`` is outside (0, 1).

    References
    ----------
    M. Tomamichel, C. Schaffner, A. Smith, R. Renner, IEEE Trans. Inf. Theory 57, 5524 (2011),
    Eq. (4).

    Examples
    --------
    >>> leftover_hash_length(min_entropy_bits=1000.0, epsilon=2.0**-20)
    960
    """
    h_min = check_non_negative(min_entropy_bits, "min_entropy_bits")
    epsilon = check_epsilon(epsilon, "epsilon")
    return max(0, math.floor(h_min - 2.0 * math.log2(1.0 / epsilon)))


def secret_key_length(
    *, n: int, phase_error_rate: float, leaked_bits: float, epsilon: float
) -> int:
    """Compute the final key length after privacy amplification.

    ``l = floor(n (1 - H2(e_ph)) - leaked - 2 log2(1/epsilon))``, clipped at 0: the uncertainty
    relation bound on the smooth min-entropy of an ``n``-bit key whose phase-error rate is at most
    ``e_ph`` (Tomamichel et al., Nat. Commun. 3, 634 (2012), Eq. (2)), minus everything disclosed
    during error correction and verification, minus the leftover-hash-lemma penalty.

    ``e_ph`` must be an upper bound that holds except with a small probability ``eps_PE``, e.g.
    :func:`~qkdcircuits.postprocessing.estimation.phase_error_upper_bound` on an X-basis test
    sample; the sampling correction is then inside ``e_ph``.

    Parameters
    ----------
    n : int
        Length of the reconciled key in bits.
    phase_error_rate : float
        Upper bound ``e_ph`` on its phase-error rate, in [0, 1] (0 key bits at 1/2 or more).
    leaked_bits : float
        Bits disclosed by error correction and verification.
    epsilon : float
        Privacy-amplification security parameter, in (0, 1).

    Returns
    -------
    int
        The final key length in bits (>= 0).

    Raises
    ------
    TypeError
        If ``n`` is not an integer.
    ValueError
        If an argument is out of range.

    References
    ----------
    M. Tomamichel, C. C. W. Lim, N. Gisin, R. Renner, Nat. Commun. 3, 634 (2012), Eq. (2);
    M. Tomamichel, C. Schaffner, A. Smith, R. Renner, IEEE Trans. Inf. Theory 57, 5524 (2011).

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
    epsilon = check_epsilon(epsilon, "epsilon")
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
        Final length, e.g. from :func:`secret_key_length`; at most the input length (hashing
        cannot create secret bits).
    seed : int, numpy.random.Generator or None
        Randomness for the public matrix seed (ignored when ``seed_bits`` is given). The seed
        is public; it must only be chosen independently of the key.
    seed_bits : numpy.ndarray, optional
        The ``n + m - 1`` matrix seed, when it was agreed beforehand (Bob uses Alice's).

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        The final key and the matrix seed bits (public; send them to the other party).

    Raises
    ------
    TypeError
        If ``output_length`` is not an integer.
    ValueError
        If ``output_length`` is negative or exceeds the input length, or ``seed_bits`` has the
        wrong length.

    Examples
    --------
    >>> import numpy as np
    >>> key = np.random.default_rng(1).integers(0, 2, 1000, dtype=np.uint8)
    >>> final, public_seed = privacy_amplification(key, output_length=400, seed=2)
    >>> final.size, public_seed.size
    (400, 1399)
    """
    x = check_bits(bits, "bits")
    output_length = _check_output_length(output_length)
    if output_length > x.size:
        raise ValueError(
            f"output_length={output_length} exceeds the {x.size} input bits: privacy "
            "amplification can only shorten a key"
        )
    if seed_bits is None:
        seed_bits = (
            random_bits(as_generator(seed), x.size + output_length - 1)
            if output_length
            else np.zeros(0, dtype=np.uint8)
        )
    seed_bits = check_bits(seed_bits, "seed_bits")
    return toeplitz_hash(x, seed_bits, output_length), seed_bits
