"""The ``abft-qkd keyrate`` subcommand."""

from __future__ import annotations

import json
import os
import sys

import numpy as np
import pytest

from qkdcircuits.cli import main
from qkdcircuits.cli.keyrate import parse_sweep

REQUIRED = {"key_rate_per_pulse", "intensities", "qber_z", "qber_x", "gain_z", "gain_x"}


def run(capsys, *args):
    code = main(["keyrate", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_single_distance_json(capsys):
    code, out, err = run(capsys, "--protocol", "mdi", "--distance-km", "0", "--json")
    assert code == 0
    data = json.loads(out)
    assert set(data) >= REQUIRED
    assert data["key_rate_per_pulse"] == pytest.approx(5.4782e-4, rel=5e-5)
    assert data["gain_z"] == pytest.approx(2.35833e-3, rel=5e-6)
    assert data["intensities"]["mu_a"] == 0.5
    assert "MDI-QKD key rate" in err  # the table goes to stderr


def test_human_output_only_on_stderr(capsys):
    code, out, err = run(capsys, "--protocol", "bb84-decoy", "--distance-km", "50")
    assert code == 0 and out == ""
    assert "2.2260e-04 bits/pulse" in err


def test_optimize_and_both_protocols(capsys):
    code, out, _ = run(capsys, "--protocol", "both", "--distance-km", "0", "--optimize", "--json")
    assert code == 0
    data = json.loads(out)
    assert set(data) == {"bb84-decoy", "mdi"}
    assert data["mdi"]["intensities"]["mu_a"] == pytest.approx(0.599, abs=1e-3)
    assert data["mdi"]["key_rate_per_pulse"] == pytest.approx(5.752e-4, rel=1e-4)
    assert all(set(v) >= REQUIRED for v in data.values())


def test_finite_decoy_alias(capsys):
    _, out, _ = run(
        capsys, "--protocol", "both", "--distance-km", "20", "--decoy", "finite", "--json"
    )
    data = json.loads(out)
    assert data["bb84-decoy"]["decoy"] == "vacuum-weak"
    assert data["mdi"]["decoy"] == "three-intensity"


def test_sweep_json_and_plot(capsys, tmp_path):
    plot = tmp_path / "rates.png"
    code, out, err = run(
        capsys,
        "--protocol",
        "both",
        "--sweep",
        "0:200:50",
        "--optimize",
        "--plot",
        str(plot),
        "--json",
    )
    assert code == 0
    data = json.loads(out)
    for protocol in ("bb84-decoy", "mdi"):
        curve = data[protocol]
        assert curve["length_km"] == [0.0, 50.0, 100.0, 150.0, 200.0]
        assert set(curve) >= REQUIRED
        rates = np.array(curve["key_rate_per_pulse"])
        assert np.all(np.diff(rates) <= 0)
        assert curve["max_distance_km"] > 100
    assert data["bb84-decoy"]["max_distance_km"] == pytest.approx(142.0, abs=1.0)
    assert plot.read_bytes().startswith(b"\x89PNG")
    assert list(tmp_path.iterdir()) == [plot]  # the temporary file was renamed, not left behind
    assert "maximum distance" in err


def test_overrides_from_set_and_files(capsys, tmp_path):
    _, base, _ = run(capsys, "--protocol", "mdi", "--distance-km", "20", "--json")
    _, changed, _ = run(
        capsys, "--protocol", "mdi", "--distance-km", "20", "--json", "--set", "ec_inefficiency=1.0"
    )
    assert json.loads(changed)["key_rate_per_pulse"] > json.loads(base)["key_rate_per_pulse"]
    assert json.loads(changed)["parameters"]["params"]["ec_inefficiency"] == 1.0

    config = tmp_path / "link.json"
    config.write_text(json.dumps({"mu": 0.3, "mdi": {"detector": {"efficiency": 0.5}}}))
    _, out, _ = run(
        capsys, "--protocol", "both", "--distance-km", "20", "--json", "--params", str(config)
    )
    data = json.loads(out)
    assert data["bb84-decoy"]["intensities"]["mu"] == 0.3
    assert data["mdi"]["intensities"]["mu_b"] == 0.3
    assert data["mdi"]["parameters"]["params"]["detector"]["efficiency"] == 0.5
    assert data["bb84-decoy"]["parameters"]["params"]["detector"]["efficiency"] == 0.045


def test_unbounded_maximum_distance_is_json_null(capsys):
    lossless = ["--set", "loss_db_per_km=0", "--set", "dark_count_prob=0", "--set", "e_d=0"]
    code, out, err = run(capsys, "--protocol", "mdi", "--sweep", "0:10:5", *lossless, "--json")
    assert code == 0
    assert json.loads(out)["max_distance_km"] is None
    assert "maximum distance: unbounded" in err


@pytest.mark.skipif(sys.version_info < (3, 11), reason="tomllib needs Python 3.11")
def test_toml_params(capsys, tmp_path):
    config = tmp_path / "link.toml"
    config.write_text('ec_inefficiency = 1.05\n\n[detector]\ndark_count_prob = "1e-7"\n')
    _, out, _ = run(
        capsys, "--protocol", "bb84-decoy", "--distance-km", "10", "--json", "--params", str(config)
    )
    params = json.loads(out)["parameters"]["params"]
    assert params["ec_inefficiency"] == 1.05
    assert params["detector"]["dark_count_prob"] == 1e-7


def test_monte_carlo_point_and_sweep(capsys):
    _, out, _ = run(
        capsys,
        "--protocol",
        "mdi",
        "--distance-km",
        "20",
        "--monte-carlo",
        "--pulses",
        "1e10",
        "--seed",
        "4",
        "--json",
    )
    data = json.loads(out)
    assert (data["method"], data["pulses"], data["seed"]) == ("monte-carlo", 10**10, 4)
    _, out, err = run(
        capsys,
        "--protocol",
        "bb84-decoy",
        "--sweep",
        "0:40:20",
        "--monte-carlo",
        "--pulses",
        "1e9",
        "--seed",
        "1",
        "--json",
    )
    curve = json.loads(out)
    assert curve["method"] == "monte-carlo"
    assert "bb84-decoy Monte Carlo" in err  # the tqdm progress bar, on stderr
    assert curve["length_km"] == [0.0, 20.0, 40.0]
    assert set(curve) >= REQUIRED


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--protocol", "mdi", "--sweep", "0:10", "--json"], "START:STOP:STEP"),
        (["--protocol", "mdi", "--sweep", "10:0:1"], "START <= STOP"),
        (["--protocol", "mdi", "--distance-km", "5", "--plot", "x.png"], "--plot needs --sweep"),
        (["--protocol", "mdi", "--distance-km", "5", "--decoy", "vacuum-weak"], "not available"),
        (["--protocol", "mdi", "--distance-km", "5", "--set", "colour=blue"], "unknown parameter"),
        (["--protocol", "mdi", "--distance-km", "5", "--set", "mu=-1"], "signal_intensity"),
        (["--protocol", "mdi", "--distance-km", "-5"], "distance"),
        (["--protocol", "mdi", "--distance-km", "5", "--relay-fraction", "2"], "relay"),
        (["--protocol", "mdi", "--distance-km", "5", "--params", "/no/such.json"], "--params"),
    ],
)
def test_errors_exit_with_status_2(capsys, args, message):
    with pytest.raises(SystemExit) as exit_info:
        main(["keyrate", *args])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_argument_errors(capsys):
    for args in (["--protocol", "mdi"], ["--protocol", "e91", "--distance-km", "1"]):
        with pytest.raises(SystemExit) as exit_info:
            main(["keyrate", *args])
        assert exit_info.value.code == 2
    capsys.readouterr()


