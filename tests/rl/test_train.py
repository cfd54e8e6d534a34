"""Training loop, evaluation on common seeds, convergence measure, learning-curve plot."""

from __future__ import annotations

import numpy as np
import pytest

from rl.baselines import GreedyPolicy, RandomPolicy, StaticPolicy
from rl.dqn import DQNAgent, DQNConfig
from rl.train import (
    EVAL_FIELDS,
    LOG_FIELDS,
    episodes_to_converge,
    evaluate_policies,
    moving_average,
    plot_learning_curve,
    read_log,
    summarise,
    train,
)

ENV = {"topology": "cambridge", "episode_slices": 8}
CONFIG = DQNConfig(hidden=(16,), batch_size=8, learning_starts=8, buffer_size=500)


def test_moving_average_by_hand():
    np.testing.assert_allclose(
        moving_average(np.array([2.0, 4.0, 6.0, 8.0]), 3), [2.0, 3.0, 4.0, 6.0]
    )
    with pytest.raises(ValueError, match="window"):
        moving_average(np.ones(3), 0)


def test_episodes_to_converge_by_hand():
    curve = np.array([0.0, 2.0, 4.0, 6.0, 8.0, 9.5, 10.0, 10.0, 10.0, 10.0])
    # final = mean of the last 10 % = 10; 95 % of it is 9.5, first reached at episode 6
    assert episodes_to_converge(curve, window=1) == 6
    # with a trailing mean of 2 the curve reads 0, 1, 3, 5, 7, 8.75, 9.75: episode 7
    assert episodes_to_converge(curve, window=2) == 7
    # 95 % of the way from a reference of 8 (the untrained return) to 10 is 9.9: episode 7
    assert episodes_to_converge(curve, window=1, reference=8.0) == 7
    # the last half as the final level: mean(9.5, 10 x 4) = 9.9, 95 % is 9.405
    assert episodes_to_converge(curve, window=1, final_fraction=0.5) == 6
    assert episodes_to_converge([], window=1) is None
    # a falling curve of costs converges downwards
    assert episodes_to_converge(-curve, window=1, reference=0.0) == 6


def test_train_writes_its_log_and_checkpoint_and_is_reproducible(tmp_path):
    first = train(
        episodes=3, seed=4, env_kwargs=ENV, config=CONFIG, out_dir=tmp_path / "a", device="cpu"
    )
    second = train(episodes=3, seed=4, env_kwargs=ENV, config=CONFIG, device="cpu")
    assert [row["episode"] for row in first.log] == [1, 2, 3]
    np.testing.assert_array_equal(first.returns, second.returns)
    rows = read_log(tmp_path / "a" / "log.csv")
    assert len(rows) == 3 and set(rows[0]) == set(LOG_FIELDS)
    np.testing.assert_allclose([r["return"] for r in rows], first.returns)
    assert all(r["steps"] == 8 for r in rows)
    agent = DQNAgent.load(tmp_path / "a" / "checkpoint.pt")
    assert agent.extra["env_kwargs"] == ENV and agent.episodes == 3
    obs = np.zeros((1, agent.obs_dim))
    np.testing.assert_array_equal(agent.q_values(obs), first.agent.q_values(obs))


def test_evaluations_of_the_greedy_policy_use_fixed_episodes(tmp_path):
    result = train(
        episodes=4,
        seed=2,
        env_kwargs=ENV,
        config=CONFIG,
        out_dir=tmp_path,
        eval_every=3,
        eval_episodes=2,
        device="cpu",
    )
    assert [row["episode"] for row in result.eval_log] == [0, 3, 4]
    np.testing.assert_equal(read_log(tmp_path / "eval.csv", EVAL_FIELDS), result.eval_log)
    # the greedy static policy on the same two evaluation episodes gives what a fresh run of
    # them gives: they are fixed, and separate from the training episodes
    again = train(
        episodes=0,
        seed=2,
        env_kwargs=ENV,
        config=CONFIG,
        eval_every=1,
        eval_episodes=2,
        device="cpu",
    )
    np.testing.assert_equal(again.eval_log, result.eval_log[:1])


def test_convergence_of_an_evaluation_curve():
    # evaluations after 0, 20, 40, 60, 80 episodes; final (last 10 %: the last value) is 10,
    # 95 % of the way from 2 is 9.6: first reached by the value 9.7 after 40 episodes
    at, values = [0, 20, 40, 60, 80], [2.0, 6.0, 9.7, 9.9, 10.0]
    assert episodes_to_converge(values, episodes=at, window=1, reference=2.0) == 40
    with pytest.raises(ValueError, match="shape"):
        episodes_to_converge(values, episodes=at[:3], window=1)


def test_ctrl_c_saves_the_checkpoint_and_the_log(tmp_path):
    def interrupt(row):
        if row["episode"] == 2:
            raise KeyboardInterrupt

    result = train(
        episodes=10,
        seed=1,
        env_kwargs=ENV,
        config=CONFIG,
        out_dir=tmp_path,
        on_episode=interrupt,
        device="cpu",
    )
    assert result.interrupted
    assert len(read_log(tmp_path / "log.csv")) == 2
    assert DQNAgent.load(tmp_path / "checkpoint.pt").episodes == 2
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_bad_training_options():
    with pytest.raises(ValueError, match="episodes"):
        train(episodes=-1, seed=0, env_kwargs=ENV)
    with pytest.raises(ValueError, match="seed"):
        train(episodes=1, seed=-3, env_kwargs=ENV)
    with pytest.raises(TypeError, match="topology"):
        from network.topology import scenario

        train(episodes=1, seed=0, env_kwargs={"topology": scenario("cambridge")})


def test_policies_are_evaluated_on_the_same_seeds():
    class Twin(StaticPolicy):
        name = "twin"

    results = evaluate_policies(
        [StaticPolicy(), Twin(), RandomPolicy()], episodes=2, seed=9, env_kwargs=ENV
    )
    assert [s.row() for s in results["static"]] == [s.row() for s in results["twin"]]
    table = summarise(results)
    assert table["static"]["return"]["n"] == 2
    with pytest.raises(ValueError, match="distinct"):
        evaluate_policies([StaticPolicy(), StaticPolicy()], episodes=1, seed=0, env_kwargs=ENV)


def test_greedy_intensities_never_generate_less_key_than_static_ones():
    """Re-optimising each link's intensity at its current state can only raise its key rate."""
    env_kwargs = {"topology": "secoqc", "episode_slices": 30, "fluctuations": "stormy"}
    from rl.env import ResourceAllocationEnv

    static = ResourceAllocationEnv(**env_kwargs)
    greedy = ResourceAllocationEnv(**env_kwargs, **GreedyPolicy.env_overrides)
    obs, info_s = static.reset(seed=2)
    obs, info_g = greedy.reset(seed=2)
    action = StaticPolicy().act(static, obs, info_s)
    gains = []
    for _ in range(30):
        *_, info_s = static.step(action)
        *_, info_g = greedy.step(action)
        # same seeds: the same fluctuations on both (resources evolve independently of actions)
        np.testing.assert_array_equal(
            static.simulation.resources.extra_loss_db, greedy.simulation.resources.extra_loss_db
        )
        gains.append(info_g["key_rate_bps"] / info_s["key_rate_bps"])
    assert min(gains) >= 1.0 - 1e-9


def test_learning_curve_plot(tmp_path):
    path = plot_learning_curve(
        {"seed 1": np.linspace(0, 10, 40)}, tmp_path / "curve.png", baselines={"static": 9.0}
    )
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="must end in"):
        plot_learning_curve({"a": [1.0]}, tmp_path / "curve.txt")
