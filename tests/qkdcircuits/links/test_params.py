"""Photon-level parameter objects: reference sets, derived quantities, validation, overrides."""

from __future__ import annotations

import dataclasses
import functools
import json
import math

import numpy as np
import pytest

from qkdcircuits import (
    BB84DecoyParams,
    Detector,
    FiberChannel,
    MDIParams,
    WeakCoherentSource,
    default_params,
    params_from_dict,
    with_overrides,
)


def test_gys_reference_set():
    p = BB84DecoyParams.gys()
    assert p == BB84DecoyParams()  # the dataclass defaults are the reference set
    assert p.channel.loss_db_per_km == 0.21
    assert p.detector.efficiency == 0.045
    assert p.misalignment_prob == 0.033
    assert p.ec_inefficiency == 1.22
    assert p.sifting_factor == 0.5
    assert p.source.signal_intensity == 0.48
    # Y0 = 1.7e-6 is the background yield of Bob's two detectors.
    assert p.background_yield == pytest.approx(1.7e-6, rel=1e-12)
    assert default_params("bb84-decoy") == p


def test_xu2013_reference_set():
    p = MDIParams.xu2013()
    assert p == MDIParams()
    assert (p.misalignment_prob, p.ec_inefficiency) == (0.015, 1.16)
    assert (p.detector.dark_count_prob, p.detector.efficiency) == (3e-6, 0.145)
    assert p.channel_a.loss_db_per_km == p.channel_b.loss_db_per_km == 0.2
    assert p.source_a.signal_intensity == p.source_b.signal_intensity == 0.5
    assert default_params("mdi") == p


def test_transmittance():
    # 50 km at 0.2 dB/km is 10 dB: a factor 10.
    assert FiberChannel(length_km=50.0, loss_db_per_km=0.2).transmittance == pytest.approx(0.1)
    channel = FiberChannel(length_km=10.0, loss_db_per_km=0.2, extra_loss_db=3.0)
    assert channel.loss_db == pytest.approx(5.0)
    assert channel.transmittance == pytest.approx(10 ** (-0.5))
    lengths = np.array([0.0, 10.0, 100.0])
    np.testing.assert_allclose(
        channel.transmittance_at(length_km=lengths), 10 ** (-(0.2 * lengths + 3.0) / 10)
    )
    p = BB84DecoyParams.gys(length_km=50.0)
    assert p.transmittance == pytest.approx(0.045 * 10 ** (-0.21 * 50 / 10))
    np.testing.assert_allclose(p.transmittance_at(length_km=[0.0, 50.0]), [0.045, p.transmittance])


def test_relay_position():
    p = MDIParams.xu2013(length_km=100.0, relay_fraction=0.3)
    assert (p.length_a_km, p.length_b_km, p.length_km) == pytest.approx((30.0, 70.0, 100.0))
    assert p.transmittance_a == pytest.approx(0.145 * 10 ** (-0.2 * 30 / 10))
    assert p.transmittance_b == pytest.approx(0.145 * 10 ** (-0.2 * 70 / 10))
    q = p.with_lengths(length_a_km=5.0, length_b_km=80.0)
    assert (q.length_a_km, q.length_b_km) == (5.0, 80.0)
    assert p.with_length(length_km=20.0).length_a_km == 10.0


@pytest.mark.parametrize(
    ("factory", "message"),
    [
        (lambda: FiberChannel(length_km=-1.0), "length_km"),
        (lambda: FiberChannel(loss_db_per_km=math.nan), "loss_db_per_km"),
        (lambda: FiberChannel(extra_loss_db=-0.5), "extra_loss_db"),
        (lambda: Detector(efficiency=0.0), "efficiency"),
        (lambda: Detector(efficiency=1.5), "efficiency"),
        (lambda: Detector(dark_count_prob=1.0), "dark_count_prob"),
        (lambda: Detector(dark_count_prob=-1e-6), "dark_count_prob"),
        (lambda: Detector(dead_time_s=-1e-9), "dead_time_s"),
        (lambda: WeakCoherentSource(signal_intensity=0.0), "signal_intensity"),
        (lambda: WeakCoherentSource(decoy_intensity=-0.1), "decoy_intensity"),
        (lambda: WeakCoherentSource(signal_prob=0.5, decoy_prob=0.4), "must equal 1"),
        (
            lambda: WeakCoherentSource(signal_prob=0.0, decoy_prob=0.5, weak_decoy_prob=0.5),
            "signal_prob",
        ),
        (lambda: WeakCoherentSource(repetition_rate_hz=0.0), "repetition_rate_hz"),
        (lambda: BB84DecoyParams(misalignment_prob=0.6), "misalignment_prob"),
        (lambda: BB84DecoyParams(ec_inefficiency=0.9), "ec_inefficiency"),
        (lambda: BB84DecoyParams(sifting_factor=0.0), "sifting_factor"),
        (lambda: MDIParams(misalignment_prob=-0.1), "misalignment_prob"),
        (
            lambda: MDIParams(source_b=WeakCoherentSource(repetition_rate_hz=1e6)),
            "repetition_rate_hz",
        ),
        (lambda: MDIParams.xu2013(relay_fraction=1.5), "relay_fraction"),
        (lambda: MDIParams.xu2013(length_km=-3.0), "length_km"),
        (lambda: default_params("bb84"), "protocol"),
    ],
)
def test_invalid_values_raise_value_error_naming_the_parameter(factory, message):
    with pytest.raises(ValueError, match=message):
        factory()


