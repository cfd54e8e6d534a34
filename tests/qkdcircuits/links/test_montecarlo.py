"""Monte Carlo link simulation: photon model, circuit mapping, agreement with the closed forms.

Statistical checks use the suite-wide z-score (false-alarm probability 1e-6 per check, fixed
seeds): counts are compared with their binomial standard deviation at the sample size used.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from qkdcircuits import (
    ArmNoise,
    BB84DecoyParams,
    MDIParams,
    analyse_counts,
    bb84_outcome_table,
    evaluate_link,
    mdi_outcome_table,
    mdi_single_photon,
    optimize_intensities,
    qubit_outcome_table,
    sample_link_counts,
    simulate_link,
    with_overrides,
)
from qkdcircuits.links.montecarlo import _BSM_SETS, MAX_PULSES, _fock_occupancy, _photon_categories
from tests.helpers import Z_SCORE

MDI_ASYM = MDIParams.xu2013().with_lengths(length_a_km=10.0, length_b_km=30.0)
GYS_25 = BB84DecoyParams.gys(length_km=25.0)
PSI = {0b0011: "+", 0b1100: "+", 0b1001: "-", 0b0110: "-"}


# -- the photon model ---------------------------------------------------------------------------


def test_photon_categories_are_poisson_thinning():
    mu, eta, m_max = 0.7, 0.3, 12
    probs = _photon_categories(mu, eta, m_max)
    assert probs.sum() == pytest.approx(1.0, abs=1e-15)
    assert probs[0] == pytest.approx(math.exp(-mu), rel=1e-14)
    assert probs[1] + probs[2] == pytest.approx(mu * math.exp(-mu), rel=1e-14)
    assert probs[2] == pytest.approx(mu * math.exp(-mu) * eta, rel=1e-14)
    # photons arriving are Poisson(eta mu), whatever was emitted
    arrived = np.zeros(m_max + 1)
    arrived[0] = probs[0] + probs[1] + probs[3]
    arrived[1] = probs[2] + probs[4]
    arrived[2:] = probs[5:]
    np.testing.assert_allclose(
        arrived[:-1], stats.poisson.pmf(np.arange(m_max), eta * mu), rtol=1e-12, atol=1e-18
    )  # emission is summed until its Poisson tail is below 1e-18


def test_hong_ou_mandel_and_polarisation_splitting():
    occ = _fock_occupancy(3)
    assert np.all(occ >= 0)
    np.testing.assert_allclose(occ.sum(axis=-1), 1.0, rtol=1e-12)
    # Z basis, both H: the photons bunch at one port (HOM): detector 1H or 2H, never both.
    hh = occ[0, 0, 0, 1, 1]
    np.testing.assert_allclose(hh[[0b0001, 0b0100]], [0.5, 0.5], atol=1e-15)
    # H and V do not interfere: four coincidence patterns with 1/4 each.
    hv = occ[0, 0, 1, 1, 1]
    np.testing.assert_allclose(hv[[0b0011, 0b1001, 0b0110, 0b1100]], 0.25, atol=1e-15)
    # X basis, both D: they bunch, then the PBS splits the pair: psi+ patterns with total 1/2.
    dd = occ[1, 0, 0, 1, 1]
    assert dd[0b0011] + dd[0b1100] == pytest.approx(0.5)
    assert dd[0b1001] + dd[0b0110] == pytest.approx(0.0, abs=1e-15)
    # Two photons from one side only: each goes its own way (no interference with vacuum).
    assert occ[0, 0, 0, 2, 0][0b0001] == pytest.approx(0.25)
    assert occ[0, 0, 0, 2, 0][0b0101] == pytest.approx(0.5)


def _photon_sets(table_row):
    sets = np.zeros(16)
    for outcome, (first, second) in enumerate(_BSM_SETS):
        sets[[first, second]] += table_row[outcome] / 2
    return sets


def test_single_pair_circuits_match_the_optics_model():
    """The linear-optics circuit's Bell outcomes + a port coin = the two-photon optics model."""
    table = mdi_outcome_table(variant="linear-optics")
    occ = _fock_occupancy(1)
    for basis in (0, 1):
        for bit_a in (0, 1):
            for bit_b in (0, 1):
                np.testing.assert_allclose(
                    _photon_sets(table[basis, bit_a, basis, bit_b]),
                    occ[basis, bit_a, bit_b, 1, 1],
                    atol=1e-12,
                )


