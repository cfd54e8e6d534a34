"""Plots of a network run: availability, key-pool levels and node weights over time."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["check_figure_path", "plot_timeseries", "save_figure"]

_FORMATS = {".png", ".pdf", ".svg"}


def check_figure_path(path: str | os.PathLike[str]) -> Path:
    """Check the target of a figure before anything is computed or written, and return it.

    Raises
    ------
    ValueError
        For an empty path, a suffix other than ``.png``, ``.pdf`` or ``.svg``, a folder that
        does not exist, or a path that is a folder.
    """
    text = os.fspath(path)
    if not text:
        raise ValueError("plot path is empty")
    target = Path(text)
    if target.suffix.lower() not in _FORMATS:
        raise ValueError(f"plot path {text!r} must end in one of {sorted(_FORMATS)}")
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise ValueError(f"plot path {text!r}: folder {str(folder)!r} does not exist")
    if target.is_dir():
        raise ValueError(f"plot path {text!r} is a folder")
    return target


def save_figure(figure: Any, path: str | os.PathLike[str], *, dpi: int = 150) -> Path:
    """Save a matplotlib figure atomically (temporary file, then rename) and close it.

    The format follows the suffix (``.png``, ``.pdf`` or ``.svg``); a bad path raises
    ``ValueError`` (:func:`check_figure_path`) before anything is written.
    """
    import matplotlib.pyplot as plt

    try:
        target = check_figure_path(path)
        suffix = target.suffix.lower()
        handle, tmp = tempfile.mkstemp(suffix=suffix, dir=target.parent)
        os.close(handle)
        try:
            figure.savefig(tmp, dpi=dpi, format=suffix[1:])
            os.replace(tmp, target)
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
    finally:
        plt.close(figure)
    return target


def plot_timeseries(
    timeseries: Mapping[str, Any],
    path: str | os.PathLike[str],
    *,
    title: str = "",
    node_names: Sequence[str] | None = None,
    highlight: Sequence[str] = (),
) -> Path:
    """Three stacked panels: availability per slice, total key in the pools, node weights.

    Parameters
    ----------
    timeseries : mapping
        ``time_s``, ``availability``, ``pool_bits`` (one value per slice), and optionally
        ``vote_time_s`` and ``weights`` (votes x nodes).
    path : str or path-like
        Output file (``.png``, ``.pdf`` or ``.svg``).
    title : str
        Figure title.
    node_names : sequence of str, optional
        Names of the weight columns.
    highlight : sequence of str
        Nodes drawn in red (e.g. the Byzantine ones), the others in grey.

    Returns
    -------
    pathlib.Path
        The file written.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    time_s = np.asarray(timeseries["time_s"], dtype=float)
    fig, axes = plt.subplots(3, 1, figsize=(8.0, 8.0), sharex=True)
    axes[0].plot(time_s, np.asarray(timeseries["availability"], dtype=float), lw=1.0)
    axes[0].set_ylabel("availability\n(requests served, unexposed)")
    axes[0].set_ylim(-0.02, 1.02)
    axes[1].plot(time_s, np.asarray(timeseries["pool_bits"], dtype=float) / 1e6, lw=1.0)
    axes[1].set_ylabel("key in pools (Mbit)")
    weights = np.asarray(timeseries.get("weights", np.zeros((0, 0))), dtype=float)
    vote_time = np.asarray(timeseries.get("vote_time_s", []), dtype=float)
    if weights.size:
        names = (
            list(node_names)
            if node_names is not None
            else [str(k) for k in range(weights.shape[1])]
        )
        marked = set(highlight)
        labelled = False
        for k, name in enumerate(names):
            bad = name in marked
            axes[2].plot(
                vote_time,
                weights[:, k],
                color="tab:red" if bad else "0.6",
                lw=1.4 if bad else 0.8,
                label="Byzantine" if bad and not labelled else None,
            )
            labelled |= bad
        if labelled:
            axes[2].legend(loc="lower left")
    axes[2].set_ylabel("node weight")
    axes[2].set_xlabel("simulated time (s)")
    for ax in axes:
        ax.grid(True, alpha=0.3)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return save_figure(fig, path)
