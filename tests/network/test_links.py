"""The network's link model: batched evaluation equals per-link reports, caching, measurement."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from network.links import LinkModel
from qkdcircuits import BB84DecoyParams, MDIParams, link_report
from tests.helpers import Z_SCORE

PARAMS = [
    BB84DecoyParams.gys(length_km=15.0),
    MDIParams.xu2013(length_km=60.0, relay_fraction=0.3),
    BB84DecoyParams.gys(length_km=70.0),
    MDIParams.xu2013(length_km=20.0),
]


def _with_state(params, *, loss, eff, rate, mu, e_d):
    """The same link as a single parameter object (an independent path to the same physics)."""
    detector = dataclasses.replace(
        params.detector, efficiency=min(1.0, params.detector.efficiency * eff)
    )
    if isinstance(params, BB84DecoyParams):
        channel = dataclasses.replace(
            params.channel, extra_loss_db=params.channel.extra_loss_db + loss
        )
        source = dataclasses.replace(
            params.source,
            signal_intensity=mu,
            repetition_rate_hz=params.source.repetition_rate_hz * rate,
        )
        return dataclasses.replace(
            params, channel=channel, source=source, detector=detector, misalignment_prob=e_d
        )
    la, lb = params.length_a_km, params.length_b_km
    share = la / (la + lb)
    arms = {}
    for arm, part in (("a", share), ("b", 1 - share)):
        channel = getattr(params, f"channel_{arm}")
        source = getattr(params, f"source_{arm}")
        arms[f"channel_{arm}"] = dataclasses.replace(
            channel, extra_loss_db=channel.extra_loss_db + loss * part
        )
        arms[f"source_{arm}"] = dataclasses.replace(
            source, signal_intensity=mu[arm], repetition_rate_hz=source.repetition_rate_hz * rate
        )
    return dataclasses.replace(params, detector=detector, misalignment_prob=e_d, **arms)


def test_batched_state_equals_one_report_per_link():
    """On the quantisation grid the memoised values are exact."""
    model = LinkModel(PARAMS)
    loss = np.array([1.0, 2.5, 0.0, 4.0])
    # efficiency factors equivalent to whole 0.01 dB steps of loss
    eff = 10.0 ** (-np.array([0.46, -0.41, 0.0, 0.97]) / 10.0)
    rate = np.array([1.0, 0.95, 1.05, 1.0])
    scale = np.array([1.0, 0.7, 1.3, 1.0])
    e_d = np.array([0.033, 0.02, 0.05, 0.015])
    snap = model.evaluate(
        extra_loss_db=loss,
        efficiency_factor=eff,
        rate_factor=rate,
        intensity_scale=scale,
        misalignment_prob=e_d,
    )
    for k, params in enumerate(PARAMS):
        nominal = link_report(params=params, optimize=True).intensities
        if isinstance(params, MDIParams):
            mu = {"a": nominal["mu_a"] * scale[k], "b": nominal["mu_b"] * scale[k]}
        else:
            mu = nominal["mu"] * scale[k]
        report = link_report(
            params=_with_state(params, loss=loss[k], eff=eff[k], rate=rate[k], mu=mu, e_d=e_d[k])
        )
        assert snap.key_rate_per_pulse[k] == pytest.approx(
            report.key_rate_per_pulse, rel=1e-9, abs=1e-300
        )
        assert snap.key_rate_bps[k] == pytest.approx(report.key_rate_bps, rel=1e-9, abs=1e-300)
        assert snap.qber_z[k] == pytest.approx(report.qber_z, rel=1e-12)
        assert snap.gain_z[k] == pytest.approx(report.gain_z, rel=1e-12)


def test_off_grid_states_are_within_the_quantisation_error():
    """Half a quantum (0.005 dB) moves a rate by at most about 0.12 % per dB-slope unit."""
    model = LinkModel(PARAMS)
    exact_grid = model.evaluate(extra_loss_db=[1.0, 1.0, 1.0, 1.0]).key_rate_per_pulse
    off = model.evaluate(extra_loss_db=[1.004, 0.996, 1.004, 0.996]).key_rate_per_pulse
    np.testing.assert_array_equal(off, exact_grid)  # rounded to the same state
    for k, params in enumerate(PARAMS):
        nominal = link_report(params=params, optimize=True).intensities
        mu = (
            {"a": nominal["mu_a"], "b": nominal["mu_b"]}
            if isinstance(params, MDIParams)
            else nominal["mu"]
        )
        true = link_report(
            params=_with_state(
                params,
                loss=[1.004, 0.996, 1.004, 0.996][k],
                eff=1.0,
                rate=1.0,
                mu=mu,
                e_d=params.misalignment_prob,
            )
        ).key_rate_per_pulse
        # d ln R / d loss_dB is at most ln(10)/10 per dB per arm crossing (linear and quadratic
        # regimes): 0.004 dB moves R by at most 2 * 0.23 * 0.004 = 0.2 %.
        assert abs(off[k] / true - 1) < 2 * math.log(10) / 10 * 0.004 * 1.01


def test_reoptimised_intensities_match_single_link_optimisation():
    model = LinkModel(PARAMS)
    loss = np.array([3.0, 0.0, 6.0, 1.0])
    snap = model.evaluate(extra_loss_db=loss, optimize=True)
    for k, params in enumerate(PARAMS):
        state = _with_state(
            params,
            loss=loss[k],
            eff=1.0,
            rate=1.0,
            mu={"a": 0.5, "b": 0.5} if isinstance(params, MDIParams) else 0.5,
            e_d=params.misalignment_prob,
        )
        best = link_report(params=state, optimize=True)
        assert snap.key_rate_per_pulse[k] == pytest.approx(best.key_rate_per_pulse, rel=1e-6)


def test_only_changed_links_are_evaluated_again():
    model = LinkModel(PARAMS, prefetch=0)
    first = model.evaluate(extra_loss_db=[0.0, 1.0, 2.0, 3.0])
    count = model.evaluations
    again = model.evaluate(extra_loss_db=[0.0, 1.0, 2.0, 3.0])
    assert model.evaluations == count
    np.testing.assert_array_equal(first.key_rate_bps, again.key_rate_bps)
    tiny = model.evaluate(extra_loss_db=[0.0, 1.0 + 1e-5, 2.0, 3.0])  # below the quantum
    assert model.evaluations == count
    moved = model.evaluate(extra_loss_db=[0.0, 1.5, 2.0, 3.0])
    assert model.evaluations == count + 1
    assert moved.key_rate_bps[1] < tiny.key_rate_bps[1]
    np.testing.assert_array_equal(moved.key_rate_bps[[0, 2, 3]], first.key_rate_bps[[0, 2, 3]])
    # a second cache slot does not evict the first
    model.evaluate(misalignment_prob=0.1, cache="attacked")
    model.evaluate(extra_loss_db=[0.0, 1.5, 2.0, 3.0])
    assert model.evaluations == count + 1 + 4


def test_a_miss_prefetches_its_neighbourhood_along_the_loss_axis():
    model = LinkModel(PARAMS, prefetch=10)
    model.evaluate(extra_loss_db=[1.0, 1.0, 1.0, 1.0])
    count = model.evaluations
    for step in (0.03, -0.05, 0.1, -0.1):  # within +-10 quanta of 0.01 dB on every arm
        model.evaluate(extra_loss_db=[1.0 + step] * 4)
    assert model.evaluations == count
    shifted = model.evaluate(extra_loss_db=[1.0, 1.0, 1.0, 1.5])
    assert model.evaluations > count  # beyond the patch: evaluated (with its own patch)
    fresh = LinkModel(PARAMS, prefetch=0).evaluate(extra_loss_db=[1.0, 1.0, 1.0, 1.5])
    np.testing.assert_array_equal(shifted.key_rate_bps, fresh.key_rate_bps)


def test_the_per_link_reference_loop_gives_the_same_snapshot():
    rng = np.random.default_rng(5)
    kwargs = dict(
        extra_loss_db=rng.uniform(0, 5, 4),
        efficiency_factor=rng.uniform(0.8, 1.2, 4),
        intensity_scale=rng.uniform(0.5, 1.5, 4),
    )
    fast = LinkModel(PARAMS).evaluate(**kwargs)
    slow = LinkModel(PARAMS, vectorised=False).evaluate(**kwargs)
    for name in ("key_rate_bps", "qber_z", "gain_z", "sifted_bps"):
        np.testing.assert_array_equal(getattr(fast, name), getattr(slow, name))


def test_measured_qber_is_a_binomial_draw_on_the_sifted_block():
    params = [BB84DecoyParams.gys(length_km=30.0)] * 2000
    model = LinkModel(params)
    snap = model.evaluate()
    observed, sifted = model.measure(snap, slice_s=0.01, seed=3)
    q, n = float(snap.qber_z[0]), int(sifted[0])
    assert n == math.floor(snap.sifted_bps[0] * 0.01) > 0
    # 2000 independent blocks: their mean QBER is within z sigma/sqrt(2000) of the truth.
    sigma = math.sqrt(q * (1 - q) / n)
    assert abs(observed.mean() - q) < Z_SCORE * sigma / math.sqrt(len(params))
    assert (
        abs(observed.std(ddof=1) / sigma - 1) < Z_SCORE / math.sqrt(2 * (len(params) - 1)) + 1 / n
    )
    again, _ = model.measure(snap, slice_s=0.01, seed=3)
    np.testing.assert_array_equal(observed, again)


def test_a_link_behind_huge_loss_sees_only_dark_counts():
    """Only background clicks: QBER 1/2, no key; a block with nothing sifted reports nan."""
    model = LinkModel([BB84DecoyParams.gys(length_km=20.0)])
    snap = model.evaluate(extra_loss_db=[300.0])
    assert snap.key_rate_bps[0] == 0 and snap.qber_z[0] == pytest.approx(0.5)
    observed, sifted = model.measure(snap, slice_s=100.0, seed=1)
    assert abs(observed[0] - 0.5) < Z_SCORE * math.sqrt(0.25 / sifted[0])
    empty, none = model.measure(snap, slice_s=1e-9, seed=1)
    assert none[0] == 0 and math.isnan(empty[0])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"extra_loss_db": [-1.0, 0, 0, 0]}, "extra_loss_db"),
        ({"efficiency_factor": [1.0, 0.0, 1.0, 1.0]}, "efficiency_factor"),
        ({"intensity_scale": [1.0, 1.0]}, "intensity_scale"),
        ({"misalignment_prob": 0.7}, "misalignment_prob"),
        ({"rate_factor": np.nan}, "rate_factor"),
    ],
)
def test_bad_state(kwargs, match):
    with pytest.raises(ValueError, match=match):
        LinkModel(PARAMS).evaluate(**kwargs)


def test_empty_model_and_bad_slice():
    with pytest.raises(ValueError, match="at least one link"):
        LinkModel([])
    model = LinkModel(PARAMS[:1])
    with pytest.raises(ValueError, match="slice_s"):
        model.measure(model.evaluate(), slice_s=0.0)
