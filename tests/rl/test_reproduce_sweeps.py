"""``rl.reproduce``: the same table on every executor, and an interrupted run resumes."""

from __future__ import annotations

import json

import pytest

import rl.reproduce.experiment as experiment
from rl.reproduce import ReproduceConfig, reproduce

# Smaller than --quick: 2 fractions x 3 systems x 2 seeds + 1 training run = 13 tasks.
TINY = ReproduceConfig(
    name="tiny",
    eval_seeds=2,
    eval_slices=12,
    train_seeds=1,
    train_episodes=3,
    train_slices=12,
    eval_every=1,
    eval_episodes=1,
    fractions=(0.0, 0.2),
    dqn={"hidden": [16], "learning_starts": 8, "batch_size": 8, "epsilon_decay_steps": 20},
)
TASKS = 1 + 3 * 2 * 2


def numbers(out):
    """What must not depend on the executor: the table, the episodes and the training curves."""
    results = json.loads((out / "results.json").read_text())
    return {
        "table": results["table"],
        "episodes": results["episodes"],
        "training": results["training"]["runs"][0]["returns"],
        "evaluation": results["training"]["runs"][0]["eval_returns"],
        "trace": results["trace"],
    }


@pytest.mark.slow
def test_serial_process_and_dask_give_the_same_results(tmp_path):
    pytest.importorskip("distributed")
    reference = None
    for kind in ("serial", "process", "dask"):
        out = tmp_path / kind
        results = reproduce(TINY, out=out, executor=kind, workers=2)
        assert results["cache"]["computed_tasks"] == TASKS
        if reference is None:
            reference = numbers(out)
            # the DQN learned something to compare: its returns are not all equal
            assert len(set(reference["training"])) > 1
        else:
            assert numbers(out) == reference, kind


@pytest.mark.slow
def test_interrupted_run_resumes_from_the_cache(tmp_path, monkeypatch):
    version = "test-version"
    whole = tmp_path / "whole"
    reproduce(TINY, out=whole, executor="serial", version=version)

    calls = []
    original = experiment.run_task

    def interrupted(kind, spec, checkpoint=None):
        if len(calls) == 5:
            raise KeyboardInterrupt
        calls.append(kind)
        return original(kind, spec, checkpoint)

    out = tmp_path / "resumed"
    monkeypatch.setattr(experiment, "run_task", interrupted)
    with pytest.raises(KeyboardInterrupt):
        reproduce(TINY, out=out, executor="serial", version=version)
    assert not (out / "results.md").exists() and not (out / "results.json").exists()
    stored = sorted((out / "cache").glob("*.json"))
    assert len(stored) == 5  # every finished task, the training run first (with its weights)
    assert len(list((out / "cache").glob("*.pt"))) == 1

    calls.clear()
    counting = []

    def counted(kind, spec, checkpoint=None):
        counting.append(kind)
        return original(kind, spec, checkpoint)

    monkeypatch.setattr(experiment, "run_task", counted)
    results = reproduce(TINY, out=out, executor="serial", version=version)
    assert len(counting) == TASKS - 5 and "train" not in counting
    assert results["cache"] == {
        "cached_tasks": 5,
        "computed_tasks": TASKS - 5,
        "folder": str(out / "cache"),
    }
    assert numbers(out) == numbers(whole)

    # a rerun computes nothing; another code version or configuration recomputes everything
    counting.clear()
    reproduce(TINY, out=out, executor="serial", version=version)
    assert counting == []
    reproduce(TINY, out=out, executor="serial", version="changed")
    assert len(counting) == TASKS
    counting.clear()
    longer = ReproduceConfig(**{**TINY.to_dict(), "eval_slices": 13})
    reproduce(longer, out=out, executor="serial", version=version)
    assert counting.count("evaluate") == TASKS - 1 and "train" not in counting