def test_misalignment_maps_to_a_flip_of_bobs_state():
    e_d = MDI_ASYM.misalignment_prob
    ideal = mdi_outcome_table(variant="linear-optics")
    mapped = qubit_outcome_table(MDI_ASYM)
    for basis in (0, 1):
        flipped = ideal[basis, :, basis, ::-1]
        np.testing.assert_allclose(
            mapped[basis, :, basis], (1 - e_d) * ideal[basis, :, basis] + e_d * flipped, atol=1e-12
        )
    e_d = GYS_25.misalignment_prob
    bb84 = qubit_outcome_table(GYS_25)
    ideal_bb84 = bb84_outcome_table()
    for basis in (0, 1):
        np.testing.assert_allclose(
            bb84[basis, :, basis],
            (1 - e_d) * ideal_bb84[basis, :, basis] + e_d * ideal_bb84[basis, :, basis, ::-1],
            atol=1e-12,
        )


def _announcement(occupancy, p_d):
    """P(psi+), P(psi-) from the occupied-detector distribution plus independent dark counts."""
    out = {"+": 0.0, "-": 0.0}
    for clicks, sign in PSI.items():
        for photons in range(16):
            if photons & ~clicks:
                continue
            darks = bin(clicks & ~photons).count("1")
            quiet = 4 - bin(clicks).count("1")
            out[sign] += occupancy[photons] * p_d**darks * (1 - p_d) ** quiet
    return out["+"], out["-"]


@pytest.mark.parametrize(("mu_a", "mu_b"), [(0.5, 0.5), (0.2, 0.8)])
def test_closed_forms_are_the_expectation_of_the_photon_model(mu_a, mu_b):
    """Summing the Fock model over Poisson photon numbers reproduces Xu et al.'s formulas."""
    p, m_max = MDI_ASYM, 14
    eta_a, eta_b, p_d, e_d = p.transmittance_a, p.transmittance_b, 3e-6, p.misalignment_prob
    occ = _fock_occupancy(m_max)
    weight = np.outer(
        stats.poisson.pmf(np.arange(m_max + 1), eta_a * mu_a),
        stats.poisson.pmf(np.arange(m_max + 1), eta_b * mu_b),
    )
    expected = evaluate_link(p, intensities={"mu_a": mu_a, "mu_b": mu_b})
    for basis, name in ((0, "Z"), (1, "X")):
        gain = errors = 0.0
        for bit_a in (0, 1):
            for bit_b in (0, 1):
                for flip, p_flip in ((0, 1 - e_d), (1, e_d)):
                    for m_a in range(m_max + 1):
                        for m_b in range(m_max + 1):
                            plus, minus = _announcement(
                                occ[basis, bit_a, bit_b ^ flip, m_a, m_b], p_d
                            )
                            w = weight[m_a, m_b] * p_flip / 4
                            gain += w * (plus + minus)
                            same = bit_a == bit_b
                            if basis == 0:
                                errors += w * (plus + minus) * same
                            else:
                                errors += w * (plus * (not same) + minus * same)
        assert gain == pytest.approx(float(expected.gains[f"{name}:mu,mu"]), rel=1e-9)
        assert errors / gain == pytest.approx(float(expected.qbers[f"{name}:mu,mu"]), rel=1e-9)


# -- Monte Carlo against the closed forms -------------------------------------------------------


def _assert_counts_match(counts, evaluation, skip=()):
    checked = 0
    for key, (pulses, detections, errors) in counts.items():
        if key not in evaluation.gains or key in skip:
            continue
        q = float(evaluation.gains[key])
        assert abs(detections - pulses * q) <= Z_SCORE * math.sqrt(pulses * q * (1 - q)), key
        e = float(evaluation.qbers[key])
        if detections and 0 < e < 1:
            assert abs(errors - detections * e) <= Z_SCORE * math.sqrt(detections * e * (1 - e)), (
                key
            )
        checked += 1
    return checked


