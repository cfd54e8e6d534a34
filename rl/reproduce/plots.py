"""The report's figures (PNG, written atomically).

Key rate and availability against the Byzantine fraction, QBER over time, and the DQN learning
curves.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from rl.reproduce.config import SYSTEMS

__all__ = ["FIGURES", "plot_all", "plot_qber_trace", "plot_vs_fraction"]

FIGURES: tuple[str, ...] = (
    "key_rate_availability.png",
    "qber_over_time.png",
    "learning_curve.png",
)
"""File names of the figures :func:`plot_all` writes."""


def plot_vs_fraction(results: dict[str, Any], path: str | Path) -> Path:
    """Relative key rate and availability vs Byzantine fraction, three systems, 95 % intervals."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from network.simulation.plotting import save_figure

    fractions = np.array(results["config"]["fractions"], dtype=float)
    labels = [f"{f:g}" for f in fractions]
    fig, axes = plt.subplots(1, 2, figsize=(10.0, 4.0))
    for ax, metric, title in (
        (axes[0], "relative_key_rate", "key rate / no-attack baseline"),
        (axes[1], "availability", "availability"),
    ):
        for index, system in enumerate(SYSTEMS):
            cells = [results["table"][system][label][metric] for label in labels]
            mean = np.array([c["mean"] for c in cells], dtype=float)
            low = np.array([c["ci95"][0] for c in cells], dtype=float)
            high = np.array([c["ci95"][1] for c in cells], dtype=float)
            error = np.vstack([np.nan_to_num(mean - low), np.nan_to_num(high - mean)])
            ax.errorbar(
                100 * fractions + (index - 1) * 0.6,
                mean,
                yerr=error,
                marker="o",
                capsize=3,
                label=system,
                color=f"C{index}",
            )
        ax.set_xlabel("Byzantine nodes (% of candidates)")
        ax.set_ylabel(title)
        ax.set_title(f"{title} (mean, 95 % t interval over seeds)", fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return save_figure(fig, path)


def plot_qber_trace(results: dict[str, Any], path: str | Path) -> Path:
    """Mean measured link QBER per slice for one seed, three systems; fluctuations shaded."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from network.simulation.plotting import save_figure

    fig, ax = plt.subplots(figsize=(8.0, 4.0))
    fraction = None
    for index, system in enumerate(SYSTEMS):
        trace = results["trace"].get(system)
        if not trace:
            continue
        fraction = trace["fraction"]
        t = np.asarray(trace["t_s"], dtype=float)
        ax.plot(
            t,
            100 * np.asarray(trace["qber"], dtype=float),
            color=f"C{index}",
            label=system,
            linewidth=3.0 if index == 0 else 1.2,  # wide: the static systems may coincide
            alpha=0.85,
        )
        if index == 0:
            fluct = np.asarray(trace["fluct"], dtype=float) > 0
            ax.fill_between(
                t,
                0,
                1,
                where=fluct,
                step="mid",
                color="grey",
                alpha=0.2,
                transform=ax.get_xaxis_transform(),
                label="fluctuation period",
            )
    threshold = 100 * results["config"]["qber_threshold"]
    ax.axhline(
        threshold, color="k", linestyle="--", linewidth=1, label=f"threshold {threshold:g} %"
    )
    ax.axhline(1.0, color="r", linestyle=":", linewidth=1, label="paper's 1 %")
    ax.set_xlabel("time (s)")
    ax.set_ylabel("mean measured link QBER (%)")
    share = "" if fraction is None else f" at {100 * fraction:.0f} % Byzantine"
    ax.set_title(f"QBER over time, evaluation seed 0{share}", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper right")
    fig.tight_layout()
    return save_figure(fig, path)


def plot_all(results: dict[str, Any], folder: str | Path) -> list[Path]:
    """Write every figure of :data:`FIGURES` into ``folder``."""
    from rl.train import plot_learning_curve

    folder = Path(folder)
    runs = results["training"]["runs"]
    return [
        plot_vs_fraction(results, folder / FIGURES[0]),
        plot_qber_trace(results, folder / FIGURES[1]),
        plot_learning_curve(
            {f"seed {run['seed']}": run["returns"] for run in runs},
            folder / FIGURES[2],
            evaluations={
                f"seed {run['seed']}": (run["eval_at"], run["eval_returns"]) for run in runs
            },
            title="DQN learning curves (ABFT environment)",
        ),
    ]
