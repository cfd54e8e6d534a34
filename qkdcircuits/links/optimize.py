"""Signal intensities that maximise the key rate, for many links at once (no Qiskit).

The rate as a function of the signal intensity is not unimodal. At long distance it tends to a
small negative plateau as ``mu -> 0`` (dark counts only, no signal), dips, and rises to a peak
near the optimum; near the maximum distance that peak is barely positive over a window much
narrower than any practical grid (about 0.28-0.33 photons per pulse for symmetric MDI-QKD near
232 km), and for an asymmetric relay the positive region is a thin curved ridge in
``(mu_a, mu_b)``. A search that follows the best grid value lands on the plateau there. This
module therefore

1. evaluates the rate on a log grid (one kernel call for every link and grid point), and takes
   two starting points per link: the grid maximum of the rate and the grid maximum of the
   scale-free key fraction ``(single - leak) / (single + leak)`` (the two terms of the rate,
   see :func:`qkdcircuits.links.rates.rate_terms`), which is close to -1 on the plateau and
   largest inside the peak whatever its sign;
2. climbs from each start over the grid values to a local grid maximum of the rate;
3. refines it: a golden-section search over the two neighbouring grid cells (one intensity:
   BB84 and symmetric MDI-QKD, where ``mu_a = mu_b``), or a compass search with step halving
   in ``(log mu_a, log mu_b)`` followed by Newton steps (asymmetric MDI-QKD);
4. keeps the better of the two results.

Every step is vectorised over links and starting points, and each link keeps its own
parameters, so BB84, symmetric and asymmetric MDI-QKD links are optimised in a few dozen kernel
calls (:func:`optimal_signal`). :func:`optimize_intensities` is the one-link interface.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from qkdcircuits.links.evaluation import (
    SIGNAL_COLUMNS,
    SIGNAL_NAMES,
    check_decoy,
    check_params,
    rate_model,
    resolve_lengths,
)
from qkdcircuits.links.params import LinkParams, params_to_columns

__all__ = ["MU_MAX", "MU_MIN", "OptimalIntensities", "optimize_intensities"]


MU_MIN = 1e-4
"""Smallest signal intensity searched (photons per pulse)."""

MU_MAX = 2.0
"""Largest signal intensity searched (photons per pulse)."""

_GOLDEN = (math.sqrt(5.0) - 1.0) / 2.0
_GRID_1D = 64
_GRID_2D = 28
_GOLDEN_ITERATIONS = 44
_COMPASS_ITERATIONS = 80
_COMPASS_MIN_STEP = 1e-7
_NEWTON_STEPS = 8
# Compass directions in (log mu_a, log mu_b): the axes and the diagonals.
_DIRECTIONS = np.array([(1, 0), (-1, 0), (0, 1), (0, -1), (1, 1), (-1, -1), (1, -1), (-1, 1)])


@dataclass(frozen=True)
class OptimalIntensities:
    """Signal intensities that maximise the key rate, and that rate (per signal pulse).

    Attributes
    ----------
    intensities : dict of str to float
        ``{"mu": ...}`` (BB84) or ``{"mu_a": ..., "mu_b": ...}`` (MDI-QKD), photons per pulse.
    key_rate_per_pulse : float
        The maximum of the unclipped rate, so it is negative when even the best intensities
        give no key.

    Examples
    --------
    >>> OptimalIntensities(intensities={"mu": 0.5}, key_rate_per_pulse=1e-3).intensities["mu"]
    0.5
    """

    intensities: dict[str, float]
    key_rate_per_pulse: float


def signal_bounds(
    protocol: str, columns: Mapping[str, np.ndarray], decoy: str
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Search range ``(low, high)`` of each signal column (finite decoys need ``mu > nu + omega``).

    Raises ``ValueError`` naming the first link whose decoys leave no room below
    :data:`MU_MAX`.
    """
    bounds = {}
    for column in SIGNAL_COLUMNS[protocol]:
        suffix = column[len("signal_intensity") :]
        low = np.full(np.shape(columns[column]), MU_MIN)
        if decoy != "infinite":
            total = columns[f"decoy_intensity{suffix}"] + columns[f"weak_decoy_intensity{suffix}"]
            low = np.maximum(low, total * (1.0 + 1e-9))
        if np.any(low >= MU_MAX):
            k = int(np.argmax(low >= MU_MAX))
            raise ValueError(
                f"decoy_intensity{suffix} + weak_decoy_intensity{suffix} = "
                f"{float(np.ravel(low)[k]):.6g} (link {k}) leaves no room for a signal intensity "
                f"below {MU_MAX}"
            )
        bounds[column] = (low, np.full_like(low, MU_MAX))
    return bounds


