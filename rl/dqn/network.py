"""The Q-network: a multilayer perceptron from observations to one value per action.

Examples
--------
>>> import torch
>>> net = QNetwork(obs_dim=4, n_actions=3, hidden=(8, 8))
>>> net(torch.zeros(2, 4)).shape
torch.Size([2, 3])
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import torch
from torch import nn

__all__ = ["QNetwork", "masked_argmax"]


class QNetwork(nn.Module):
    """``obs_dim -> hidden... -> n_actions`` with ReLU activations.

    Parameters
    ----------
    obs_dim : int
        Length of an observation (>= 1).
    n_actions : int
        Number of discrete actions (>= 1).
    hidden : sequence of int
        Widths of the hidden layers (each >= 1; may be empty for a linear model).

    References
    ----------
    V. Mnih et al., "Human-level control through deep reinforcement learning", Nature 518, 529
    (2015): the Q-network and its target copy.
    """

    def __init__(self, obs_dim: int, n_actions: int, hidden: Sequence[int] = (256, 256)) -> None:
        super().__init__()
        sizes = [int(obs_dim), *(int(h) for h in hidden), int(n_actions)]
        if any(size < 1 for size in sizes):
            raise ValueError(
                f"obs_dim={obs_dim!r}, hidden={tuple(hidden)!r}, n_actions={n_actions!r} "
                "must all be >= 1"
            )
        layers: list[nn.Module] = []
        for width_in, width_out in itertools.pairwise(sizes):
            layers += [nn.Linear(width_in, width_out), nn.ReLU()]
        layers.pop()  # no activation after the output layer
        self.body = nn.Sequential(*layers)
        self.obs_dim, self.n_actions = sizes[0], sizes[-1]

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """Compute the action values of a batch of observations.

        Parameters
        ----------
        obs : torch.Tensor
            Observations, shape ``(batch, obs_dim)``.

        Returns
        -------
        torch.Tensor
            Action values, shape ``(batch, n_actions)``.
        """
        return self.body(obs)


def masked_argmax(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Index of the largest value among the allowed actions of each row.

    Parameters
    ----------
    values : torch.Tensor
        ``(batch, n_actions)`` action values.
    mask : torch.Tensor
        ``(batch, n_actions)`` booleans, True where allowed; every row needs one True.

    Returns
    -------
    torch.Tensor
        ``(batch,)`` int64 indices.

    Examples
    --------
    >>> import torch
    >>> masked_argmax(torch.tensor([[3.0, 1.0, 2.0]]), torch.tensor([[False, True, True]]))
    tensor([2])
    """
    return values.masked_fill(~mask, float("-inf")).argmax(dim=1)
