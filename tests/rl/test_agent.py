"""The DQN agent: targets, masking, learning tiny problems with known solutions, checkpoints."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from rl.dqn import CHECKPOINT_VERSION, DQNAgent, DQNConfig

TINY = DQNConfig(
    hidden=(32,),
    batch_size=16,
    learning_starts=16,
    buffer_size=2_000,
    target_update_interval=50,
    epsilon_decay_steps=500,
    beta_steps=1_000,
)


def test_double_dqn_loss_matches_a_direct_computation_with_masked_targets():
    config = DQNConfig(
        hidden=(8,),
        batch_size=8,
        learning_starts=8,
        gamma=0.9,
        huber_delta=0.5,
        target_update_interval=10**6,
    )
    agent = DQNAgent(2, 3, config=config, seed=4, device="cpu")
    # a target network that differs from the online one
    with torch.no_grad():
        for p in agent.target.parameters():
            p.add_(0.3 * torch.randn_like(p))
    rng = np.random.default_rng(0)
    for _ in range(12):
        mask = rng.random(3) < 0.6
        mask[rng.integers(3)] = True
        agent.observe(
            rng.normal(size=2),
            int(rng.integers(3)),
            float(rng.normal()),
            rng.normal(size=2),
            bool(rng.random() < 0.3),
            mask,
        )
    batch = copy.deepcopy(agent.replay).sample(8, beta=agent.beta)
    with torch.no_grad():
        q_next_online = agent.online(torch.as_tensor(batch.next_obs)).numpy()
        q_next_target = agent.target(torch.as_tensor(batch.next_obs)).numpy()
        q = agent.online(torch.as_tensor(batch.obs)).numpy()
    expected = 0.0
    for i in range(8):
        allowed = np.flatnonzero(batch.next_mask[i])
        best = allowed[np.argmax(q_next_online[i, allowed])]
        y = batch.rewards[i] + 0.9 * (1 - batch.terminated[i]) * q_next_target[i, best]
        error = abs(y - q[i, batch.actions[i]])
        huber = 0.5 * error**2 if error <= 0.5 else 0.5 * (error - 0.25)
        expected += batch.weights[i] * huber
    assert agent.update() == pytest.approx(expected / 8, rel=1e-5)


def bandit_agent(seed, steps=600):
    """Four arms with rewards 1.0, 0.2, 5.0 (always masked out) and 0.5; one-step episodes."""
    rewards = np.array([1.0, 0.2, 5.0, 0.5])
    mask = np.array([True, True, False, True])
    agent = DQNAgent(1, 4, config=TINY, seed=seed, device="cpu")
    obs = np.ones(1)
    for _ in range(steps):
        action = agent.act(obs, mask)
        assert mask[action]
        agent.observe(obs, action, rewards[action], obs, True, mask)
        if agent.ready():
            agent.update()
    return agent, rewards, mask


def test_learns_a_masked_bandit():
    agent, rewards, mask = bandit_agent(seed=1)
    q = agent.q_values(np.ones(1))[0]
    assert agent.act(np.ones(1), mask, explore=False) == 0
    # terminal one-step episodes: Q(a) is the arm's reward (the masked arm is never tried)
    np.testing.assert_allclose(q[mask], rewards[mask], atol=0.1)


def chain_step(state, action, length):
    """A chain 0..length-1: action 1 moves right, 0 left; reaching the end pays 1 and ends."""
    nxt = min(state + 1, length - 1) if action == 1 else max(state - 1, 0)
    done = nxt == length - 1
    return nxt, (1.0 if done else 0.0), done


def test_learns_a_chain_with_its_discounted_values():
    length, gamma = 5, 0.9
    config = DQNConfig(
        hidden=(32,),
        batch_size=32,
        learning_starts=64,
        gamma=gamma,
        target_update_interval=100,
        epsilon_decay_steps=1_500,
        buffer_size=5_000,
        beta_steps=3_000,
    )
    agent = DQNAgent(length, 2, config=config, seed=2, device="cpu")
    eye = np.eye(length)
    state, steps = 0, 0
    while steps < 3_000:
        action = agent.act(eye[state])
        nxt, reward, done = chain_step(state, action, length)
        agent.observe(eye[state], action, reward, eye[nxt], done)
        if agent.ready():
            agent.update()
        steps += 1
        state = 0 if done or steps % 30 == 0 else nxt
    q = agent.q_values(eye[: length - 1])
    assert np.all(q.argmax(axis=1) == 1)
    # optimal values: Q(s, right) = gamma^(length - 2 - s) (the reward arrives on the last move)
    exact = gamma ** np.arange(length - 2, -1, -1)
    np.testing.assert_allclose(q[:, 1], exact, atol=0.08)


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.booleans(), min_size=5, max_size=5).filter(any),
    st.integers(0, 2**31 - 1),
    st.floats(0.0, 1.0),
)
def test_masked_actions_are_never_taken(mask, seed, epsilon):
    config = DQNConfig(hidden=(4,), epsilon_start=epsilon, epsilon_end=epsilon)
    agent = DQNAgent(3, 5, config=config, seed=seed, device="cpu")
    obs = np.random.default_rng(seed).normal(size=(20, 3))
    masks = np.tile(mask, (20, 1))
    for explore in (True, False):
        actions = agent.act_batch(obs, masks, explore=explore)
        assert np.all(np.asarray(mask)[actions])


def test_same_seed_same_learning():
    a, _, _ = bandit_agent(seed=5, steps=150)
    b, _, _ = bandit_agent(seed=5, steps=150)
    for pa, pb in zip(a.online.parameters(), b.online.parameters(), strict=True):
        assert torch.equal(pa, pb)
    c, _, _ = bandit_agent(seed=6, steps=150)
    assert not torch.equal(next(a.online.parameters()), next(c.online.parameters()))


def test_schedules():
    config = DQNConfig(
        epsilon_start=1.0, epsilon_end=0.1, epsilon_decay_steps=100, beta_start=0.4, beta_steps=200
    )
    agent = DQNAgent(2, 2, config=config, seed=0, device="cpu")
    agent.steps, agent.updates = 50, 100
    assert agent.epsilon == pytest.approx(0.55)
    assert agent.beta == pytest.approx(0.7)
    agent.steps, agent.updates = 10**6, 10**6
    assert agent.epsilon == pytest.approx(0.1) and agent.beta == 1.0


def test_checkpoint_round_trip(tmp_path):
    agent, _, mask = bandit_agent(seed=3)
    path = agent.save(tmp_path / "agent.pt", include_replay=True, extra={"note": "x"})
    restored = DQNAgent.load(path, device="cpu")
    obs = np.linspace(-1, 1, 5)[:, None]
    np.testing.assert_array_equal(agent.q_values(obs), restored.q_values(obs))
    assert (restored.steps, restored.updates, restored.extra) == (
        agent.steps,
        agent.updates,
        {"note": "x"},
    )
    assert len(restored.replay) == len(agent.replay)
    # both continue identically: same exploration, same replay samples, same optimiser state
    for copy_ in (agent, restored):
        copy_.update()
    np.testing.assert_array_equal(agent.q_values(obs), restored.q_values(obs))
    assert agent.act(obs[0], mask) == restored.act(obs[0], mask)


def test_corrupt_and_incompatible_checkpoints_raise_value_errors(tmp_path):
    agent = DQNAgent(3, 2, config=TINY, seed=0, device="cpu")
    good = agent.save(tmp_path / "good.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint at all")
    (tmp_path / "cut.pt").write_bytes(good.read_bytes()[:100])
    for name in ("junk.pt", "cut.pt"):
        with pytest.raises(ValueError, match="corrupt"):
            DQNAgent.load(tmp_path / name)
    with pytest.raises(ValueError, match="does not exist"):
        DQNAgent.load(tmp_path / "missing.pt")
    state = agent.state_dict()
    state["version"] = CHECKPOINT_VERSION + 1
    torch.save(state, tmp_path / "future.pt")
    with pytest.raises(ValueError, match="version"):
        DQNAgent.load(tmp_path / "future.pt")
    state = agent.state_dict()
    state["online"] = DQNAgent(4, 2, config=TINY, seed=0).online.state_dict()
    torch.save(state, tmp_path / "shapes.pt")
    with pytest.raises(ValueError, match="incompatible"):
        DQNAgent.load(tmp_path / "shapes.pt")
    with pytest.raises(ValueError, match="obs_dim"):
        DQNAgent(5, 2, config=TINY).load_state_dict(agent.state_dict())


def test_a_failed_save_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    agent = DQNAgent(3, 2, config=TINY, seed=0, device="cpu")
    path = agent.save(tmp_path / "agent.pt")
    before = path.read_bytes()

    def broken(obj, handle):
        handle.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken)
    with pytest.raises(OSError, match="disk full"):
        agent.save(path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["agent.pt"]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"gamma": 1.5}, "gamma"),
        ({"learning_rate": 0.0}, "learning_rate"),
        ({"hidden": (0,)}, "hidden"),
        ({"batch_size": 64, "buffer_size": 10}, "buffer_size"),
        ({"batch_size": 64, "learning_starts": 10}, "learning_starts"),
        ({"alpha": -1.0}, "alpha"),
    ],
)
def test_config_validation(kwargs, match):
    with pytest.raises(ValueError, match=match):
        DQNConfig(**kwargs)


def test_device_resolution():
    from rl.dqn import resolve_device

    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ValueError, match="device"):
        resolve_device("quantum")
