"""``abft-qkd pbft check``: JSON fields, exit codes, one-line errors, replay."""

from __future__ import annotations

import json
from importlib.metadata import EntryPoint

import pytest

import qkdcircuits.cli as dispatcher

PBFT = EntryPoint(name="pbft", value="network.consensus.cli:register", group="abft_qkd.cli")


@pytest.fixture(autouse=True)
def _pbft_registered(monkeypatch):
    """Make sure the dispatcher sees the plugin even in a checkout installed before it existed."""
    installed = dispatcher.entry_points

    def entry_points(group):
        found = list(installed(group=group))
        if not any(ep.value == PBFT.value for ep in found):
            found.append(PBFT)
        return found

    monkeypatch.setattr(dispatcher, "entry_points", entry_points)


def test_check_below_the_threshold_prints_json_and_exits_zero(capsys):
    code = dispatcher.main(
        ["pbft", "check", "--replicas", "4", "--schedules", "5", "--faulty-weight", "0.25",
         "--seed", "3", "--json"]
    )  # fmt: skip
    report = json.loads(capsys.readouterr().out)
    assert code == 0
    assert report["schedules"] == 5 and report["safety_violations"] == 0
    assert report["liveness_failures"] == 0 and report["first_violation"] is None
    assert report["tolerated_fraction"] == 0.25


def test_check_above_the_threshold_reports_a_replayable_violation(capsys, tmp_path):
    argv = ["pbft", "check", "--replicas", "4", "--schedules", "8", "--faulty-weight", "0.5",
            "--seed", "22", "--weights", "1,1,1,1", "--json"]  # fmt: skip
    assert dispatcher.main(argv) == 1
    report = json.loads(capsys.readouterr().out)
    first = report["first_violation"]
    assert report["safety_violations"] >= 1 and "executed" in first["violation"]
    assert {"seed", "description", "schedule"} <= set(first)
    path = tmp_path / "violation.json"
    path.write_text(json.dumps(report))
    assert dispatcher.main(["pbft", "check", "--replay", str(path), "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["violation"] == first["violation"]


def test_human_output_goes_to_stderr(capsys):
    argv = ["pbft", "check", "--schedules", "2", "--faulty-weight", "0.5", "--seed", "5"]
    dispatcher.main(argv)
    out, err = capsys.readouterr()
    assert out == ""
    assert "safety violations:" in err and "tolerated: F*/W = 0.25" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--replicas", "four"], "--replicas 'four' is not an integer"),
        (["--schedules", "0"], "--schedules '0' must be >= 1"),
        (["--faulty-weight", "1.5"], "--faulty-weight '1.5' must be in [0, 1]"),
        (["--weights", "1,1"], "--weights has 2 entries but --replicas is 4"),
        (["--weights", "3,1,1,1"], "F*=3 (the 1 largest) must be < W/3"),
        (["--weights", "1,-1,1,1"], "weights[1]=-1.0 must be > 0"),
        (["--unsafe-quorum", "nan"], "--unsafe-quorum 'nan' is not finite"),
        (["--replay", "/nonexistent/schedule.json"], "--replay '/nonexistent/schedule.json'"),
    ],
)
def test_bad_options_exit_2_with_one_line(capsys, args, message):
    with pytest.raises(SystemExit) as exit_info:
        dispatcher.main(["pbft", "check", *args])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err, err
