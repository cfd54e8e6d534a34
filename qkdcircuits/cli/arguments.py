"""Value types for ``argparse`` options, shared by every ``abft-qkd`` subcommand.

Each type turns one command-line string into a checked number or raises
:class:`argparse.ArgumentTypeError` with a message that quotes the value, which ``argparse``
prints after the option name (``argument --rounds: '1.5' is not an integer``). The factories
(:func:`bounded_float`, :func:`count_at_least`) return such a type for a given range.
:func:`parse_value` applies a type to a value read after parsing and names the option in a
``ValueError``, for subcommands that check their options in the handler.

Examples
--------
>>> import argparse
>>> parser = argparse.ArgumentParser(prog="demo")
>>> _ = parser.add_argument("--rounds", type=positive_count)
>>> _ = parser.add_argument("--loss-db", type=non_negative_float)
>>> parser.parse_args(["--rounds", "1e6", "--loss-db", "3"])
Namespace(rounds=1000000, loss_db=3.0)
"""

from __future__ import annotations

import argparse
import math
import re
from collections.abc import Callable
from typing import TypeVar

__all__ = [
    "MAX_COUNT",
    "bounded_float",
    "count",
    "count_at_least",
    "finite_float",
    "non_negative_count",
    "non_negative_float",
    "parse_value",
    "positive_count",
    "positive_float",
    "probability",
]

MAX_COUNT = 2**63 - 1
"""Largest count accepted (the largest signed 64-bit integer, numpy's default integer)."""

_INTEGER = re.compile(r"[+-]?[0-9_]+")
_T = TypeVar("_T")