def _assert_single_match(counts, y_true, e_true):
    pulses, detections, _ = counts["Z:single"]
    assert abs(detections - pulses * y_true) <= Z_SCORE * math.sqrt(pulses * y_true * (1 - y_true))
    _, detections, errors = counts["X:single"]
    assert abs(errors - detections * e_true) <= Z_SCORE * math.sqrt(
        detections * e_true * (1 - e_true)
    )


@pytest.mark.parametrize("pulses", [10**9, 10**13])
def test_mdi_monte_carlo_matches_closed_form(pulses):
    counts = sample_link_counts(MDI_ASYM, pulses=pulses, seed=11)
    ev = evaluate_link(MDI_ASYM)
    assert _assert_counts_match(counts, ev) == 18
    _assert_single_match(counts, float(ev.single_photon_yield), float(ev.single_photon_error))
    assert sum(c[0] for k, c in counts.items() if ":" in k and "single" not in k) <= pulses


def _bb84_click_model(params, intensity):
    """Exact expectation of the Monte Carlo BB84 model (threshold detectors, random bit on
    double clicks, whole-pulse flips with probability e_d), for comparison with GLLP."""
    a = params.transmittance * intensity
    p_d, e_d = params.detector.dark_count_prob, params.misalignment_prob
    gain = 1 - (1 - p_d) ** 2 * math.exp(-a)
    error_gain = p_d / 2 + p_d * (1 - p_d) * math.exp(-a) / 2 + e_d * (1 - p_d) * -math.expm1(-a)
    return gain, error_gain


@pytest.mark.parametrize("pulses", [10**9, 10**13])
def test_bb84_monte_carlo_matches_gllp(pulses):
    counts = sample_link_counts(GYS_25, pulses=pulses, seed=5)
    ev = evaluate_link(GYS_25)
    names = ("mu", "nu", "omega")
    # Against the exact expectation of the simulated model: pure sampling error.
    for key, (n, detections, errors) in counts.items():
        if key not in ev.gains:
            continue
        q, eq = _bb84_click_model(GYS_25, GYS_25.source.intensities[names.index(key[2:])])
        assert abs(detections - n * q) <= Z_SCORE * math.sqrt(n * q * (1 - q)), key
        assert abs(errors - n * eq) <= Z_SCORE * math.sqrt(n * eq * (1 - eq)), key
        # The model differs from GLLP only through Y0 x eta cross terms: relative O(p_d).
        q_gllp = float(ev.gains[key])
        assert abs(q / q_gllp - 1) < 2 * GYS_25.background_yield
        assert abs(eq / (q_gllp * float(ev.qbers[key])) - 1) < 30 * GYS_25.background_yield
    if pulses <= 10**9:  # there the model difference is below 1% of the sampling error
        assert _assert_counts_match(counts, ev) == 6
    _assert_single_match(counts, float(ev.single_photon_yield), float(ev.single_photon_error))


def _linear_sd(function, values, variances):
    """Standard deviation of a linear function of independent estimates."""
    base = function(values)
    sd2 = 0.0
    for k in range(len(values)):
        shifted = list(values)
        step = max(abs(values[k]) * 1e-6, 1e-18)
        shifted[k] += step
        sd2 += ((function(shifted) - base) / step) ** 2 * variances[k]
    return math.sqrt(sd2)


def test_decoy_bound_from_monte_carlo_gains_within_sampling_error():
    """Y11^L is linear in the nine Z gains: propagate their binomial variances exactly."""
    from qkdcircuits import mdi_yield_lower_bound

    pulses = 10**13
    counts = sample_link_counts(MDI_ASYM, pulses=pulses, seed=2)
    ev = evaluate_link(MDI_ASYM, decoy="three-intensity")
    names = ("mu", "nu", "omega")
    keys = [f"Z:{a},{b}" for a in names for b in names]
    ints = MDI_ASYM.source_a.intensities

    def bound(gains):
        return float(
            mdi_yield_lower_bound(
                intensities_a=ints, intensities_b=ints, gains=np.reshape(gains, (3, 3))
            )
        )

    measured = [counts[k][1] / counts[k][0] for k in keys]
    true = [float(ev.gains[k]) for k in keys]
    variances = [q * (1 - q) / counts[k][0] for q, k in zip(true, keys, strict=True)]
    sd = _linear_sd(bound, true, variances)
    assert abs(bound(measured) - bound(true)) <= Z_SCORE * sd
    assert sd < 0.01 * bound(true)  # the check has teeth: 1% resolution on Y11^L


