"""Atomic file writes shared by the rl modules.

A temporary file in the target folder, then :func:`os.replace`, so an interrupted write leaves the
previous file (or none), never half of one.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any


def write_atomic(
    path: str | os.PathLike[str], write: Callable[[IO[Any]], Any], *, binary: bool = False
) -> Path:
    """Call ``write(handle)`` on a temporary file beside ``path``, then rename it to ``path``.

    The folder is created if needed. Returns the path.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(
            fd, "wb" if binary else "w", **({} if binary else {"newline": ""})
        ) as handle:
            write(handle)
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; the result is an ordinary output file
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def write_text_atomic(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` to ``path`` atomically."""
    return write_atomic(path, lambda handle: handle.write(text))