def symmetric_links(columns: Mapping[str, np.ndarray]) -> np.ndarray:
    """Flag the MDI-QKD links whose rate is symmetric under exchanging Alice and Bob.

    Equal arm transmittances and equal decoy intensities: their optimum has ``mu_a = mu_b``.
    """

    def same(name_a: str, name_b: str) -> np.ndarray:
        return np.asarray(columns[name_a] == columns[name_b])

    return (
        same("length_a_km", "length_b_km")
        & same("loss_a_db_per_km", "loss_b_db_per_km")
        & same("extra_loss_a_db", "extra_loss_b_db")
        & same("decoy_intensity_a", "decoy_intensity_b")
        & same("weak_decoy_intensity_a", "weak_decoy_intensity_b")
    )


Objective = Callable[[tuple[np.ndarray, ...]], tuple[np.ndarray, np.ndarray]]


def _objective(model: Any, columns: tuple[str, ...]) -> Objective:
    """Build ``log-intensities -> (rate, key fraction)``.

    Each log-intensity array has the links' shape with leading axes for trial points.
    """

    def evaluate(logs: tuple[np.ndarray, ...]) -> tuple[np.ndarray, np.ndarray]:
        signal = {
            column: np.exp(logs[k if len(logs) > 1 else 0]) for k, column in enumerate(columns)
        }
        single, leak, q = model.terms(signal)
        total = single + leak
        with np.errstate(invalid="ignore", divide="ignore"):
            fraction = np.where(total > 0, (single - leak) / np.where(total > 0, total, 1.0), -1.0)
        return q * (single - leak), fraction

    return evaluate


def _climb_1d(values: np.ndarray, start: np.ndarray) -> np.ndarray:
    """From grid index ``start`` (per link), move to a neighbour while it is strictly better."""
    k = start.copy()
    cols = np.arange(values.shape[1])
    last = values.shape[0] - 1
    for _ in range(values.shape[0]):
        here = values[k, cols]
        left = np.where(k > 0, values[np.maximum(k - 1, 0), cols], -np.inf)
        right = np.where(k < last, values[np.minimum(k + 1, last), cols], -np.inf)
        step = np.where((right > here) & (right >= left), 1, np.where(left > here, -1, 0))
        if not np.any(step):
            break
        k = k + step
    return k


def _golden(
    objective: Objective, low: np.ndarray, high: np.ndarray, iterations: int
) -> tuple[np.ndarray, np.ndarray]:
    """Maximise ``objective`` on ``[low, high]`` by golden sections, every problem at once.

    One objective call per iteration; returns the best point and its value.
    """
    a, b = low.copy(), high.copy()
    c = b - _GOLDEN * (b - a)
    d = a + _GOLDEN * (b - a)
    fc, fd = objective((c,))[0], objective((d,))[0]
    for _ in range(iterations):
        left = fc >= fd  # the maximum lies in [a, d]
        a = np.where(left, a, c)
        b = np.where(left, d, b)
        new_c = np.where(left, b - _GOLDEN * (b - a), d)
        new_d = np.where(left, c, a + _GOLDEN * (b - a))
        probe = np.where(left, new_c, new_d)
        fprobe = objective((probe,))[0]
        fc, fd = np.where(left, fprobe, fd), np.where(left, fc, fprobe)
        c, d = new_c, new_d
    best = np.where(fc >= fd, c, d)
    return best, np.maximum(fc, fd)


def _starts(rate: np.ndarray, fraction: np.ndarray) -> np.ndarray:
    """Return indices of the two starting grid points per link: best rate, best key fraction."""
    return np.stack([np.argmax(rate, axis=0), np.argmax(fraction, axis=0)])


