"""Decoy-state MDI-QKD finite key (Chernoff parameter estimation, Curty et al. 2014).

Checks: every bound against a scalar re-derivation written here from the module's equations
(the double-difference bound of ``decoy.mdi_yield_lower_bound`` with Chernoff-substituted
counts); the bounds against the true single-photon-pair quantities of the link model
(``decoy.mdi_single_photon``); the limit of large blocks against the existing asymptotic
kernels; monotonicity; finite <= asymptotic on random tables (hypothesis); the vectorised
optimiser against a per-point scipy optimisation.
"""

from __future__ import annotations

import dataclasses
import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import optimize

from qkdcircuits.links.decoy import (
    mdi_error_upper_bound,
    mdi_gains,
    mdi_single_photon,
    mdi_yield_lower_bound,
)
from qkdcircuits.links.finite_key_mdi import (
    mdi_expected_counts,
    mdi_finite_key_length,
    mdi_finite_key_rate,
    optimize_mdi_finite_key,
)
from qkdcircuits.links.params import MDIParams, WeakCoherentSource

MU = (0.4, 0.05, 0.01)
P = (0.6, 0.3, 0.1)
# Expected counts of a symmetric link (eta = 0.05 per arm, p_d = 1e-5, e_d = 1.5 %,
# q_z = 0.7, n_Z = 1e9), rounded: every bound is positive.
TABLES = dict(
    detections_z=[
        [875457093, 56212537, 3989312],
        [56212537, 3609030, 256024],
        [3989312, 256024, 18131],
    ],
    errors_z=[[14832868, 1326204, 206638], [1326204, 108655, 14785], [206638, 14785, 1506]],
    detections_x=[
        [322566535, 51583500, 14287520],
        [51583500, 1305929, 158546],
        [14287520, 158546, 6194],
    ],
    errors_x=[[82825022, 20845123, 6813656], [20845123, 341084, 58460], [6813656, 58460, 1708]],
)


def h2(x: float) -> float:
    return 0.0 if x <= 0 else -x * math.log2(x) - (1 - x) * math.log2(1 - x)


def by_hand(mu, p, nz, mz, nx, mx, eps_sec, eps_cor, f):
    """The module's key length, scalar: Chernoff bounds, double differences, gamma, Eq. (B3)."""
    beta = math.log(25 / eps_sec)
    tau1 = sum(pk * k * math.exp(-k) for k, pk in zip(mu, p, strict=True))

    def chernoff(x):
        return (
            max(x + beta / 2 - math.sqrt(2 * beta * x + beta**2 / 4), 0.0),
            x + beta + math.sqrt(2 * beta * x + beta**2),
        )

    def scaled(table):
        low = [[0.0] * 3 for _ in range(3)]
        high = [[0.0] * 3 for _ in range(3)]
        for i, j in itertools.product(range(3), range(3)):
            w = math.exp(mu[i] + mu[j]) / (p[i] * p[j])
            lo, hi = chernoff(table[i][j])
            low[i][j], high[i][j] = w * lo, w * hi
        return low, high

    m, n, o = mu
    r1, r2 = (n - o) / (m - o), (n**2 - o**2) / (m**2 - o**2)
    c = r2 * r1  # symmetric parties: max(r_a(2) r_b(1), r_a(1) r_b(2)) = r(1) r(2)

    def s11(table):
        low, high = scaled(table)
        numerator = (
            low[1][1]
            - high[1][2]
            - high[2][1]
            - c * high[0][0]
            + c * (low[0][2] + low[2][0])
            + (1 - c) * low[2][2]
        )
        return tau1**2 * numerator / ((n - o) ** 2 - c * (m - o) ** 2)

    s_z, s_x = s11(nz), s11(nx)
    low, high = scaled(mx)
    v_x = tau1**2 * (high[1][1] - low[1][2] - low[2][1] + high[2][2]) / (n - o) ** 2
    b = v_x / s_x
    gamma = math.sqrt(
        (s_x + s_z)
        * (1 - b)
        * b
        / (s_x * s_z * math.log(2))
        * math.log2((s_x + s_z) / (s_x * s_z * (1 - b) * b) * 25**2 / eps_sec**2)
    )
    phi = b + gamma
    n_z = sum(map(sum, nz))
    leak = f * n_z * h2(sum(map(sum, mz)) / n_z)
    length = s_z * (1 - h2(phi)) - leak - math.log2(2 / eps_cor) - 4 * math.log2(25 / eps_sec)
    return dict(s_z=s_z, s_x=s_x, v_x=v_x, gamma=gamma, phi=phi, leak=leak, length=length)


