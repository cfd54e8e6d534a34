"""Helpers the subcommands of the quantum layer share: argument types, backends, tables."""

from __future__ import annotations

import argparse
import math
import re
import sys
from typing import Any

__all__ = ["count", "fake_backend", "finite_float", "print_table"]

_MAX_COUNT = 2**63 - 1


def finite_float(text: str) -> float:
    """``argparse`` type for a finite real number (shared by every subcommand).

    Parameters
    ----------
    text : str
        The command-line value.

    Returns
    -------
    float

    Raises
    ------
    argparse.ArgumentTypeError
        If ``text`` is not a finite number.

    Examples
    --------
    >>> finite_float("1e-3")
    0.001
    """
    try:
        value = float(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from exc
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not finite")
    return value


def count(text: str) -> int:
    """``argparse`` type for a whole number of rounds or shots, also in ``1e12`` notation.

    Parameters
    ----------
    text : str
        An integer (``1000000``, ``1_000_000``) or a float literal with an integral value
        (``1e12``, ``2.5e6``).

    Returns
    -------
    int
        The value; whether it is positive is checked by the function that uses it, which names
        the parameter.

    Raises
    ------
    argparse.ArgumentTypeError
        If ``text`` is not a whole number or exceeds ``2**63 - 1``.

    Examples
    --------
    >>> count("1e12"), count("1_000")
    (1000000000000, 1000)
    """
    stripped = text.strip()
    try:
        if re.fullmatch(r"[+-]?[0-9_]+", stripped):
            value = int(stripped)
        else:
            number = float(stripped)
            if not (math.isfinite(number) and number.is_integer()):
                raise ValueError(text)
            value = int(number)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from exc
    if abs(value) > _MAX_COUNT:
        raise argparse.ArgumentTypeError(f"{text!r} exceeds {_MAX_COUNT}")
    return value


def fake_backend(name: str | None) -> Any:
    """An IBM fake backend by class name (``--fake-backend``), or ``None``.

    Parameters
    ----------
    name : str or None
        Name of a ``BackendV2`` class in ``qiskit_ibm_runtime.fake_provider``, e.g.
        ``"FakeManilaV2"``.

    Returns
    -------
    qiskit.providers.BackendV2 or None

    Raises
    ------
    ImportError
        If qiskit-ibm-runtime is not installed (``pip install "abft-qkd[ibm]"``).
    ValueError
        If ``name`` is not a backend class of the fake provider (a provider class, a function
        or an unknown name).

    Examples
    --------
    >>> fake_backend("FakeManilaV2").name
    'fake_manila'
    >>> fake_backend("FakeProviderForBackendV2")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ValueError: --fake-backend 'FakeProviderForBackendV2' is not a backend class ...
    """
    if name is None:
        return None
    try:
        from qiskit_ibm_runtime import fake_provider
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            'fake backends need qiskit-ibm-runtime: pip install "abft-qkd[ibm]"'
        ) from exc
    from qiskit.providers import BackendV2

    cls = getattr(fake_provider, name, None) if name.isidentifier() else None
    if not (isinstance(cls, type) and issubclass(cls, BackendV2)):
        examples = sorted(
            attr
            for attr in dir(fake_provider)
            if attr.startswith("Fake")
            and isinstance(getattr(fake_provider, attr), type)
            and issubclass(getattr(fake_provider, attr), BackendV2)
        )
        raise ValueError(
            f"--fake-backend {name!r} is not a backend class in "
            f"qiskit_ibm_runtime.fake_provider ({len(examples)} exist, e.g. "
            f"{', '.join(examples[:3])})"
        )
    return cls()


def print_table(rows: list[tuple[str, str]], title: str) -> None:
    """Print ``title`` and aligned ``key  value`` rows to stderr (the human-readable output)."""
    width = max(len(k) for k, _ in rows)
    print(title, file=sys.stderr)
    for key, value in rows:
        print(f"  {key:<{width}}  {value}", file=sys.stderr)
