"""Finite-key link reports (``link_report(..., block_size=...)``) and ``evaluate_finite_key``.

Checks: the block bookkeeping (pulses per block, time per block) against an independent
50-digit recomputation of the link model; the key length against the protocol functions (whose
bounds are checked against the papers in test_finite_key_bb84/mdi); the finite-key rate never
exceeds the rate with perfect parameter estimation at the same settings (independent
reference); monotonicity in the block size; optimisation beats fixed settings; the batch path
equals the one-link path; every field survives JSON exactly and every inconsistency is refused.
"""

from __future__ import annotations

import dataclasses
import json
import math
import pickle

import numpy as np
import pytest

from qkdcircuits import (
    FINITE_KEY_FIELDS,
    BB84DecoyParams,
    LinkReport,
    MDIParams,
    bb84_finite_key_rate,
    evaluate_finite_key,
    finite_key_limit,
    link_report,
    link_reports,
    mdi_finite_key_rate,
    with_overrides,
)
from qkdcircuits.links.report import SCHEMA_VERSION
from tests.qkdcircuits.links.reference import (
    GYS,
    bb84_block_reference,
    brute_force_max,
    gllp_rate_mp,
    mdi_block_reference,
    mdi_rate_mp,
)


def reference_for(report: LinkReport, params) -> dict[str, float]:
    """The independent block reference at the settings the report says it used."""
    if report.protocol == "bb84-decoy":
        return bb84_block_reference(
            params.transmittance,
            params.background_yield,
            params.misalignment_prob,
            params.ec_inefficiency,
            report.basis_prob,
            [report.intensities[n] for n in ("mu", "nu", "omega")],
            [report.intensity_probs[n] for n in ("mu", "nu", "omega")],
            report.block_size,
        )
    return mdi_block_reference(
        params.transmittance_a,
        params.transmittance_b,
        params.detector.dark_count_prob,
        params.misalignment_prob,
        params.ec_inefficiency,
        report.basis_prob,
        [report.intensities[n + "_a"] for n in ("mu", "nu", "omega")],
        [report.intensity_probs[n + "_a"] for n in ("mu", "nu", "omega")],
        report.block_size,
    )


def test_bb84_finite_report_fields_and_block_bookkeeping():
    params = BB84DecoyParams.gys(length_km=30.0)
    r = link_report(params=params, block_size=1e8, basis_prob=0.7)
    assert (r.rate_model, r.finite_key_analysis, r.sampling_bound, r.decoy) == (
        "finite-key",
        "lim2014",
        "serfling",
        "two-decoy",
    )
    assert (r.block_size, r.eps_sec, r.eps_cor, r.basis_prob) == (1e8, 1e-10, 1e-15, 0.7)
    assert dict(r.intensity_probs) == {"mu": 0.5, "nu": 0.25, "omega": 0.25}
    ref = reference_for(r, params)
    assert r.pulses_per_block == pytest.approx(ref["pulses"], rel=1e-12)
    assert r.block_time_s == pytest.approx(ref["pulses"] / 1e8, rel=1e-12)  # 100 MHz, no dead time
    key = bb84_finite_key_rate(params, block_size=1e8, basis_prob=0.7)
    assert r.key_length_per_block == int(key.key_length) > 0
    assert r.key_rate_per_pulse == r.key_length_per_block / r.pulses_per_block
    assert r.key_rate_bps == pytest.approx(r.key_length_per_block / r.block_time_s, rel=1e-12)
    assert (r.secure, r.verdict) == (True, "key")
    # what the block certifies is below the truth; the statistics are those of the link
    assert r.single_photon_yield_lower < r.y1
    assert r.single_photon_error_upper > r.e1
    asymptotic = link_report(params=params, decoy="two-decoy")
    assert r.gains == asymptotic.gains and r.qbers == asymptotic.qbers
    assert r.cache_key() != asymptotic.cache_key()
    assert r.parameters["finite_key"] == {
        "block_size": 1e8,
        "eps_sec": 1e-10,
        "eps_cor": 1e-15,
        "sampling_bound": "serfling",
        "basis_prob": 0.7,
    }


def test_mdi_finite_report_fields_and_block_bookkeeping():
    params = MDIParams.xu2013(length_km=40.0, relay_fraction=0.3)
    r = link_report(params=params, block_size=1e10, basis_prob=0.8, sampling_bound="lim2014")
    assert (r.finite_key_analysis, r.sampling_bound, r.decoy) == (
        "curty2014",
        "lim2014",
        "three-intensity",
    )
    assert (r.length_a_km, r.length_b_km) == pytest.approx((12.0, 28.0))
    ref = reference_for(r, params)
    assert r.pulses_per_block == pytest.approx(ref["pulses"], rel=1e-9)
    key = mdi_finite_key_rate(params, block_size=1e10, basis_prob=0.8, sampling_bound="lim2014")
    assert r.key_length_per_block == int(key.key_length) > 0
    assert r.single_photon_yield_lower < r.y11
    assert r.single_photon_error_upper > r.e11


