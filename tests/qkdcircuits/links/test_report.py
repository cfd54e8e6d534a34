"""The link report: contents, JSON round trip, cache keys, validation, no qiskit import."""

from __future__ import annotations

import copy
import dataclasses
import json
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from qkdcircuits import (
    BB84DecoyParams,
    LinkReport,
    MDIParams,
    link_report,
    params_from_dict,
    report_cache_key,
    simulate_link,
    with_overrides,
)
from qkdcircuits.links.report import SCHEMA_VERSION

REPO = Path(__file__).resolve().parents[3]


def test_closed_form_report_contents():
    r = link_report(protocol="bb84-decoy", length_km=50.0)
    assert (r.protocol, r.method, r.decoy, r.source) == (
        "bb84-decoy",
        "closed-form",
        "infinite",
        "closed-form",
    )
    assert r.key_rate_per_pulse == pytest.approx(2.2260e-4, rel=5e-5)
    assert r.key_rate_bps == pytest.approx(r.key_rate_per_pulse * r.repetition_rate_hz)
    assert r.secure is True
    assert r.intensities == {"mu": 0.48, "nu": 0.1, "omega": 0.0}
    assert set(r.gains) == {f"{b}:{i}" for b in "ZX" for i in ("mu", "nu", "omega")}
    assert (r.gain_z, r.qber_z) == (r.gains["Z:mu"], r.qbers["Z:mu"])
    assert r.y1 == r.single_photon_yield == r.single_photon_yield_lower
    assert r.e1 == r.single_photon_error
    assert (r.length_a_km, r.length_b_km, r.seed, r.pulses, r.counts) == (None,) * 5
    with pytest.raises(AttributeError, match="mdi"):
        _ = r.y11


def test_mdi_report_contents():
    r = link_report(protocol="mdi", length_a_km=10.0, length_b_km=30.0, decoy="three-intensity")
    assert (r.length_km, r.length_a_km, r.length_b_km) == (40.0, 10.0, 30.0)
    assert len(r.gains) == 18 and "X:nu,omega" in r.gains
    assert r.y11 == r.single_photon_yield > r.single_photon_yield_lower
    assert r.e11 == r.single_photon_error < r.single_photon_error_upper
    assert (r.gain_x, r.qber_x) == (r.gains["X:mu,mu"], r.qbers["X:mu,mu"])
    with pytest.raises(AttributeError, match="bb84-decoy"):
        _ = r.e1
    reference = link_report(protocol="mdi", length_km=0.0)
    assert reference.key_rate_per_pulse == pytest.approx(5.4782e-4, rel=5e-5)
    assert reference.qber_x == pytest.approx(0.253122, rel=5e-6)


def test_optimised_report():
    fixed = link_report(protocol="mdi", length_km=80.0)
    best = link_report(protocol="mdi", length_km=80.0, optimize=True)
    assert best.key_rate_per_pulse > fixed.key_rate_per_pulse
    assert best.intensities["mu_a"] != 0.5
    assert best.parameters["optimize"] is True
    assert best.cache_key() != fixed.cache_key()


def test_insecure_report():
    r = link_report(protocol="bb84-decoy", length_km=200.0)
    assert (r.secure, r.key_rate_per_pulse, r.key_rate_bps) == (False, 0.0, 0.0)


@pytest.mark.parametrize(
    "make",
    [
        lambda: link_report(protocol="bb84-decoy", length_km=10.0, decoy="vacuum-weak"),
        lambda: link_report(protocol="mdi", length_km=60.0, relay_fraction=0.3, optimize=True),
        lambda: simulate_link(protocol="mdi", length_km=20.0, pulses=10**9, seed=3),
        lambda: simulate_link(
            protocol="bb84-decoy", length_km=20.0, pulses=10**6, seed=3, decoy="two-decoy"
        ),
    ],
)
def test_json_round_trip_is_exact(make):
    report = make()
    text = report.to_json()
    json.loads(text)  # strict JSON: no NaN or Infinity
    assert "NaN" not in text
    again = LinkReport.from_json(text)
    assert again == report
    assert LinkReport.from_dict(report.to_dict()) == report
    assert again.cache_key() == report.cache_key()
    assert again.to_json() == text


def test_cache_key_is_stable_and_parameter_sensitive():
    a = link_report(protocol="mdi", length_km=30.0)
    assert a.cache_key() == link_report(protocol="mdi", length_km=30.0).cache_key()
    assert len(a.cache_key()) == 64
    assert a.cache_key() != link_report(protocol="mdi", length_km=30.1).cache_key()
    changed = with_overrides(MDIParams.xu2013(), {"ec_inefficiency": 1.1})
    assert a.cache_key() != link_report(length_km=30.0, params=changed).cache_key()
    # independent of key order and of the process (no hash randomisation)
    shuffled = dict(reversed(list(a.parameters.items())))
    assert report_cache_key(shuffled) == a.cache_key()
    code = (
        "from qkdcircuits.links.report import link_report;"
        "print(link_report(protocol='mdi', length_km=30.0).cache_key())"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO
    )
    assert out.stdout.strip() == a.cache_key()