def test_parse_sweep():
    assert parse_sweep("0:1:0.25").tolist() == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert parse_sweep("5:5:1").tolist() == [5.0]
    assert parse_sweep("0:0.3:0.1").tolist() == pytest.approx([0.0, 0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="points"):
        parse_sweep("0:1e9:1")


def test_interrupted_monte_carlo_sweep_keeps_finished_distances(capsys, monkeypatch):
    import qkdcircuits.links.montecarlo as montecarlo

    real = montecarlo.simulate_link
    calls = []

    def interrupt_on_third(**kwargs):
        calls.append(kwargs["length_km"])
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(**kwargs)

    monkeypatch.setattr(montecarlo, "simulate_link", interrupt_on_third)
    code, out, err = run(
        capsys,
        "--protocol",
        "mdi",
        "--sweep",
        "0:50:10",
        "--monte-carlo",
        "--pulses",
        "1e8",
        "--seed",
        "1",
        "--json",
    )
    assert code == 0
    assert json.loads(out)["length_km"] == [0.0, 10.0]
    assert "interrupted: keeping the 2 distances" in err


@pytest.mark.parametrize(("suffix", "magic"), [(".pdf", b"%PDF"), (".svg", b"<?xml")])
def test_plot_writes_the_format_of_its_extension(capsys, tmp_path, suffix, magic):
    # Regression: a .pdf or .svg name received PNG bytes.
    plot = tmp_path / f"rates{suffix}"
    code, _, _ = run(capsys, "--protocol", "mdi", "--sweep", "0:100:50", "--plot", str(plot))
    assert code == 0
    assert plot.read_bytes().startswith(magic)
    assert list(tmp_path.iterdir()) == [plot]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda tmp: "", "--plot '': give a file name"),
        (lambda tmp: str(tmp / "missing" / "x.png"), "does not exist"),
        (lambda tmp: str(tmp / "notes.txt" / "x.png"), "does not exist"),
        (lambda tmp: str(tmp / "x"), "extension"),
        (lambda tmp: str(tmp / "x.doc"), "extension"),
        (lambda tmp: str(tmp / "folder.png"), "is a directory"),
    ],
)
def test_bad_plot_targets_are_refused_before_any_work(capsys, tmp_path, make, message):
    (tmp_path / "notes.txt").write_text("a file, not a folder")
    (tmp_path / "folder.png").mkdir()
    with pytest.raises(SystemExit) as exit_info:
        main(["keyrate", "--protocol", "mdi", "--sweep", "0:10:5", "--plot", make(tmp_path)])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only directories")