@pytest.mark.parametrize(
    "factory",
    [
        lambda: BB84DecoyParams(source="strong"),
        lambda: MDIParams(detector=FiberChannel()),
        lambda: FiberChannel(length_km="10"),
        lambda: Detector(efficiency=True),
    ],
)
def test_wrong_types_raise_type_error(factory):
    with pytest.raises(TypeError):
        factory()


def test_frozen_and_hashable():
    p = MDIParams.xu2013(length_km=10.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.ec_inefficiency = 1.0  # type: ignore[misc]
    assert hash(p) == hash(MDIParams.xu2013(length_km=10.0))
    calls = []

    @functools.lru_cache
    def cached(params):
        calls.append(params)
        return params.length_km

    cached(p)
    cached(MDIParams.xu2013(length_km=10.0))
    assert len(calls) == 1


@pytest.mark.parametrize(
    "params",
    [BB84DecoyParams.gys(length_km=30.0), MDIParams.xu2013(length_km=40.0, relay_fraction=0.2)],
)
def test_dict_round_trip(params):
    data = params.to_dict()
    text = json.dumps(data)
    assert params_from_dict(json.loads(text)) == params
    assert type(params).from_dict(data) == params


def test_from_dict_rejects_unknown_fields_and_protocols():
    data = BB84DecoyParams.gys().to_dict()
    with pytest.raises(ValueError, match="unknown field"):
        params_from_dict({**data, "colour": "blue"})
    with pytest.raises(ValueError, match="protocol"):
        params_from_dict({**data, "protocol": "e91"})
    with pytest.raises(ValueError, match="protocol"):
        MDIParams.from_dict(data)


def test_overrides_bare_dotted_and_aliases():
    p = with_overrides(
        MDIParams.xu2013(),
        {"mu": "0.4", "loss_db_per_km": 0.16, "source_b.decoy_intensity": 0.05, "e_d": 0.02},
    )
    assert p.source_a.signal_intensity == p.source_b.signal_intensity == 0.4
    assert p.channel_a.loss_db_per_km == p.channel_b.loss_db_per_km == 0.16
    assert (p.source_a.decoy_intensity, p.source_b.decoy_intensity) == (0.1, 0.05)
    assert p.misalignment_prob == 0.02
    assert with_overrides(p, {"f": 1.05}).ec_inefficiency == 1.05  # f is an alias
    q = with_overrides(BB84DecoyParams.gys(), {"dead_time_s": "1e-8"})
    assert q.detector.dead_time_s == 1e-8
    assert with_overrides(q, {"dead_time_s": "none"}).detector.dead_time_s is None


def test_overrides_errors():
    with pytest.raises(ValueError, match=r"unknown parameter 'colour'.*ec_inefficiency"):
        with_overrides(BB84DecoyParams.gys(), {"colour": 1})
    with pytest.raises(ValueError, match=r"unknown parameter 'source_a\.efficiency'"):
        with_overrides(MDIParams.xu2013(), {"source_a.efficiency": 1})
    with pytest.raises(ValueError, match="is not a number"):
        with_overrides(BB84DecoyParams.gys(), {"mu": "lots"})
    with pytest.raises(ValueError, match="misalignment_prob"):
        with_overrides(BB84DecoyParams.gys(), {"misalignment_prob": 0.7})
    with pytest.raises(TypeError):
        with_overrides({"mu": 1}, {"mu": 0.5})  # type: ignore[arg-type]


def test_dead_time_live_fraction():
    detector = Detector(dead_time_s=50e-9)
    # Non-paralysable model: n true clicks/s give a usable fraction 1/(1 + n tau).
    n = 0.01 * 1e8
    assert detector.live_fraction(click_prob=0.01, repetition_rate_hz=1e8) == pytest.approx(
        1 / (1 + n * 50e-9)
    )
    assert Detector().live_fraction(click_prob=0.5, repetition_rate_hz=1e9) == 1.0
    np.testing.assert_allclose(
        detector.live_fraction(click_prob=np.array([0.0, 0.01]), repetition_rate_hz=1e8)[0], 1.0
    )


def test_overrides_are_applied_together():
    # Only valid as a whole: the three probabilities must keep summing to 1.
    p = with_overrides(BB84DecoyParams.gys(), {"weak_decoy_prob": 0.0, "decoy_prob": 0.5})
    assert p.source.probabilities == (0.5, 0.5, 0.0)
    with pytest.raises(ValueError, match="must equal 1"):
        with_overrides(BB84DecoyParams.gys(), {"weak_decoy_prob": 0.0})
