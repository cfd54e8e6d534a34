"""Key rates: entropy, GLLP and MDI-QKD reference points, optimisation, curves, max distance."""

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
    max_distance,
    mdi_key_rate,
    optimize_intensities,
    shor_preskill_rate,
    with_overrides,
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
    # REFERENCES.md (computed), infinite decoy, mu = 0.48.
    assert key_rate(GYS, length_km=0.0) == pytest.approx(2.5546e-3, rel=5e-5)
    assert key_rate(GYS, length_km=50.0) == pytest.approx(2.2260e-4, rel=5e-5)
    ev = evaluate_link(GYS, length_km=0.0)
    assert ev.gains["Z:mu"] == pytest.approx(2.1370e-2, rel=5e-5)
    assert ev.qbers["Z:mu"] == pytest.approx(0.033037, rel=2e-5)


def test_gllp_formula_by_hand():
    # R = q { Q1 [1 - H2(e1)] - Q_mu f H2(E_mu) } with the GYS numbers at 0 km.
    eta, y0, e_d, mu = 0.045, 1.7e-6, 0.033, 0.48
    q_mu = y0 + 1 - math.exp(-eta * mu)
    e_mu = (y0 / 2 + e_d * (1 - math.exp(-eta * mu))) / q_mu
    y1 = y0 + eta
    e1 = (y0 / 2 + e_d * eta) / y1

    def h2(p):
        return -p * math.log2(p) - (1 - p) * math.log2(1 - p)

    expected = 0.5 * (y1 * mu * math.exp(-mu) * (1 - h2(e1)) - q_mu * 1.22 * h2(e_mu))
    got = gllp_key_rate(
        gain_signal=q_mu,
        qber_signal=e_mu,
        single_photon_gain=y1 * mu * math.exp(-mu),
        single_photon_error=e1,
        ec_efficiency=1.22,
    )
    assert got == pytest.approx(expected, rel=1e-12)
    assert key_rate(GYS, length_km=0.0) == pytest.approx(expected, rel=1e-6)  # p_d from Y0


def test_gys_maximum_distance():
    # Ma et al. 2005: "over 140 km"; REFERENCES.md: about 142 km with optimised mu.
    distance = max_distance(GYS)
    assert distance == pytest.approx(142.0, abs=1.0)
    best = optimize_intensities(GYS, length_km=distance - 0.5)
    assert best.key_rate_per_pulse > 0
    assert optimize_intensities(GYS, length_km=distance + 0.5).key_rate_per_pulse < 0


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


# -- MDI-QKD (Xu et al. 2013 set) ----------------------------------------------------------------


def test_mdi_reference_points():
    # REFERENCES.md (computed): mu = 0.5, L = 0; optimised mu = 0.599 and R = 5.752e-4.
    assert key_rate(XU, length_km=0.0) == pytest.approx(5.4782e-4, rel=5e-5)
    best = optimize_intensities(XU, length_km=0.0)
    assert best.intensities["mu_a"] == best.intensities["mu_b"]
    assert best.intensities["mu_a"] == pytest.approx(0.599, abs=1e-3)
    assert best.key_rate_per_pulse == pytest.approx(5.752e-4, rel=1e-4)


def test_mdi_rate_formula_by_hand():
    ev = evaluate_link(XU, length_km=30.0)
    mu = 0.5
    expected = mdi_key_rate(
        gain_z=ev.gains["Z:mu,mu"],
        qber_z=ev.qbers["Z:mu,mu"],
        single_pair_gain=mu * mu * math.exp(-2 * mu) * ev.single_photon_yield,
        single_pair_error=ev.single_photon_error,
        ec_efficiency=1.16,
    )
    assert ev.key_rate_raw == pytest.approx(expected, rel=1e-14)