def test_every_bound_matches_a_scalar_derivation():
    key = mdi_finite_key_length(
        intensities=MU, intensity_probs=P, sampling_bound="lim2014", **TABLES
    )
    ref = by_hand(
        MU,
        P,
        TABLES["detections_z"],
        TABLES["errors_z"],
        TABLES["detections_x"],
        TABLES["errors_x"],
        1e-10,
        1e-15,
        1.16,
    )
    assert key.single_z_lower == pytest.approx(ref["s_z"], rel=1e-10)
    assert key.single_x_lower == pytest.approx(ref["s_x"], rel=1e-10)
    assert key.single_x_errors_upper == pytest.approx(ref["v_x"], rel=1e-10)
    assert key.sampling_deviation == pytest.approx(ref["gamma"], rel=1e-10)
    assert key.phase_error_upper == pytest.approx(ref["phi"], rel=1e-10)
    assert key.ec_leak_bits == pytest.approx(ref["leak"], rel=1e-12)
    assert key.key_length_unrounded == pytest.approx(ref["length"], rel=1e-10)
    assert key.key_length == math.floor(ref["length"])
    assert key.block_size == 1e9


def test_serfling_sampling_bound_is_the_default_and_replaces_gamma():
    key = mdi_finite_key_length(intensities=MU, intensity_probs=P, **TABLES)
    explicit = mdi_finite_key_length(
        intensities=MU, intensity_probs=P, sampling_bound="serfling", **TABLES
    )
    assert (key.sampling_deviation, key.key_length_unrounded) == (
        explicit.sampling_deviation,
        explicit.key_length_unrounded,
    )
    ref = by_hand(
        MU,
        P,
        TABLES["detections_z"],
        TABLES["errors_z"],
        TABLES["detections_x"],
        TABLES["errors_x"],
        1e-10,
        1e-15,
        1.16,
    )
    c, d, a = ref["s_x"], ref["s_z"], 1e-10 / 25
    theta = math.sqrt((c + d) * (d + 1) / (2 * c * d * d) * math.log(1 / a))
    assert key.sampling_deviation == pytest.approx(theta, rel=1e-10)
    assert key.phase_error_upper == pytest.approx(ref["v_x"] / ref["s_x"] + theta, rel=1e-10)


def test_without_deviations_the_bound_is_the_asymptotic_kernel():
    """As eps_sec -> 1 the Chernoff terms vanish relative to huge counts: the bound is then the
    package's asymptotic three-intensity bound applied to the (scaled) gains."""
    scale = 1e14
    tables = {k: np.asarray(v, dtype=float) * scale for k, v in TABLES.items()}
    key = mdi_finite_key_length(intensities=MU, intensity_probs=P, eps_sec=0.5, **tables)
    pair = np.outer(P, P)
    norm = tables["detections_z"].max() / pair.min()
    gains = tables["detections_z"] / pair / norm  # proportional to the gains, within [0, 1]
    y11 = mdi_yield_lower_bound(intensities_a=MU, intensities_b=MU, gains=gains)
    tau1 = sum(pk * k * math.exp(-k) for k, pk in zip(MU, P, strict=True))
    assert key.single_z_lower == pytest.approx(tau1**2 * y11 * norm, rel=1e-5)


def link_counts(length_km, *, block, q_z, mu=MU, p=P, relay_fraction=0.5, params=None):
    params = params or MDIParams.xu2013()
    eta_a = params.detector.efficiency * 10 ** (-0.2 * relay_fraction * length_km / 10)
    eta_b = params.detector.efficiency * 10 ** (-0.2 * (1 - relay_fraction) * length_km / 10)
    counts = mdi_expected_counts(
        transmittance_a=eta_a,
        transmittance_b=eta_b,
        dark_count_prob=params.detector.dark_count_prob,
        misalignment_prob=params.misalignment_prob,
        intensities=mu,
        intensity_probs=p,
        basis_prob=q_z,
        block_size=block,
    )
    return counts, eta_a, eta_b


