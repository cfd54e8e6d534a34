"""Helpers the subcommands of the quantum layer share: fake backends, tables.

The ``argparse`` value types are in :mod:`qkdcircuits.cli.arguments`.
"""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["fake_backend", "print_table"]


def fake_backend(name: str | None) -> Any:
    """Instantiate an IBM fake backend by class name (``--fake-backend``), or return ``None``.

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
