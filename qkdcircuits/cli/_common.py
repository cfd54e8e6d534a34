"""Helpers the subcommands of the quantum layer share: argument types, tables on stderr."""

from __future__ import annotations

import argparse
import math
import sys
from typing import Any


def finite_float(text: str) -> float:
    """``argparse`` type for a finite real number (shared by every subcommand)."""
    try:
        value = float(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from exc
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not finite")
    return value


def fake_backend(name: str | None) -> Any:
    if name is None:
        return None
    try:
        from qiskit_ibm_runtime import fake_provider
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise SystemExit(
            'fake backends need qiskit-ibm-runtime: pip install "abft-qkd[ibm]"'
        ) from exc
    cls = getattr(fake_provider, name, None)
    if cls is None:
        raise SystemExit(
            f"--fake-backend {name!r}: no such backend in qiskit_ibm_runtime.fake_provider"
        )
    return cls()


def print_table(rows: list[tuple[str, str]], title: str) -> None:
    width = max(len(k) for k, _ in rows)
    print(title, file=sys.stderr)
    for key, value in rows:
        print(f"  {key:<{width}}  {value}", file=sys.stderr)