@pytest.mark.parametrize(
    ("protocol", "length", "block", "optimize"),
    [
        ("bb84-decoy", 0.0, 1e6, False),
        ("bb84-decoy", 60.0, 1e9, True),
        ("bb84-decoy", 100.0, 1e7, True),
        ("mdi", 0.0, 1e8, False),
        ("mdi", 60.0, 1e11, True),
        ("mdi", 120.0, 1e9, True),
    ],
)
def test_finite_key_rate_never_exceeds_the_asymptotic_rate_at_the_same_settings(
    protocol, length, block, optimize
):
    """The key per pulse with perfect parameter estimation (infinite decoys, no finite-size
    terms, the same intensities, probabilities and basis probability) bounds every block."""
    r = link_report(protocol=protocol, length_km=length, block_size=block, optimize=optimize)
    params = (
        BB84DecoyParams.gys(length_km=length)
        if protocol == "bb84-decoy"
        else MDIParams.xu2013(length_km=length)
    )
    ref = reference_for(r, params)
    assert ref["ideal_rate"] > 0
    assert r.pulses_per_block == pytest.approx(ref["pulses"], rel=1e-9)
    assert r.key_rate_per_pulse < ref["ideal_rate"]


@pytest.mark.parametrize("protocol", ["bb84-decoy", "mdi"])
def test_rate_grows_with_the_block_and_with_eps(protocol):
    lengths = [20.0, 80.0]
    rates = np.array(
        [
            [
                r.key_rate_per_pulse
                for r in link_reports(
                    MDIParams.xu2013() if protocol == "mdi" else BB84DecoyParams.gys(),
                    lengths_km=lengths,
                    block_size=n,
                    basis_prob=0.8,
                )
            ]
            for n in (1e7, 1e8, 1e9, 1e10, 1e12)
        ]
    )
    assert np.all(np.diff(rates, axis=0) >= 0) and np.all(rates[-1] > rates[0])
    strict = link_report(protocol=protocol, length_km=20.0, block_size=1e9, eps_sec=1e-15)
    loose = link_report(protocol=protocol, length_km=20.0, block_size=1e9, eps_sec=1e-6)
    assert strict.key_length_per_block < loose.key_length_per_block


def test_optimised_settings_beat_the_fixed_ones_and_keep_the_weakest_intensity():
    params = MDIParams.xu2013(length_km=50.0)
    best = link_report(params=params, block_size=1e10, optimize=True)
    for q in (0.5, 0.9):
        fixed = link_report(params=params, block_size=1e10, basis_prob=q)
        assert best.key_rate_per_pulse > fixed.key_rate_per_pulse
    assert best.intensities["omega_a"] == best.intensities["omega_b"] == 0.0
    assert best.intensities["mu_a"] != params.source_a.signal_intensity
    assert best.parameters["optimize"] is True
    assert best.parameters["finite_key"]["basis_prob"] is None
    assert 0.5 < best.basis_prob < 1.0


def test_a_block_too_small_certifies_no_key():
    r = link_report(protocol="bb84-decoy", length_km=100.0, block_size=1e5)
    assert (r.secure, r.verdict, r.key_length_per_block) == (False, "no-key", 0)
    assert r.key_rate_per_pulse == r.key_rate_bps == 0.0
    assert math.isfinite(r.block_time_s) and r.block_time_s > 0


def test_dead_time_lengthens_the_block_not_the_key():
    params = BB84DecoyParams.gys(length_km=5.0)
    slow = with_overrides(params, {"detector.dead_time_s": 1e-6})
    fast_r, slow_r = (link_report(params=p, block_size=1e8) for p in (params, slow))
    assert slow_r.key_length_per_block == fast_r.key_length_per_block
    assert slow_r.pulses_per_block == fast_r.pulses_per_block
    # non-paralysable dead time: every signal click costs 1 us of 10 ns slots
    click = fast_r.gain_z
    assert slow_r.block_time_s / fast_r.block_time_s == pytest.approx(1 + click * 1e8 * 1e-6)


