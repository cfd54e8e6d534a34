"""Every link of a network at its current state, evaluated at once with :mod:`qkdcircuits`.

The network never re-derives link physics: :class:`LinkModel` keeps the nominal parameters of
all links as :class:`qkdcircuits.LinkArray` columns (one array per protocol) and, each time
slice, swaps in the fluctuating quantities (extra loss in dB, detector efficiency, source
repetition rate, signal intensity, and the misalignment error that Byzantine states add) and
calls :func:`qkdcircuits.evaluate_links` on them: gains, QBERs and secret-key rates of every link
in one vectorised call per protocol.

Caching by parameters
    The state of a link is quantised (extra loss and detector efficiency as dB of loss, to
    0.01 dB, i.e. 0.23 % of transmittance; the relative signal intensity to 1e-3; the
    misalignment probability to 1e-6) and evaluated *at the quantised values*, so every memo
    entry is exact for its key. A detector-efficiency factor ``f`` is the same, for the photons,
    as an extra loss of ``-10 log10 f`` dB (dark counts do not change), and the repetition rate
    only scales the rates per second (dead time applied afterwards, vectorised), so neither
    multiplies the number of states. Each call looks up only the links whose quantised state
    changed since the previous call; the rest reuse their row. Missing states of all links are
    evaluated in one :func:`qkdcircuits.evaluate_links` call per protocol. A fluctuating link
    revisits the same few hundred states, so after a warm-up nearly every lookup hits.

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

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from qkdcircuits import PROTOCOLS, LinkArray, evaluate_links
from qkdcircuits._validation import SeedLike, as_generator, check_positive
from qkdcircuits.links.params import LinkParams

__all__ = ["LinkModel", "LinkSnapshot", "bypass_alternatives"]

_SCALE_QUANTUM = 1e-3  # relative signal intensity
_MISALIGNMENT_QUANTUM = 1e-6  # misalignment error probability
_MEMO_LOOKUP_LIMIT = 512  # changed links per call above which the memo is not consulted
_CACHED = (
    "gain_z",
    "qber_z",
    "qber_x",
    "key_rate_per_pulse",
    "sifted_per_pulse",
    "click_prob",
    "signal_intensity",
)
_PER_PULSE, _SIFTED, _CLICK, _INTENSITY = (
    _CACHED.index(name)
    for name in ("key_rate_per_pulse", "sifted_per_pulse", "click_prob", "signal_intensity")
)


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


class LinkModel:
    """Vectorised, cached evaluation of all links of a network (see the module docstring).

    Parameters
    ----------
    params : sequence of BB84DecoyParams or MDIParams
        The nominal parameters of link ``0 .. m-1`` (protocols may be mixed).
    alternatives : sequence of BB84DecoyParams, MDIParams or None, optional
        A second way to run each link (e.g. an MDI-QKD link run as BB84 straight through its
        relay site), or ``None`` where there is none; ``protocol_choice`` in :meth:`evaluate`
        picks one per link.
    decoy : str or mapping
        Decoy method of every link (``"infinite"``), or one per protocol
        (``{"bb84-decoy": "vacuum-weak", "mdi": "three-intensity"}``; protocols left out use
        ``"infinite"``).
    optimize_nominal : bool
        Start every link at the signal intensity that maximises its key rate at its nominal
        state (:func:`qkdcircuits.evaluate_links` with ``optimize=True``); otherwise at the
        intensity of its parameters.
    memo_size : int
        Most link states remembered (about 150 bytes each); the memo is cleared when full.
    loss_quantum_db : float
        Quantum of the arm losses in the cache key (dB, > 0).
    prefetch : int
        On a miss, also evaluate the ``prefetch`` states on each side along the loss axis
        (>= 0; 0 evaluates only the states asked for).
    vectorised : bool
        ``False`` evaluates every changed link on its own, in a Python loop, without the memo:
        the reference that benchmarks time the vectorised, cached path against.

    Attributes
    ----------
    protocols : numpy.ndarray
        ``(2, m)`` protocol name of each link's primary and alternative way (``""`` for none).
    has_alternative : numpy.ndarray
        ``(m,)`` whether a link can switch.
    nominal_intensity, nominal_misalignment : numpy.ndarray
        ``(2, m)`` per way: the starting signal intensity (Alice's for MDI-QKD) and ``e_d``.
    """

    def __init__(
        self,
        params: Sequence[LinkParams],
        *,
        alternatives: Sequence[LinkParams | None] | None = None,
        decoy: str | Mapping[str, str] = "infinite",
        optimize_nominal: bool = True,
        memo_size: int = 1_000_000,
        loss_quantum_db: float = 0.01,
        prefetch: int = 25,
        vectorised: bool = True,
    ) -> None:
        items = list(params)
        if not items:
            raise ValueError("params is empty: a network needs at least one link")
        if isinstance(decoy, str):
            self.decoy = dict.fromkeys(PROTOCOLS, decoy)
        elif isinstance(decoy, Mapping):
            self.decoy = {name: decoy.get(name, "infinite") for name in PROTOCOLS}
        else:
            raise TypeError(f"decoy={decoy!r} must be a str or a mapping protocol -> method")
        self.n_links = m = len(items)
        others = [None] * m if alternatives is None else list(alternatives)
        if len(others) != m:
            raise ValueError(f"alternatives has {len(others)} entries for {m} links")
        self.has_alternative = np.array([alt is not None for alt in others], dtype=bool)
        self.protocols = np.full((2, m), "", dtype=object)
        self.nominal_intensity = np.full((2, m), np.nan)
        self.nominal_misalignment = np.full((2, m), np.nan)
        self._nominal_efficiency = np.ones((2, m))
        self._nominal_rate = np.ones((2, m))
        self._dead_time = np.zeros((2, m))
        self._arm_a = np.full((2, m), 1.0)  # share of the extra loss on Alice's arm (MDI)
        # (way, protocol, link ids, LinkArray of those links)
        self._groups: list[tuple[int, str, np.ndarray, LinkArray]] = []
        for way, column in enumerate((items, others)):
            present = [k for k in range(m) if column[k] is not None]
            for name in PROTOCOLS:
                index = np.array([k for k in present if column[k].protocol == name], dtype=np.int64)
                if index.size == 0:
                    continue
                links = LinkArray.from_params([column[k] for k in index])
                if optimize_nominal:
                    best = evaluate_links(links, decoy=self.decoy[name], optimize=True).intensities
                    if name == "mdi":
                        links = links.replace(
                            signal_intensity_a=best["mu_a"], signal_intensity_b=best["mu_b"]
                        )
                    else:
                        links = links.replace(signal_intensity=best["mu"])
                if name == "mdi":
                    total = links.length_a_km + links.length_b_km
                    self._arm_a[way, index] = np.divide(
                        links.length_a_km, total, out=np.full(index.size, 0.5), where=total > 0
                    )
                    self.nominal_intensity[way, index] = links.signal_intensity_a
                else:
                    self.nominal_intensity[way, index] = links.signal_intensity
                self.protocols[way, index] = name
                self.nominal_misalignment[way, index] = links.misalignment_prob
                self._nominal_efficiency[way, index] = links.detector_efficiency
                self._nominal_rate[way, index] = links.repetition_rate_hz
                self._dead_time[way, index] = np.nan_to_num(links.dead_time_s)
                self._groups.append((way, name, index, links))
        self._is_mdi = self.protocols == "mdi"
        self.loss_quantum_db = check_positive(loss_quantum_db, "loss_quantum_db")
        if isinstance(prefetch, bool) or not isinstance(prefetch, int) or prefetch < 0:
            raise ValueError(f"prefetch={prefetch!r} must be a non-negative integer")
        self.prefetch = prefetch
        if not isinstance(vectorised, bool):
            raise TypeError(f"vectorised={vectorised!r} must be a bool")
        self.vectorised = vectorised
        self._last: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._memo: dict[tuple[int, ...], np.ndarray] = {}
        self.memo_size = memo_size
        self.evaluations = 0  # link states evaluated so far (for benchmarks and tests)

    def _inputs(self, name: str, value: Any, default: float | np.ndarray) -> np.ndarray:
        if value is None:
            return np.broadcast_to(default, (self.n_links,))
        if (
            type(value) is np.ndarray
            and value.dtype == np.float64
            and value.shape == (self.n_links,)
        ):
            return value  # the common case in a simulation: checked with the others below
        array = np.asarray(value, dtype=float)
        if array.ndim == 0:
            array = np.full(self.n_links, float(array))
        if array.shape != (self.n_links,):
            raise ValueError(f"{name} has shape {array.shape}, expected ({self.n_links},)")
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
        protocol_choice: Any = None,
        cache: str = "default",
    ) -> LinkSnapshot:
        """Evaluate every link at the given state (each argument an array over links).

        Parameters
        ----------
        extra_loss_db : array, optional
            Extra channel loss in dB (>= 0) on top of the fibre (MDI-QKD: split between the arms
            in proportion to their lengths). Default 0.
        efficiency_factor : array, optional
            Detector efficiency relative to nominal (> 0; the efficiency is capped at 1).
            Default 1.
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
        protocol_choice : array of {0, 1}, optional
            Per link, run it the primary way (0, default) or the alternative way (1, only where
            the link has one).
        cache : str
            Name of the slot that remembers the previous call's state: links whose quantised
            state did not change since the previous call with the same slot are not even looked
            up again. Evaluations of different kinds (with and without attacks) should use
            different slots.

        Returns
        -------
        LinkSnapshot
        """
        loss = self._inputs("extra_loss_db", extra_loss_db, 0.0)
        eff = self._inputs("efficiency_factor", efficiency_factor, 1.0)
        rate = self._inputs("rate_factor", rate_factor, 1.0)
        scale = self._inputs("intensity_scale", intensity_scale, 1.0)
        way = self._ways(protocol_choice)
        links = np.arange(self.n_links)
        e_d = self._inputs(
            "misalignment_prob", misalignment_prob, self.nominal_misalignment[way, links]
        )
        inputs = (
            ("extra_loss_db", loss, "finite and >= 0"),
            ("efficiency_factor", eff, "finite and > 0"),
            ("rate_factor", rate, "finite and > 0"),
            ("intensity_scale", scale, "finite and > 0"),
            ("misalignment_prob", e_d, "in [0, 0.5]"),
        )
        valid = (
            np.isfinite(loss)
            & (loss >= 0)
            & (eff > 0)
            & (rate > 0)
            & (scale > 0)
            & (e_d >= 0)
            & (e_d <= 0.5)
            & np.isfinite(eff)
            & np.isfinite(rate)
            & np.isfinite(scale)
        )
        if not valid.all():
            for name, array, rule in inputs:
                ok = (
                    (array >= 0) & (array <= 0.5)
                    if name == "misalignment_prob"
                    else (
                        np.isfinite(array)
                        & ((array >= 0) if name == "extra_loss_db" else (array > 0))
                    )
                )
                if not ok.all():
                    k = int(np.argmin(ok))
                    raise ValueError(f"{name}[{k}]={float(array[k])!r} must be {rule}")
        # A detector efficiency factor f acts on the photons like an extra loss of
        # -10 log10(f) dB on every arm (dark counts are unchanged); the efficiency stays <= 1.
        eff_db = -10.0 * np.log10(np.minimum(eff, 1.0 / self._nominal_efficiency[way, links]))
        mdi = self._is_mdi[way, links]
        share = self._arm_a[way, links]
        key = np.empty((self.n_links, 5), dtype=np.int64)
        key[:, 0] = np.rint((np.where(mdi, loss * share, loss) + eff_db) / self.loss_quantum_db)
        key[:, 1] = np.where(
            mdi, np.rint((loss * (1.0 - share) + eff_db) / self.loss_quantum_db), 0
        )
        key[:, 2] = -1 if optimize else np.rint(scale / _SCALE_QUANTUM)
        key[:, 3] = np.rint(e_d / _MISALIGNMENT_QUANTUM)
        key[:, 4] = way
        previous = self._last.get(cache)
        if previous is None:
            changed = np.ones(self.n_links, dtype=bool)
            rows = np.full((self.n_links, len(_CACHED)), np.nan)
        else:
            old_key, old_rows = previous
            changed = np.any(key != old_key, axis=1)
            rows = old_rows.copy()
        if not self.vectorised:
            for link in range(self.n_links):
                rows[link] = self._evaluate_states(
                    np.array([link]), key[link : link + 1], remember=False
                )[0]
        elif changed.any():
            self._lookup(np.flatnonzero(changed), key, rows)
        self._last[cache] = (key, rows)
        return self._snapshot(rows, rate, way)

    def _ways(self, protocol_choice: Any) -> np.ndarray:
        if protocol_choice is None:
            return np.zeros(self.n_links, dtype=np.int64)
        way = np.asarray(protocol_choice)
        if way.ndim == 0:
            way = np.full(self.n_links, int(way))
        if way.shape != (self.n_links,) or not np.isin(way, (0, 1)).all():
            raise ValueError(f"protocol_choice must be {self.n_links} values in {{0, 1}}")
        if np.any((way == 1) & ~self.has_alternative):
            bad = int(np.argmax((way == 1) & ~self.has_alternative))
            raise ValueError(f"protocol_choice[{bad}]=1 but link {bad} has no alternative")
        return way.astype(np.int64)

    def _lookup(self, ids: np.ndarray, key: np.ndarray, rows: np.ndarray) -> None:
        """Fill ``rows[ids]`` from the memo, evaluating the missing states in one batch.

        When many links changed at once (a large network whose links all fluctuate), a Python
        lookup per link costs more than evaluating them all in one vectorised call: then the
        memo is bypassed.
        """
        if ids.size > _MEMO_LOOKUP_LIMIT:
            rows[ids] = self._evaluate_states(ids, key[ids], remember=False)
            return
        missing = []
        for link, state in zip(ids.tolist(), map(tuple, key[ids].tolist()), strict=True):
            hit = self._memo.get((link, *state))
            if hit is None:
                missing.append(link)
            else:
                rows[link] = hit
        if not missing:
            return
        links = np.asarray(missing, dtype=np.int64)
        states = key[links]
        optimize = bool(states[0, 2] == -1)
        if self.prefetch and not optimize:
            # Evaluate a neighbourhood too (a fluctuating link will visit it): along the
            # direction in which a change of the channel loss moves the arms, and, for MDI-QKD,
            # a little along the common direction in which a detector-efficiency change moves
            # both arms. A call costs nearly the same for one state or a few hundred.
            patches, owners = [], []
            for link, state in zip(links.tolist(), states, strict=True):
                patch = self._patch(link, state)
                patches.append(patch)
                owners.append(np.full(len(patch), link, dtype=np.int64))
            patch_states = np.concatenate(patches)
            patch_owners = np.concatenate(owners)
            values = self._evaluate_states(patch_owners, patch_states, remember=True)
            for link, state in zip(links.tolist(), states, strict=True):
                hit = np.flatnonzero((patch_owners == link) & np.all(patch_states == state, axis=1))
                rows[link] = values[hit[0]]
        else:
            rows[links] = self._evaluate_states(links, states, remember=True)

    def _patch(self, link: int, state: np.ndarray) -> np.ndarray:
        """Quantised states around ``state`` worth evaluating together with it."""
        way = int(state[4])
        along = np.arange(-self.prefetch, self.prefetch + 1)
        if self._is_mdi[way, link]:
            share = self._arm_a[way, link]
            common = np.arange(-(self.prefetch // 5), self.prefetch // 5 + 1)
            j, k = np.meshgrid(along, common, indexing="ij")
            da = (np.rint(j * share) + k).ravel()
            db = (np.rint(j * (1.0 - share)) + k).ravel()
        else:
            da, db = along.astype(float), np.zeros(along.size)
        patch = np.repeat(state[None, :], da.size, axis=0)
        patch[:, 0] += da.astype(np.int64)
        patch[:, 1] += db.astype(np.int64)
        patch = np.unique(patch, axis=0)
        # Below this common arm loss the detector efficiency would exceed 1.
        floor = 10.0 * np.log10(self._nominal_efficiency[way, link]) / self.loss_quantum_db
        lowest = np.minimum(patch[:, 0], patch[:, 1]) if self._is_mdi[way, link] else patch[:, 0]
        return patch[lowest >= floor]

    def _evaluate_states(
        self, owners: np.ndarray, states: np.ndarray, *, remember: bool
    ) -> np.ndarray:
        """Return the cached quantities of link ``owners[i]`` at quantised state ``states[i]``.

        The quantities are exact: evaluated at the quantised state itself. The arm losses of a
        state are applied as an extra fibre loss where they are positive and as a lower detector
        efficiency for their common part where it is negative, which is the same for the
        photons.
        """
        out = np.full((owners.size, len(_CACHED)), np.nan)
        for way, name, index, group in self._groups:
            position = np.full(self.n_links, -1, dtype=np.int64)
            position[index] = np.arange(index.size)
            take = np.flatnonzero((states[:, 4] == way) & (position[owners] >= 0))
            if take.size == 0:
                continue
            rows_in_group = position[owners[take]]
            subset = group[rows_in_group]
            q = states[take]
            arm_a = q[:, 0] * self.loss_quantum_db
            arm_b = q[:, 1] * self.loss_quantum_db
            # The part of the arm losses below 0 dB (a detector better than nominal) is common to
            # both arms (one detector); it goes into the efficiency, the rest into the fibre.
            gain = -np.minimum(np.minimum(arm_a, arm_b) if name == "mdi" else arm_a, 0.0)
            optimize = bool(q[0, 2] == -1)
            scale = q[:, 2] * _SCALE_QUANTUM
            changes: dict[str, np.ndarray] = {
                "detector_efficiency": np.minimum(
                    subset.detector_efficiency * 10.0 ** (gain / 10.0), 1.0
                ),
                "misalignment_prob": np.minimum(q[:, 3] * _MISALIGNMENT_QUANTUM, 0.5),
            }
            if name == "mdi":
                changes["extra_loss_a_db"] = subset.extra_loss_a_db + arm_a + gain
                changes["extra_loss_b_db"] = subset.extra_loss_b_db + arm_b + gain
                if not optimize:
                    changes["signal_intensity_a"] = subset.signal_intensity_a * scale
                    changes["signal_intensity_b"] = subset.signal_intensity_b * scale
            else:
                changes["extra_loss_db"] = subset.extra_loss_db + arm_a + gain
                if not optimize:
                    changes["signal_intensity"] = subset.signal_intensity * scale
            ev = evaluate_links(
                subset.replace(**changes), decoy=self.decoy[name], optimize=optimize
            )
            mu = ev.intensities["mu" if name == "bb84-decoy" else "mu_a"]
            values = np.column_stack(
                [
                    np.broadcast_to(np.asarray(v, dtype=float), take.shape)
                    for v in (
                        ev.gain_z,
                        ev.qber_z,
                        ev.qber_x,
                        ev.key_rate_per_pulse,
                        subset.sifting_factor * np.asarray(ev.gain_z),
                        ev.click_prob,
                        mu,
                    )
                ]
            )
            out[take] = values
            self.evaluations += take.size
            if remember:
                if len(self._memo) + take.size > self.memo_size:
                    self._memo.clear()  # a crude bound on memory; refilled as needed
                for link, state, row in zip(
                    owners[take].tolist(), map(tuple, q.tolist()), values, strict=True
                ):
                    self._memo[(link, *state)] = row
        return out

    def _snapshot(self, rows: np.ndarray, rate_factor: np.ndarray, way: np.ndarray) -> LinkSnapshot:
        links = np.arange(self.n_links)
        rate_hz = self._nominal_rate[way, links] * rate_factor
        click = rows[:, _CLICK]
        # Non-paralysable dead time (see qkdcircuits Detector.live_fraction): 1 / (1 + n tau).
        live = 1.0 / (1.0 + np.nan_to_num(click) * rate_hz * self._dead_time[way, links])
        per_second = rate_hz * live
        # ``rows`` is never written again (the next call copies it), so views of it can be
        # handed out read-only.
        out = {
            "gain_z": rows[:, 0],
            "qber_z": rows[:, 1],
            "qber_x": rows[:, 2],
            "key_rate_per_pulse": rows[:, _PER_PULSE],
            "key_rate_bps": rows[:, _PER_PULSE] * per_second,
            "sifted_bps": rows[:, _SIFTED] * per_second,
            "signal_intensity": rows[:, _INTENSITY],
        }
        for values in out.values():
            values.setflags(write=False)
        return LinkSnapshot(**out)

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


def bypass_alternatives(
    params: Sequence[LinkParams], *, decoy: str = "infinite"
) -> list[LinkParams | None]:
    """For each MDI-QKD link, decoy BB84 run straight through its relay site (else ``None``).

    The relay site of an MDI-QKD link is a splice point of one fibre: the two parties can also
    run decoy-state BB84 end to end over the same fibre (total length, the arms' loss added up),
    with Bob's detectors those of the BB84 reference set (:meth:`qkdcircuits.BB84DecoyParams.gys`),
    bypassing the relay: the key no longer depends on the relay's honesty, but it is no longer
    measurement-device-independent either. A link gets this alternative only where decoy BB84
    still yields key at its length (:func:`network.topology.max_link_length_km`); BB84 links get
    none.

    Parameters
    ----------
    params : sequence of BB84DecoyParams or MDIParams
        The links.
    decoy : str
        Decoy method of the BB84 alternative, for the reach check.

    Returns
    -------
    list
        One BB84DecoyParams or ``None`` per link.
    """
    from network.topology import max_link_length_km
    from qkdcircuits import BB84DecoyParams

    out: list[LinkParams | None] = []
    for p in params:
        if p.protocol != "mdi":
            out.append(None)
            continue
        length = p.length_a_km + p.length_b_km
        fibre_db = p.channel_a.loss_db_per_km * p.length_a_km + (
            p.channel_b.loss_db_per_km * p.length_b_km
        )
        per_km = fibre_db / length if length > 0 else p.channel_a.loss_db_per_km
        base = BB84DecoyParams.gys(length_km=length)
        channel = dataclasses.replace(
            base.channel,
            loss_db_per_km=per_km,
            extra_loss_db=p.channel_a.extra_loss_db + p.channel_b.extra_loss_db,
        )
        candidate = dataclasses.replace(base, channel=channel)
        reach = max_link_length_km(candidate, decoy=decoy)
        out.append(candidate if length <= reach else None)
    return out