def test_report_is_reproducible_from_its_parameters():
    original = link_report(
        protocol="mdi", length_km=70.0, relay_fraction=0.4, decoy="three-intensity"
    )
    p = original.parameters
    again = link_report(
        params=params_from_dict(p["params"]), decoy=p["decoy"], optimize=p["optimize"]
    )
    assert again == original


def test_monte_carlo_report_provenance():
    r = simulate_link(protocol="bb84-decoy", length_km=30.0, pulses=10**10, seed=12)
    assert (r.method, r.pulses, r.seed, r.source) == ("monte-carlo", 10**10, 12, "aer:exact")
    assert r.parameters["pulses"] == 10**10 and r.parameters["seed"] == 12
    assert set(r.counts) >= {"Z:mu", "X:omega", "Z:single", "X:single", "any-click"}
    assert all(len(v) == 3 for v in r.counts.values())
    assert r.gain_z == pytest.approx(r.counts["Z:mu"][1] / r.counts["Z:mu"][0])
    assert r.reproducible and r.cache_key() is not None
    assert r == simulate_link(protocol="bb84-decoy", length_km=30.0, pulses=10**10, seed=12)


def test_irreproducible_runs_say_so():
    """A Generator or fresh-entropy seed cannot be replayed from the parameters."""
    params = BB84DecoyParams.gys(length_km=30.0)
    a = simulate_link(params=params, pulses=10**6, seed=np.random.default_rng(1))
    b = simulate_link(params=params, pulses=10**6, seed=np.random.default_rng(2))
    unseeded = simulate_link(params=params, pulses=10**6)
    for r in (a, b, unseeded):
        assert r.seed is None and r.parameters["seed"] is None
        assert r.reproducible is False and r.cache_key() is None
    # Same parameters, different counts: the old shared cache key was a lie.
    assert a.parameters == b.parameters and a.counts != b.counts
    assert a != b and len({a, b}) == 2
    seeded = simulate_link(params=params, pulses=10**6, seed=1)
    assert seeded.cache_key() is not None and seeded != a
    assert LinkReport.from_json(a.to_json()) == a  # the flag survives the round trip


def test_noise_model_recorded_by_content():
    from qiskit_aer.noise import NoiseModel, ReadoutError

    def model(p):
        m = NoiseModel()
        m.add_all_qubit_readout_error(ReadoutError([[1 - p, p], [p, 1 - p]]))
        return m

    mdi = MDIParams.xu2013(length_km=20.0)
    one = simulate_link(params=mdi, pulses=10**8, seed=3, noise_model=model(0.01))
    two = simulate_link(params=mdi, pulses=10**8, seed=3, noise_model=model(0.05))
    same = simulate_link(params=mdi, pulses=10**8, seed=3, noise_model=model(0.01))
    assert one.parameters["noise_model"]["type"] == "NoiseModel"
    assert one.parameters["noise_model"]["sha256"] != two.parameters["noise_model"]["sha256"]
    assert one.cache_key() != two.cache_key()
    assert one.cache_key() == same.cache_key() and one.reproducible


def test_rate_model_schema_and_secure_definition():
    r = link_report(protocol="mdi", length_km=10.0)
    data = json.loads(r.to_json())
    assert (data["rate_model"], data["schema_version"]) == ("asymptotic", SCHEMA_VERSION)
    assert r.parameters["rate_model"] == "asymptotic"
    assert (r.secure, r.verdict) == (True, "key")
    assert (r.confidence, r.key_rate_at_confidence) == (None, None)
    far = link_report(protocol="mdi", length_km=300.0)
    assert (far.secure, far.verdict, far.key_rate_per_pulse) == (False, "no-key", 0.0)


def test_monte_carlo_with_too_few_counts_is_not_secure():
    # Regression: 1000 pulses (2 detections) gave secure=True with R = 5.8e-3.
    small = simulate_link(protocol="bb84-decoy", length_km=20.0, pulses=1000, seed=3)
    assert small.key_rate_per_pulse > 0  # the asymptotic formula on the frequencies ...
    assert small.counts["Z:mu"][1] < 10
    assert (small.secure, small.verdict) == (False, "insufficient-statistics")  # ... unsupported
    assert small.key_rate_at_confidence == 0.0
    assert small.confidence == pytest.approx(1 - 1e-6)
    large = simulate_link(protocol="bb84-decoy", length_km=20.0, pulses=10**12, seed=3)
    assert (large.secure, large.verdict) == (True, "key")
    assert 0.9 * large.key_rate_per_pulse < large.key_rate_at_confidence < large.key_rate_per_pulse