def test_batch_reports_equal_the_one_link_reports():
    links = [
        BB84DecoyParams.gys(length_km=20.0),
        MDIParams.xu2013(length_km=30.0, relay_fraction=0.2),
        with_overrides(BB84DecoyParams.gys(length_km=60.0), {"omega": 0.01}),
        MDIParams.xu2013(length_km=90.0),
    ]
    batch = link_reports(links, block_size=1e9, optimize=True)
    for link, report in zip(links, batch, strict=True):
        one = link_report(params=link, block_size=1e9, optimize=True)
        assert report.key_rate_per_pulse == pytest.approx(one.key_rate_per_pulse, rel=1e-9)
        assert report.basis_prob == pytest.approx(one.basis_prob, rel=1e-9)
    assert batch[2].intensities["omega"] == 0.01  # its own weakest intensity, its own search


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(protocol="bb84-decoy", length_km=25.0, block_size=1e7),
        dict(protocol="bb84-decoy", length_km=25.0, block_size=1e9, optimize=True),
        dict(protocol="mdi", length_a_km=5.0, length_b_km=35.0, block_size=1e10, eps_cor=1e-12),
        dict(protocol="mdi", length_km=80.0, block_size=1e11, optimize=True),
    ],
)
def test_json_pickle_round_trip_is_exact(kwargs):
    r = link_report(**kwargs)
    text = r.to_json()
    again = LinkReport.from_json(text)
    assert again == r and hash(again) == hash(r) and again.cache_key() == r.cache_key()
    assert again.to_json() == text
    for name in FINITE_KEY_FIELDS:
        assert getattr(again, name) == getattr(r, name) is not None
    assert pickle.loads(pickle.dumps(r)) == r
    assert json.loads(text)["schema_version"] == SCHEMA_VERSION == 3


def _data(**changes):
    data = link_report(protocol="bb84-decoy", length_km=25.0, block_size=1e8).to_dict()
    data.update(changes)
    return data


def _with_setting(name, value):
    data = _data()
    data["parameters"]["finite_key"][name] = value
    return data


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (_data(key_length_per_block=_data()["key_length_per_block"] + 1000), "key_rate_per_pulse"),
        (_data(key_length_per_block=1.5), "key_length_per_block"),
        (_data(key_length_per_block=-1), "key_length_per_block"),
        (_data(block_time_s=1e-3), "block_time_s"),
        (_data(pulses_per_block=10.0), "pulses_per_block"),
        (_data(sampling_bound="gauss"), "sampling_bound"),
        (_data(finite_key_analysis="curty2014"), "finite_key_analysis"),
        (_data(decoy="vacuum-weak"), "decoy"),
        (_data(eps_sec=0.0), "eps_sec"),
        (_data(basis_prob=1.0), "basis_prob"),
        (_data(block_size=None), "block_size"),
        (_data(intensity_probs={"mu": 0.5, "nu": 0.3, "omega": 0.3}), "sum to 1"),
        (_data(intensity_probs={"mu": 0.5, "nu": 0.5}), "intensity_probs keys"),
        (_data(intensity_probs={"mu": 0.6, "nu": 0.2, "omega": 0.2}), "intensity_probs"),
        (_with_setting("block_size", 1e9), "finite_key"),
        (_with_setting("basis_prob", None), "finite_key"),
        (_data(rate_model="asymptotic"), "rate_model"),
    ],
)
def test_inconsistent_finite_key_data_is_refused(data, match):
    with pytest.raises((ValueError, TypeError), match=match):
        LinkReport.from_dict(data)


def test_asymptotic_reports_have_no_finite_key_fields():
    data = link_report(protocol="mdi", length_km=10.0).to_dict()
    assert all(data[name] is None for name in FINITE_KEY_FIELDS)
    with pytest.raises(ValueError, match="asymptotic report has no"):
        LinkReport.from_dict({**data, "block_size": 1e6})


def test_optimised_reports_fix_only_the_weakest_intensity():
    data = link_report(protocol="bb84-decoy", length_km=25.0, block_size=1e8, optimize=True)
    plain = data.to_dict()
    plain["parameters"]["params"]["source"]["weak_decoy_intensity"] = 0.001
    with pytest.raises(ValueError, match="omega"):
        LinkReport.from_dict(plain)


