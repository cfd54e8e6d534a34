"""Key rates: entropy, GLLP and MDI-QKD against independent references, optimisation, curves,
maximum distance.

References (tests/qkdcircuits/links/reference.py) are written independently of the package: the
closed forms of Xu et al. 2013 and Ma et al. 2005 in 50-digit mpmath, brute-force grids over the
intensities (float64 numpy, written out again) and plain bisection for roots.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from scipy import optimize

from qkdcircuits import (
    BB84DecoyParams,
    Detector,
    MDIParams,
    binary_entropy,
    evaluate_link,
    gllp_key_rate,
    key_rate,
    key_rate_curve,
    link_report,
    max_distance,
    mdi_gains,
    optimize_intensities,
    shor_preskill_rate,
    with_overrides,
)
from tests.qkdcircuits.links.reference import (
    bisect_root,
    brute_force_max,
    gllp_rate_grid,
    gllp_rate_mp,
    mdi_rate_grid,
    mdi_rate_mp,
)

GYS = BB84DecoyParams.gys()
XU = MDIParams.xu2013()


# -- entropy and Shor-Preskill ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("p", "h"), [(0.01, 0.0807931359), (0.033, 0.2092204779), (0.11, 0.4999159582)]
)
def test_binary_entropy_reference_values(p, h):
    assert binary_entropy(p) == pytest.approx(h, abs=1e-10)
    assert binary_entropy(1 - p) == pytest.approx(h, abs=1e-10)


def test_binary_entropy_edges_and_errors():
    np.testing.assert_array_equal(binary_entropy(np.array([0.0, 0.5, 1.0])), [0.0, 1.0, 0.0])
    for bad in (-0.1, 1.2, math.nan):
        with pytest.raises(ValueError, match="not in"):
            binary_entropy(bad)


def test_shor_preskill():
    assert shor_preskill_rate(0.02) == pytest.approx(0.717119, abs=1e-6)
    assert shor_preskill_rate(0.05) == pytest.approx(0.427206, abs=1e-6)
    threshold = optimize.brentq(shor_preskill_rate, 0.05, 0.2, xtol=1e-14)
    assert threshold == pytest.approx(0.1100278644, abs=1e-10)


# -- decoy BB84 (GYS) ------------------------------------------------------------------------------


def test_gys_reference_points():
    # REFERENCES.md (computed), infinite decoy, mu = 0.48. The threshold-detector gain
    # 1 - (1 - Y0) e^{-eta mu} moves them by ~Y0 relatively, far inside the 5e-5 checked here.
    assert key_rate(GYS, length_km=0.0) == pytest.approx(2.5546e-3, rel=5e-5)
    assert key_rate(GYS, length_km=50.0) == pytest.approx(2.2260e-4, rel=5e-5)
    ev = evaluate_link(GYS, length_km=0.0)
    assert ev.gains["Z:mu"] == pytest.approx(2.1370e-2, rel=5e-5)
    assert ev.qbers["Z:mu"] == pytest.approx(0.033037, rel=2e-5)


@pytest.mark.parametrize("length_km", [0.0, 50.0, 120.0, 140.0])
@pytest.mark.parametrize("mu", [0.05, 0.48, 1.5])
def test_gllp_rate_against_mpmath(length_km, mu):
    got = key_rate(GYS, length_km=length_km, intensities={"mu": mu})
    assert got == pytest.approx(gllp_rate_mp(length_km, mu), rel=1e-9, abs=1e-18)


def test_gllp_formula_function_by_hand():
    eta, y0, e_d, mu = 0.045, 1.7e-6, 0.033, 0.48
    q_mu = 1 - (1 - y0) * math.exp(-eta * mu)
    e_mu = (y0 / 2 + e_d * (1 - math.exp(-eta * mu))) / q_mu
    y1 = y0 + eta - y0 * eta
    e1 = (y0 / 2 + e_d * eta) / y1

    def h2(p):
        return -p * math.log2(p) - (1 - p) * math.log2(1 - p)

    expected = 0.5 * (y1 * mu * math.exp(-mu) * (1 - h2(e1)) - q_mu * 1.22 * h2(e_mu))
    got = gllp_key_rate(
        gain_signal=q_mu,
        qber_signal=e_mu,
        single_photon_gain=y1 * mu * math.exp(-mu),
        single_photon_error=e1,
        ec_inefficiency=1.22,
    )
    assert got == pytest.approx(expected, rel=1e-12)


def test_gys_maximum_distance_against_bisection():
    # Ma et al. 2005: "over 140 km"; REFERENCES.md: about 142 km with optimised mu.
    distance = max_distance(GYS)
    assert distance == pytest.approx(142.0, abs=1.0)

    def best(length):
        return brute_force_max(lambda m: gllp_rate_grid(length, m), 1, points=401)[1]

    assert distance == pytest.approx(bisect_root(best, 100.0, 200.0, 1e-4), abs=2e-3)


def test_finite_decoy_bb84_is_below_infinite_and_converges():
    lengths = np.linspace(0, 130, 14)
    infinite = key_rate(GYS, length_km=lengths)
    weak = key_rate(GYS, length_km=lengths, decoy="vacuum-weak")
    assert np.all(weak < infinite)
    tiny = with_overrides(GYS, {"nu": 1e-4})
    np.testing.assert_allclose(
        key_rate(tiny, length_km=lengths, decoy="vacuum-weak"), infinite, rtol=2e-2
    )
    two = with_overrides(GYS, {"omega": 0.02})
    assert np.all(key_rate(two, length_km=lengths, decoy="two-decoy") < weak)
    # two-decoy with a vacuum second decoy is the vacuum+weak method
    np.testing.assert_allclose(
        key_rate(GYS, length_km=lengths, decoy="two-decoy"), weak, rtol=1e-12
    )


# -- gains never above 1, no NaN without an error -----------------------------------------------


def test_bright_pulses_give_physical_gains():
    # Regression: Q = Y0 + 1 - e^{-eta mu} exceeded 1 (1.0000017 at mu = 1000).
    bright = with_overrides(GYS, {"mu": 1000.0})
    ev = evaluate_link(bright, length_km=0.0)
    assert 0.0 <= ev.gains["Z:mu"] <= 1.0
    assert ev.gains["Z:mu"] == pytest.approx(1 - (1 - 1.7e-6) * math.exp(-45.0), rel=1e-15)
    report = link_report(params=bright, length_km=0.0)
    assert report.gain_z <= 1.0 and not report.secure


@pytest.mark.parametrize("mu", [50.0, 1e3, 1e6])
def test_bright_mdi_pulses_give_finite_rates(mu):
    # Regression: I0(2x) overflowed to inf - inf = NaN at mu = 1e6.
    params = with_overrides(XU, {"mu": mu})
    ev = evaluate_link(params, length_km=10.0)
    for value in (*ev.gains.values(), ev.key_rate_unclipped):
        assert np.isfinite(value)
    assert all(0.0 <= g <= 1.0 for g in ev.gains.values())
    assert np.isfinite(max_distance(params, optimize=False))
    assert link_report(params=params, length_km=10.0).key_rate_per_pulse == 0.0


@pytest.mark.parametrize(("mu_a", "mu_b"), [(30.0, 40.0), (200.0, 150.0)])
def test_mdi_gains_at_large_intensities_against_mpmath(mu_a, mu_b):
    from tests.qkdcircuits.links.reference import mdi_gains_mp

    eta = 0.145 * 10 ** (-0.2 * 5 / 10)
    got = mdi_gains(
        intensity_a=mu_a,
        intensity_b=mu_b,
        transmittance_a=eta,
        transmittance_b=eta,
        dark_count_prob=3e-6,
        misalignment_prob=0.015,
    )
    expected = mdi_gains_mp(mu_a, mu_b, eta, eta, 3e-6, 0.015)
    np.testing.assert_allclose(got, expected, rtol=1e-10)


# -- MDI-QKD (Xu et al. 2013 set) ----------------------------------------------------------------


def test_mdi_reference_points():
    # REFERENCES.md (computed): mu = 0.5, L = 0; optimised mu = 0.599 and R = 5.752e-4.
    assert key_rate(XU, length_km=0.0) == pytest.approx(5.4782e-4, rel=5e-5)
    best = optimize_intensities(XU, length_km=0.0)
    assert best.intensities["mu_a"] == best.intensities["mu_b"]
    assert best.intensities["mu_a"] == pytest.approx(0.599, abs=1e-3)
    assert best.key_rate_per_pulse == pytest.approx(5.752e-4, rel=1e-4)


@pytest.mark.parametrize(
    ("length_a", "length_b", "mu_a", "mu_b"),
    [
        (0.0, 0.0, 0.5, 0.5),
        (15.0, 15.0, 0.3, 0.3),
        (10.0, 60.0, 0.2, 0.7),
        (34.0, 136.0, 0.129, 0.58),
        (116.0, 116.0, 0.306, 0.306),
        (7.5, 142.5, 0.035, 0.58),
        (60.0, 0.0, 1.2, 0.01),
    ],
)
def test_mdi_rate_against_mpmath(length_a, length_b, mu_a, mu_b):
    got = key_rate(
        XU, length_a_km=length_a, length_b_km=length_b, intensities={"mu_a": mu_a, "mu_b": mu_b}
    )
    assert got == pytest.approx(mdi_rate_mp(length_a, length_b, mu_a, mu_b), rel=1e-9, abs=1e-20)


@pytest.mark.parametrize("length_km", [0.0, 20.0, 60.0])
def test_mdi_ideal_limit(length_km):
    """e_d = 0, eta_d = 1, p_d -> 0: R -> mu^2 e^{-2 mu} eta_A eta_B / 2, best at mu = 1."""
    ideal = with_overrides(
        XU, {"misalignment_prob": 0.0, "efficiency": 1.0, "dark_count_prob": 1e-14}
    )
    eta = 10 ** (-0.2 * length_km / 2 / 10)
    for mu in (0.2, 0.6, 1.0, 1.5):
        limit = mu**2 * math.exp(-2 * mu) * eta * eta / 2
        got = key_rate(ideal, length_km=length_km, intensities={"mu_a": mu, "mu_b": mu})
        assert got == pytest.approx(limit, rel=1e-6)
    best = optimize_intensities(ideal, length_km=length_km)
    assert best.intensities["mu_a"] == pytest.approx(1.0, abs=1e-4)


def test_finite_decoy_mdi_is_below_infinite_and_converges():
    lengths = np.linspace(0, 150, 7)
    infinite = key_rate(XU, length_km=lengths)
    finite = key_rate(XU, length_km=lengths, decoy="three-intensity")
    assert np.all(finite < infinite)
    tiny = with_overrides(XU, {"nu": 1e-4, "omega": 1e-5})
    np.testing.assert_allclose(
        key_rate(tiny, length_km=lengths, decoy="three-intensity"), infinite, rtol=2e-2
    )


# -- optimisation against brute force -----------------------------------------------------------

# (total length, relay fraction): short, medium and long range, near the cut-off, asymmetric.
CASES = [
    (0.0, 0.5),
    (100.0, 0.5),
    (231.9, 0.5),
    (60.0, 0.2),
    (170.0, 0.2),
    (176.5, 0.2),
    (100.0, 0.05),
    (150.0, 0.05),
    (120.0, 0.8),
]


def _brute(length, fraction, dims):
    la, lb = fraction * length, (1 - fraction) * length
    if dims == 1:
        return brute_force_max(lambda m: mdi_rate_grid(la, lb, m, m), 1, points=301)
    return brute_force_max(lambda a, b: mdi_rate_grid(la, lb, a, b), 2, points=121)


@pytest.mark.parametrize(("length", "fraction"), CASES)
def test_optimum_matches_brute_force(length, fraction):
    best = optimize_intensities(XU, length_km=length, relay_fraction=fraction)
    dims = 1 if fraction == 0.5 else 2
    (mu_a, *rest), value = _brute(length, fraction, dims)
    mu_b = rest[0] if rest else mu_a
    la, lb = fraction * length, (1 - fraction) * length
    got_a, got_b = best.intensities["mu_a"], best.intensities["mu_b"]
    # The reported rate is the mpmath rate at the reported intensities ...
    exact = mdi_rate_mp(la, lb, got_a, got_b)
    assert best.key_rate_per_pulse == pytest.approx(exact, rel=1e-9, abs=1e-20)
    # ... and at least the brute-force maximum (which can only be lower).
    assert exact >= value - 1e-9 * abs(value) - 1e-22
    assert got_a == pytest.approx(mu_a, rel=2e-3)
    assert got_b == pytest.approx(mu_b, rel=2e-3)


def test_asymmetric_optimum_at_long_range():
    # Regression: the optimiser stayed on the mu -> 0 plateau and reported no key here.
    best = optimize_intensities(XU, length_km=170.0, relay_fraction=0.2)
    assert best.intensities["mu_a"] == pytest.approx(0.129, abs=2e-3)
    assert best.intensities["mu_b"] == pytest.approx(0.580, abs=3e-3)
    assert best.key_rate_per_pulse == pytest.approx(1.34e-8, rel=5e-3)
    mirrored = optimize_intensities(XU, length_km=170.0, relay_fraction=0.8)
    assert mirrored.intensities["mu_a"] == pytest.approx(best.intensities["mu_b"], rel=1e-6)
    assert mirrored.intensities["mu_b"] == pytest.approx(best.intensities["mu_a"], rel=1e-6)
    assert mirrored.key_rate_per_pulse == pytest.approx(best.key_rate_per_pulse, rel=1e-9)
    assert key_rate(XU, length_a_km=34.0, length_b_km=136.0) == pytest.approx(
        key_rate(XU, length_km=170.0, relay_fraction=0.2)
    )


@pytest.mark.parametrize("length", [231.7, 231.9, 232.05])
def test_symmetric_optimiser_finds_the_window_before_the_cutoff(length):
    # Regression: a 25-point grid was coarser than the positive window (mu ~ 0.29-0.33).
    _, value = _brute(length, 0.5, 1)
    assert value > 0
    best = optimize_intensities(XU, length_km=length)
    # Both rates are differences of terms ~1e-9: compare to 1e-10 of those terms.
    assert best.key_rate_per_pulse >= value - 1e-19
    assert best.key_rate_per_pulse > 0
    curve = key_rate_curve(XU, lengths_km=[length - 100.0, length], optimize=True)
    assert curve.key_rate_per_pulse[1] == pytest.approx(best.key_rate_per_pulse, abs=1e-19)


@pytest.mark.parametrize("fraction", [0.5, 0.2, 0.05])
def test_optimised_curve_matches_brute_force(fraction):
    lengths = np.array([0.0, 50.0, 120.0, 160.0, 175.0, 240.0])
    curve = key_rate_curve(XU, lengths_km=lengths, optimize=True, relay_fraction=fraction)
    dims = 1 if fraction == 0.5 else 2
    for k, length in enumerate(lengths):
        _, value = _brute(length, fraction, dims)
        if value <= 0:
            # no key even at the brute-force optimum: the curve may only be 0 or a tiny bit
            # better than the grid (which it can only beat, never lose to)
            assert curve.key_rate_per_pulse[k] <= max(value, 0.0) + 1e-9 * abs(value)
            continue
        assert curve.key_rate_per_pulse[k] >= value * (1 - 1e-9)
        mu = (curve.intensities["mu_a"][k], curve.intensities["mu_b"][k])
        exact = mdi_rate_mp(fraction * length, (1 - fraction) * length, *mu)
        assert curve.key_rate_per_pulse[k] == pytest.approx(exact, rel=1e-9)


@pytest.mark.parametrize("fraction", [0.5, 0.3])
def test_three_intensity_optimum_matches_brute_force(fraction):
    # Brute force over the package's own three-intensity rate (the rate itself is tested in
    # test_decoy.py): here only the optimiser is under test.
    for length in (20.0, 90.0, 140.0):
        best = optimize_intensities(
            XU, length_km=length, relay_fraction=fraction, decoy="three-intensity"
        )

        def rate(a, b, length=length):
            return key_rate(
                XU,
                length_km=length,
                relay_fraction=fraction,
                decoy="three-intensity",
                intensities={"mu_a": a, "mu_b": b},
            )

        if fraction == 0.5:
            _, value = brute_force_max(lambda m: rate(m, m), 1, low=0.1001, points=301)
        else:
            _, value = brute_force_max(rate, 2, low=0.1001, points=81)
        assert best.key_rate_per_pulse >= value - 1e-9 * abs(value)


@pytest.mark.parametrize(("fraction", "old"), [(0.5, 231.72), (0.2, 163.79), (0.05, 138.57)])
def test_max_distance_mdi_against_bisection(fraction, old):
    """Roots checked by an independent bisection of the brute-force-optimised rate."""
    dims = 1 if fraction == 0.5 else 2

    def best(length):
        la, lb = fraction * length, (1 - fraction) * length
        if dims == 1:
            return brute_force_max(lambda m: mdi_rate_grid(la, lb, m, m), 1, points=201)[1]
        return brute_force_max(lambda a, b: mdi_rate_grid(la, lb, a, b), 2, points=61, zooms=4)[1]

    reference = bisect_root(best, 100.0, 260.0, 1e-3)
    distance = max_distance(XU, relay_fraction=fraction)
    assert distance == pytest.approx(reference, abs=5e-3)
    assert distance > old + 0.3  # the old optimiser stopped short (13 km at 0.2 and 0.05)


def test_max_distance_three_intensity_against_bisection():
    def best(length):
        def rate(m):
            return key_rate(
                XU, length_km=length, decoy="three-intensity", intensities={"mu_a": m, "mu_b": m}
            )

        return brute_force_max(rate, 1, low=0.1001, points=201)[1]

    distance = max_distance(XU, decoy="three-intensity")
    assert 150.0 < distance < 232.0
    assert distance == pytest.approx(bisect_root(best, 100.0, 240.0, 1e-3), abs=5e-3)
    fixed = max_distance(XU, optimize=False)
    assert key_rate(XU, length_km=fixed - 0.01) > 0 > key_rate(XU, length_km=fixed + 0.01)


def test_max_distance_edge_cases():
    hopeless = with_overrides(GYS, {"misalignment_prob": 0.2})
    assert max_distance(hopeless) == 0.0
    lossless = with_overrides(
        XU, {"loss_db_per_km": 0.0, "dark_count_prob": 0.0, "misalignment_prob": 0.0}
    )
    assert max_distance(lossless) == math.inf


# -- shared behaviour ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "decoy"),
    [
        (GYS, "infinite"),
        (GYS, "vacuum-weak"),
        (with_overrides(GYS, {"omega": 0.02}), "two-decoy"),
        (XU, "infinite"),
        (XU, "three-intensity"),
    ],
)
@pytest.mark.parametrize("optimize_mu", [False, True])
def test_key_rate_decreases_with_distance(params, decoy, optimize_mu):
    curve = key_rate_curve(
        params, lengths_km=np.linspace(0, 250, 126), decoy=decoy, optimize=optimize_mu
    )
    rate = curve.key_rate_per_pulse
    assert rate[0] > 0
    assert np.all(np.diff(rate) <= 0)
    assert np.all(np.diff(rate[rate > 0]) < 0)
    assert rate[-1] == 0.0  # 250 km is beyond both protocols' reach with these devices


def test_rate_per_second_dead_time_and_sifting():
    ev = evaluate_link(GYS, length_km=20.0)
    assert ev.key_rate_bps == pytest.approx(ev.key_rate_per_pulse * 1e8)
    dead = dataclasses.replace(GYS, detector=dataclasses.replace(GYS.detector, dead_time_s=1e-6))
    ev_dead = evaluate_link(dead, length_km=20.0)
    clicks_per_s = ev_dead.click_prob * 1e8
    assert ev_dead.key_rate_bps == pytest.approx(ev.key_rate_bps / (1 + clicks_per_s * 1e-6))
    # the BB84 click probability is that of two detectors: 1 - (1 - p_d)^2 e^{-eta mu}
    eta = float(GYS.transmittance_at(length_km=20.0))
    expected_click = 1 - (1 - GYS.detector.dark_count_prob) ** 2 * math.exp(-eta * 0.48)
    assert ev_dead.click_prob == pytest.approx(expected_click, rel=1e-12)
    half = with_overrides(GYS, {"sifting_factor": 0.25})
    assert key_rate(half, length_km=20.0) == pytest.approx(ev.key_rate_per_pulse / 2)


def test_evaluate_link_broadcasts():
    lengths = np.array([[0.0, 10.0], [20.0, 30.0]])
    ev = evaluate_link(XU, length_km=lengths, decoy="three-intensity")
    assert ev.key_rate_unclipped.shape == (2, 2)
    assert ev.gains["X:nu,omega"].shape == (2, 2)
    assert ev.key_rate_unclipped[1, 1] == pytest.approx(
        key_rate(XU, length_km=30.0, decoy="three-intensity")
    )
    grid = key_rate(GYS, length_km=50.0, intensities={"mu": np.array([0.1, 0.5])[:, None]})
    assert grid.shape == (2, 1)


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: key_rate(GYS, decoy="three-intensity"), ValueError, "not available"),
        (lambda: key_rate(XU, decoy="vacuum-weak"), ValueError, "not available"),
        (
            lambda: key_rate(with_overrides(GYS, {"omega": 0.01}), decoy="vacuum-weak"),
            ValueError,
            "vacuum",
        ),
        (lambda: key_rate(GYS, length_km=-1.0), ValueError, "length_km"),
        (lambda: key_rate(GYS, length_a_km=1.0, length_b_km=2.0), ValueError, "MDI-QKD only"),
        (lambda: key_rate(XU, length_km=1.0, length_a_km=1.0), ValueError, "either"),
        (lambda: key_rate(XU, length_km=10.0, relay_fraction=2.0), ValueError, "relay_fraction"),
        (lambda: key_rate(XU, length_km=10.0, relay_fraction="x"), ValueError, "relay_fraction"),
        (lambda: key_rate(GYS, intensities={"mu_a": 0.5}), ValueError, "unknown names"),
        (lambda: key_rate(GYS, intensities={"mu": -0.5}), ValueError, "must be finite and > 0"),
        (lambda: key_rate(GYS, intensities=[0.5]), TypeError, "intensities"),
        (lambda: key_rate("GYS"), TypeError, "BB84DecoyParams"),
        (lambda: optimize_intensities(GYS, length_km=[1.0, 2.0]), ValueError, "one distance"),
        (lambda: key_rate_curve(GYS, lengths_km=[]), ValueError, "non-empty"),
        (lambda: key_rate_curve(GYS, lengths_km=[1.0], optimize="no"), TypeError, "optimize"),
        (lambda: max_distance(GYS, optimize="yes"), TypeError, "optimize"),
        (lambda: max_distance(GYS, xtol_km=0.0), ValueError, "xtol_km"),
        (
            lambda: key_rate(with_overrides(GYS, {"nu": 0.6, "omega": 0.1}), decoy="two-decoy"),
            ValueError,
            r"signal_intensity=0.48 > decoy_intensity \+ weak_decoy_intensity = 0.7",
        ),
        (
            lambda: key_rate(with_overrides(XU, {"nu": 0.6}), decoy="three-intensity"),
            ValueError,
            "signal_intensity_a=0.5 > decoy_intensity_a",
        ),
    ],
)
def test_invalid_arguments(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_decoys_leaving_no_room_are_named():
    big = with_overrides(GYS, {"mu": 2.5, "nu": 1.5, "omega": 0.6})
    with pytest.raises(ValueError, match="no room"):
        optimize_intensities(big, decoy="two-decoy")


def test_dead_time_detector_default_is_none():
    assert Detector().dead_time_s is None
