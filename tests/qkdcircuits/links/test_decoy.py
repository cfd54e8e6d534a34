"""Closed-form gains and QBERs, single-photon yields, and the finite-decoy bounds."""

from __future__ import annotations

import itertools
import math

import mpmath
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import factorial

from qkdcircuits import (
    bb84_error_gain,
    bb84_gain,
    bb84_single_photon,
    bb84_two_decoy_bounds,
    bb84_vacuum_weak_bounds,
    mdi_error_upper_bound,
    mdi_gains,
    mdi_single_photon,
    mdi_three_intensity_bounds,
    mdi_yield_lower_bound,
)
from tests.qkdcircuits.links.reference import mdi_gains_mp

# GYS (Ma, Qi, Zhao, Lo, PRA 72, 012326 (2005)) and the MDI set of Xu et al. (NJP 15 (2013)).
GYS = {"alpha": 0.21, "eta_bob": 0.045, "y0": 1.7e-6, "e_d": 0.033}
XU = {"alpha": 0.2, "eta_d": 0.145, "p_d": 3e-6, "e_d": 0.015}


def gys_eta(length_km):
    return GYS["eta_bob"] * 10 ** (-GYS["alpha"] * np.asarray(length_km) / 10)


def xu_eta(length_km):
    return XU["eta_d"] * 10 ** (-XU["alpha"] * np.asarray(length_km) / 10)


def bb84(intensity, eta):
    q = bb84_gain(intensity=intensity, transmittance=eta, background_yield=GYS["y0"])
    eq = bb84_error_gain(
        intensity=intensity,
        transmittance=eta,
        background_yield=GYS["y0"],
        misalignment_prob=GYS["e_d"],
    )
    return q, eq / q


def mdi(mu_a, mu_b, eta_a, eta_b, **overrides):
    kw = {"dark_count_prob": XU["p_d"], "misalignment_prob": XU["e_d"], **overrides}
    return mdi_gains(
        intensity_a=mu_a, intensity_b=mu_b, transmittance_a=eta_a, transmittance_b=eta_b, **kw
    )


# -- BB84 ----------------------------------------------------------------------------------------


def test_bb84_gys_reference_point():
    # REFERENCES.md (computed): mu = 0.48 at 0 km gives Q_mu = 2.1370e-2 and E_mu = 0.033037.
    q, e = bb84(0.48, gys_eta(0.0))
    assert q == pytest.approx(2.1370e-2, rel=5e-5)
    assert e == pytest.approx(0.033037, rel=2e-5)
    # and exactly the threshold-detector formulas Q = 1 - (1 - Y0) exp(-eta mu) (Ma et al.,
    # Eq. (3) summed without dropping Y0 eta) and E Q = Y0/2 + e_d (1 - exp(-eta mu)) (Eq. (8))
    eta = 0.045
    assert q == pytest.approx(1 - (1 - 1.7e-6) * math.exp(-eta * 0.48), rel=1e-14)
    assert e * q == pytest.approx(0.85e-6 + 0.033 * (1 - math.exp(-eta * 0.48)), rel=1e-14)


@pytest.mark.parametrize("y0", [0.0, 1.7e-6, 0.3, 1.0])
@pytest.mark.parametrize("eta_mu", [0.0, 1e-9, 0.5, 45.0, 1e6])
def test_bb84_gain_is_a_probability(y0, eta_mu):
    """A gain never exceeds 1 (the approximate Y0 + 1 - e^{-eta mu} reached 1 + Y0)."""
    q = bb84_gain(intensity=eta_mu, transmittance=1.0, background_yield=y0)
    eq = bb84_error_gain(
        intensity=eta_mu, transmittance=1.0, background_yield=y0, misalignment_prob=0.5
    )
    assert 0.0 <= eq <= q <= 1.0
    with mpmath.workdps(50):
        exact = float(1 - (1 - mpmath.mpf(y0)) * mpmath.exp(-mpmath.mpf(eta_mu)))
    assert q == pytest.approx(exact, rel=1e-14, abs=1e-300)


