"""Argument checks shared by the quantum layer.

Every public function validates its physics arguments with these helpers so that a bad value
raises a ``ValueError`` or ``TypeError`` that names the parameter and the offending value.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

SeedLike = int | np.random.Generator | None
"""Anything :func:`as_generator` accepts."""


def as_generator(seed: int | np.random.Generator | None, name: str = "seed") -> np.random.Generator:
    """Normalise ``seed`` into a ``numpy.random.Generator``.

    Parameters
    ----------
    seed : int, numpy.random.Generator or None
        A Generator is used as is (and advanced by the caller); an integer seeds a fresh PCG64
        generator; ``None`` draws fresh OS entropy.
    name : str
        Parameter name used in error messages.

    Returns
    -------
    numpy.random.Generator

    Raises
    ------
    TypeError
        If ``seed`` is of any other type (``RandomState``, float, bool, ...).
    ValueError
        If ``seed`` is a negative integer.

    Examples
    --------
    >>> rng = as_generator(3)
    >>> as_generator(rng) is rng, int(as_generator(3).integers(10)) == int(rng.integers(10))
    (True, True)
    """
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None:
        return np.random.default_rng()
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(
            f"{name}={seed!r} must be an int, a numpy.random.Generator or None, "
            f"not {type(seed).__name__}"
        )
    if seed < 0:
        raise ValueError(f"{name}={seed!r} must be a non-negative integer")
    return np.random.default_rng(int(seed))


def int_seed(seed: SeedLike) -> int | None:
    """``seed`` if it is a plain integer (kept in provenance, given to transpilers), else None."""
    if isinstance(seed, numbers.Integral) and not isinstance(seed, bool):
        return int(seed)
    return None


def derive_int_seed(seed: SeedLike, rng: np.random.Generator) -> int:
    """Derive an integer seed for transpilation and simulator shots.

    ``seed`` itself when it is an integer; otherwise one drawn from ``rng`` (the Generator built
    from ``seed``), so that a run seeded with a Generator is reproducible on a shot-based backend
    too.
    """
    fixed = int_seed(seed)
    return fixed if fixed is not None else int(rng.integers(0, 2**31 - 1))


def real_array(value: Any, name: str, *, finite: bool = False) -> np.ndarray:
    """Return ``value`` as a float numpy array of real numbers.

    Parameters
    ----------
    value : float or array_like
        A real number or an array (or nested sequence) of them.
    name : str
        The caller's parameter name, used in error messages.
    finite : bool
        Also refuse ``nan`` and infinite entries.

    Returns
    -------
    numpy.ndarray
        ``value`` as ``float64`` (0-dimensional for a scalar).

    Raises
    ------
    TypeError
        For booleans, text, complex numbers and anything else that is not a real number.
    ValueError
        For a non-finite entry when ``finite`` is set.

    Examples
    --------
    >>> real_array([1, 2.5], "length_km").tolist()
    [1.0, 2.5]
    >>> real_array(True, "length_km")
    Traceback (most recent call last):
    TypeError: length_km=True must be a real number or an array of them
    """
    # The message is built only on failure: the repr of a large array costs far more than the
    # check itself, and this runs on every link evaluation of the network layer.
    if isinstance(value, bool | str | bytes | complex) or (
        isinstance(value, np.ndarray) and value.dtype.kind not in "iufO"
    ):
        raise TypeError(f"{name}={value!r} must be a real number or an array of them")
    try:
        array = np.asarray(value, dtype=float)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name}={value!r} must be a real number or an array of them") from exc
    if finite and not np.all(np.isfinite(array)):
        raise ValueError(f"{name}={value!r} must be finite")
    return array


def as_float_or_array(value: Any) -> Any:
    """``value`` as a Python float when it is 0-dimensional, else as a float ``numpy`` array.

    The closed forms broadcast over arrays; this keeps scalar calls returning scalars.
    """
    array = np.asarray(value, dtype=float)
    return float(array) if array.ndim == 0 else array


def check_probability(value: float, name: str) -> float:
    """Return ``value`` as a float after checking it is a real number in [0, 1]."""
    value = check_real(value, name)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name}={value!r} not in [0, 1]")
    return value


def check_real(value: float, name: str) -> float:
    """Return ``value`` as a finite float, or raise ``TypeError``/``ValueError``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name}={value!r} must be a real number, not {type(value).__name__}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name}={value!r} must be finite")
    return value


def check_non_negative(value: float, name: str) -> float:
    """Return ``value`` as a float after checking it is finite and >= 0."""
    value = check_real(value, name)
    if value < 0:
        raise ValueError(f"{name}={value!r} must be >= 0")
    return value


def check_positive(value: float, name: str) -> float:
    """Return ``value`` as a float after checking it is finite and > 0."""
    value = check_real(value, name)
    if value <= 0:
        raise ValueError(f"{name}={value!r} must be > 0")
    return value


def check_confidence(confidence: float, name: str = "confidence") -> float:
    """Return ``confidence`` as a float after checking it is a real number in (0, 1)."""
    confidence = check_real(confidence, name)
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"{name}={confidence!r} not in (0, 1)")
    return confidence


def check_positive_int(value: int, name: str) -> int:
    """Return ``value`` as an int after checking it is an integer >= 1."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name}={value!r} must be an integer, not {type(value).__name__}")
    if value < 1:
        raise ValueError(f"{name}={value!r} must be >= 1")
    return int(value)


def check_choice(value: str, name: str, choices: tuple[str, ...]) -> str:
    """Return ``value`` after checking it is one of ``choices`` (``TypeError`` if not a str)."""
    if not isinstance(value, str):
        raise TypeError(f"{name}={value!r} must be a str, one of {', '.join(map(repr, choices))}")
    if value not in choices:
        raise ValueError(f"{name}={value!r} must be one of {', '.join(map(repr, choices))}")
    return value


BASES: tuple[str, str] = ("Z", "X")
"""The two BB84 bases, in the order of their array codes."""


BASIS_CODES: dict[str, int] = {"Z": 0, "X": 1}
"""Array code of each basis."""


def check_basis(basis: str, name: str = "basis") -> str:
    """Return ``basis`` if it is ``"Z"`` or ``"X"``, else raise ``ValueError`` naming ``name``."""
    return check_choice(basis, name, BASES)


def check_bit(bit: int, name: str = "bit") -> int:
    """Return ``bit`` as an int if it is 0 or 1, else raise ``ValueError`` naming ``name``."""
    if isinstance(bit, bool) or bit not in (0, 1):
        raise ValueError(f"{name}={bit!r} must be 0 or 1")
    return int(bit)
