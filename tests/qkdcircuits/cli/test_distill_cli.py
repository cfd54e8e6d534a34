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
    assert f"{record['final_bits']} bits" in dict(table)["final key"]


def test_rows_show_an_abort():
    result = simulate_mdi(rounds=20_000, noise=ArmNoise(depolarizing_prob=0.4), seed=2)
    record = distill_cli.run(result, _parser().parse_args(["--distill"]))
    assert record["aborted"]
    assert dict(distill_cli.rows(record))["ABORTED"] == record["abort_reason"]


def test_bad_option_values_raise_value_error():
    result = simulate_mdi(rounds=2_000, seed=3)
    with pytest.raises(ValueError, match="pa_epsilon"):
        distill_cli.run(result, _parser().parse_args(["--distill", "--pa-epsilon", "2"]))