def test_bb84_single_photon_and_broadcasting():
    lengths = np.linspace(0, 200, 7)
    eta = gys_eta(lengths)
    y1, e1 = bb84_single_photon(
        transmittance=eta, background_yield=GYS["y0"], misalignment_prob=GYS["e_d"]
    )
    np.testing.assert_allclose(y1, GYS["y0"] + eta - GYS["y0"] * eta, rtol=1e-15)
    np.testing.assert_allclose(e1, (GYS["y0"] / 2 + GYS["e_d"] * eta) / y1, rtol=1e-14)
    grid = bb84_gain(
        intensity=np.array([0.1, 0.5])[:, None], transmittance=eta, background_yield=1e-6
    )
    assert grid.shape == (2, 7)
    assert np.all(np.diff(grid, axis=1) < 0)  # the gain falls with distance


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"intensity": -0.1, "transmittance": 0.1, "background_yield": 0.0}, "intensity"),
        ({"intensity": 0.5, "transmittance": 1.2, "background_yield": 0.0}, "transmittance"),
        ({"intensity": 0.5, "transmittance": 0.1, "background_yield": math.nan}, "background"),
    ],
)
def test_bb84_invalid_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        bb84_gain(**kwargs)


def vacuum_weak(mu, nu, eta):
    (q_mu, _), (q_nu, e_nu) = bb84(mu, eta), bb84(nu, eta)
    return bb84_vacuum_weak_bounds(
        signal_intensity=mu,
        decoy_intensity=nu,
        gain_signal=q_mu,
        gain_decoy=q_nu,
        gain_vacuum=GYS["y0"],
        qber_decoy=e_nu,
    )


def test_bb84_vacuum_weak_matches_the_published_formula():
    mu, nu, eta = 0.48, 0.1, gys_eta(40.0)
    (q_mu, _), (q_nu, e_nu) = bb84(mu, eta), bb84(nu, eta)
    y0 = GYS["y0"]
    # Ma et al. 2005, Eqs. (20)-(21), written out.
    y1_low = (mu / (mu * nu - nu**2)) * (
        q_nu * math.exp(nu) - q_mu * math.exp(mu) * nu**2 / mu**2 - (mu**2 - nu**2) / mu**2 * y0
    )
    e1_up = (e_nu * q_nu * math.exp(nu) - y0 / 2) / (y1_low * nu)
    bounds = vacuum_weak(mu, nu, eta)
    assert bounds.yield_lower == pytest.approx(y1_low, rel=1e-12)
    assert bounds.error_upper == pytest.approx(e1_up, rel=1e-12)


@pytest.mark.parametrize("length_km", [0.0, 50.0, 100.0, 140.0])
@pytest.mark.parametrize("mu", [0.3, 0.48, 0.8])
def test_bb84_bounds_are_valid_and_converge(length_km, mu):
    eta = gys_eta(length_km)
    y1, e1 = bb84_single_photon(
        transmittance=eta, background_yield=GYS["y0"], misalignment_prob=GYS["e_d"]
    )
    gaps = []
    for nu in (0.2, 0.05, 1e-2, 1e-3, 1e-4):
        b = vacuum_weak(mu, nu, eta)
        assert b.yield_lower <= y1 * (1 + 1e-12)
        assert b.error_upper >= e1 * (1 - 1e-12)
        gaps.append((y1 - b.yield_lower) / y1 + (b.error_upper - e1) / e1)
    # Monotone convergence, linear in nu: the bound's error falls ~10x per decade of nu.
    assert all(a > b for a, b in itertools.pairwise(gaps))
    assert gaps[-1] < 2e-3
    assert gaps[-1] / gaps[-2] < 0.15


def test_bb84_two_decoy_reduces_to_vacuum_weak_and_is_valid():
    mu, eta = 0.5, gys_eta(60.0)
    y1, e1 = bb84_single_photon(
        transmittance=eta, background_yield=GYS["y0"], misalignment_prob=GYS["e_d"]
    )
    (q_mu, _), (q_1, e_1) = bb84(mu, eta), bb84(0.1, eta)
    q_0, e_0 = bb84(0.0, eta)
    two = bb84_two_decoy_bounds(
        signal_intensity=mu,
        decoy_intensity=0.1,
        weak_decoy_intensity=0.0,
        gain_signal=q_mu,
        gain_decoy=q_1,
        gain_weak=q_0,
        qber_decoy=e_1,
        qber_weak=e_0,
    )
    one = vacuum_weak(mu, 0.1, eta)
    assert two.yield_lower == pytest.approx(one.yield_lower, rel=1e-13)
    assert two.error_upper == pytest.approx(one.error_upper, rel=1e-12)
    previous = None
    for nu2 in (0.05, 0.01, 1e-3):
        q_2, e_2 = bb84(nu2, eta)
        b = bb84_two_decoy_bounds(
            signal_intensity=mu,
            decoy_intensity=0.1,
            weak_decoy_intensity=nu2,
            gain_signal=q_mu,
            gain_decoy=q_1,
            gain_weak=q_2,
            qber_decoy=e_1,
            qber_weak=e_2,
        )
        assert b.yield_lower < y1
        assert b.error_upper > e1
        if previous is not None:
            assert b.yield_lower > previous  # a weaker second decoy gives a tighter bound
        previous = b.yield_lower