def test_key_rate_converges_to_closed_form():
    pulses = 10**14
    report = simulate_link(params=MDI_ASYM, pulses=pulses, seed=3)
    ev = evaluate_link(MDI_ASYM)
    counts = report.counts
    # R = P11 Y11 (1 - H2(e11)) - Q f H2(E): bound its sd by the sum of |gradient| x sd
    # (valid whatever the correlations between the estimates).
    from qkdcircuits import mdi_key_rate

    y11, e11 = float(ev.single_photon_yield), float(ev.single_photon_error)
    q, e = float(ev.gains["Z:mu,mu"]), float(ev.qbers["Z:mu,mu"])
    p11 = 0.25 * math.exp(-1.0)

    def rate(v):
        return mdi_key_rate(
            gain_z=v[0],
            qber_z=v[1],
            single_pair_gain=p11 * v[2],
            single_pair_error=v[3],
            ec_inefficiency=1.16,
        )

    values = [q, e, y11, e11]
    sds = [
        math.sqrt(q * (1 - q) / counts["Z:mu,mu"][0]),
        math.sqrt(e * (1 - e) / counts["Z:mu,mu"][1]),
        math.sqrt(y11 * (1 - y11) / counts["Z:single"][0]),
        math.sqrt(e11 * (1 - e11) / counts["X:single"][1]),
    ]
    worst = 0.0
    for k in range(4):
        shifted = list(values)
        shifted[k] += sds[k] * 1e-3
        worst += abs(rate(shifted) - rate(values)) * 1e3
    assert abs(report.key_rate_per_pulse - float(ev.key_rate_unclipped)) <= Z_SCORE * worst
    assert Z_SCORE * worst < 2e-3 * float(ev.key_rate_unclipped)


def test_extra_qubit_noise_enters_the_single_pair_error():
    noise = ArmNoise(depolarizing_prob=0.04)
    counts = sample_link_counts(
        MDI_ASYM, pulses=10**12, seed=4, table=qubit_outcome_table(MDI_ASYM, qubit_noise=noise)
    )
    # Alice flips with 0.02; Bob with (1 - (1 - 0.04)(1 - 2 e_d))/2; the pair errs on odd parity.
    eps_a = 0.02
    eps_b = (1 - 0.96 * (1 - 2 * MDI_ASYM.misalignment_prob)) / 2
    effective = eps_a + eps_b - 2 * eps_a * eps_b
    y11, e11 = mdi_single_photon(
        transmittance_a=MDI_ASYM.transmittance_a,
        transmittance_b=MDI_ASYM.transmittance_b,
        dark_count_prob=3e-6,
        misalignment_prob=effective,
    )
    _assert_single_match(counts, y11, e11)
    assert e11 > 2 * MDI_ASYM.misalignment_prob


def test_device_noise_model_enters_the_qber():
    from qiskit_aer.noise import NoiseModel, ReadoutError

    model = NoiseModel()
    model.add_all_qubit_readout_error(ReadoutError([[0.97, 0.03], [0.03, 0.97]]))
    clean = simulate_link(params=MDI_ASYM, pulses=10**11, seed=8)
    noisy = simulate_link(params=MDI_ASYM, pulses=10**11, seed=8, noise_model=model)
    assert noisy.parameters["noise_model"]["type"] == "NoiseModel"
    assert len(noisy.parameters["noise_model"]["sha256"]) == 64
    n_clean, n_noisy = clean.counts["X:single"][1], noisy.counts["X:single"][1]
    sd = math.sqrt(clean.single_photon_error / n_clean + noisy.single_photon_error / n_noisy)
    assert noisy.single_photon_error - clean.single_photon_error > Z_SCORE * sd


@pytest.mark.slow
def test_fake_backend_runs_the_single_pair_circuits():
    fake_provider = pytest.importorskip("qiskit_ibm_runtime.fake_provider")
    report = simulate_link(
        params=MDI_ASYM, pulses=10**11, seed=9, backend=fake_provider.FakeManilaV2(), shots=2000
    )
    assert report.source == "backend:fake_manila"
    ev = evaluate_link(MDI_ASYM)
    _, detections, errors = report.counts["X:single"]
    sd = math.sqrt(detections * float(ev.single_photon_error))
    assert errors - detections * float(ev.single_photon_error) > Z_SCORE * sd  # device noise