def test_schema_2_documents_are_read_and_others_refused():
    r = link_report(protocol="bb84-decoy", length_km=5.0)
    old = {k: v for k, v in r.to_dict().items() if k not in FINITE_KEY_FIELDS}
    old["schema_version"] = 2
    assert LinkReport.from_dict(old) == r
    with pytest.raises(ValueError, match="has no fields"):
        LinkReport.from_dict({**old, "block_size": None})
    for version in (1, 4, True):
        with pytest.raises(ValueError, match="schema_version"):
            LinkReport.from_dict({**r.to_dict(), "schema_version": version})


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (dict(protocol="mdi", eps_sec=1e-9), ValueError, "give block_size"),
        (dict(protocol="mdi", basis_prob=0.9), ValueError, "give block_size"),
        (dict(protocol="bb84-decoy", block_size=1e6, decoy="infinite"), ValueError, "two-decoy"),
        (dict(protocol="mdi", block_size=1e6, basis_prob=0.9, optimize=True), ValueError, "basis"),
        (dict(protocol="mdi", block_size=0.0), ValueError, "block_size"),
        (dict(protocol="mdi", block_size=math.inf), ValueError, "block_size"),
        (dict(protocol="mdi", block_size=1e6, basis_prob=1.0), ValueError, "basis_prob"),
        (dict(protocol="mdi", block_size=1e6, eps_cor=0.0), ValueError, "eps_cor"),
        (dict(protocol="mdi", block_size=1e6, sampling_bound="x"), ValueError, "sampling_bound"),
        (dict(protocol="mdi", block_size="1e6"), TypeError, "block_size"),
    ],
)
def test_bad_finite_key_arguments_are_refused(kwargs, error, match):
    with pytest.raises(error, match=match):
        link_report(length_km=10.0, **kwargs)


def test_optimised_mdi_parties_must_share_their_weakest_intensity():
    params = MDIParams.xu2013(length_km=10.0)
    uneven = dataclasses.replace(
        params, source_b=dataclasses.replace(params.source_b, weak_decoy_intensity=0.01)
    )
    with pytest.raises(ValueError, match="weakest"):
        link_report(params=uneven, block_size=1e9, optimize=True)
    assert link_report(params=uneven, block_size=1e9).intensities["omega_b"] == 0.01


def test_evaluate_finite_key_refuses_mixed_or_empty_lists():
    with pytest.raises(ValueError, match="mixes protocols"):
        evaluate_finite_key([BB84DecoyParams.gys(), MDIParams.xu2013()], block_size=1e6)
    with pytest.raises(ValueError, match="non-empty"):
        evaluate_finite_key([], block_size=1e6)
    with pytest.raises(TypeError, match="params"):
        evaluate_finite_key(["bb84"], block_size=1e6)


@pytest.mark.parametrize("length", [0.0, 100.0, 140.0])
def test_bb84_limit_is_the_best_gllp_rate_with_the_vacuum_term(length):
    """Sifting 1, infinite decoys, vacuum detections counted (50-digit reference)."""

    def reference(mu):
        return gllp_rate_mp(length, mu, q=1.0) + GYS["y0"] * math.exp(-mu)

    _, best = brute_force_max(np.vectorize(reference), 1, high=1.5, points=41)
    limit = finite_key_limit([BB84DecoyParams.gys(length_km=length)])
    assert limit.key_rate_per_pulse[0] == pytest.approx(best, rel=1e-6)
    assert limit.key_rate_per_pulse[0] > gllp_rate_mp(length, limit.intensity[0], q=1.0)


@pytest.mark.parametrize(("length_a", "length_b"), [(0.0, 0.0), (30.0, 30.0), (20.0, 80.0)])
def test_mdi_limit_is_the_best_symmetric_intensity_rate(length_a, length_b):
    _, best = brute_force_max(
        np.vectorize(lambda mu: mdi_rate_mp(length_a, length_b, mu, mu)), 1, high=1.5, points=41
    )
    params = MDIParams.xu2013().with_lengths(length_a_km=length_a, length_b_km=length_b)
    limit = finite_key_limit([params])
    assert limit.key_rate_per_pulse[0] == pytest.approx(best, rel=1e-6)


@pytest.mark.parametrize("protocol", ["bb84-decoy", "mdi"])
def test_finite_key_rates_approach_the_limit_from_below(protocol):
    base = BB84DecoyParams.gys() if protocol == "bb84-decoy" else MDIParams.xu2013()
    lengths = [0.0, 60.0, 120.0, 140.0]
    limit = finite_key_limit([base.with_length(length_km=L) for L in lengths])
    rates = np.array(
        [
            [
                r.key_rate_per_pulse
                for r in link_reports(base, lengths_km=lengths, block_size=n, optimize=True)
            ]
            for n in (1e6, 1e10, 1e20, 1e30)
        ]
    )
    assert np.all(rates <= limit.key_rate_per_pulse)
    assert np.all(np.diff(rates, axis=0) >= 0)
    positive = limit.key_rate_per_pulse > 0
    gap = 1 - rates[-1, positive] / limit.key_rate_per_pulse[positive]
    assert np.all(gap < 0.03)  # n = 1e30: within 3 % (the decoy settings converge slowly)