def optimise_1d(
    objective: Objective, low: np.ndarray, high: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Maximise over one log-intensity in ``[log low, log high]`` per link.

    See the module docstring; returns the optimal intensities and rates.
    """
    log_low, log_high = np.log(low), np.log(high)
    fractions = np.linspace(0.0, 1.0, _GRID_1D)[:, None]
    grid = log_low[None] + fractions * (log_high - log_low)[None]  # (G, n)
    rate, fraction = objective((grid,))
    starts = _starts(rate, fraction)  # (2, n)
    cols = np.arange(grid.shape[1])
    lo_edge, hi_edge = [], []
    for start in starts:
        k = _climb_1d(rate, start)
        lo_edge.append(grid[np.maximum(k - 1, 0), cols])
        hi_edge.append(grid[np.minimum(k + 1, _GRID_1D - 1), cols])
    best, value = _golden(objective, np.stack(lo_edge), np.stack(hi_edge), _GOLDEN_ITERATIONS)
    pick = np.argmax(value, axis=0)
    return np.exp(best[pick, cols]), value[pick, cols]


def _climb_2d(values: np.ndarray, ia: np.ndarray, ib: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Steepest ascent over the 8 neighbours of a ``(G, G, n)`` grid of values."""
    g = values.shape[0]
    cols = np.arange(values.shape[2])
    for _ in range(2 * g * g):
        here = values[ia, ib, cols]
        best_val, best_a, best_b = here, ia, ib
        for da, db in _DIRECTIONS:
            na, nb = ia + da, ib + db
            inside = (na >= 0) & (na < g) & (nb >= 0) & (nb < g)
            value = np.where(
                inside, values[np.clip(na, 0, g - 1), np.clip(nb, 0, g - 1), cols], -np.inf
            )
            better = value > best_val
            best_val = np.where(better, value, best_val)
            best_a, best_b = np.where(better, na, best_a), np.where(better, nb, best_b)
        if np.array_equal(best_a, ia) and np.array_equal(best_b, ib):
            break
        ia, ib = best_a, best_b
    return ia, ib


def _compass(
    objective: Objective,
    x: np.ndarray,
    y: np.ndarray,
    step: np.ndarray,
    bounds: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Run a compass search with step halving in ``(x, y)`` for every problem at once.

    Move to the best of the 8 neighbours at distance ``step`` if it improves, else halve
    ``step``.
    """
    lo_x, hi_x, lo_y, hi_y = bounds
    value = objective((x, y))[0]
    d = _DIRECTIONS.reshape((8, 2) + (1,) * x.ndim)
    for _ in range(_COMPASS_ITERATIONS):
        tx = np.clip(x[None] + d[:, 0] * step[None], lo_x, hi_x)
        ty = np.clip(y[None] + d[:, 1] * step[None], lo_y, hi_y)
        trial = objective((tx, ty))[0]
        k = np.argmax(trial, axis=0)
        best = np.take_along_axis(trial, k[None], axis=0)[0]
        move = best > value
        x = np.where(move, np.take_along_axis(tx, k[None], axis=0)[0], x)
        y = np.where(move, np.take_along_axis(ty, k[None], axis=0)[0], y)
        value = np.where(move, best, value)
        step = np.where(move, step, step / 2.0)
        if np.all(step < _COMPASS_MIN_STEP):
            break
    return x, y, value


def _newton(
    objective: Objective,
    x: np.ndarray,
    y: np.ndarray,
    value: np.ndarray,
    bounds: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    h: float = 1e-4,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Polish with Newton steps from finite-difference derivatives (step ``h`` in log space).

    A step is taken only where the Hessian is negative definite and the rate improves
    (halving up to 3 times).
    """
    lo_x, hi_x, lo_y, hi_y = bounds
    offsets = np.array([(h, 0), (-h, 0), (0, h), (0, -h), (h, h), (-h, -h), (h, -h), (-h, h)])
    o = offsets.reshape((8, 2) + (1,) * x.ndim)
    for _ in range(_NEWTON_STEPS):
        f = objective(
            (np.clip(x[None] + o[:, 0], lo_x, hi_x), np.clip(y[None] + o[:, 1], lo_y, hi_y))
        )[0]
        fxp, fxm, fyp, fym, fpp, fmm, fpm, fmp = f
        gx, gy = (fxp - fxm) / (2 * h), (fyp - fym) / (2 * h)
        hxx, hyy = (fxp - 2 * value + fxm) / h**2, (fyp - 2 * value + fym) / h**2
        hxy = (fpp - fpm - fmp + fmm) / (4 * h**2)
        det = hxx * hyy - hxy**2
        concave = (det > 0) & (hxx < 0)
        safe = np.where(concave, det, 1.0)
        dx = np.where(concave, -(hyy * gx - hxy * gy) / safe, 0.0)
        dy = np.where(concave, -(hxx * gy - hxy * gx) / safe, 0.0)
        scale = np.minimum(1.0, 0.1 / np.maximum(np.hypot(dx, dy), 1e-300))
        dx, dy = dx * scale, dy * scale
        moved = np.zeros(x.shape, dtype=bool)
        for _ in range(4):
            tx, ty = np.clip(x + dx, lo_x, hi_x), np.clip(y + dy, lo_y, hi_y)
            trial = objective((tx, ty))[0]
            accept = ~moved & (trial > value)
            x, y = np.where(accept, tx, x), np.where(accept, ty, y)
            value = np.where(accept, trial, value)
            moved |= accept
            dx, dy = dx / 2, dy / 2
        if not np.any(moved):
            break
    return x, y, value


def optimise_2d(
    objective: Objective,
    bounds_a: tuple[np.ndarray, np.ndarray],
    bounds_b: tuple[np.ndarray, np.ndarray],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Maximise over ``(log mu_a, log mu_b)`` per link.

    See the module docstring; returns the optimal intensities and rates.
    """
    lo_x, hi_x = np.log(bounds_a[0]), np.log(bounds_a[1])
    lo_y, hi_y = np.log(bounds_b[0]), np.log(bounds_b[1])
    n = lo_x.shape[0]
    t = np.linspace(0.0, 1.0, _GRID_2D)
    gx = lo_x[None] + t[:, None] * (hi_x - lo_x)[None]  # (G, n)
    gy = lo_y[None] + t[:, None] * (hi_y - lo_y)[None]
    rate = np.empty((_GRID_2D, _GRID_2D, n))
    fraction = np.empty_like(rate)
    for i in range(_GRID_2D):  # one kernel call per grid row keeps the temporaries small
        rate[i], fraction[i] = objective((np.broadcast_to(gx[i], (_GRID_2D, n)), gy))
    flat_rate = rate.reshape(_GRID_2D * _GRID_2D, n)
    flat_fraction = fraction.reshape(_GRID_2D * _GRID_2D, n)
    cols = np.arange(n)
    xs, ys = [], []
    for start in _starts(flat_rate, flat_fraction):
        ia, ib = _climb_2d(rate, start // _GRID_2D, start % _GRID_2D)
        xs.append(gx[ia, cols])
        ys.append(gy[ib, cols])
    x, y = np.stack(xs), np.stack(ys)  # (2, n)
    box = tuple(np.broadcast_to(v, x.shape) for v in (lo_x, hi_x, lo_y, hi_y))
    step = np.broadcast_to((hi_x - lo_x) / (_GRID_2D - 1) / 2.0, x.shape).copy()
    x, y, value = _compass(objective, x, y, step, box)
    x, y, value = _newton(objective, x, y, value, box)
    pick = np.argmax(value, axis=0)
    return np.exp(x[pick, cols]), np.exp(y[pick, cols]), value[pick, cols]


def optimal_signal(
    protocol: str, columns: Mapping[str, Any], decoy: str
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Optimal signal intensities of many links, each with its own parameters.

    Parameters
    ----------
    protocol : {"bb84-decoy", "mdi"}
    columns : mapping of str to array, shape ``(n,)``
        Every column of :data:`~qkdcircuits.links.params.COLUMNS` ``[protocol]``.
    decoy : str
        Decoy method.

    Returns
    -------
    (dict of str to numpy.ndarray, numpy.ndarray)
        The optimal signal column(s) (``signal_intensity`` or ``signal_intensity_a``/``_b``)
        and the maximal unclipped rate per pulse, shape ``(n,)``.
    """
    cols = {k: np.atleast_1d(np.asarray(v, dtype=float)) for k, v in columns.items()}
    n = np.broadcast_shapes(*(v.shape for v in cols.values()))[0]
    cols = {k: np.broadcast_to(v, (n,)) for k, v in cols.items()}
    bounds = signal_bounds(protocol, cols, decoy)
    names = SIGNAL_COLUMNS[protocol]
    result = {name: np.empty(n) for name in names}
    rate = np.empty(n)
    if protocol == "bb84-decoy":
        groups = [(np.ones(n, dtype=bool), 1)]
    else:
        sym = symmetric_links(cols)
        groups = [(sym, 1), (~sym, 2)]
    for mask, dims in groups:
        if not np.any(mask):
            continue
        sub = {k: v[mask] for k, v in cols.items()}
        model = rate_model(protocol, sub, decoy)
        # One log-intensity drives every signal column in 1-D (mu_a = mu_b for symmetric MDI).
        objective = _objective(model, names)
        if dims == 1:
            low = np.maximum.reduce([bounds[name][0][mask] for name in names])
            high = np.minimum.reduce([bounds[name][1][mask] for name in names])
            mu, value = optimise_1d(objective, low, high)
            for name in names:
                result[name][mask] = mu
        else:
            (la, ha), (lb, hb) = (
                (bounds[names[0]][0][mask], bounds[names[0]][1][mask]),
                (bounds[names[1]][0][mask], bounds[names[1]][1][mask]),
            )
            mu_a, mu_b, value = optimise_2d(objective, (la, ha), (lb, hb))
            result[names[0]][mask], result[names[1]][mask] = mu_a, mu_b
        rate[mask] = value
    return result, rate


def optimize_intensities(
    params: LinkParams,
    *,
    decoy: str = "infinite",
    length_km: float | None = None,
    length_a_km: float | None = None,
    length_b_km: float | None = None,
    relay_fraction: float = 0.5,
) -> OptimalIntensities:
    """Signal intensities maximising the key rate of one link at one distance.

    The vectorised optimiser of this module applied to one link (the same code path as
    :func:`qkdcircuits.links.batch.evaluate_links` with ``optimize=True``). Decoy intensities
    are kept fixed; finite-decoy methods require ``mu > nu + omega``. Symmetric MDI-QKD links
    (equal arms and decoys) get ``mu_a = mu_b``.

    Parameters
    ----------
    params : BB84DecoyParams or MDIParams
        The link.
    decoy : str
        Decoy method (see :data:`~qkdcircuits.links.evaluation.DECOY_METHODS`).
    length_km, length_a_km, length_b_km, relay_fraction
        Lengths in km, as in :func:`~qkdcircuits.links.evaluation.evaluate_link` (scalars).

    Returns
    -------
    OptimalIntensities
        Intensities in photons per pulse, searched in [:data:`MU_MIN`, :data:`MU_MAX`].

    Raises
    ------
    ValueError
        For an array of lengths, an unsupported decoy method or decoys leaving no room.
    TypeError
        If ``params`` is not a parameter object.

    Examples
    --------
    >>> from qkdcircuits import MDIParams
    >>> best = optimize_intensities(MDIParams.xu2013(), length_km=0.0)
    >>> round(best.intensities["mu_a"], 3), f"{best.key_rate_per_pulse:.4e}"
    (0.599, '5.7516e-04')
    """
    params = check_params(params)
    decoy = check_decoy(params.protocol, decoy)
    total, la, lb = resolve_lengths(params, length_km, length_a_km, length_b_km, relay_fraction)
    if total.ndim != 0:
        raise ValueError(
            f"optimize_intensities takes one distance, got length_km of shape {total.shape}; "
            "use key_rate_curve or evaluate_links for arrays"
        )
    columns: dict[str, Any] = dict(params_to_columns(params))
    if la is None:
        columns["length_km"] = total
    else:
        columns["length_a_km"], columns["length_b_km"] = la, lb
    signal, rate = optimal_signal(params.protocol, columns, decoy)
    names = SIGNAL_NAMES[params.protocol]
    intensities = {
        name: float(signal[column][0])
        for name, column in zip(names, SIGNAL_COLUMNS[params.protocol], strict=True)
    }
    return OptimalIntensities(intensities, float(rate[0]))