def test_frozen_and_deeply_immutable():
    r = link_report(protocol="mdi", length_km=1.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.secure = False  # type: ignore[misc]
    with pytest.raises(TypeError):
        r.gains["Z:mu,mu"] = 123.0  # type: ignore[index]
    with pytest.raises(TypeError):
        r.parameters["params"]["detector"]["efficiency"] = 0.9  # type: ignore[index]
    with pytest.raises(TypeError):
        r.intensities["mu_a"] = 0.1  # type: ignore[index]
    mc = simulate_link(protocol="mdi", length_km=1.0, pulses=10**6, seed=1)
    with pytest.raises(TypeError):
        mc.counts["Z:mu,mu"][0] = 5  # type: ignore[index]
    # to_dict hands out plain copies: editing them changes nothing in the report
    data = r.to_dict()
    assert type(data["gains"]) is dict and type(data["parameters"]["params"]) is dict
    key, digest = hash(r), r.cache_key()
    data["gains"]["Z:mu,mu"] = 123.0
    data["parameters"]["params"]["misalignment_prob"] = 0.4
    assert r.gains["Z:mu,mu"] != 123.0 and hash(r) == key and r.cache_key() == digest


def test_caller_dicts_are_copied():
    base = link_report(protocol="bb84-decoy", length_km=3.0).to_dict()
    gains = dict(base["gains"])
    r = LinkReport.from_dict({**base, "gains": gains})
    gains["Z:nu"] = 0.5
    assert r.gains["Z:nu"] == base["gains"]["Z:nu"]


def test_hash_is_precomputed(monkeypatch):
    import qkdcircuits.links.report as report_module

    a, b = link_report(protocol="mdi", length_km=1.0), link_report(protocol="mdi", length_km=1.0)
    assert a == b and hash(a) == hash(b)
    assert len({a, b, link_report(protocol="mdi", length_km=2.0)}) == 2

    def fail(*args, **kwargs):
        raise AssertionError("hashing must not re-serialise the parameters")

    monkeypatch.setattr(report_module, "_digest", fail)
    monkeypatch.setattr(report_module, "report_cache_key", fail)
    assert hash(a) == hash(b) and a.cache_key() == b.cache_key()


def test_pickle_round_trip():
    r = link_report(protocol="mdi", length_km=12.0, relay_fraction=0.3, optimize=True)
    again = pickle.loads(pickle.dumps(r))
    assert again == r and hash(again) == hash(r)
    assert copy.deepcopy(r) == r


def _fields(**changes):
    data = link_report(protocol="mdi", length_km=10.0).to_dict()
    data.update(changes)
    return data


def _bb84_fields(**changes):
    data = link_report(protocol="bb84-decoy", length_km=10.0).to_dict()
    data.update(changes)
    return data


def _with(data, name, key, value):
    inner = dict(data[name])
    inner[key] = value
    return {**data, name: inner}


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (lambda: _fields(protocol="e91"), ValueError, "protocol"),
        (lambda: _fields(method="guess"), ValueError, "method"),
        (lambda: _fields(decoy="vacuum-weak"), ValueError, "decoy"),
        (lambda: _fields(rate_model="finite-key-guess"), ValueError, "rate_model"),
        (lambda: _fields(key_rate_per_pulse=-1e-5, secure=False), ValueError, "key_rate"),
        (lambda: _fields(secure=False), ValueError, "contradicts"),
        (lambda: _fields(verdict="no-key"), ValueError, "verdict"),
        (lambda: _fields(length_a_km=None), ValueError, "length_a_km"),
        (lambda: _fields(length_a_km=1.0), ValueError, "must equal length_km"),
        (lambda: _fields(length_km=-10.0), ValueError, "length_km"),
        (lambda: _fields(key_rate_bps=-1.0), ValueError, "key_rate_bps"),
        (lambda: _fields(key_rate_bps=1e9), ValueError, "key_rate_bps"),
        (lambda: _fields(method="monte-carlo"), ValueError, "pulses"),
        (lambda: _fields(gain_z=float("nan")), ValueError, "gain_z"),
        (lambda: _fields(qber_z=float("inf")), ValueError, "qber_z"),
        (lambda: _fields(qber_z=1.5), ValueError, "qber_z"),
        (lambda: _fields(gain_z=2.0), ValueError, "gain_z"),
        (lambda: _with(_fields(), "qbers", "Z:mu,mu", 1.5), ValueError, "qbers"),
        (lambda: _with(_fields(), "gains", "X:nu,nu", 2.0), ValueError, "gains"),
        (lambda: _with(_fields(), "gains", "Q:mu,mu", 0.1), ValueError, "keys"),
        (lambda: _with(_fields(), "intensities", "mu_a", -0.5), ValueError, "intensities"),
        (lambda: _fields(gain_z=0.1), ValueError, "differs"),
        (lambda: _fields(single_photon_yield=1.2), ValueError, "single_photon_yield"),
        (lambda: _fields(repetition_rate_hz=0.0), ValueError, "repetition_rate_hz"),
        (lambda: _fields(seed=1.5), TypeError, "seed"),
        (lambda: _fields(seed=4), ValueError, "closed-form"),
        (lambda: _fields(reproducible=False), ValueError, "reproducible"),
        (lambda: _fields(parameters={"x": object()}), TypeError, "parameters"),
        (lambda: _fields(parameters={}), ValueError, "parameters"),
        (lambda: _with(_fields(), "parameters", "decoy", "three-intensity"), ValueError, "decoy"),
        (lambda: _fields(length_km=12.0, length_b_km=7.0), ValueError, "parameters"),
        (lambda: _fields(schema_version=1), ValueError, "schema_version"),
        (
            lambda: {k: v for k, v in _fields().items() if k != "schema_version"},
            ValueError,
            "schema_version",
        ),
        (lambda: _fields(colour="blue"), ValueError, "unknown"),
        (lambda: _bb84_fields(length_a_km=1.0, length_b_km=9.0), ValueError, "MDI-QKD"),
    ],
)
def test_from_dict_refuses_impossible_or_inconsistent_values(make, error, message):
    with pytest.raises(error, match=message):
        LinkReport.from_dict(make())