def test_bb84_bound_intensity_conditions():
    common = {
        "gain_signal": 0.02,
        "gain_decoy": 0.005,
        "gain_weak": 1e-3,
        "qber_decoy": 0.05,
        "qber_weak": 0.1,
    }
    with pytest.raises(ValueError, match="signal_intensity"):
        bb84_two_decoy_bounds(
            signal_intensity=0.2, decoy_intensity=0.15, weak_decoy_intensity=0.1, **common
        )
    with pytest.raises(ValueError, match="decoy_intensity"):
        bb84_two_decoy_bounds(
            signal_intensity=0.5, decoy_intensity=0.1, weak_decoy_intensity=0.1, **common
        )
    with pytest.raises(ValueError, match="qber_decoy"):
        bb84_two_decoy_bounds(
            signal_intensity=0.5,
            decoy_intensity=0.1,
            weak_decoy_intensity=0.0,
            **{**common, "qber_decoy": math.nan},
        )


def _poisson_mixture(yields, intensity):
    n = np.arange(yields.shape[-1])
    return np.sum(yields * np.exp(-intensity) * intensity**n / factorial(n), axis=-1)


@settings(max_examples=200, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    mu=st.floats(0.2, 1.2),
    nu_fraction=st.floats(0.05, 0.95),
    weak_fraction=st.floats(0.0, 0.95),
)
def test_bb84_two_decoy_bound_holds_for_any_channel(seed, mu, nu_fraction, weak_fraction):
    """Any yields Y_n in [0, 1] and errors e_n in [0, 1]: Y1^L <= Y1 and e1^U >= e1."""
    rng = np.random.default_rng(seed)
    size = 30
    kind = rng.integers(0, 3, size)
    yields = np.where(kind == 0, 0.0, np.where(kind == 1, 1.0, rng.random(size)))
    errors = rng.random(size) * rng.integers(0, 2, size)
    nu = nu_fraction * mu / 2
    nu2 = weak_fraction * nu  # mu > nu + nu2 holds since nu < mu/2
    gains = [_poisson_mixture(yields, v) for v in (mu, nu, nu2)]
    error_gains = [_poisson_mixture(errors * yields, v) for v in (nu, nu2)]
    qbers = [eg / g if g > 0 else 0.0 for eg, g in zip(error_gains, gains[1:], strict=True)]
    b = bb84_two_decoy_bounds(
        signal_intensity=mu,
        decoy_intensity=nu,
        weak_decoy_intensity=nu2,
        gain_signal=min(gains[0], 1.0),
        gain_decoy=min(gains[1], 1.0),
        gain_weak=min(gains[2], 1.0),
        qber_decoy=min(qbers[0], 1.0),
        qber_weak=min(qbers[1], 1.0),
    )
    assert b.yield_lower <= yields[1] + 1e-12
    if b.yield_lower > 1e-9:
        assert b.error_upper * b.yield_lower >= errors[1] * yields[1] - 1e-12


# -- MDI-QKD --------------------------------------------------------------------------------------


def test_mdi_reference_point():
    # REFERENCES.md (computed): mu_a = mu_b = 0.5 at L = 0.
    g = mdi(0.5, 0.5, 0.145, 0.145)
    assert g.gain_z == pytest.approx(2.35833e-3, rel=5e-6)
    assert g.qber_z == pytest.approx(0.0151635, rel=5e-6)
    assert g.gain_x == pytest.approx(4.80351e-3, rel=5e-6)
    assert g.qber_x == pytest.approx(0.253122, rel=5e-6)


@pytest.mark.parametrize(
    ("mu_a", "mu_b", "length_a", "length_b"),
    [(0.5, 0.5, 0.0, 0.0), (0.3, 0.6, 10.0, 40.0), (0.05, 0.02, 80.0, 20.0), (1.5, 0.9, 0, 150)],
)
def test_mdi_gains_equal_the_textbook_formulas(mu_a, mu_b, length_a, length_b):
    eta_a, eta_b = float(xu_eta(length_a)), float(xu_eta(length_b))
    expected = mdi_gains_mp(mu_a, mu_b, eta_a, eta_b, XU["p_d"], XU["e_d"])
    got = mdi(mu_a, mu_b, eta_a, eta_b)
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    swapped = mdi(mu_b, mu_a, eta_b, eta_a)  # the relay treats Alice and Bob alike
    np.testing.assert_allclose(swapped, got, rtol=1e-12)