@pytest.mark.parametrize(("length", "fraction"), [(0.0, 0.5), (60.0, 0.5), (60.0, 0.2)])
def test_bounds_hold_for_the_true_single_photon_pairs(length, fraction):
    q_z = 0.8
    counts, eta_a, eta_b = link_counts(length, block=1e10, q_z=q_z, relay_fraction=fraction)
    key = mdi_finite_key_length(
        intensities=MU,
        intensity_probs=P,
        detections_z=counts.detections_z,
        errors_z=counts.errors_z,
        detections_x=counts.detections_x,
        errors_x=counts.errors_x,
    )
    y11, e11 = mdi_single_photon(
        transmittance_a=eta_a, transmittance_b=eta_b, dark_count_prob=3e-6, misalignment_prob=0.015
    )
    tau1 = sum(pk * k * math.exp(-k) for k, pk in zip(MU, P, strict=True))
    true_s_z = counts.pulses * q_z**2 * tau1**2 * y11
    true_s_x = counts.pulses * (1 - q_z) ** 2 * tau1**2 * y11
    assert 0.5 * true_s_z < key.single_z_lower <= true_s_z
    assert key.single_x_lower <= true_s_x
    assert key.single_x_errors_upper >= e11 * true_s_x
    assert e11 < key.phase_error_upper < 0.5


def asymptotic_rate(length, q_z, mu=MU, p=P):
    """q^2 [tau1^2 Y11^L (1 - h(e11^U)) - f Q h(E)] with the package's asymptotic kernels."""
    a, b = np.meshgrid(mu, mu, indexing="ij")
    eta = 0.145 * 10 ** (-0.2 * length / 2 / 10)
    g = mdi_gains(
        intensity_a=a,
        intensity_b=b,
        transmittance_a=eta,
        transmittance_b=eta,
        dark_count_prob=3e-6,
        misalignment_prob=0.015,
    )
    y_z = mdi_yield_lower_bound(intensities_a=mu, intensities_b=mu, gains=g.gain_z)
    y_x = mdi_yield_lower_bound(intensities_a=mu, intensities_b=mu, gains=g.gain_x)
    e_x = mdi_error_upper_bound(
        intensities_a=mu, intensities_b=mu, gains=g.gain_x, qbers=g.qber_x, yield_lower=y_x
    )
    tau1 = sum(pk * k * math.exp(-k) for k, pk in zip(mu, p, strict=True))
    pair = np.outer(p, p)
    gain = float(np.sum(pair * g.gain_z))
    qber = float(np.sum(pair * g.gain_z * g.qber_z)) / gain
    return q_z**2 * (tau1**2 * y_z * (1 - h2(min(e_x, 0.5))) - 1.16 * gain * h2(qber))


@pytest.mark.parametrize("length", [10.0, 80.0])
def test_rate_tends_to_the_asymptotic_rate(length):
    q_z = 0.8
    source = WeakCoherentSource(
        signal_intensity=MU[0],
        decoy_intensity=MU[1],
        weak_decoy_intensity=MU[2],
        signal_prob=P[0],
        decoy_prob=P[1],
        weak_decoy_prob=P[2],
    )
    params = dataclasses.replace(MDIParams.xu2013(), source_a=source, source_b=source)
    r_inf = asymptotic_rate(length, q_z)
    assert r_inf > 0
    gaps = []
    for block in (1e8, 1e10, 1e12, 1e16, 1e20):
        key = mdi_finite_key_rate(params, block_size=block, basis_prob=q_z, length_km=length)
        gaps.append(r_inf - key.key_length_unrounded / key.pulses)
    assert all(g > 0 for g in gaps)
    assert all(a > b for a, b in itertools.pairwise(gaps))
    assert gaps[-2] / gaps[-1] > 50  # deviations shrink like n^{-1/2}
    assert gaps[-1] < 1e-4 * r_inf


