"""The ``abft-qkd`` command line (mdi and bb84 subcommands)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from qkdcircuits.cli import build_parser, main


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
    ],
)
def test_bad_arguments_exit_with_a_clear_message(capsys, argv, message):
    with pytest.raises(SystemExit) as excinfo:
        main(argv)
    assert excinfo.value.code == 2
    assert message in capsys.readouterr().err


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