# -- API behaviour ----------------------------------------------------------------------------


def test_reproducible_and_seed_types():
    a = sample_link_counts(GYS_25, pulses=10**8, seed=7)
    assert a == sample_link_counts(GYS_25, pulses=10**8, seed=7)
    assert a != sample_link_counts(GYS_25, pulses=10**8, seed=8)
    rng = np.random.default_rng(7)
    assert sample_link_counts(GYS_25, pulses=10**8, seed=rng) == a
    assert sample_link_counts(MDI_ASYM, pulses=1, seed=0)["any-click"][0] <= 1
    big = sample_link_counts(MDI_ASYM, pulses=MAX_PULSES, seed=0)
    assert (
        sum(v[0] for k, v in big.items() if k.startswith(("Z:", "X:")) and "single" not in k)
        <= MAX_PULSES
    )


def test_basis_choice_and_intensity_probabilities():
    pulses = 10**10
    counts = sample_link_counts(GYS_25, pulses=pulses, seed=1, z_basis_prob=0.8)
    n_z = sum(counts[f"Z:{k}"][0] for k in ("mu", "nu", "omega"))
    n_x = sum(counts[f"X:{k}"][0] for k in ("mu", "nu", "omega"))
    for observed, p in ((n_z, 0.64), (n_x, 0.04)):
        assert abs(observed - pulses * p) <= Z_SCORE * math.sqrt(pulses * p * (1 - p))
    p_mu = 0.64 * GYS_25.source.signal_prob
    assert abs(counts["Z:mu"][0] - pulses * p_mu) <= Z_SCORE * math.sqrt(pulses * p_mu)
    only_z = sample_link_counts(GYS_25, pulses=10**6, seed=1, z_basis_prob=1.0)
    assert only_z["X:mu"] == [0, 0, 0]


def test_analyse_counts_on_synthetic_data():
    """Counts equal to N x the closed-form probabilities give back the closed-form rate."""
    pulses = 10**15
    ev = evaluate_link(MDI_ASYM, decoy="three-intensity")
    counts = {}
    for key, gain in ev.gains.items():
        n = pulses // 18
        d = round(n * float(gain))
        counts[key] = [n, d, round(d * float(ev.qbers[key]))]
    counts["Z:single"] = [pulses, round(pulses * float(ev.single_photon_yield)), 0]
    d11 = round(pulses * float(ev.single_photon_yield))
    counts["X:single"] = [pulses, d11, round(d11 * float(ev.single_photon_error))]
    counts["any-click"] = [pulses, round(pulses * float(ev.click_prob)), 0]
    for decoy in ("infinite", "three-intensity"):
        got = analyse_counts(MDI_ASYM, counts, decoy=decoy)
        want = evaluate_link(MDI_ASYM, decoy=decoy)
        assert float(got.key_rate_unclipped) == pytest.approx(
            float(want.key_rate_unclipped), rel=1e-6
        )


def test_simulate_link_report_and_optimisation():
    report = simulate_link(protocol="mdi", length_km=40.0, pulses=10**12, seed=6, optimize=True)
    best = optimize_intensities(MDIParams.xu2013(length_km=40.0))
    assert report.intensities["mu_a"] == pytest.approx(best.intensities["mu_a"])
    assert report.method == "monte-carlo"
    assert (report.pulses, report.seed, report.source) == (10**12, 6, "aer:exact")
    assert report.parameters["params"]["source_a"]["signal_intensity"] == report.intensities["mu_a"]
    assert report.key_rate_per_pulse == pytest.approx(best.key_rate_per_pulse, rel=0.05)
    assert report.secure


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"pulses": 0}, ValueError, "pulses"),
        ({"pulses": MAX_PULSES + 1}, ValueError, "pulses"),
        ({"pulses": 1e6}, TypeError, "pulses"),
        ({"pulses": 10, "decoy": "three-intensity"}, ValueError, "not available"),
        ({"pulses": 10, "qubit_noise": "noisy"}, TypeError, "qubit_noise"),
        ({"pulses": 10, "z_basis_prob": 1.5}, ValueError, "z_basis_prob"),
        ({"pulses": 10, "z_basis_prob": 1.0}, ValueError, "z_basis_prob"),
        ({"pulses": 10, "z_basis_prob": 0.0}, ValueError, "z_basis_prob"),
        ({"pulses": 10, "seed": "7"}, TypeError, "seed"),
    ],
)
def test_invalid_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        simulate_link(params=GYS_25, **{"seed": 1, **kwargs})


