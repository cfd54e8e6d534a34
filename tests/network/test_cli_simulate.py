"""``abft-qkd network simulate``: JSON contract, plot, clear errors before any work."""

from __future__ import annotations

import json

import pytest

from qkdcircuits.cli import main

ARGS = [
    "network",
    "simulate",
    "--topology",
    "cambridge",
    "--duration-s",
    "20",
    "--seed",
    "3",
    "--no-progress",
]


def test_json_has_the_documented_keys(capsys):
    assert (
        main([*ARGS, "--byzantine-fraction", "0.34", "--behaviour", "false-reports", "--json"]) == 0
    )
    out = json.loads(capsys.readouterr().out)
    for key in ("availability", "delivered_key_bps", "exposed_key_fraction", "mean_used_qber"):
        assert key in out
    assert set(out["ledger"]) >= {
        "generated_bits",
        "consumed_bits",
        "delivered_bits",
        "discarded_bits",
    }
    assert out["behaviours"] == {"CRL": "false-reports"} or len(out["behaviours"]) == 1
    assert out["config"]["duration_s"] == 20.0


def test_demands_default_to_the_python_default_and_follow_the_options(capsys):
    """Without --demand-rate the CLI loads the network like SimulationConfig() does."""
    from network import DemandConfig

    main([*ARGS, "--json"])
    default = json.loads(capsys.readouterr().out)["config"]["demands"]
    assert default["rate_hz"] is None
    assert default["utilisation"] == DemandConfig().utilisation
    main([*ARGS, "--json", "--demand-rate", "2", "--utilisation", "0.25"])
    chosen = json.loads(capsys.readouterr().out)["config"]["demands"]
    assert (chosen["rate_hz"], chosen["utilisation"]) == (2.0, 0.25)


def test_same_seed_same_json(capsys):
    main([*ARGS, "--json"])
    first = capsys.readouterr().out
    main([*ARGS, "--json"])
    assert capsys.readouterr().out == first


def test_plot_is_written(tmp_path, capsys):
    out = tmp_path / "run.png"
    assert main([*ARGS, "--plot", str(out)]) == 0
    assert out.read_bytes().startswith(b"\x89PNG")
    assert "availability" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--byzantine-fraction", "0.9"], "byzantine-fraction"),
        (["--behaviour", "nice"], "behaviour"),
        (["--duration-s", "-5"], "duration-s"),
        (["--plot", "missing/run.png"], "does not exist"),
        (["--topology", "atlantis"], "atlantis"),
        (["--consensus", "pbft", "--defense", "none"], "use --defense abft"),
        (["--consensus", "raft"], "consensus"),
        (["--replicas", "0"], "replicas"),
        (["--utilisation", "0"], "utilisation"),
        (["--utilisation", "1.5"], "utilisation"),
    ],
)
def test_bad_options_exit_2_with_one_line(capsys, extra, message):
    with pytest.raises(SystemExit) as info:
        main([*ARGS, *extra])
    assert info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]


def test_consensus_in_the_loop_reports_its_metrics(capsys):
    argv = [*ARGS, "--byzantine-fraction", "0.34", "--behaviour", "silent"]
    assert main([*argv, "--consensus", "pbft", "--replicas", "3", "--json"]) == 0
    captured = capsys.readouterr()
    out = json.loads(captured.out)
    consensus = out["consensus"]
    assert len(consensus["committee"]) == 3 and consensus["agreement"] is True
    for key in (
        "committed_operations",
        "view_changes",
        "messages",
        "auth_key_bits",
        "unauthenticated_sends",
        "rejected",
        "refused_reweightings",
    ):
        assert key in consensus
    assert consensus["committed_operations"] > 0 and consensus["auth_key_bits"] > 0
    assert out["config"]["consensus"] == "pbft" and out["config"]["pbft"]["replicas"] == 3
    assert "PBFT committee" in captured.err and "replicas agree" in captured.err
    main([*argv, "--json"])  # without consensus: no consensus object
    assert "consensus" not in json.loads(capsys.readouterr().out)
