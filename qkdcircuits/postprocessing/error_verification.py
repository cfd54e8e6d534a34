"""Error verification: confirm the reconciled keys are identical with a universal hash.

Cascade may leave errors undetected (an even number in every block it checked). Alice picks a
random Toeplitz matrix (public), sends the ``tag_bits``-bit hash of her key, and Bob compares it
with the hash of his. Toeplitz hashing is universal_2, so two different keys collide with
probability exactly ``2**-tag_bits`` over the choice of matrix; this is the correctness parameter
``eps_cor`` of the protocol. The tag is disclosed, so its bits count as leaked.

References
----------
J. L. Carter and M. N. Wegman, J. Comput. Syst. Sci. 18, 143 (1979) (universal hashing);
M. Tomamichel, C. C. W. Lim, N. Gisin, R. Renner, Nat. Commun. 3, 634 (2012): error verification
with a universal_2 hash of ``log2(1/eps_cor)`` bits, counted in the leakage.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from qkdcircuits._validation import SeedLike, as_generator, check_positive_int
from qkdcircuits.postprocessing._bits import check_pair, random_bits
from qkdcircuits.postprocessing.toeplitz import toeplitz_hash

__all__ = ["ErrorVerificationResult", "verify_keys"]

DEFAULT_TAG_BITS = 64

_BYTES_PER_TAG_BIT = 35
"""Memory the Toeplitz hash takes per output bit (seed, padding, spectra), for error messages."""


@dataclass(frozen=True, eq=False)
class ErrorVerificationResult:
    """Outcome of :func:`verify_keys`.

    The tags are hashes of the keys and are disclosed (counted as leaked); they are left out of
    the repr all the same.

    Attributes
    ----------
    match : bool
        Whether Alice's and Bob's tags agree.
    tag_bits : int
        Length of the disclosed tag (bits leaked).
    failure_probability : float
        ``2**-tag_bits``: chance that different keys pass.
    alice_tag, bob_tag : numpy.ndarray
        The two tags (Alice's is sent over the public channel).
    seed_bits : numpy.ndarray
        The public Toeplitz seed.

    Examples
    --------
    >>> import numpy as np
    >>> key = np.ones(100, dtype=np.uint8)
    >>> verify_keys(key, key, tag_bits=16, seed=0).to_dict()
    {'match': True, 'tag_bits': 16, 'failure_probability': 1.52587890625e-05}
    """

    match: bool
    tag_bits: int
    failure_probability: float
    alice_tag: np.ndarray = field(repr=False)
    bob_tag: np.ndarray = field(repr=False)
    seed_bits: np.ndarray = field(repr=False)

    def to_dict(self) -> dict[str, object]:
        """JSON-ready summary.

        Returns
        -------
        dict
            ``match``, ``tag_bits`` and ``failure_probability``.
        """
        return {
            "match": self.match,
            "tag_bits": self.tag_bits,
            "failure_probability": self.failure_probability,
        }


def verify_keys(
    alice_bits: np.ndarray,
    bob_bits: np.ndarray,
    *,
    tag_bits: int = DEFAULT_TAG_BITS,
    seed: SeedLike = None,
) -> ErrorVerificationResult:
    """Compare Toeplitz hashes of Alice's and Bob's keys.

    Parameters
    ----------
    alice_bits, bob_bits : numpy.ndarray
        Reconciled keys of equal length (at least 1 bit).
    tag_bits : int
        Tag length, at most the key length (a longer tag would disclose the whole key); different
        keys pass with probability ``2**-tag_bits``.
    seed : int, numpy.random.Generator or None
        Randomness of the public hash seed.

    Returns
    -------
    ErrorVerificationResult
        The verdict, the tags and the public hash seed.

    Raises
    ------
    ValueError
        If the keys are empty or differ in length, or ``tag_bits`` is not positive or exceeds
        the key length (the message says how much memory such a hash would take).

    References
    ----------
    J. L. Carter, M. N. Wegman, J. Comput. Syst. Sci. 18, 143 (1979); M. Tomamichel et al.,
    Nat. Commun. 3, 634 (2012).

    Examples
    --------
    >>> import numpy as np
    >>> key = np.random.default_rng(0).integers(0, 2, 1000, dtype=np.uint8)
    >>> verify_keys(key, key, seed=1).match
    True
    >>> other = key.copy(); other[10] ^= 1
    >>> verify_keys(key, other, seed=1).match
    False
    """
    alice, bob = check_pair(alice_bits, bob_bits)
    tag_bits = check_positive_int(tag_bits, "tag_bits")
    if alice.size == 0:
        raise ValueError("alice_bits and bob_bits are empty: nothing to verify")
    if tag_bits > alice.size:
        needed = _BYTES_PER_TAG_BIT * tag_bits + 3 * alice.size
        raise ValueError(
            f"tag_bits={tag_bits} exceeds the {alice.size}-bit key: the tag would disclose the "
            f"whole key, and hashing to it would take about {needed / 2**30:.3g} GiB of memory; "
            "use 32 to 128 bits (different keys pass with probability 2**-tag_bits: 64 bits "
            "give 5.4e-20)"
        )
    seed_bits = random_bits(as_generator(seed), alice.size + tag_bits - 1)
    alice_tag = toeplitz_hash(alice, seed_bits, tag_bits)
    bob_tag = toeplitz_hash(bob, seed_bits, tag_bits)
    for array in (alice_tag, bob_tag, seed_bits):
        array.setflags(write=False)
    return ErrorVerificationResult(
        match=bool(np.array_equal(alice_tag, bob_tag)),
        tag_bits=tag_bits,
        failure_probability=2.0**-tag_bits,
        alice_tag=alice_tag,
        bob_tag=bob_tag,
        seed_bits=seed_bits,
    )
