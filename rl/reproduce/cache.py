"""A result cache on disk: one JSON file per task, written atomically as the task completes.

A task's key is a hash of its configuration (scenario, environment options, system, Byzantine
fraction, scale), its seed and the code version (:func:`code_version`: a hash of the source
files of ``qkdcircuits``, ``network`` and ``rl``), so an interrupted run resumes from what
finished, and a changed configuration or code recomputes. Trained DQN weights are stored beside
their training result (``<key>.pt``).

Examples
--------
>>> import tempfile
>>> cache = ResultCache(tempfile.mkdtemp(), version="v1")
>>> key = cache.key({"task": "demo"}, seed=1)
>>> cache.get(key) is None
True
>>> _ = cache.put(key, {"value": 2.5})
>>> cache.get(key)
{'value': 2.5}
"""

from __future__ import annotations

import hashlib
import json
import os
from functools import cache
from pathlib import Path
from typing import Any

from rl._io import write_text_atomic

__all__ = ["PACKAGES", "ResultCache", "code_version"]

PACKAGES: tuple[str, ...] = ("qkdcircuits", "network", "rl")
"""The packages whose source files define the code version."""


@cache
def code_version() -> str:
    """Hash every ``.py`` file of :data:`PACKAGES` (path and bytes) into 16 hex digits.

    Examples
    --------
    >>> len(code_version())
    16
    """
    root = Path(__file__).resolve().parents[2]
    digest = hashlib.sha256()
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            digest.update(str(path.relative_to(root).as_posix()).encode())
            digest.update(b"\0")
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


class ResultCache:
    """Task results as JSON files under ``folder``.

    Parameters
    ----------
    folder : path-like
        The cache folder (created on first write).
    version : str, optional
        The code version in every key (default :func:`code_version`).
    """

    def __init__(self, folder: str | os.PathLike[str], *, version: str | None = None) -> None:
        self.folder = Path(folder)
        self.version = code_version() if version is None else str(version)
        self.hits = 0
        self.writes = 0

    def key(self, configuration: Any, *, seed: int) -> str:
        """Return a task's key: its configuration (plain values), its seed, the code version."""
        text = json.dumps(
            {"configuration": configuration, "seed": int(seed), "version": self.version},
            sort_keys=True,
        )
        return hashlib.sha256(text.encode()).hexdigest()[:24]

    def path(self, key: str, suffix: str = ".json") -> Path:
        """Where the entry ``key`` lives (``suffix`` ``.pt`` for weights)."""
        return self.folder / f"{key}{suffix}"

    def get(self, key: str) -> Any:
        """Return the stored result, or ``None`` (also for an unreadable entry, then recomputed)."""
        path = self.path(key)
        try:
            value = json.loads(path.read_text())
        except (OSError, ValueError):
            return None
        self.hits += 1
        return value

    def put(self, key: str, value: Any) -> Path:
        """Store ``value`` (JSON-ready) atomically."""
        self.writes += 1
        return write_text_atomic(self.path(key), json.dumps(value, allow_nan=True) + "\n")
