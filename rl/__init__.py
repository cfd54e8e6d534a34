"""Reinforcement-learning layer of abft-qkd: a gymnasium environment and a DQN allocator.

Built on :mod:`network`; arrives with a later issue.
"""

__all__: list[str] = []
