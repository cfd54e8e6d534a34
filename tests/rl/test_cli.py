"""``abft-qkd rl train`` and ``abft-qkd rl evaluate``: a smoke run and clear errors."""

from __future__ import annotations

import json

import pytest

from qkdcircuits.cli import main
from rl.train import read_log

ENV = ["--topology", "cambridge", "--episode-slices", "5"]


def run(argv):
    try:
        return main(argv)
    except SystemExit as exc:
        return exc.code


def test_train_then_evaluate(tmp_path, capsys):
    out = tmp_path / "run"
    argv = [
        "rl",
        "train",
        "--episodes",
        "2",
        "--seed",
        "3",
        "--out",
        str(out),
        "--learning-starts",
        "64",
        "--no-progress",
        *ENV,
    ]
    assert run(argv) == 0
    assert {p.name for p in out.iterdir()} == {
        "log.csv",
        "eval.csv",
        "checkpoint.pt",
        "options.json",
        "learning_curve.png",
    }
    assert len(read_log(out / "log.csv")) == 2
    assert "greedy evaluations: return" in capsys.readouterr().err
    argv = [
        "rl",
        "evaluate",
        "--policy",
        f"dqn:{out / 'checkpoint.pt'}",
        "--policy",
        "static,greedy",
        "--policy",
        "random",
        "--episodes",
        "2",
        "--seed",
        "1",
        "--json",
        "--no-progress",
        "--plot",
        str(tmp_path / "curve.png"),
    ]
    assert run(argv) == 0
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    names = [f"dqn:{out / 'checkpoint.pt'}", "static", "greedy", "random"]
    assert list(report["summary"]) == names
    assert report["env_kwargs"] == {"topology": "cambridge", "episode_slices": 5}
    assert all(len(report["per_episode"][name]) == 2 for name in names)
    assert "static" in captured.err and "QBER" in captured.err
    assert (tmp_path / "curve.png").read_bytes()[:4] == b"\x89PNG"


def evaluate_argv(policy, *options):
    """``rl evaluate --policy POLICY`` for one episode with seed 0, then ``options``."""
    return ["rl", "evaluate", "--policy", policy, "--episodes", "1", "--seed", "0", *options]


@pytest.mark.parametrize(
    ("argv", "match"),
    [
        (evaluate_argv("best"), "unknown policy 'best'"),
        (["rl", "evaluate", "--policy", "static", "--episodes", "-1", "--seed", "0"], "--episodes"),
        (["rl", "train", "--episodes", "-5", "--seed", "0", "--out", "x"], "--episodes"),
        (evaluate_argv("dqn:CORRUPT"), "corrupt"),
        (evaluate_argv("dqn:MISSING"), "does not exist"),
        (evaluate_argv("static", "--plot", "curve.png"), "--plot needs"),
        (evaluate_argv("static", "--topology", "atlantis"), "atlantis"),
    ],
)
def test_bad_options_exit_2_with_one_line(argv, match, tmp_path, capsys):
    (tmp_path / "CORRUPT").write_bytes(b"\x00garbage")
    argv = [str(tmp_path / a[4:]) if a.startswith("dqn:") else a for a in argv]
    argv = [f"dqn:{a}" if a.startswith(str(tmp_path)) else a for a in argv]
    assert run(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert match in err


def test_tensorboard_without_the_package_is_a_clear_error(tmp_path, capsys):
    try:
        import tensorboard  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("tensorboard is installed")
    argv = ["rl", "train", "--episodes", "1", "--seed", "0", "--out", str(tmp_path / "tb")]
    assert run([*argv, "--tensorboard", "--no-progress", *ENV]) == 2
    assert "pip install tensorboard" in capsys.readouterr().err
    assert not (tmp_path / "tb").exists()