@pytest.mark.parametrize(
    ("mu_a", "mu_b", "eta_a", "eta_b", "p_d"),
    [
        (1e-4, 1e-4, 1e-3, 1e-3, 3e-6),
        (1e-3, 2e-4, 0.145, 0.01, 1e-9),
        (1e-6, 1e-6, 0.5, 0.5, 0.0),
    ],
)
def test_mdi_gains_stay_accurate_at_tiny_intensities(mu_a, mu_b, eta_a, eta_b, p_d):
    """The textbook Q_X cancels to O(mu') in double precision; ours must not."""
    exact = mdi_gains_mp(mu_a, mu_b, eta_a, eta_b, p_d, XU["e_d"])
    got = mdi(mu_a, mu_b, eta_a, eta_b, dark_count_prob=p_d)
    np.testing.assert_allclose(got, exact, rtol=1e-11)


def test_mdi_ideal_limit():
    # e_d = 0, no dark counts: no errors in Z, Y11 = eta_a eta_b / 2 and e11 = 0.
    g = mdi(0.4, 0.7, 0.3, 0.6, dark_count_prob=0.0, misalignment_prob=0.0)
    assert g.qber_z == 0.0
    expected_qz = 2 * math.exp(-(0.3 * 0.4 + 0.6 * 0.7) / 2)
    expected_qz *= (1 - math.exp(-0.3 * 0.4 / 2)) * (1 - math.exp(-0.6 * 0.7 / 2))
    assert g.gain_z == pytest.approx(expected_qz, rel=1e-14)
    y11, e11 = mdi_single_photon(
        transmittance_a=0.3, transmittance_b=0.6, dark_count_prob=0.0, misalignment_prob=0.0
    )
    assert (y11, e11) == (pytest.approx(0.09), 0.0)


def test_mdi_single_photon_reference():
    y11, e11 = mdi_single_photon(
        transmittance_a=0.145, transmittance_b=0.145, dark_count_prob=3e-6, misalignment_prob=0.015
    )
    eta, p_d = 0.145, 3e-6
    expected = (1 - p_d) ** 2 * (
        eta**2 / 2 + (4 * eta - 3 * eta**2) * p_d + 4 * (1 - eta) ** 2 * p_d**2
    )
    assert y11 == pytest.approx(expected, rel=1e-15)
    assert e11 * y11 == pytest.approx(y11 / 2 - 0.485 * (1 - p_d) ** 2 * eta**2 / 2, rel=1e-14)


def _mdi_tables(ints_a, ints_b, eta_a, eta_b):
    a = np.asarray(ints_a)[:, None]
    b = np.asarray(ints_b)[None, :]
    return mdi(a, b, eta_a, eta_b)


@pytest.mark.parametrize(("length_a", "length_b"), [(0.0, 0.0), (25.0, 25.0), (10.0, 90.0)])
@pytest.mark.parametrize("mu", [0.3, 0.5, 0.9])
def test_mdi_bounds_are_valid_and_converge(length_a, length_b, mu):
    eta_a, eta_b = float(xu_eta(length_a)), float(xu_eta(length_b))
    y11, e11 = mdi_single_photon(
        transmittance_a=eta_a,
        transmittance_b=eta_b,
        dark_count_prob=XU["p_d"],
        misalignment_prob=XU["e_d"],
    )
    gaps = []
    for nu in (0.1, 1e-2, 1e-3, 1e-4):
        ints = (mu, nu, nu / 10)
        g = _mdi_tables(ints, ints, eta_a, eta_b)
        b = mdi_three_intensity_bounds(
            intensities_a=ints,
            intensities_b=ints,
            gains_z=g.gain_z,
            gains_x=g.gain_x,
            qbers_x=g.qber_x,
        )
        assert b.yield_lower <= y11 * (1 + 1e-12)
        assert b.error_upper >= e11 * (1 - 1e-12)
        gaps.append((y11 - b.yield_lower) / y11 + (b.error_upper - e11) / e11)
    assert all(a > b for a, b in itertools.pairwise(gaps))
    # Linear convergence: at least 5x tighter per decade of nu once nu is small. (With very
    # unequal arms the constant is large: X-basis pairs with two photons from the near side
    # dominate the error gains.)
    assert gaps[-1] < 0.2 * gaps[-2] < 0.04 * gaps[-3]
    assert gaps[-1] < (5e-3 if length_a == length_b else 0.1)


