r"""Fluctuating resources of every link, evolved together in one vectorised step.

Three quantities fluctuate per link, each a stochastic process sampled exactly at the slice
times (no Euler error, whatever the slice length):

* **Extra channel loss** in dB: a mean-reverting Ornstein-Uhlenbeck process
  (G. E. Uhlenbeck, L. S. Ornstein, Phys. Rev. 36, 823 (1930)) for slow drifts of fibre and
  atmospheric attenuation, rectified at 0 dB, plus **bursts** (rain, fog, turbulence, a
  mechanical disturbance): shot noise in which bursts arrive as a Poisson process of rate
  ``burst_rate_hz`` on the links that are exposed to them, each adding an exponentially
  distributed depth (mean ``burst_mean_db``) that decays with time constant ``burst_decay_s``.
* **Source repetition-rate factor** and **detector-efficiency factor**: geometric
  Ornstein-Uhlenbeck processes (the exponential of an OU process around 0), so they stay
  positive and fluctuate by a relative ``sigma`` around 1.

The OU update over a step ``dt`` is the exact transition (D. T. Gillespie, Phys. Rev. E 54,
2084 (1996), Eq. 1.9):

.. math:: x_{t+dt} = \mu + (x_t - \mu) e^{-dt/\tau}
          + \sigma \sqrt{1 - e^{-2 dt/\tau}}\, \mathcal{N}(0, 1),

with stationary law :math:`\mathcal{N}(\mu, \sigma^2)` and correlation time :math:`\tau`.
Bursts arriving within a step are added at its start (the shot-noise sum is exact at the
slice times when arrivals are aligned to them; a burst of a 1 s slice is off by at most that
second). A link is **in a fluctuation period** while its burst depth exceeds
``burst_threshold_db``; the QBER-variance metric of the experiment is measured over those periods.

Examples
--------
>>> process = ResourceProcesses(3, FluctuationConfig(), seed=1)
>>> process.advance(1.0)
>>> process.extra_loss_db.shape, bool((process.extra_loss_db >= 0).all())
((3,), True)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from qkdcircuits._validation import SeedLike, as_generator, check_non_negative, check_positive

__all__ = ["FluctuationConfig", "ResourceProcesses"]


@dataclass(frozen=True)
class FluctuationConfig:
    """Parameters of the link fluctuations (defaults: a metro network with occasional bursts).

    Parameters
    ----------
    loss_sigma_db : float
        Stationary standard deviation of the slow extra loss (dB, >= 0).
    loss_mean_db : float
        Stationary mean of the slow extra loss before rectification (dB).
    loss_correlation_s : float
        Correlation time of the slow loss (s, > 0).
    burst_rate_hz : float
        Burst arrivals per second on each exposed link (>= 0).
    burst_mean_db : float
        Mean depth of one burst (dB, >= 0), exponentially distributed.
    burst_decay_s : float
        Time constant of a burst's decay (s, > 0).
    burst_fraction : float
        Fraction of the links exposed to bursts (free-space or aerial links), in [0, 1].
    burst_threshold_db : float
        Burst depth above which a link counts as in a fluctuation period (dB, >= 0).
    rate_sigma : float
        Relative fluctuation of the source repetition rate (>= 0).
    rate_correlation_s : float
        Its correlation time (s, > 0).
    efficiency_sigma : float
        Relative fluctuation of the detector efficiency (>= 0).
    efficiency_correlation_s : float
        Its correlation time (s, > 0).
    """

    loss_sigma_db: float = 0.3
    loss_mean_db: float = 0.0
    loss_correlation_s: float = 120.0
    burst_rate_hz: float = 1.0 / 600.0
    burst_mean_db: float = 4.0
    burst_decay_s: float = 30.0
    burst_fraction: float = 0.5
    burst_threshold_db: float = 1.0
    rate_sigma: float = 0.02
    rate_correlation_s: float = 300.0
    efficiency_sigma: float = 0.02
    efficiency_correlation_s: float = 600.0

    def __post_init__(self) -> None:
        for name in (
            "loss_sigma_db",
            "burst_rate_hz",
            "burst_mean_db",
            "burst_threshold_db",
            "rate_sigma",
            "efficiency_sigma",
        ):
            object.__setattr__(self, name, check_non_negative(getattr(self, name), name))
        for name in (
            "loss_correlation_s",
            "burst_decay_s",
            "rate_correlation_s",
            "efficiency_correlation_s",
        ):
            object.__setattr__(self, name, check_positive(getattr(self, name), name))
        mean = self.loss_mean_db
        if isinstance(mean, bool) or not isinstance(mean, int | float) or not math.isfinite(mean):
            raise ValueError(f"loss_mean_db={mean!r} must be a finite number")
        fraction = check_non_negative(self.burst_fraction, "burst_fraction")
        if fraction > 1:
            raise ValueError(f"burst_fraction={fraction!r} not in [0, 1]")
        object.__setattr__(self, "burst_fraction", fraction)

    @classmethod
    def static(cls) -> FluctuationConfig:
        """No fluctuation at all (every link at its nominal state)."""
        return cls(
            loss_sigma_db=0.0,
            burst_rate_hz=0.0,
            burst_fraction=0.0,
            rate_sigma=0.0,
            efficiency_sigma=0.0,
        )


def _ou_step(
    x: np.ndarray, mean: float, sigma: float, correlation_s: float, dt: float, rng
) -> np.ndarray:
    decay = math.exp(-dt / correlation_s)
    noise = sigma * math.sqrt(max(0.0, 1.0 - decay * decay))
    return mean + (x - mean) * decay + noise * rng.standard_normal(x.shape)


class ResourceProcesses:
    """The fluctuating state of ``n_links`` links (see the module docstring).

    Parameters
    ----------
    n_links : int
        Number of links (>= 0).
    config : FluctuationConfig
        Process parameters.
    seed : int, numpy.random.Generator or None
        Randomness (which links are exposed to bursts, and every step).
    burst_links : array of bool, optional
        Which links are exposed to bursts; by default a ``config.burst_fraction`` of them,
        chosen at random.

    Attributes
    ----------
    slow_loss_db, burst_db : numpy.ndarray
        The two parts of the extra loss (dB).
    log_rate, log_efficiency : numpy.ndarray
        Logarithms of the repetition-rate and efficiency factors.
    burst_links : numpy.ndarray
        Links exposed to bursts (bool).
    """

    def __init__(
        self,
        n_links: int,
        config: FluctuationConfig,
        *,
        seed: SeedLike = None,
        burst_links: np.ndarray | None = None,
    ) -> None:
        if isinstance(n_links, bool) or not isinstance(n_links, int) or n_links < 0:
            raise ValueError(f"n_links={n_links!r} must be a non-negative integer")
        if not isinstance(config, FluctuationConfig):
            raise TypeError(f"config={config!r} must be a FluctuationConfig")
        self.config = config
        self._rng = as_generator(seed)
        if burst_links is None:
            burst_links = self._rng.random(n_links) < config.burst_fraction
        burst_links = np.asarray(burst_links, dtype=bool)
        if burst_links.shape != (n_links,):
            raise ValueError(f"burst_links has shape {burst_links.shape}, expected ({n_links},)")
        self.burst_links = burst_links
        # Start in the stationary law, so that statistics do not depend on a burn-in.
        self.slow_loss_db = config.loss_mean_db + config.loss_sigma_db * self._rng.standard_normal(
            n_links
        )
        self.burst_db = np.zeros(n_links)
        self.log_rate = config.rate_sigma * self._rng.standard_normal(n_links)
        self.log_efficiency = config.efficiency_sigma * self._rng.standard_normal(n_links)

    @property
    def n_links(self) -> int:
        """Number of links."""
        return int(self.burst_db.size)

    @property
    def extra_loss_db(self) -> np.ndarray:
        """Extra loss of each link (dB, >= 0): rectified slow loss plus bursts."""
        return np.maximum(self.slow_loss_db, 0.0) + self.burst_db

    @property
    def rate_factor(self) -> np.ndarray:
        """Repetition-rate factor of each link's source (around 1)."""
        return np.exp(self.log_rate)

    @property
    def efficiency_factor(self) -> np.ndarray:
        """Detector-efficiency factor of each link (around 1)."""
        return np.exp(self.log_efficiency)

    @property
    def in_fluctuation(self) -> np.ndarray:
        """Links whose burst depth exceeds the configured threshold (bool)."""
        return self.burst_db > self.config.burst_threshold_db

    def advance(self, dt_s: float) -> None:
        """Evolve every link by ``dt_s`` seconds (exact transition, vectorised)."""
        dt = check_non_negative(dt_s, "dt_s")
        if dt == 0.0 or self.n_links == 0:
            return
        c, rng = self.config, self._rng
        self.slow_loss_db = _ou_step(
            self.slow_loss_db, c.loss_mean_db, c.loss_sigma_db, c.loss_correlation_s, dt, rng
        )
        self.log_rate = _ou_step(self.log_rate, 0.0, c.rate_sigma, c.rate_correlation_s, dt, rng)
        self.log_efficiency = _ou_step(
            self.log_efficiency, 0.0, c.efficiency_sigma, c.efficiency_correlation_s, dt, rng
        )
        arrivals = rng.poisson(c.burst_rate_hz * dt, self.n_links) * self.burst_links
        # The sum of k exponential depths is Gamma(k, mean); k = 0 gives 0.
        new = np.where(arrivals > 0, rng.gamma(np.maximum(arrivals, 1), c.burst_mean_db), 0.0)
        self.burst_db = self.burst_db * math.exp(-dt / c.burst_decay_s) + new
