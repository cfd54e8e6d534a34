"""Argument checks shared by the post-processing modules (private)."""

from __future__ import annotations

import numbers

from qkdcircuits._validation import check_real


def check_epsilon(value: float, name: str) -> float:
    """Return a security parameter as a float after checking it lies in the open interval (0, 1).

    A failure probability or trace distance of 0 cannot be reached with finite resources, and one
    of 1 (or more) is no guarantee at all: every state is within trace distance 1 of the ideal.

    Raises
    ------
    TypeError
        If ``value`` is not a real number.
    ValueError
        If it is not finite or not in (0, 1).
    """
    value = check_real(value, name)
    if not 0.0 < value < 1.0:
        raise ValueError(
            f"{name}={value!r} must be in (0, 1): 0 is unreachable and 1 guarantees nothing"
        )
    return value


def check_count(value: int, name: str) -> int:
    """Return ``value`` as an int after checking it is an integer >= 0.

    Raises
    ------
    TypeError
        If ``value`` is not an integer (floats are refused, not truncated).
    ValueError
        If it is negative.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name}={value!r} must be an integer, not {type(value).__name__}")
    if value < 0:
        raise ValueError(f"{name}={value!r} must be >= 0")
    return int(value)


def out_of_memory(what: str, needed_bytes: float, advice: str) -> MemoryError:
    """Build a ``MemoryError`` that says what needed how much memory and what to do instead.

    Parameters
    ----------
    what : str
        The operation, e.g. ``"Cascade on 10^9 bits"``.
    needed_bytes : float
        Estimate of the memory it needs.
    advice : str
        What to do instead.

    Returns
    -------
    MemoryError
        To be raised (``from`` the original error).
    """
    return MemoryError(f"{what} needs about {needed_bytes / 2**30:.3g} GiB of memory; {advice}")