def test_monotone_in_block_size_and_eps():
    params = MDIParams.xu2013()
    rates = [
        mdi_finite_key_rate(params, block_size=n, basis_prob=0.9, length_km=20.0).key_rate_per_pulse
        for n in (1e10, 1e11, 1e12, 1e13)
    ]
    assert rates[0] > 0
    assert all(a < b for a, b in itertools.pairwise(rates))
    lengths = [
        mdi_finite_key_length(
            intensities=MU, intensity_probs=P, eps_sec=eps, **TABLES
        ).key_length_unrounded
        for eps in (1e-15, 1e-12, 1e-9, 1e-6, 1e-3)
    ]
    assert all(a < b for a, b in itertools.pairwise(lengths))


def asymptotic_length(mu, p, nz, mz, nx, mx, f):
    """The module's length with point estimates: no Chernoff terms, no gamma, no eps terms."""
    m, n, o = mu
    tau1 = sum(pk * k * math.exp(-k) for k, pk in zip(mu, p, strict=True))
    r1, r2 = (n - o) / (m - o), (n**2 - o**2) / (m**2 - o**2)
    c = r1 * r2

    def s(table, i, j):
        return table[i][j] * math.exp(mu[i] + mu[j]) / (p[i] * p[j])

    def s11(t):
        num = (
            s(t, 1, 1)
            - s(t, 1, 2)
            - s(t, 2, 1)
            + s(t, 2, 2)
            - c * (s(t, 0, 0) - s(t, 0, 2) - s(t, 2, 0) + s(t, 2, 2))
        )
        return tau1**2 * num / ((n - o) ** 2 - c * (m - o) ** 2)

    s_z, s_x = s11(nz), s11(nx)
    v_x = tau1**2 * (s(mx, 1, 1) - s(mx, 1, 2) - s(mx, 2, 1) + s(mx, 2, 2)) / (n - o) ** 2
    phi = min(max(v_x / s_x, 0.0), 0.5) if s_x > 0 else 0.5
    n_z = sum(map(sum, nz))
    leak = f * n_z * h2(min(sum(map(sum, mz)) / n_z, 0.5)) if n_z > 0 else 0.0
    return max(s_z, 0.0) * (1 - h2(phi)) - leak


table = st.lists(st.lists(st.floats(0, 1e8), min_size=3, max_size=3), min_size=3, max_size=3)
fractions = st.lists(st.lists(st.floats(0, 1), min_size=3, max_size=3), min_size=3, max_size=3)


@settings(max_examples=300, deadline=None)
@given(
    nz=table,
    fz=fractions,
    nx=table,
    fx=fractions,
    m=st.floats(0.2, 1.0),
    r=st.floats(0.01, 0.99),
    o=st.floats(0.0, 0.01),
    p1=st.floats(0.05, 0.9),
    s=st.floats(0.05, 0.95),
    eps=st.sampled_from([1e-15, 1e-10, 1e-4]),
)
def test_finite_length_never_exceeds_the_asymptotic_one(nz, fz, nx, fx, m, r, o, p1, s, eps):
    mu = (m, o + r * (m - 2 * o), o)
    p = (p1, (1 - p1) * s, (1 - p1) * (1 - s))
    mz = [[a * b for a, b in zip(row, frow, strict=True)] for row, frow in zip(nz, fz, strict=True)]
    mx = [[a * b for a, b in zip(row, frow, strict=True)] for row, frow in zip(nx, fx, strict=True)]
    key = mdi_finite_key_length(
        intensities=mu,
        intensity_probs=p,
        detections_z=nz,
        errors_z=mz,
        detections_x=nx,
        errors_x=mx,
        eps_sec=eps,
    )
    bound = max(asymptotic_length(mu, p, nz, mz, nx, mx, 1.16), 0.0)
    assert key.key_length <= bound + 1e-6 * (1.0 + sum(map(sum, nz)))
    assert key.key_length <= sum(map(sum, nz))