def test_read_only_plot_directory_is_refused(capsys, tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(SystemExit):
            main(
                [
                    "keyrate",
                    "--protocol",
                    "mdi",
                    "--sweep",
                    "0:10:5",
                    "--plot",
                    str(folder / "x.png"),
                ]
            )
        assert "not writable" in capsys.readouterr().err
    finally:
        folder.chmod(0o700)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--sweep", "0:10:1e-320"], "more than"),  # regression: OverflowError
        (["--distance-km", "5", "--params", ""], "--params ''"),
        (["--distance-km", "5", "--set", "ec_efficiency=1.1"], "unknown parameter"),
    ],
)
def test_more_clear_errors(capsys, args, message):
    with pytest.raises(SystemExit) as exit_info:
        main(["keyrate", "--protocol", "mdi", *args])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_f_alias_and_secure_verdict(capsys):
    _, out, err = run(
        capsys, "--protocol", "mdi", "--distance-km", "20", "--set", "f=1.0", "--json"
    )
    data = json.loads(out)
    assert data["parameters"]["params"]["ec_inefficiency"] == 1.0
    assert (data["verdict"], data["rate_model"], data["schema_version"]) == ("key", "asymptotic", 3)
    assert "True (key, asymptotic rate)" in err
    _, out, err = run(
        capsys, "--protocol", "bb84-decoy", "--distance-km", "20", "--monte-carlo",
        "--pulses", "1000", "--seed", "3", "--json",
    )  # fmt: skip
    data = json.loads(out)
    assert (data["secure"], data["verdict"]) == (False, "insufficient-statistics")
    assert "rate the counts support" in err


def test_monte_carlo_sweep_reports_are_reproducible(capsys):
    args = ["--protocol", "bb84-decoy", "--sweep", "0:20:10", "--monte-carlo", "--pulses", "1e8"]
    _, first, _ = run(capsys, *args, "--seed", "5", "--json")
    _, again, _ = run(capsys, *args, "--seed", "5", "--json")
    assert first == again
    curve = json.loads(first)
    assert len(set(curve["seed"])) == 3 and all(isinstance(s, int) for s in curve["seed"])
    from qkdcircuits import simulate_link

    replay = simulate_link(
        protocol="bb84-decoy", length_km=10.0, pulses=10**8, seed=curve["seed"][1]
    )
    assert replay.key_rate_per_pulse == curve["key_rate_per_pulse"][1]


# ----------------------------------------------------------------------------------------------
# --finite-key
# ----------------------------------------------------------------------------------------------


def test_finite_key_single_distance_is_the_link_report(capsys):
    from qkdcircuits import link_report

    code, out, err = run(
        capsys, "--protocol", "bb84-decoy", "--distance-km", "50", "--finite-key",
        "--block-size", "1e6", "--eps-sec", "1e-9", "--eps-cor", "1e-12", "--json",
    )  # fmt: skip
    assert code == 0
    data = json.loads(out)
    expected = link_report(
        protocol="bb84-decoy", length_km=50.0, block_size=1e6, eps_sec=1e-9, eps_cor=1e-12
    )
    assert data == json.loads(expected.to_json())
    assert (data["rate_model"], data["sampling_bound"], data["block_size"]) == (
        "finite-key",
        "serfling",
        1e6,
    )
    assert "finite-key rate" in err and "lim2014 (serfling sampling bound)" in err
    assert f"{expected.key_length_per_block} bits" in err


def test_several_block_sizes_give_a_list_in_their_order(capsys):
    code, out, _ = run(
        capsys, "--protocol", "both", "--distance-km", "20", "--finite-key", "--optimize",
        "--block-size", "1e8,1e6", "--block-size", "1e10", "--json",
    )  # fmt: skip
    assert code == 0
    data = json.loads(out)
    for protocol in ("bb84-decoy", "mdi"):
        reports = data[protocol]
        assert [r["block_size"] for r in reports] == [1e8, 1e6, 1e10]
        rates = [r["key_rate_per_pulse"] for r in reports]
        assert rates[1] < rates[0] < rates[2]  # a larger block certifies more per pulse
        assert all(r["parameters"]["optimize"] for r in reports)


