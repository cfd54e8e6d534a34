"""Every link of a network at its current state, evaluated at once with :mod:`qkdcircuits`.

The network never re-derives link physics: :class:`LinkModel` keeps the nominal parameters of
all links as :class:`qkdcircuits.LinkArray` columns (one array per protocol) and, each time
slice, swaps in the fluctuating quantities (extra loss in dB, detector efficiency, source
repetition rate, signal intensity, and the misalignment error that Byzantine states add) and
calls :func:`qkdcircuits.evaluate_links` on them: gains, QBERs and secret-key rates of every link
in one vectorised call per protocol.

Caching by parameters
    The inputs of each link are quantised (1e-3 dB of loss, relative 1e-6 of the factors and
    intensities, 1e-9 of the misalignment probability: far below any physical effect) and
    compared with those of the previous evaluation; only the links whose quantised inputs
    changed are evaluated again. A network whose links do not all fluctuate at once (static
    fibre links beside free-space ones, or intensities held by a controller) pays only for the
    links that moved.

Measured QBER
    What the network sees is measured: in a slice of ``dt`` seconds a link sifts
    ``n = q Q_Z R dt`` bits (sifting factor ``q``, signal gain ``Q_Z``, repetition rate ``R``,
    detector live fraction included) and error correction reveals the exact number of errors in
    that block, a binomial ``Bin(n, E_Z)`` draw of the link's true QBER ``E_Z``; the observed QBER
    is their ratio, as in the round engine's statistics (:mod:`qkdcircuits.analysis.statistics`).

Examples
--------
>>> from qkdcircuits import BB84DecoyParams, MDIParams
>>> model = LinkModel([BB84DecoyParams.gys(length_km=20.0), MDIParams.xu2013(length_km=40.0)])
>>> snap = model.evaluate()
>>> [f"{r:.3e}" for r in snap.key_rate_per_pulse]
['9.625e-04', '8.504e-05']
>>> hot = model.evaluate(extra_loss_db=[3.0, 3.0])
>>> bool((hot.key_rate_bps < snap.key_rate_bps).all())
True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from qkdcircuits import PROTOCOLS, LinkArray, evaluate_links
from qkdcircuits._validation import SeedLike, as_generator, check_positive
from qkdcircuits.links.params import LinkParams

__all__ = ["LinkModel", "LinkSnapshot"]

_QUANTUM = np.array([1e-3, 1e-6, 1e-6, 1e-6, 1e-9])  # loss dB, eff, rate, intensity, e_d


@dataclass(frozen=True, eq=False)
class LinkSnapshot:
    """The expected state of every link at one instant (arrays in link-id order).

    Attributes
    ----------
    gain_z, qber_z, qber_x : numpy.ndarray
        Signal gain and QBERs (``nan`` where nothing is detected).
    key_rate_per_pulse : numpy.ndarray
        Secret bits per signal pulse (pair), ``>= 0``.
    key_rate_bps : numpy.ndarray
        Secret bits per second (repetition rate and detector dead time applied).
    sifted_bps : numpy.ndarray
        Sifted key bits per second in the key basis.
    signal_intensity : numpy.ndarray
        Signal intensity used (Alice's for MDI-QKD), photons per pulse.
    """

    gain_z: np.ndarray
    qber_z: np.ndarray
    qber_x: np.ndarray
    key_rate_per_pulse: np.ndarray
    key_rate_bps: np.ndarray
    sifted_bps: np.ndarray
    signal_intensity: np.ndarray


_FIELDS = (
    "gain_z",
    "qber_z",
    "qber_x",
    "key_rate_per_pulse",
    "key_rate_bps",
    "sifted_bps",
    "signal_intensity",
)


class LinkModel:
    """Vectorised, cached evaluation of all links of a network (see the module docstring).

    Parameters
    ----------
    params : sequence of BB84DecoyParams or MDIParams
        The nominal parameters of link ``0 .. m-1`` (protocols may be mixed).
    decoy : str
        Decoy method of every link (``"infinite"`` or a finite method valid for each protocol).
    optimize_nominal : bool
        Start every link at the signal intensity that maximises its key rate at its nominal
        state (:func:`qkdcircuits.evaluate_links` with ``optimize=True``); otherwise at the
        intensity of its parameters.
    """

    def __init__(
        self,
        params: Sequence[LinkParams],
        *,
        decoy: str = "infinite",
        optimize_nominal: bool = True,
    ) -> None:
        items = list(params)
        if not items:
            raise ValueError("params is empty: a network needs at least one link")
        self.decoy = decoy
        self.n_links = len(items)
        protocol = np.array([p.protocol for p in items])
        self._groups: list[tuple[str, np.ndarray, LinkArray]] = []
        self.nominal_intensity = np.zeros(self.n_links)
        self._arm_a = np.full(self.n_links, 1.0)  # share of the extra loss on Alice's arm
        for name in PROTOCOLS:
            index = np.flatnonzero(protocol == name)
            if index.size == 0:
                continue
            links = LinkArray.from_params([items[k] for k in index])
            if optimize_nominal:
                optimum = evaluate_links(links, decoy=decoy, optimize=True).intensities
                if name == "mdi":
                    links = links.replace(
                        signal_intensity_a=optimum["mu_a"], signal_intensity_b=optimum["mu_b"]
                    )
                else:
                    links = links.replace(signal_intensity=optimum["mu"])
            if name == "mdi":
                total = links.length_a_km + links.length_b_km
                share = np.divide(
                    links.length_a_km, total, out=np.full(index.size, 0.5), where=total > 0
                )
                self._arm_a[index] = share
                self.nominal_intensity[index] = links.signal_intensity_a
            else:
                self.nominal_intensity[index] = links.signal_intensity
            self._groups.append((name, index, links))
        self.protocols = protocol
        self.nominal_misalignment = np.empty(self.n_links)
        for _, index, links in self._groups:
            self.nominal_misalignment[index] = links.misalignment_prob
        self._cache: dict[str, tuple[np.ndarray, dict[str, np.ndarray]]] = {}
        self.evaluations = 0  # links evaluated so far (for benchmarks and tests)

    def _inputs(self, name: str, value: Any, default: float | np.ndarray) -> np.ndarray:
        if value is None:
            return np.broadcast_to(np.asarray(default, dtype=float), (self.n_links,)).copy()
        array = np.asarray(value, dtype=float)
        if array.ndim == 0:
            array = np.full(self.n_links, float(array))
        if array.shape != (self.n_links,):
            raise ValueError(f"{name} has shape {array.shape}, expected ({self.n_links},)")
        if not np.all(np.isfinite(array)):
            raise ValueError(f"{name} must be finite")
        return array

    def evaluate(
        self,
        *,
        extra_loss_db: Any = None,
        efficiency_factor: Any = None,
        rate_factor: Any = None,
        intensity_scale: Any = None,
        misalignment_prob: Any = None,
        optimize: bool = False,
        cache: str = "default",
    ) -> LinkSnapshot:
        """Evaluate every link at the given state (each argument an array over links).

        Parameters
        ----------
        extra_loss_db : array, optional
            Extra channel loss in dB (>= 0) on top of the fibre (MDI-QKD: split between the arms
            in proportion to their lengths). Default 0.
        efficiency_factor : array, optional
            Detector efficiency relative to nominal (> 0; the result is clipped at 1). Default 1.
        rate_factor : array, optional
            Source repetition rate relative to nominal (> 0). Default 1.
        intensity_scale : array, optional
            Signal intensity relative to the nominal (optimised) one (> 0). Default 1.
        misalignment_prob : array, optional
            Misalignment error probability ``e_d`` of each link, e.g. raised by Byzantine
            states (in [0, 0.5]). Default: the nominal parameters.
        optimize : bool
            Re-optimise every link's signal intensity at this state (``intensity_scale`` is then
            ignored).
        cache : str
            Name of the cache slot; evaluations of different kinds (e.g. with and without
            attacks) use different slots so that they do not evict each other.

        Returns
        -------
        LinkSnapshot
        """
        loss = self._inputs("extra_loss_db", extra_loss_db, 0.0)
        eff = self._inputs("efficiency_factor", efficiency_factor, 1.0)
        rate = self._inputs("rate_factor", rate_factor, 1.0)
        scale = self._inputs("intensity_scale", intensity_scale, 1.0)
        e_d = self._inputs("misalignment_prob", misalignment_prob, self.nominal_misalignment)
        for name, array, low in (("extra_loss_db", loss, 0.0), ("misalignment_prob", e_d, 0.0)):
            if np.any(array < low):
                raise ValueError(f"{name} must be >= {low}")
        for name, array in (
            ("efficiency_factor", eff),
            ("rate_factor", rate),
            ("intensity_scale", scale),
        ):
            if np.any(array <= 0):
                raise ValueError(f"{name} must be > 0")
        if np.any(e_d > 0.5):
            raise ValueError("misalignment_prob must be <= 0.5")
        state = np.column_stack([loss, eff, rate, scale, e_d])
        key = np.round(state / _QUANTUM).astype(np.int64)
        if optimize:
            key[:, 3] = -1  # the intensity is chosen by the optimiser
        previous = self._cache.get(cache)
        if previous is None:
            changed = np.ones(self.n_links, dtype=bool)
            out = {name: np.full(self.n_links, np.nan) for name in _FIELDS}
        else:
            old_key, old_out = previous
            changed = np.any(key != old_key, axis=1)
            out = {name: values.copy() for name, values in old_out.items()}
        if changed.any():
            self._evaluate_rows(np.flatnonzero(changed), state, optimize, out)
        for values in out.values():
            values.setflags(write=False)
        self._cache[cache] = (key, out)
        return LinkSnapshot(**out)

    def _evaluate_rows(
        self, rows: np.ndarray, state: np.ndarray, optimize: bool, out: dict[str, np.ndarray]
    ) -> None:
        wanted = np.zeros(self.n_links, dtype=bool)
        wanted[rows] = True
        for name, index, links in self._groups:
            take = wanted[index]
            if not take.any():
                continue
            ids = index[take]
            subset = links[take]
            loss, eff, rate, scale, e_d = state[ids].T
            changes: dict[str, np.ndarray] = {
                "detector_efficiency": np.minimum(subset.detector_efficiency * eff, 1.0),
                "repetition_rate_hz": subset.repetition_rate_hz * rate,
                "misalignment_prob": e_d,
            }
            if name == "mdi":
                share = self._arm_a[ids]
                changes["extra_loss_a_db"] = subset.extra_loss_a_db + loss * share
                changes["extra_loss_b_db"] = subset.extra_loss_b_db + loss * (1.0 - share)
                changes["signal_intensity_a"] = subset.signal_intensity_a * scale
                changes["signal_intensity_b"] = subset.signal_intensity_b * scale
            else:
                changes["extra_loss_db"] = subset.extra_loss_db + loss
                changes["signal_intensity"] = subset.signal_intensity * scale
            ev = evaluate_links(subset.replace(**changes), decoy=self.decoy, optimize=optimize)
            mu = ev.intensities["mu" if name == "bb84-decoy" else "mu_a"]
            sifted = (
                subset.sifting_factor
                * np.asarray(ev.gain_z)
                * np.asarray(ev.repetition_rate_hz)
                * np.asarray(ev.live_fraction)
            )
            values = {
                "gain_z": ev.gain_z,
                "qber_z": ev.qber_z,
                "qber_x": ev.qber_x,
                "key_rate_per_pulse": ev.key_rate_per_pulse,
                "key_rate_bps": ev.key_rate_bps,
                "sifted_bps": sifted,
                "signal_intensity": mu,
            }
            for field, value in values.items():
                out[field][ids] = np.broadcast_to(np.asarray(value, dtype=float), ids.shape)
            self.evaluations += ids.size

    def measure(
        self, snapshot: LinkSnapshot, *, slice_s: float, seed: SeedLike = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Observed QBER of each link over one slice, and the sifted bits it is measured on.

        Parameters
        ----------
        snapshot : LinkSnapshot
            The links' expected state during the slice.
        slice_s : float
            Slice length in seconds (> 0).
        seed : int, numpy.random.Generator or None
            Randomness of the binomial error counts.

        Returns
        -------
        (numpy.ndarray, numpy.ndarray)
            Observed QBER (``nan`` for a link that sifted nothing) and sifted bits per link.
        """
        slice_s = check_positive(slice_s, "slice_s")
        rng = as_generator(seed)
        sifted = np.floor(np.nan_to_num(snapshot.sifted_bps) * slice_s).astype(np.int64)
        qber = np.clip(np.nan_to_num(snapshot.qber_z), 0.0, 1.0)
        errors = rng.binomial(sifted, qber)
        with np.errstate(invalid="ignore", divide="ignore"):
            observed = np.where(sifted > 0, errors / np.maximum(sifted, 1), np.nan)
        return observed, sifted