def test_arrays_broadcast_like_scalars():
    params = MDIParams.xu2013()
    lengths = np.array([0.0, 30.0, 80.0])
    batch = mdi_finite_key_rate(params, block_size=1e11, basis_prob=0.9, length_km=lengths)
    for i, length in enumerate(lengths):
        one = mdi_finite_key_rate(params, block_size=1e11, basis_prob=0.9, length_km=length)
        assert batch.key_length[i] == one.key_length
        assert batch.phase_error_upper[i] == pytest.approx(one.phase_error_upper, rel=1e-12)


def test_secrecy_per_bit_is_a_fixed_point():
    key = mdi_finite_key_length(
        intensities=MU, intensity_probs=P, eps_sec=None, secrecy_per_bit=1e-15, **TABLES
    )
    assert key.eps_sec == pytest.approx(1e-15 * key.key_length_unrounded, rel=1e-9)


def unrounded_rate(x, length, block):
    q, m, n, p1, p2 = x
    mu, p = (m, n, 0.0), (p1, p2, 1 - p1 - p2)
    if not (0 < q < 1 and m > n > 0 and p1 > 0 and p2 > 0 and p1 + p2 < 1):
        return -1.0
    counts, _, _ = link_counts(length, block=block, q_z=q, mu=mu, p=p)
    key = mdi_finite_key_length(
        intensities=mu,
        intensity_probs=p,
        detections_z=counts.detections_z,
        errors_z=counts.errors_z,
        detections_x=counts.detections_x,
        errors_x=counts.errors_x,
    )
    return key.key_length_unrounded / counts.pulses


@pytest.mark.slow
@pytest.mark.parametrize(
    ("block", "lengths", "start"),
    [
        (1e10, (10.0, 100.0), (0.8, 0.4, 0.04, 0.75, 0.17)),
        (1e14, (50.0,), (0.9, 0.45, 0.02, 0.9, 0.07)),
    ],
)
def test_vectorised_optimum_matches_per_point_scipy(block, lengths, start):
    best = optimize_mdi_finite_key(MDIParams.xu2013(), length_km=lengths, block_size=block)
    for i, length in enumerate(lengths):
        ours = best.key.key_length_unrounded[i] / best.key.pulses[i]
        scale = unrounded_rate(start, length, block)
        assert scale > 0
        res = optimize.minimize(
            lambda x, length=length, scale=scale: -unrounded_rate(x, length, block) / scale,
            start,
            method="Nelder-Mead",
            options=dict(xatol=1e-7, fatol=1e-10, maxiter=1500),
        )
        scipy_best = -res.fun * scale
        assert scipy_best >= scale
        assert ours >= scipy_best * (1 - 1e-4)
    assert np.all(best.intensities[0] > best.intensities[1])
    assert np.all(best.intensities[2] == 0.0)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(intensities=(0.1, 0.2, 0.0)), "mu2"),
        (dict(intensity_probs=(0.5, 0.4, 0.2)), "sum to 1"),
        (dict(intensities_b=(0.3, 0.2, 0.15)), "intensities_b"),
        (dict(detections_z=np.ones((3, 2))), "detections_z"),
        (dict(errors_x=np.full((3, 3), 1e12)), "errors_x"),
        (dict(detections_x=-np.ones((3, 3))), "detections_x"),
        (dict(eps_sec=1.0), "eps_sec"),
        (dict(ec_inefficiency=0.5), "ec_inefficiency"),
    ],
)
def test_bad_input_is_rejected_with_the_parameter_named(kwargs, match):
    args = dict(intensities=MU, intensity_probs=P, **TABLES)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        mdi_finite_key_length(**args)


def test_bad_link_input_is_rejected():
    with pytest.raises(ValueError, match="basis_prob"):
        link_counts(10.0, block=1e9, q_z=0.0)
    with pytest.raises(ValueError, match="relay_fraction"):
        mdi_finite_key_rate(MDIParams.xu2013(), block_size=1e9, length_km=10.0, relay_fraction=1.5)
    with pytest.raises(ValueError, match="block_size"):
        optimize_mdi_finite_key(MDIParams.xu2013(), length_km=[10.0], block_size=0.0)


def test_params_of_the_wrong_type_are_rejected():
    with pytest.raises(TypeError, match="params"):
        mdi_finite_key_rate(object(), block_size=1e6)