def test_numpy_integer_seed_is_recorded():
    report = simulate_link(params=GYS_25, pulses=10**6, seed=np.int64(5))
    assert report.seed == 5
    assert report == simulate_link(params=GYS_25, pulses=10**6, seed=5)


def test_finite_decoy_needs_every_intensity():
    params = with_overrides(GYS_25, {"weak_decoy_prob": 0.0, "decoy_prob": 0.5})
    with pytest.raises(ValueError, match="weak_decoy_prob"):
        simulate_link(params=params, pulses=10**8, seed=1, decoy="vacuum-weak")
    report = simulate_link(params=params, pulses=10**8, seed=1)  # infinite decoy is fine
    assert report.gains["Z:omega"] is None


# -- does the sample support the rate? ------------------------------------------------------------


@pytest.mark.parametrize(("k", "n"), [(0, 10), (3, 10), (10, 10), (17, 10**6), (500, 1000)])
def test_one_sided_bounds_are_clopper_pearson(k, n):
    """Upper bound u: P(X <= k | u) = 1 - c; lower bound l: P(X >= k | l) = 1 - c."""
    from qkdcircuits.links.montecarlo import _one_sided_bounds

    confidence = 1 - 1e-3
    low, high = (float(v) for v in _one_sided_bounds(np.asarray(k), np.asarray(n), confidence))
    if k < n:
        assert stats.binom.cdf(k, n, high) == pytest.approx(1 - confidence, rel=1e-6)
    else:
        assert high == 1.0
    if k > 0:
        assert stats.binom.sf(k - 1, n, low) == pytest.approx(1 - confidence, rel=1e-6)
    else:
        assert low == 0.0


def test_rate_at_confidence_tracks_the_sample_size():
    from qkdcircuits import rate_at_confidence

    ev = evaluate_link(GYS_25)
    rates = []
    for pulses in (10**4, 10**8, 10**12):
        counts = {}
        for key, gain in ev.gains.items():
            n = pulses // 6
            d = round(n * float(gain))
            counts[key] = [n, d, round(d * float(ev.qbers[key]))]
        n1 = pulses // 2
        d1 = round(n1 * float(ev.single_photon_yield))
        counts["Z:single"] = [n1, d1, 0]
        counts["X:single"] = [n1, d1, round(d1 * float(ev.single_photon_error))]
        counts["any-click"] = [pulses, round(pulses * float(ev.click_prob)), 0]
        point = float(analyse_counts(GYS_25, counts).key_rate_unclipped)
        supported = rate_at_confidence(GYS_25, counts)
        assert 0.0 <= supported <= point
        rates.append((point, supported))
        looser = rate_at_confidence(GYS_25, counts, confidence=0.9)
        assert supported <= looser <= point
    assert rates[0][1] == 0.0  # 10^4 pulses cannot support a rate of 1e-3
    assert rates[2][1] == pytest.approx(rates[2][0], rel=2e-2)  # 10^12 pulses nearly can
    with pytest.raises(ValueError, match="confidence"):
        rate_at_confidence(GYS_25, counts, confidence=1.0)


def test_pulses_too_bright_for_the_photon_model_are_refused():
    bright = with_overrides(MDI_ASYM, {"mu": 2000.0})  # about 230 photons reach Charlie
    with pytest.raises(ValueError, match="MAX_MEAN_ARRIVING"):
        simulate_link(params=bright, pulses=10**6, seed=1)
    ok = with_overrides(GYS_25, {"mu": 1000.0})  # 13 photons reach Bob: simulated
    assert simulate_link(params=ok, pulses=10**6, seed=1).verdict == "no-key"