def test_from_dict_refuses_inconsistent_monte_carlo_values():
    good = simulate_link(protocol="bb84-decoy", length_km=10.0, pulses=10**9, seed=2).to_dict()
    assert LinkReport.from_dict(good).secure
    counts = {k: list(v) for k, v in good["counts"].items()}
    n, d, e = counts["Z:mu"]
    for bad, message in [
        ({**counts, "Z:mu": [n, d + 10, e]}, "contradicts counts"),
        ({**counts, "Z:mu": [n, d, d + 1]}, "errors <= detections"),
        ({**counts, "Z:mu": [n, d, -1]}, "errors <= detections"),
    ]:
        with pytest.raises(ValueError, match=message):
            LinkReport.from_dict({**good, "counts": bad})
    with pytest.raises(ValueError, match="contradicts"):
        LinkReport.from_dict({**good, "seed": 3})
    with pytest.raises(ValueError, match="key_rate_at_confidence"):
        LinkReport.from_dict({**good, "key_rate_at_confidence": None})
    with pytest.raises(ValueError, match="verdict"):
        LinkReport.from_dict({**good, "key_rate_at_confidence": 0.0})


def test_missing_fields_and_invalid_json():
    data = _fields()
    del data["gains"]
    with pytest.raises(ValueError, match="incomplete"):
        LinkReport.from_dict(data)
    with pytest.raises(ValueError, match="JSON"):
        LinkReport.from_json("{not json")
    with pytest.raises(TypeError, match="dict"):
        LinkReport.from_dict([1, 2])  # type: ignore[arg-type]


def test_protocol_params_mismatch():
    with pytest.raises(ValueError, match="does not match"):
        link_report(protocol="mdi", params=BB84DecoyParams.gys())
    with pytest.raises(ValueError, match="protocol or params"):
        link_report()


def test_closed_form_modules_do_not_import_qiskit():
    """Everything the network layer needs imports with Qiskit blocked."""
    script = textwrap.dedent(
        """
        import importlib.abc, sys

        class Block(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path, target=None):
                if name == "qiskit" or name.startswith(("qiskit.", "qiskit_")):
                    raise ImportError("qiskit is blocked in this test")
                return None

        sys.meta_path.insert(0, Block())
        import qkdcircuits.links, qkdcircuits.analysis, qkdcircuits.postprocessing
        from qkdcircuits import (
            KeyPool, LinkArray, LinkReport, MDIParams, ThresholdScheme, evaluate_links,
            intercept_resend_qber, key_rate_curve, link_report, link_reports, max_distance,
        )
        report = link_report(protocol="mdi", length_km=10.0)
        assert ThresholdScheme(k=3, n=5).can_reconstruct({0, 1, 2})
        assert report.secure
        links = LinkArray.from_params([MDIParams.xu2013(length_km=10.0, relay_fraction=0.2)] * 3)
        assert evaluate_links(links, optimize=True).key_rate_per_pulse.shape == (3,)
        assert len(link_reports(links, optimize=True)) == 3
        assert LinkReport.from_json(report.to_json()) == report
        assert 200 < max_distance(MDIParams.xu2013()) < 240
        assert not any(m == "qiskit" or m.startswith("qiskit") for m in sys.modules)
        print("ok")
        """
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
