"""Many links at once: LinkArray, evaluate_links, link_reports (the network's contract).

Physics is checked against the independent 50-digit references of ``reference.py`` for links
that differ in every parameter; the batch path is also checked against the one-link functions.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from qkdcircuits import (
    BB84DecoyParams,
    Detector,
    FiberChannel,
    LinkArray,
    MDIParams,
    WeakCoherentSource,
    evaluate_link,
    evaluate_links,
    link_report,
    link_reports,
    with_overrides,
)
from qkdcircuits.links.params import COLUMNS
from tests.qkdcircuits.links.reference import (
    brute_force_max,
    gllp_rate_mp,
    mdi_rate_grid,
    mdi_rate_mp,
)

XU = MDIParams.xu2013()
GYS = BB84DecoyParams.gys()


def _mdi_links():
    """Symmetric and asymmetric MDI links with different devices, mixed in one list."""
    return [
        XU.with_length(length_km=0.0),
        XU.with_length(length_km=170.0, relay_fraction=0.2),
        XU.with_length(length_km=120.0, relay_fraction=0.5),
        with_overrides(XU.with_length(length_km=150.0, relay_fraction=0.05), {"e_d": 0.01}),
        with_overrides(XU.with_length(length_km=60.0), {"efficiency": 0.3, "f": 1.1}),
        XU.with_lengths(length_a_km=80.0, length_b_km=10.0),
        with_overrides(XU.with_length(length_km=231.9), {"mu": 0.3}),
        with_overrides(XU.with_length(length_km=40.0, relay_fraction=0.3), {"mu": 0.2}),
    ]


def _mdi_constants(p):
    return {
        "eta_d": p.detector.efficiency,
        "p_d": p.detector.dark_count_prob,
        "e_d": p.misalignment_prob,
        "f": p.ec_inefficiency,
        "alpha": p.channel_a.loss_db_per_km,
    }


# -- LinkArray ----------------------------------------------------------------------------------


def test_columns_mirror_the_dataclasses_and_round_trip():
    params = _mdi_links()
    links = LinkArray.from_params(params)
    assert len(links) == len(params) and links.protocol == "mdi"
    assert set(links.columns) == set(COLUMNS["mdi"])
    assert links.to_params() == params
    assert links.params(-1) == params[-1]
    np.testing.assert_array_equal(links.length_a_km, [p.length_a_km for p in params])
    np.testing.assert_array_equal(links.length_km, [p.length_km for p in params])
    np.testing.assert_array_equal(
        links.signal_intensity_b, [p.source_b.signal_intensity for p in params]
    )
    bb84 = [
        GYS.with_length(length_km=5.0),
        dataclasses.replace(GYS, detector=Detector(dead_time_s=1e-7)),
    ]
    b = LinkArray.from_params(bb84)
    assert b.to_params() == bb84
    assert math.isnan(b.dead_time_s[0]) and b.dead_time_s[1] == 1e-7


def test_arrays_are_read_only_copies():
    extra = np.array([1.0, 2.0])
    links = LinkArray.from_params([GYS, GYS]).replace(extra_loss_db=extra)
    extra[0] = 99.0  # the caller's array is not kept
    assert links.extra_loss_db.tolist() == [1.0, 2.0]
    with pytest.raises(ValueError):
        links.extra_loss_db[0] = 5.0
    with pytest.raises(TypeError):
        links.columns["extra_loss_db"] = np.zeros(2)  # type: ignore[index]


def test_replace_updates_fluctuating_quantities():
    links = LinkArray.from_params([XU.with_length(length_km=50.0)] * 3)
    hot = links.replace(
        extra_loss_a_db=[0.0, 3.0, 6.0], detector_efficiency=0.1, repetition_rate_hz=[1e9, 1e8, 1e7]
    )
    assert hot.detector_efficiency.tolist() == [0.1] * 3
    assert hot.params(1).channel_a.extra_loss_db == 3.0
    assert links.extra_loss_a_db.tolist() == [0.0] * 3  # the original is unchanged
    rates = evaluate_links(hot).key_rate_per_pulse
    assert rates[0] > rates[1] > rates[2]
    # the same as building the parameter objects one by one
    for k in range(3):
        ev = evaluate_link(hot.params(k))
        assert evaluate_links(hot).key_rate_bps[k] == pytest.approx(ev.key_rate_bps, rel=1e-13)
    subset = hot[np.array([True, False, True])]
    assert len(subset) == 2 and subset.params(1) == hot.params(2)
    assert hot[1:] == LinkArray.from_params([hot.params(1), hot.params(2)])


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("detector_efficiency", [0.1, 1.5], r"detector_efficiency\[1\]=1.5 not in \(0, 1\]"),
        ("detector_efficiency", [0.0, 0.1], r"detector_efficiency\[0\]=0.0"),
        ("dark_count_prob", [1.0, 0.0], r"dark_count_prob\[0\]=1.0"),
        ("extra_loss_db", [-1.0, 0.0], r"extra_loss_db\[0\]=-1.0"),
        ("length_km", [0.0, math.inf], r"length_km\[1\]=inf"),
        ("signal_intensity", [0.0, 0.5], r"signal_intensity\[0\]=0.0"),
        ("misalignment_prob", [0.6, 0.0], r"misalignment_prob\[0\]=0.6"),
        ("ec_inefficiency", [0.9, 1.2], r"ec_inefficiency\[0\]=0.9"),
        ("sifting_factor", [0.0, 0.5], r"sifting_factor\[0\]=0.0"),
        ("repetition_rate_hz", [1e8, -1.0], r"repetition_rate_hz\[1\]=-1.0"),
        ("dead_time_s", [-1e-9, math.nan], r"dead_time_s\[0\]"),
        ("signal_prob", [0.9, 0.5], r"must equal 1 \(link 0\)"),
        ("detector_efficiency", [0.1, 0.2, 0.3], "3 values for 2 links"),
        ("detector_efficiency", [[0.1, 0.2]], "one-dimensional"),
        ("colour", [1.0, 1.0], "unknown columns"),
    ],
)
def test_replace_validates(column, value, message):
    links = LinkArray.from_params([GYS, GYS])
    with pytest.raises(ValueError, match=message):
        links.replace(**{column: value})


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("detector_efficiency", 1.2),
        ("dark_count_prob", 1.0),
        ("misalignment_prob", 0.51),
        ("ec_inefficiency", 0.99),
        ("signal_intensity", -0.1),
        ("decoy_intensity", -0.1),
        ("repetition_rate_hz", 0.0),
        ("loss_db_per_km", -0.1),
        ("sifting_factor", 1.01),
    ],
)
def test_same_rules_as_the_dataclasses(field, value):
    name = {"detector_efficiency": "efficiency"}.get(field, field)
    with pytest.raises(ValueError):
        with_overrides(GYS, {name: value})
    with pytest.raises(ValueError, match=field):
        LinkArray.from_params([GYS]).replace(**{field: value})


def test_construction_errors():
    with pytest.raises(ValueError, match="mix protocols"):
        LinkArray.from_params([GYS, XU])
    with pytest.raises(ValueError, match="empty"):
        LinkArray.from_params([])
    with pytest.raises(TypeError, match="sequence"):
        LinkArray.from_params(GYS)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"params\[1\]"):
        LinkArray.from_params([GYS, "GYS"])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="missing"):
        LinkArray("mdi", {"length_a_km": [1.0]})
    with pytest.raises(ValueError, match="protocol"):
        LinkArray("e91", {})
    links = LinkArray.from_params([GYS])
    with pytest.raises(TypeError, match="params"):
        links[0]
    with pytest.raises(IndexError):
        links.params(1)
    with pytest.raises(AttributeError, match="no column"):
        links.length_a_km  # noqa: B018


# -- evaluate_links -----------------------------------------------------------------------------


def test_evaluate_links_against_mpmath_for_heterogeneous_links():
    params = _mdi_links()
    ev = evaluate_links(LinkArray.from_params(params))
    assert ev.key_rate_unclipped.shape == (len(params),)
    for k, p in enumerate(params):
        expected = mdi_rate_mp(
            p.length_a_km,
            p.length_b_km,
            p.source_a.signal_intensity,
            p.source_b.signal_intensity,
            **_mdi_constants(p),
        )
        assert ev.key_rate_unclipped[k] == pytest.approx(expected, rel=1e-9, abs=1e-20)
        assert ev.key_rate_bps[k] == pytest.approx(max(expected, 0) * 1e8, rel=1e-9, abs=1e-12)
    bb84 = [GYS.with_length(length_km=L) for L in (0.0, 40.0, 100.0, 139.0)] + [
        with_overrides(GYS.with_length(length_km=20.0), {"mu": 0.7, "e_d": 0.02})
    ]
    ev = evaluate_links(LinkArray.from_params(bb84))
    for k, p in enumerate(bb84):
        expected = gllp_rate_mp(p.length_km, p.source.signal_intensity, e_d=p.misalignment_prob)
        assert ev.key_rate_unclipped[k] == pytest.approx(expected, rel=1e-9, abs=1e-20)


@pytest.mark.parametrize("decoy", ["infinite", "three-intensity"])
def test_evaluate_links_equals_evaluate_link_per_link(decoy):
    params = _mdi_links()
    batch = evaluate_links(LinkArray.from_params(params), decoy=decoy)
    for k, p in enumerate(params):
        single = evaluate_link(p, decoy=decoy)
        for name in ("key_rate_unclipped", "single_photon_yield_lower", "live_fraction"):
            assert getattr(batch, name)[k] == pytest.approx(
                float(getattr(single, name)), rel=1e-12, abs=1e-25
            )
        for key, value in single.gains.items():
            assert batch.gains[key][k] == pytest.approx(float(value), rel=1e-12, abs=1e-30)


def test_optimised_batch_matches_brute_force_for_mixed_links():
    """Symmetric and asymmetric MDI links, each with its own parameters, optimised at once."""
    params = _mdi_links()
    ev = evaluate_links(LinkArray.from_params(params), optimize=True)
    for k, p in enumerate(params):
        constants = _mdi_constants(p)
        la, lb = p.length_a_km, p.length_b_km
        if p.is_symmetric or la == lb:
            _, value = brute_force_max(
                lambda m, la=la, lb=lb, c=constants: mdi_rate_grid(la, lb, m, m, **c), 1
            )
            assert ev.intensities["mu_a"][k] == ev.intensities["mu_b"][k]
        else:
            _, value = brute_force_max(
                lambda a, b, la=la, lb=lb, c=constants: mdi_rate_grid(la, lb, a, b, **c),
                2,
                points=121,
            )
        got = ev.key_rate_unclipped[k]
        mu_a, mu_b = ev.intensities["mu_a"][k], ev.intensities["mu_b"][k]
        assert got == pytest.approx(mdi_rate_mp(la, lb, mu_a, mu_b, **constants), rel=1e-9)
        assert got >= value - 1e-9 * abs(value) - 1e-19


def test_bb84_batch_optimisation_and_dead_time():
    params = [GYS.with_length(length_km=L) for L in (0.0, 60.0, 120.0, 141.0)] + [
        dataclasses.replace(GYS, detector=dataclasses.replace(GYS.detector, dead_time_s=1e-5))
    ]
    ev = evaluate_links(LinkArray.from_params(params), optimize=True)
    for k, p in enumerate(params):
        (mu,), value = brute_force_max(
            lambda m, p=p: np.vectorize(lambda x: gllp_rate_mp(p.length_km, x))(m),
            1,
            points=41,
            zooms=3,
        )
        assert ev.key_rate_unclipped[k] >= value - 1e-9 * abs(value)
        assert ev.intensities["mu"][k] == pytest.approx(mu, rel=5e-2)
    # dead time: the bit rate is reduced by the live fraction 1 / (1 + clicks/s x tau)
    live = 1 / (1 + ev.click_prob[-1] * 1e8 * 1e-5)
    assert ev.key_rate_bps[-1] == pytest.approx(ev.key_rate_per_pulse[-1] * 1e8 * live)


def test_evaluate_links_errors():
    with pytest.raises(TypeError, match="LinkArray"):
        evaluate_links([GYS])  # type: ignore[arg-type]
    links = LinkArray.from_params([GYS, with_overrides(GYS, {"omega": 0.05})])
    with pytest.raises(ValueError, match=r"weak_decoy_intensity=0.05.*\(link 1\)"):
        evaluate_links(links, decoy="vacuum-weak")
    with pytest.raises(TypeError, match="optimize"):
        evaluate_links(links, optimize="no")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="not available"):
        evaluate_links(links, decoy="three-intensity")


# -- link_reports -------------------------------------------------------------------------------


@pytest.mark.parametrize("optimize", [False, True])
def test_link_reports_equal_link_report_per_link(optimize):
    mixed = [*_mdi_links()[:5], GYS.with_length(length_km=30.0), GYS.with_length(length_km=120.0)]
    reports = link_reports(mixed, optimize=optimize)
    assert [r.protocol for r in reports] == [p.protocol for p in mixed]
    for report, p in zip(reports, mixed, strict=True):
        one = link_report(params=p, optimize=optimize)
        assert report.parameters == one.parameters and report.cache_key() == one.cache_key()
        assert report.key_rate_per_pulse == pytest.approx(one.key_rate_per_pulse, rel=1e-9)
        for key, value in one.intensities.items():
            assert report.intensities[key] == pytest.approx(value, rel=1e-6)
        for key, value in one.gains.items():
            assert report.gains[key] == pytest.approx(value, rel=1e-6)


def test_link_reports_from_lengths_and_arrays():
    lengths = np.array([0.0, 50.0, 100.0])
    reports = link_reports(XU, lengths_km=lengths, relay_fraction=0.25, decoy="three-intensity")
    for r, length in zip(reports, lengths, strict=True):
        assert r == link_report(
            params=XU, length_km=float(length), relay_fraction=0.25, decoy="three-intensity"
        )
    links = LinkArray.from_params(_mdi_links())
    assert link_reports(links) == link_reports(_mdi_links())
    with pytest.raises(ValueError, match="values for"):
        link_reports(_mdi_links(), lengths_km=[1.0, 2.0])
    with pytest.raises(ValueError, match="not available"):
        link_reports([GYS, XU], decoy="three-intensity")
    with pytest.raises(TypeError, match="params_or_links"):
        link_reports("mdi")  # type: ignore[arg-type]
    assert link_reports([]) == []


def test_link_reports_keep_the_source_probabilities():
    source = WeakCoherentSource(
        signal_intensity=0.4, signal_prob=0.8, decoy_prob=0.1, weak_decoy_prob=0.1
    )
    p = BB84DecoyParams(source=source, channel=FiberChannel(length_km=10.0, loss_db_per_km=0.21))
    (report,) = link_reports([p])
    assert report.parameters["params"]["source"]["signal_prob"] == 0.8
