"""CLI glue: ``--distill`` options, ``run`` record and ``rows`` table."""

from __future__ import annotations

import argparse
import json

import pytest

from qkdcircuits import ArmNoise, simulate_mdi
from qkdcircuits.cli import distill as distill_cli


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, default=None)
    distill_cli.add_arguments(parser)
    return parser


def test_defaults_and_options():
    args = _parser().parse_args([])
    assert not args.distill and args.ec == "cascade" and args.pa_epsilon == 1e-10
    assert args.pe_epsilon == 1e-20
    args = _parser().parse_args(
        ["--distill", "--ec", "cascade-biconf", "--pa-epsilon", "1e-6", "--abort-qber", "0.08"]
    )
    assert args.distill and args.ec == "cascade-biconf"
    assert args.pa_epsilon == 1e-6 and args.abort_qber == 0.08
    with pytest.raises(SystemExit):
        _parser().parse_args(["--ec", "ldpc"])


def test_run_and_rows():
    result = simulate_mdi(rounds=100_000, noise=ArmNoise(depolarizing_prob=0.02), seed=1)
    args = _parser().parse_args(["--distill", "--seed", "1"])
    record = distill_cli.run(result, args)
    json.dumps(record)
    assert record["keys_match"] and not record["aborted"]
    assert record["sifted_bits"] == result.sifted_z
    assert distill_cli.run(result, args) == record  # --seed makes it reproducible
    table = distill_cli.rows(record)
    labels = [label for label, _ in table]
    assert all(isinstance(v, str) for _, v in table)
    for label in ("sifted key", "estimation sample", "verification", "final key", "net key"):
        assert label in labels
    rows = dict(table)
    assert f"{record['final_bits']} bits" in rows["final key"]
    assert f"{record['phase_test_bits']} bits" in rows["phase-error test (X)"]
    assert "stand-in pre-shared key" in rows["authentication"]
    assert f"{record['total_epsilon']:.3g}" in rows["security (total eps)"]
    assert record["total_epsilon"] < 1e-9


def test_rows_show_an_abort():
    result = simulate_mdi(rounds=20_000, noise=ArmNoise(depolarizing_prob=0.4), seed=2)
    record = distill_cli.run(result, _parser().parse_args(["--distill"]))
    assert record["aborted"]
    assert dict(distill_cli.rows(record))["ABORTED"] == record["abort_reason"]


@pytest.mark.parametrize(
    ("option", "value", "match"),
    [
        ("--pa-epsilon", "2", "pa_epsilon"),
        ("--pa-epsilon", "1", r"pa_epsilon=1\.0 must be in \(0, 1\)"),
        ("--pe-epsilon", "1", r"pe_epsilon=1\.0 must be in \(0, 1\)"),
        ("--verify-bits", "1000000000", r"at most 4096.*32\.6 GiB of memory.*use 32 to 128"),
    ],
)
def test_bad_option_values_raise_value_error(option, value, match):
    result = simulate_mdi(rounds=2_000, seed=3)
    with pytest.raises(ValueError, match=match):
        distill_cli.run(result, _parser().parse_args(["--distill", option, value]))


def test_pe_epsilon_sets_the_phase_error_bound():
    result = simulate_mdi(rounds=100_000, noise=ArmNoise(depolarizing_prob=0.02), seed=4)
    loose = distill_cli.run(result, _parser().parse_args(["--distill", "--pe-epsilon", "1e-6"]))
    tight = distill_cli.run(result, _parser().parse_args(["--distill", "--pe-epsilon", "1e-30"]))
    assert loose["pe_epsilon"] == 1e-6 and tight["pe_epsilon"] == 1e-30
    assert result.qber_x < loose["phase_error_rate"] < tight["phase_error_rate"]
    assert tight["final_bits"] < loose["final_bits"]
