"""Independent reference implementations for the link tests (not the code under test).

* ``mdi_gains_mp``, ``mdi_single_mp``, ``mdi_rate_mp``: the closed forms of Xu, Curty, Qi, Lo,
  New J. Phys. 15, 113007 (2013), Appendix B, written out literally in 50-digit mpmath.
* ``gllp_rate_mp``: decoy-state BB84 with infinite decoys (Ma, Qi, Zhao, Lo, PRA 72, 012326
  (2005), Eqs. (3)-(8) with the exact threshold-detector yield ``Y0 + eta_n - Y0 eta_n``).
* ``mdi_rate_grid``: the same MDI-QKD formulas in plain float64 numpy, written out again, for
  brute-force grids over ``(mu_a, mu_b)`` (the Z-basis formulas have no cancellation problem).
* ``brute_force_max``: maximise a vectorised function over a log grid, then zoom in twice.
* ``bisect_root``: plain bisection.
* ``bb84_block_reference``, ``mdi_block_reference``: pulses per finite-key block and the key
  per pulse with perfect parameter estimation at the finite-key protocols' settings.
* ``lim_by_hand``: the finite-key bounds of Lim et al., PRA 89, 022307 (2014), Eqs. (1)-(5),
  scalar, from the paper's text.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import mpmath
import numpy as np

XU2013 = {"alpha": 0.2, "eta_d": 0.145, "p_d": 3e-6, "e_d": 0.015, "f": 1.16}
GYS = {"alpha": 0.21, "eta_bob": 0.045, "y0": 1.7e-6, "e_d": 0.033, "f": 1.22, "q": 0.5}


def _mp(*values: float) -> list[mpmath.mpf]:
    return [mpmath.mpf(v) for v in values]


def h2_mp(p: mpmath.mpf) -> mpmath.mpf:
    if p <= 0 or p >= 1:
        return mpmath.mpf(0)
    return -p * mpmath.log(p, 2) - (1 - p) * mpmath.log(1 - p, 2)


def mdi_gains_mp(mu_a, mu_b, eta_a, eta_b, p_d, e_d) -> list[float]:
    """``[Q_Z, E_Z, Q_X, E_X]``, Eqs. (B1)-(B4), in 50-digit arithmetic."""
    with mpmath.workdps(50):
        mu_a, mu_b, eta_a, eta_b, p_d, e_d = _mp(mu_a, mu_b, eta_a, eta_b, p_d, e_d)
        exp, i0 = mpmath.exp, lambda x: mpmath.besseli(0, x)
        mu_p = eta_a * mu_a + eta_b * mu_b
        x = mpmath.sqrt(eta_a * mu_a * eta_b * mu_b) / 2
        y = (1 - p_d) * exp(-mu_p / 4)
        q_c = (
            2
            * (1 - p_d) ** 2
            * exp(-mu_p / 2)
            * (1 - (1 - p_d) * exp(-eta_a * mu_a / 2))
            * (1 - (1 - p_d) * exp(-eta_b * mu_b / 2))
        )
        q_e = 2 * p_d * (1 - p_d) ** 2 * exp(-mu_p / 2) * (i0(2 * x) - (1 - p_d) * exp(-mu_p / 2))
        q_x = 2 * y**2 * (1 + 2 * y**2 - 4 * y * i0(x) + i0(2 * x))
        eq_x = q_x / 2 - 2 * (mpmath.mpf(1) / 2 - e_d) * y**2 * (i0(2 * x) - 1)
        q_z = q_c + q_e
        return [float(v) for v in (q_z, (e_d * q_c + (1 - e_d) * q_e) / q_z, q_x, eq_x / q_x)]


def mdi_single_mp(eta_a, eta_b, p_d, e_d) -> tuple[mpmath.mpf, mpmath.mpf]:
    """``(Y11, e11_X)`` of Ma and Razavi (PRA 86, 062319 (2012)) as quoted by Xu et al."""
    eta_a, eta_b, p_d, e_d = _mp(eta_a, eta_b, p_d, e_d)
    y11 = (1 - p_d) ** 2 * (
        eta_a * eta_b / 2
        + (2 * eta_a + 2 * eta_b - 3 * eta_a * eta_b) * p_d
        + 4 * (1 - eta_a) * (1 - eta_b) * p_d**2
    )
    e11 = (y11 / 2 - (mpmath.mpf(1) / 2 - e_d) * (1 - p_d) ** 2 * eta_a * eta_b / 2) / y11
    return y11, e11


def mdi_rate_mp(length_a, length_b, mu_a, mu_b, **overrides) -> float:
    """Infinite-decoy MDI-QKD rate ``mu_a mu_b e^{-mu_a-mu_b} Y11 [1 - H2(e11)] - Q_Z f H2(E_Z)``
    (Xu et al. 2013, Eq. (1)), all in 50-digit arithmetic."""
    c = {**XU2013, **overrides}
    with mpmath.workdps(50):
        eta_a = mpmath.mpf(c["eta_d"]) * mpmath.power(10, -mpmath.mpf(c["alpha"]) * length_a / 10)
        eta_b = mpmath.mpf(c["eta_d"]) * mpmath.power(10, -mpmath.mpf(c["alpha"]) * length_b / 10)
        q_z, e_z, _, _ = (
            mpmath.mpf(v) for v in mdi_gains_mp(mu_a, mu_b, eta_a, eta_b, c["p_d"], c["e_d"])
        )
        y11, e11 = mdi_single_mp(eta_a, eta_b, c["p_d"], c["e_d"])
        mu_a, mu_b = _mp(mu_a, mu_b)
        p11 = mu_a * mu_b * mpmath.exp(-mu_a - mu_b)
        return float(p11 * y11 * (1 - h2_mp(e11)) - q_z * c["f"] * h2_mp(e_z))


def gllp_rate_mp(length_km, mu, **overrides) -> float:
    """Infinite-decoy GLLP rate of decoy BB84 with threshold detectors, 50 digits."""
    c = {**GYS, **overrides}
    with mpmath.workdps(50):
        eta = mpmath.mpf(c["eta_bob"]) * mpmath.power(10, -mpmath.mpf(c["alpha"]) * length_km / 10)
        y0, e_d, mu = _mp(c["y0"], c["e_d"], mu)
        q = 1 - (1 - y0) * mpmath.exp(-eta * mu)
        e = (y0 / 2 + e_d * (1 - mpmath.exp(-eta * mu))) / q
        y1 = y0 + eta - y0 * eta
        e1 = (y0 / 2 + e_d * eta) / y1
        q1 = y1 * mu * mpmath.exp(-mu)
        return float(c["q"] * (q1 * (1 - h2_mp(e1)) - q * c["f"] * h2_mp(e)))


def _h2(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-300, 1 - 1e-16)
    return -p * np.log2(p) - (1 - p) * np.log2(1 - p)


def mdi_rate_grid(length_a, length_b, mu_a, mu_b, **overrides) -> np.ndarray:
    """Float64 numpy version of :func:`mdi_rate_mp` (broadcasts), for brute-force grids."""
    c = {**XU2013, **overrides}
    p_d, e_d = c["p_d"], c["e_d"]
    eta_a = c["eta_d"] * 10 ** (-c["alpha"] * np.asarray(length_a) / 10)
    eta_b = c["eta_d"] * 10 ** (-c["alpha"] * np.asarray(length_b) / 10)
    mu_a, mu_b = np.asarray(mu_a, dtype=float), np.asarray(mu_b, dtype=float)
    mu_p = eta_a * mu_a + eta_b * mu_b
    x = np.sqrt(eta_a * mu_a * eta_b * mu_b) / 2
    q_c = (
        2
        * (1 - p_d) ** 2
        * np.exp(-mu_p / 2)
        * (1 - (1 - p_d) * np.exp(-eta_a * mu_a / 2))
        * (1 - (1 - p_d) * np.exp(-eta_b * mu_b / 2))
    )
    from scipy.special import i0

    q_e = 2 * p_d * (1 - p_d) ** 2 * np.exp(-mu_p / 2) * (i0(2 * x) - (1 - p_d) * np.exp(-mu_p / 2))
    q_z = q_c + q_e
    e_z = (e_d * q_c + (1 - e_d) * q_e) / q_z
    y11 = (1 - p_d) ** 2 * (
        eta_a * eta_b / 2
        + (2 * eta_a + 2 * eta_b - 3 * eta_a * eta_b) * p_d
        + 4 * (1 - eta_a) * (1 - eta_b) * p_d**2
    )
    e11 = (y11 / 2 - (0.5 - e_d) * (1 - p_d) ** 2 * eta_a * eta_b / 2) / y11
    single = mu_a * mu_b * np.exp(-mu_a - mu_b) * y11 * (1 - _h2(e11))
    return single - q_z * c["f"] * _h2(e_z)


def brute_force_max(
    function: Callable[..., np.ndarray],
    dims: int,
    low: float = 1e-3,
    high: float = 2.0,
    points: int = 301,
    zooms: int = 3,
) -> tuple[tuple[float, ...], float]:
    """Maximise ``function(*mus)`` over a log grid in ``[low, high]^dims``, then zoom in
    (a grid of the same size over +-2 cells around the best point) ``zooms`` times."""
    lo = np.full(dims, math.log(low))
    hi = np.full(dims, math.log(high))
    best, value = None, -math.inf
    for _ in range(zooms + 1):
        axes = [np.linspace(lo[d], hi[d], points) for d in range(dims)]
        mesh = np.meshgrid(*axes, indexing="ij")
        values = function(*(np.exp(m) for m in mesh))
        k = np.unravel_index(int(np.argmax(values)), values.shape)
        best = tuple(float(mesh[d][k]) for d in range(dims))
        value = float(values[k])
        step = np.array([(hi[d] - lo[d]) / (points - 1) for d in range(dims)])
        lo = np.maximum(np.array(best) - 2 * step, math.log(low))
        hi = np.minimum(np.array(best) + 2 * step, math.log(high))
    assert best is not None
    return tuple(math.exp(b) for b in best), value


def bisect_root(function: Callable[[float], float], low: float, high: float, tol: float) -> float:
    """Root of a function positive at ``low`` and not positive at ``high``, by bisection."""
    assert function(low) > 0 >= function(high)
    while high - low > tol:
        mid = 0.5 * (low + high)
        if function(mid) > 0:
            low = mid
        else:
            high = mid
    return 0.5 * (low + high)


def gllp_rate_grid(length_km, mu, **overrides) -> np.ndarray:
    """Float64 numpy version of :func:`gllp_rate_mp` (broadcasts), for brute-force grids."""
    c = {**GYS, **overrides}
    eta = c["eta_bob"] * 10 ** (-c["alpha"] * np.asarray(length_km) / 10)
    y0, e_d, mu = c["y0"], c["e_d"], np.asarray(mu, dtype=float)
    q = 1 - (1 - y0) * np.exp(-eta * mu)
    e = (y0 / 2 + e_d * (1 - np.exp(-eta * mu))) / q
    y1 = y0 + eta - y0 * eta
    e1 = (y0 / 2 + e_d * eta) / y1
    return c["q"] * (y1 * mu * np.exp(-mu) * (1 - _h2(e1)) - q * c["f"] * _h2(e))


def bb84_block_reference(eta, y0, e_d, f, q, mu, p, block) -> dict[str, float]:
    """Decoy BB84 as in Lim et al., PRA 89, 022307 (2014) (key from the X basis of all three
    intensities, ``q`` the X-basis probability), with *perfect* parameter estimation: the
    expected vacuum and single-photon detections of one block of ``block`` X detections
    (infinite decoys, no finite-size terms), in 50-digit arithmetic.

    Returns ``pulses`` (``N = block / (q^2 sum_k p_k Q_k)``) and ``ideal_rate``, the key per
    pulse ``q^2 [tau_0 Y0 + tau_1 Y1 (1 - h(e1)) - f Qbar h(Ebar)]`` with the threshold-detector
    closed forms of Ma, Qi, Zhao, Lo, PRA 72, 012326 (2005): an upper bound on any finite key.
    """
    with mpmath.workdps(50):
        eta, y0, e_d, f, q, block = _mp(eta, y0, e_d, f, q, block)
        mu, p = _mp(*mu), _mp(*p)
        gain = [1 - (1 - y0) * mpmath.exp(-eta * k) for k in mu]
        error = [y0 / 2 + e_d * (1 - mpmath.exp(-eta * k)) for k in mu]
        mean_gain = sum(pk * g for pk, g in zip(p, gain, strict=True))
        mean_error = sum(pk * e for pk, e in zip(p, error, strict=True))
        tau0 = sum(pk * mpmath.exp(-k) for pk, k in zip(p, mu, strict=True))
        tau1 = sum(pk * k * mpmath.exp(-k) for pk, k in zip(p, mu, strict=True))
        y1 = y0 + eta - y0 * eta
        e1 = (y0 / 2 + e_d * eta) / y1
        per_pulse = q**2 * (
            tau0 * y0 + tau1 * y1 * (1 - h2_mp(e1)) - f * mean_gain * h2_mp(mean_error / mean_gain)
        )
        return {"pulses": float(block / (q**2 * mean_gain)), "ideal_rate": float(per_pulse)}


def mdi_block_reference(eta_a, eta_b, p_d, e_d, f, q, mu, p, block) -> dict[str, float]:
    """Three-intensity MDI-QKD (key from the Z basis of all nine intensity pairs, ``q`` the
    Z-basis probability, the same settings for both parties) with perfect parameter estimation,
    in 50-digit arithmetic (Xu, Curty, Qi, Lo, NJP 15, 113007 (2013), Appendix B).

    Returns ``pulses`` (``N = block / (q^2 sum_ab p_a p_b Q^Z_ab)``) and ``ideal_rate``,
    ``q^2 [tau_1^2 Y11 (1 - h(e11_X)) - f Qbar_Z h(Ebar_Z)]``: an upper bound on any finite key.
    """
    with mpmath.workdps(50):
        mean_gain = mean_error = mpmath.mpf(0)
        for a, pa in zip(mu, p, strict=True):
            for b, pb in zip(mu, p, strict=True):
                q_z, e_z, _, _ = (mpmath.mpf(v) for v in mdi_gains_mp(a, b, eta_a, eta_b, p_d, e_d))
                mean_gain += mpmath.mpf(pa) * mpmath.mpf(pb) * q_z
                mean_error += mpmath.mpf(pa) * mpmath.mpf(pb) * q_z * e_z
        y11, e11 = mdi_single_mp(eta_a, eta_b, p_d, e_d)
        tau1 = sum(
            mpmath.mpf(pk) * k * mpmath.exp(-mpmath.mpf(k)) for pk, k in zip(p, mu, strict=True)
        )
        q, f, block = _mp(q, f, block)
        per_pulse = q**2 * (
            tau1**2 * y11 * (1 - h2_mp(e11)) - f * mean_gain * h2_mp(mean_error / mean_gain)
        )
        return {"pulses": float(block / (q**2 * mean_gain)), "ideal_rate": float(per_pulse)}


def h2(x: float) -> float:
    return 0.0 if x <= 0 else -x * math.log2(x) - (1 - x) * math.log2(1 - x)


def lim_by_hand(mu, p, nx, mx, nz, mz, eps_sec, eps_cor, f, *, leak=None, sampling="lim2014"):
    """Eqs. (1)-(5) of Lim et al., PRA 89, 022307 (2014), scalar, straight from the paper's text.

    ``leak`` replaces ``f n_X h(m_X/n_X)`` by a measured leakage; ``sampling="serfling"``
    replaces ``gamma`` by Serfling's deviation ``sqrt((c+d)(d+1)/(2 c d^2) ln(21/eps_sec))``
    (R. J. Serfling, Ann. Stat. 2, 39 (1974)).
    """
    mu1, mu2, mu3 = mu
    tau0 = sum(pk * math.exp(-k) for k, pk in zip(mu, p, strict=True))
    tau1 = sum(pk * math.exp(-k) * k for k, pk in zip(mu, p, strict=True))
    ln21 = math.log(21 / eps_sec)

    def shifted(counts, total):
        delta = math.sqrt(total / 2 * ln21)
        minus = [
            math.exp(k) / pk * max(c - delta, 0.0) for k, pk, c in zip(mu, p, counts, strict=True)
        ]
        plus = [math.exp(k) / pk * (c + delta) for k, pk, c in zip(mu, p, counts, strict=True)]
        return minus, plus

    def s0_s1(counts):
        minus, plus = shifted(counts, sum(counts))
        s0 = max(tau0 * (mu2 * minus[2] - mu3 * plus[1]) / (mu2 - mu3), 0.0)
        s1 = (
            tau1
            * mu1
            * (minus[1] - plus[2] - (mu2**2 - mu3**2) / mu1**2 * (plus[0] - s0 / tau0))
            / (mu1 * (mu2 - mu3) - mu2**2 + mu3**2)
        )
        return s0, s1

    sx0, sx1 = s0_s1(nx)
    sz0, sz1 = s0_s1(nz)
    m_minus, m_plus = shifted(mz, sum(mz))
    vz1 = tau1 * (m_plus[1] - m_minus[2]) / (mu2 - mu3)
    b = vz1 / sz1
    c, d = sz1, sx1
    if sampling == "serfling":
        gamma = math.sqrt((c + d) * (d + 1) / (2 * c * d * d) * math.log(21 / eps_sec))
    else:
        gamma = math.sqrt(
            (c + d)
            * (1 - b)
            * b
            / (c * d * math.log(2))
            * math.log2((c + d) / (c * d * (1 - b) * b) * 21**2 / eps_sec**2)
        )
    phi = min(b + gamma, 0.5)
    n_x = sum(nx)
    leak = f * n_x * h2(sum(mx) / n_x) if leak is None else leak
    length = sx0 + sx1 - sx1 * h2(phi) - leak - 6 * math.log2(21 / eps_sec) - math.log2(2 / eps_cor)
    return dict(
        sx0=sx0, sx1=sx1, sz0=sz0, sz1=sz1, vz1=vz1, gamma=gamma, phi=phi, leak=leak, length=length
    )