def finite_float(text: str) -> float:
    """Parse a finite real number.

    Parameters
    ----------
    text : str
        The command-line value (``"0.2"``, ``"1e-3"``).

    Returns
    -------
    float
        The value.

    Raises
    ------
    argparse.ArgumentTypeError
        If ``text`` is not a number, or is ``nan`` or infinite.

    Examples
    --------
    >>> finite_float("1e-3")
    0.001
    >>> finite_float("inf")
    Traceback (most recent call last):
    argparse.ArgumentTypeError: 'inf' is not finite
    """
    try:
        value = float(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from exc
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not finite")
    return value


def _above(bound: float, *, strict: bool) -> Callable[[str], float]:
    """Make a type for a finite real number above ``bound`` (``>`` if ``strict``, else ``>=``)."""
    relation = ">" if strict else ">="

    def parse(text: str) -> float:
        value = _number(text)
        if not (math.isfinite(value) and (value > bound if strict else value >= bound)):
            raise argparse.ArgumentTypeError(
                f"{text!r} must be a finite number {relation} {bound:g}"
            )
        return value

    parse.__name__ = f"float {relation} {bound:g}"
    return parse


positive_float = _above(0.0, strict=True)
"""Type for a finite real number > 0, e.g. a duration or a speed-up.

``positive_float("2.5") == 2.5``; ``"0"``, ``"inf"`` and ``"nan"`` raise
:class:`argparse.ArgumentTypeError` (``'0' must be a finite number > 0``).
"""

non_negative_float = _above(0.0, strict=False)
"""Type for a finite real number >= 0, e.g. a loss in dB or a request rate.

``non_negative_float("0") == 0.0``; ``"-1"`` and ``"nan"`` raise
:class:`argparse.ArgumentTypeError` (``'-1' must be a finite number >= 0``).
"""


def bounded_float(
    low: float, high: float, *, include_low: bool = True, include_high: bool = True
) -> Callable[[str], float]:
    """Make a type for a real number in an interval of finite bounds.

    Parameters
    ----------
    low, high : float
        The bounds, finite with ``low < high`` (in the unit of the option).
    include_low, include_high : bool
        Whether the interval is closed at ``low`` and at ``high`` (both by default).

    Returns
    -------
    callable
        A type ``str -> float``; its error message shows the interval, e.g. ``'0.5' not in
        [0, 0.4]`` or ``'0' not in (0, 1]``.

    Raises
    ------
    ValueError
        If a bound is not finite or ``low >= high``.

    Examples
    --------
    >>> fraction = bounded_float(0.0, 0.4)
    >>> fraction("0.25")
    0.25
    >>> bounded_float(0.0, 1.0, include_low=False)("0")
    Traceback (most recent call last):
    argparse.ArgumentTypeError: '0' not in (0, 1]
    """
    if not (math.isfinite(low) and math.isfinite(high) and low < high):
        raise ValueError(f"bounds low={low!r}, high={high!r} must be finite with low < high")
    interval = f"{'[' if include_low else '('}{low:g}, {high:g}{']' if include_high else ')'}"

    def parse(text: str) -> float:
        value = _number(text)
        above = value >= low if include_low else value > low
        below = value <= high if include_high else value < high
        if not (above and below):  # also rejects nan
            raise argparse.ArgumentTypeError(f"{text!r} not in {interval}")
        return value

    parse.__name__ = f"float in {interval}"
    return parse


probability = bounded_float(0.0, 1.0)
"""Type for a probability: a real number in [0, 1] (``probability("0.5") == 0.5``)."""


def count(text: str) -> int:
    """Parse a whole number, also written in ``1e12`` notation (rounds, shots, pulses).

    Parameters
    ----------
    text : str
        An integer (``1000000``, ``1_000_000``) or a float literal with an integral value
        (``1e12``, ``2.5e6``).

    Returns
    -------
    int
        The value, of either sign: the function that uses it checks the range and names the
        parameter (see :func:`count_at_least` for a type that checks it here).

    Raises
    ------
    argparse.ArgumentTypeError
        If ``text`` is not a whole number or its magnitude exceeds :data:`MAX_COUNT`.

    Examples
    --------
    >>> count("1e12"), count("1_000"), count("-3")
    (1000000000000, 1000, -3)
    >>> count("1.5")
    Traceback (most recent call last):
    argparse.ArgumentTypeError: '1.5' is not an integer
    """
    stripped = text.strip()
    try:
        if _INTEGER.fullmatch(stripped):
            value = int(stripped)
        else:
            number = float(stripped)
            if not (math.isfinite(number) and number.is_integer()):
                raise ValueError(text)
            value = int(number)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from exc
    if abs(value) > MAX_COUNT:
        raise argparse.ArgumentTypeError(f"{text!r} exceeds {MAX_COUNT}")
    return value


def count_at_least(minimum: int) -> Callable[[str], int]:
    """Make a type for a whole number >= ``minimum`` (written as for :func:`count`).

    Parameters
    ----------
    minimum : int
        The smallest value accepted.

    Returns
    -------
    callable
        A type ``str -> int``.

    Raises
    ------
    TypeError
        If ``minimum`` is not an integer.

    Examples
    --------
    >>> at_least_two = count_at_least(2)
    >>> at_least_two("1e3")
    1000
    >>> at_least_two("1")
    Traceback (most recent call last):
    argparse.ArgumentTypeError: '1' must be >= 2
    """
    if isinstance(minimum, bool) or not isinstance(minimum, int):
        raise TypeError(f"minimum={minimum!r} must be an integer")

    def parse(text: str) -> int:
        value = count(text)
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{text!r} must be >= {minimum}")
        return value

    parse.__name__ = f"integer >= {minimum}"
    return parse


positive_count = count_at_least(1)
"""Type for a whole number >= 1 (``positive_count("1e6") == 1_000_000``)."""

non_negative_count = count_at_least(0)
"""Type for a whole number >= 0, e.g. a seed (``non_negative_count("0") == 0``)."""


def parse_value(parse: Callable[[str], _T], text: str, option: str) -> _T:
    """Apply an ``argparse`` type to a value checked after parsing, naming the option on error.

    Parameters
    ----------
    parse : callable
        One of the types of this module (or any ``str -> value`` that raises
        :class:`argparse.ArgumentTypeError`).
    text : str
        The value as given on the command line.
    option : str
        The option's name for the message, e.g. ``"--replicas"``.

    Returns
    -------
    object
        What ``parse`` returns.

    Raises
    ------
    ValueError
        ``"<option> <message of parse>"`` if ``parse`` rejects ``text``.

    Examples
    --------
    >>> parse_value(positive_count, "4", "--replicas")
    4
    >>> parse_value(positive_count, "four", "--replicas")
    Traceback (most recent call last):
    ValueError: --replicas 'four' is not an integer
    """
    try:
        return parse(text)
    except argparse.ArgumentTypeError as exc:
        raise ValueError(f"{option} {exc}") from None


def _number(text: str) -> float:
    """Parse ``text`` as a float (``nan`` and infinities included)."""
    try:
        return float(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from exc
