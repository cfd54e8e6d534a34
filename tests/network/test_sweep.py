"""Sweeps give the same results on every executor and worker count (real process pool, real
local Dask cluster)."""

from __future__ import annotations

import numpy as np
import pytest

from network.sweep import open_executor, run_tasks


def draw(seed: int, size: int) -> list[float]:
    """A task that depends only on its arguments."""
    return np.random.default_rng(seed).random(size).round(12).tolist()


TASKS = [(seed, 3) for seed in range(6)]


def test_serial_is_the_reference_and_keeps_task_order():
    with open_executor("serial") as executor:
        results = run_tasks(draw, TASKS, executor=executor)
    assert results == [draw(*task) for task in TASKS]


@pytest.mark.slow
@pytest.mark.parametrize(("kind", "workers"), [("process", 1), ("process", 2), ("dask", 2)])
def test_every_executor_gives_the_same_results(kind, workers):
    seen = {}
    with open_executor(kind, workers=workers) as executor:
        results = run_tasks(draw, TASKS, executor=executor, on_result=seen.__setitem__)
    assert results == [draw(*task) for task in TASKS]
    assert sorted(seen) == list(range(len(TASKS)))


def fail(seed: int) -> None:
    raise ValueError(f"task {seed} failed")


def test_a_failing_task_raises_its_error():
    with open_executor("serial") as executor, pytest.raises(ValueError, match=r"task [01] failed"):
        run_tasks(fail, [(0,), (1,)], executor=executor)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"kind": "cloud"}, "executor"),
        ({"kind": "process", "workers": 0}, "workers"),
        ({"kind": "process", "address": "tcp://x:1"}, "address"),
    ],
)
def test_bad_executor_options(kwargs, match):
    with pytest.raises(ValueError, match=match), open_executor(**kwargs):
        pass
