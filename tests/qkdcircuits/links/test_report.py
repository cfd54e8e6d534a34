"""The link report: contents, JSON round trip, cache keys, validation, no qiskit import."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import textwrap
from pathlib import Path

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
    changed = with_overrides(MDIParams.xu2013(), {"ec_efficiency": 1.1})
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
    unseeded = simulate_link(params=BB84DecoyParams.gys(30.0), pulses=10**6)
    assert unseeded.seed is None


def test_frozen():
    r = link_report(protocol="mdi", length_km=1.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.secure = False  # type: ignore[misc]


def test_hashable_consistently_with_equality():
    a, b = link_report(protocol="mdi", length_km=1.0), link_report(protocol="mdi", length_km=1.0)
    assert a == b and hash(a) == hash(b)
    assert len({a, b, link_report(protocol="mdi", length_km=2.0)}) == 2


def _fields(**changes):
    data = link_report(protocol="mdi", length_km=10.0).to_dict()
    data.update(changes)
    return data


@pytest.mark.parametrize(
    ("changes", "error", "message"),
    [
        ({"protocol": "e91"}, ValueError, "protocol"),
        ({"method": "guess"}, ValueError, "method"),
        ({"decoy": "vacuum-weak"}, ValueError, "decoy"),
        ({"key_rate_per_pulse": -1e-5, "secure": False}, ValueError, "key_rate_per_pulse"),
        ({"secure": False}, ValueError, "contradicts"),
        ({"length_a_km": None}, ValueError, "length_a_km"),
        ({"method": "monte-carlo"}, ValueError, "pulses"),
        ({"gain_z": float("nan")}, ValueError, "gain_z"),
        ({"qber_z": float("inf")}, ValueError, "qber_z"),
        ({"seed": 1.5}, TypeError, "seed"),
        ({"parameters": {"x": object()}}, TypeError, "parameters"),
        ({"colour": "blue"}, ValueError, "unknown"),
    ],
)
def test_validation(changes, error, message):
    with pytest.raises(error, match=message):
        LinkReport.from_dict(_fields(**changes))


def test_missing_fields_and_nan_normalisation():
    data = _fields()
    del data["gains"]
    with pytest.raises(ValueError, match="incomplete"):
        LinkReport.from_dict(data)
    r = LinkReport.from_dict(_fields(qber_z=float("nan")))
    assert r.qber_z is None


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
            KeyPool, LinkReport, ThresholdScheme, intercept_resend_qber, key_rate_curve,
            link_report,
        )
        report = link_report(protocol="mdi", length_km=10.0)
        assert ThresholdScheme(k=3, n=5).can_reconstruct({0, 1, 2})
        assert report.secure
        assert not any(m == "qiskit" or m.startswith("qiskit") for m in sys.modules)
        print("ok")
        """
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