def test_sampling_bound_option_selects_the_paper_gamma(capsys):
    args = ["--protocol", "mdi", "--distance-km", "30", "--finite-key", "--block-size", "1e8"]
    _, serfling, _ = run(capsys, *args, "--json")
    _, lim, _ = run(capsys, *args, "--sampling-bound", "lim2014", "--json")
    serfling, lim = json.loads(serfling), json.loads(lim)
    assert (serfling["sampling_bound"], lim["sampling_bound"]) == ("serfling", "lim2014")
    # gamma shrinks with the observed error rate, Serfling's margin does not
    assert lim["key_length_per_block"] > serfling["key_length_per_block"]


def test_finite_key_sweep_json_and_plot(capsys, tmp_path):
    from qkdcircuits import MDIParams, finite_key_limit, link_reports

    plot = tmp_path / "finite.png"
    code, out, err = run(
        capsys, "--protocol", "both", "--sweep", "0:200:50", "--finite-key",
        "--block-size", "1e6,1e10", "--plot", str(plot), "--json",
    )  # fmt: skip
    assert code == 0
    assert plot.read_bytes().startswith(b"\x89PNG")
    data = json.loads(out)
    mdi = data["mdi"]
    assert mdi["length_km"] == [0.0, 50.0, 100.0, 150.0, 200.0]
    assert (mdi["rate_model"], mdi["finite_key_analysis"]) == ("finite-key", "curty2014")
    assert [c["block_size"] for c in mdi["curves"]] == [1e6, 1e10]
    expected = link_reports(MDIParams.xu2013(), lengths_km=mdi["length_km"], block_size=1e10)
    assert mdi["curves"][1]["key_rate_per_pulse"] == [r.key_rate_per_pulse for r in expected]
    assert mdi["curves"][1]["key_length_per_block"] == [r.key_length_per_block for r in expected]
    limit = finite_key_limit([MDIParams.xu2013(length_km=L) for L in mdi["length_km"]])
    assert mdi["asymptotic"]["key_rate_per_pulse"] == limit.key_rate_per_pulse.tolist()
    for protocol in ("bb84-decoy", "mdi"):
        asymptotic = np.array(data[protocol]["asymptotic"]["key_rate_per_pulse"])
        for curve in data[protocol]["curves"]:
            rates = np.array(curve["key_rate_per_pulse"])
            assert np.all(rates <= asymptotic)
            keyed = np.array(data[protocol]["length_km"])[rates > 0]
            assert curve["reach_km"] == (keyed.max() if keyed.size else None)
    assert data["bb84-decoy"]["curves"][0]["reach_km"] == 100.0  # 1e6 block: no key at 150 km
    assert "asymptotic" in err and "n=1e+06" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--distance-km", "5", "--block-size", "1e6"], "--block-size need --finite-key"),
        (["--distance-km", "5", "--eps-sec", "1e-9"], "--eps-sec need --finite-key"),
        (["--distance-km", "5", "--finite-key"], "needs --block-size"),
        (["--distance-km", "5", "--finite-key", "--block-size", "0"], "block size > 0"),
        (["--distance-km", "5", "--finite-key", "--block-size", "1e6,-1"], "block size > 0"),
        (["--distance-km", "5", "--finite-key", "--block-size", "many"], "not a number"),
        (["--distance-km", "5", "--finite-key", "--block-size", "1e6", "--eps-sec", "2"],
         "--eps-sec 2.0 not in (0, 1)"),
        (["--distance-km", "5", "--finite-key", "--block-size", "1e6", "--eps-cor", "0"],
         "--eps-cor 0.0 not in (0, 1)"),
        (["--distance-km", "5", "--finite-key", "--block-size", "1e6", "--monte-carlo"],
         "drop --monte-carlo"),
        (["--distance-km", "5", "--finite-key", "--block-size", "1e6", "--optimize",
          "--basis-prob", "0.9"], "--basis-prob with --optimize"),
        (["--distance-km", "5", "--finite-key", "--block-size", "1e6", "--decoy", "infinite"],
         "three intensities"),
        (["--distance-km", "5", "--finite-key", "--block-size", "1e6", "--sampling-bound", "x"],
         "invalid choice"),
    ],
)  # fmt: skip
def test_finite_key_errors_exit_with_status_2_and_one_line(capsys, args, message):
    with pytest.raises(SystemExit) as exit_info:
        main(["keyrate", "--protocol", "mdi", *args])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert message in err
    assert len(err.strip().splitlines()) == 1 or "usage:" in err