@pytest.mark.parametrize("length_km", [0.0, 20.0, 60.0])
def test_mdi_ideal_limit(length_km):
    """e_d = 0, eta_d = 1, p_d -> 0: R -> mu^2 e^{-2 mu} eta_A eta_B / 2, best at mu = 1."""
    ideal = with_overrides(
        XU, {"misalignment_error": 0.0, "efficiency": 1.0, "dark_count_prob": 1e-14}
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
    curve = key_rate_curve(params, np.linspace(0, 250, 126), decoy=decoy, optimize=optimize_mu)
    rate = curve.key_rate_per_pulse
    assert rate[0] > 0
    assert np.all(np.diff(rate) <= 0)
    assert np.all(np.diff(rate[rate > 0]) < 0)
    assert rate[-1] == 0.0  # 250 km is beyond both protocols' reach with these devices


@pytest.mark.parametrize(
    ("params", "decoy", "relay"),
    [
        (GYS, "infinite", 0.5),
        (GYS, "vacuum-weak", 0.5),
        (XU, "infinite", 0.5),
        (XU, "three-intensity", 0.5),
        (XU, "infinite", 0.2),
        (XU, "three-intensity", 0.8),
    ],
)
def test_vectorised_curve_matches_scipy_per_point(params, decoy, relay):
    lengths = np.array([0.0, 40.0, 90.0, 130.0])
    curve = key_rate_curve(params, lengths, decoy=decoy, optimize=True, relay_fraction=relay)
    for k, length in enumerate(lengths):
        best = optimize_intensities(params, length_km=length, decoy=decoy, relay_fraction=relay)
        if best.key_rate_per_pulse <= 0:
            assert curve.key_rate_per_pulse[k] == 0.0
            continue
        # Near the optimum the rate is flat: agreement to 1e-7 is far below any physics.
        assert curve.key_rate_per_pulse[k] == pytest.approx(best.key_rate_per_pulse, rel=1e-7)
        for name, value in best.intensities.items():
            assert curve.intensities[name][k] == pytest.approx(value, rel=1e-3)
        assert curve.key_rate_per_pulse[k] >= best.key_rate_per_pulse * (1 - 1e-7)


def test_asymmetric_relay():
    # Alice's arm is shorter: the optimum sends less light from the near side.
    best = optimize_intensities(XU, length_km=100.0, relay_fraction=0.2)
    assert best.intensities["mu_a"] < best.intensities["mu_b"]
    symmetric = optimize_intensities(XU, length_km=100.0)
    assert best.key_rate_per_pulse < symmetric.key_rate_per_pulse
    explicit = key_rate(XU, length_a_km=20.0, length_b_km=80.0)
    assert explicit == pytest.approx(key_rate(XU, length_km=100.0, relay_fraction=0.2))
    # swapping the arms swaps the optimal intensities
    mirrored = optimize_intensities(XU, length_km=100.0, relay_fraction=0.8)
    assert mirrored.intensities["mu_a"] == pytest.approx(best.intensities["mu_b"], rel=1e-4)


def test_max_distance_mdi_is_a_root():
    for decoy in ("infinite", "three-intensity"):
        distance = max_distance(XU, decoy=decoy)
        assert 150 < distance < 300
        below = optimize_intensities(XU, length_km=distance - 0.1, decoy=decoy)
        above = optimize_intensities(XU, length_km=distance + 0.1, decoy=decoy)
        assert below.key_rate_per_pulse > 0 > above.key_rate_per_pulse
    fixed = max_distance(XU, optimize=False)
    assert key_rate(XU, length_km=fixed - 0.01) > 0 > key_rate(XU, length_km=fixed + 0.01)


def test_max_distance_edge_cases():
    hopeless = with_overrides(GYS, {"misalignment_error": 0.2})
    assert max_distance(hopeless) == 0.0
    lossless = with_overrides(
        XU, {"loss_db_per_km": 0.0, "dark_count_prob": 0.0, "misalignment_error": 0.0}
    )
    assert max_distance(lossless) == math.inf


def test_rate_per_second_dead_time_and_sifting():
    ev = evaluate_link(GYS, length_km=20.0)
    assert ev.key_rate_bps == pytest.approx(ev.key_rate_per_pulse * 1e8)
    dead = dataclasses.replace(GYS, detector=dataclasses.replace(GYS.detector, dead_time_s=1e-6))
    ev_dead = evaluate_link(dead, length_km=20.0)
    clicks_per_s = ev_dead.click_prob * 1e8
    assert ev_dead.key_rate_bps == pytest.approx(ev.key_rate_bps / (1 + clicks_per_s * 1e-6))
    # the BB84 click probability is that of two detectors: 1 - (1 - p_d)^2 e^{-eta mu}
    eta = GYS.transmittance_at(20.0)
    expected_click = 1 - (1 - GYS.detector.dark_count_prob) ** 2 * math.exp(-eta * 0.48)
    assert ev_dead.click_prob == pytest.approx(expected_click, rel=1e-12)
    half = with_overrides(GYS, {"sifting_factor": 0.25})
    assert key_rate(half, length_km=20.0) == pytest.approx(ev.key_rate_per_pulse / 2)


def test_evaluate_link_broadcasts():
    lengths = np.array([[0.0, 10.0], [20.0, 30.0]])
    ev = evaluate_link(XU, length_km=lengths, decoy="three-intensity")
    assert ev.key_rate_raw.shape == (2, 2)
    assert ev.gains["X:nu,omega"].shape == (2, 2)
    assert ev.key_rate_raw[1, 1] == pytest.approx(
        key_rate(XU, length_km=30.0, decoy="three-intensity")
    )


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
        (lambda: key_rate(GYS, intensities={"mu_a": 0.5}), ValueError, "unknown names"),
        (lambda: key_rate(GYS, intensities={"mu": -0.5}), ValueError, "must be finite and > 0"),
        (lambda: key_rate("GYS"), TypeError, "BB84DecoyParams"),
        (lambda: optimize_intensities(GYS, length_km=[1.0, 2.0]), ValueError, "one distance"),
        (lambda: key_rate_curve(GYS, []), ValueError, "non-empty"),
        (
            lambda: optimize_intensities(
                with_overrides(GYS, {"nu": 1.5, "omega": 0.6}), decoy="two-decoy"
            ),
            ValueError,
            "no room",
        ),
    ],
)
def test_invalid_arguments(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_dead_time_detector_default_is_none():
    assert Detector().dead_time_s is None