def test_mdi_bound_with_vacuum_decoy_and_asymmetric_intensities():
    eta_a, eta_b = float(xu_eta(15.0)), float(xu_eta(60.0))
    ints_a, ints_b = (0.4, 0.05, 0.0), (0.7, 0.1, 0.01)
    g = _mdi_tables(ints_a, ints_b, eta_a, eta_b)
    y11, e11 = mdi_single_photon(
        transmittance_a=eta_a,
        transmittance_b=eta_b,
        dark_count_prob=XU["p_d"],
        misalignment_prob=XU["e_d"],
    )
    y_x = mdi_yield_lower_bound(intensities_a=ints_a, intensities_b=ints_b, gains=g.gain_x)
    y_z = mdi_yield_lower_bound(intensities_a=ints_a, intensities_b=ints_b, gains=g.gain_z)
    e_x = mdi_error_upper_bound(
        intensities_a=ints_a, intensities_b=ints_b, gains=g.gain_x, qbers=g.qber_x, yield_lower=y_x
    )
    assert 0.7 * y11 < y_z <= y11
    assert y_x <= y11  # valid, though loose here (see mdi_three_intensity_bounds)
    assert e11 <= e_x or np.isnan(e_x)
    both = mdi_three_intensity_bounds(
        intensities_a=ints_a,
        intensities_b=ints_b,
        gains_z=g.gain_z,
        gains_x=g.gain_x,
        qbers_x=g.qber_x,
    )
    assert both.yield_lower == max(y_z, y_x)
    assert e11 <= both.error_upper < 0.5


@settings(max_examples=150, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    mu_a=st.floats(0.2, 1.0),
    mu_b=st.floats(0.2, 1.0),
    nu_fraction=st.floats(0.05, 0.95),
    omega_fraction=st.floats(0.0, 0.95),
)
def test_mdi_bound_holds_for_any_channel(seed, mu_a, mu_b, nu_fraction, omega_fraction):
    """Any yields Y_nm in [0, 1] and errors e_nm: Y11^L <= Y11 and e11^U >= e11."""
    rng = np.random.default_rng(seed)
    size = 16
    kind = rng.integers(0, 3, (size, size))
    yields = np.where(kind == 0, 0.0, np.where(kind == 1, 1.0, rng.random((size, size))))
    errors = rng.random((size, size)) * rng.integers(0, 2, (size, size))
    n = np.arange(size)

    def ints(mu):
        nu = nu_fraction * mu / 2
        return (mu, nu, omega_fraction * nu)  # mu > nu + omega

    ints_a, ints_b = ints(mu_a), ints(mu_b)

    def gain(values, a, b):
        wa = np.exp(-a) * a**n / factorial(n)
        wb = np.exp(-b) * b**n / factorial(n)
        return wa @ values @ wb

    gains = np.array([[gain(yields, a, b) for b in ints_b] for a in ints_a])
    error_gains = np.array([[gain(errors * yields, a, b) for b in ints_b] for a in ints_a])
    qbers = np.divide(error_gains, gains, out=np.zeros_like(gains), where=gains > 0)
    y_low = mdi_yield_lower_bound(intensities_a=ints_a, intensities_b=ints_b, gains=gains)
    assert y_low <= yields[1, 1] + 1e-12
    if y_low > 1e-9:
        e_up = mdi_error_upper_bound(
            intensities_a=ints_a,
            intensities_b=ints_b,
            gains=gains,
            qbers=np.minimum(qbers, 1.0),
            yield_lower=y_low,
        )
        assert e_up * y_low >= errors[1, 1] * yields[1, 1] - 1e-12


@pytest.mark.parametrize(
    ("ints", "message"),
    [
        ((0.5, 0.1, 0.1), "nu > omega"),
        ((0.3, 0.2, 0.15), "mu > nu \\+ omega"),
        ((0.5, 0.1), "three"),
    ],
)
def test_mdi_bound_intensity_conditions(ints, message):
    with pytest.raises(ValueError, match=message):
        mdi_yield_lower_bound(
            intensities_a=ints, intensities_b=(0.5, 0.1, 0.0), gains=np.ones((3, 3)) * 1e-3
        )


def test_mdi_bound_shape_check():
    with pytest.raises(ValueError, match="shape"):
        mdi_yield_lower_bound(
            intensities_a=(0.5, 0.1, 0.0), intensities_b=(0.5, 0.1, 0.0), gains=np.ones((2, 3))
        )
