"""The ``abft-qkd`` command line (mdi and bb84 subcommands)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from qkdcircuits.cli import build_parser, main
from tests.helpers import binomial_tolerance


def test_mdi_json_has_the_documented_keys(capsys):
    code = main(["mdi", "--rounds", "100000", "--depolarizing", "0.02", "--seed", "7", "--json"])
    assert code == 0
    captured = capsys.readouterr()
    data = json.loads(captured.out)
    for key in ("qber_z", "qber_x", "sifted_z", "sifted_x", "heralded", "rounds"):
        assert key in data
    assert data["rounds"] == 100000
    assert data["noise"]["alice"]["depolarizing_prob"] == 0.02


def test_same_seed_same_json(capsys):
    main(["mdi", "--rounds", "5000", "--depolarizing", "0.1", "--seed", "3", "--json"])
    first = capsys.readouterr().out
    main(["mdi", "--rounds", "5000", "--depolarizing", "0.1", "--seed", "3", "--json"])
    assert capsys.readouterr().out == first


def test_human_table_goes_to_stderr(capsys):
    main(["mdi", "--rounds", "2000", "--variant", "linear-optics", "--seed", "1"])
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "QBER Z" in captured.err and "sifted key (Z)" in captured.err


def test_bb84_subcommand(capsys):
    main(["bb84", "--rounds", "20000", "--misalignment-rad", "0.1", "--seed", "2", "--json"])
    data = json.loads(capsys.readouterr().out)
    assert data["protocol"] == "bb84" and 0 < data["qber_z"] < 0.05


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["mdi", "--depolarizing", "1.5"], "depolarizing_prob"),
        (["mdi", "--rounds", "0"], "rounds"),
        (["mdi", "--rounds", "1.5"], "--rounds: '1.5' is not an integer"),
        (["bb84", "--shots", "0"], "shots=0"),
        (
            ["mdi", "--fake-backend", "FakeProviderForBackendV2"],
            "--fake-backend 'FakeProviderForBackendV2' is not a backend class",
        ),
        (["bb84", "--fake-backend", "no_such"], "--fake-backend 'no_such' is not a backend class"),
        (["mdi", "--counts-only", "--distill"], "cannot run with --counts-only"),
    ],
)
def test_bad_arguments_exit_with_one_clear_line(capsys, argv, message):
    if "--fake-backend" in argv:
        pytest.importorskip("qiskit_ibm_runtime")
    with pytest.raises(SystemExit) as excinfo:
        main(argv)
    assert excinfo.value.code == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


def test_rounds_beyond_memory_say_how_much_and_point_to_counts_only(capsys, monkeypatch):
    import qkdcircuits.engine._common as common

    monkeypatch.setattr(common, "available_memory_bytes", lambda: 8 * 2**30)
    with pytest.raises(SystemExit) as excinfo:
        main(["mdi", "--rounds", "1e12", "--seed", "1"])
    assert excinfo.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "rounds=1000000000000 needs 1.86e+03 GiB" in err and "--counts-only" in err


def test_counts_only_runs_any_number_of_rounds(capsys):
    argv = ["mdi", "--rounds", "1e10", "--counts-only", "--depolarizing", "0.1", "--seed", "3"]
    code = main([*argv, "--json"])
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    assert data["rounds"] == 10**10 and data["counts_only"] is True
    assert data["sifted_z"] + data["sifted_x"] < data["rounds"]
    expected = 0.1 - 0.1**2 / 2
    assert abs(data["qber_z"] - expected) <= binomial_tolerance(expected, data["sifted_z"])


def test_unknown_variant_is_rejected_by_argparse(capsys):
    with pytest.raises(SystemExit):
        main(["mdi", "--variant", "hom"])
    assert "invalid choice" in capsys.readouterr().err


def test_parser_lists_the_quantum_layer_commands():
    parser = build_parser()
    help_text = parser.format_help()
    assert "mdi" in help_text and "bb84" in help_text


def test_console_script_runs():
    """The installed entry point works end to end (as a user would call it)."""
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "qkdcircuits.cli",
            "mdi",
            "--rounds",
            "1000",
            "--seed",
            "1",
            "--json",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(out.stdout)["rounds"] == 1000


def test_mdi_distill_json(capsys):
    argv = ["mdi", "--rounds", "200000", "--depolarizing", "0.03", "--seed", "1"]
    main([*argv, "--distill", "--json"])
    record = json.loads(capsys.readouterr().out)["distillation"]
    assert record["keys_match"] and not record["aborted"]
    assert 0 < record["final_bits"] < record["sifted_bits"]


def test_distill_aborts_above_the_qber_threshold(capsys):
    argv = ["bb84", "--rounds", "50000", "--depolarizing", "0.4", "--seed", "1", "--distill"]
    main(argv)
    err = capsys.readouterr().err
    assert "Post-processing" in err and "abort" in err.lower()
