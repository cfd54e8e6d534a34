r"""Finite-key key lengths of whole links, many at once (no Qiskit).

The finite-key analyses (:mod:`~qkdcircuits.links.finite_key_bb84`: Lim, Curty, Walenta, Xu,
Zbinden, Phys. Rev. A 89, 022307 (2014); :mod:`~qkdcircuits.links.finite_key_mdi`: three-
intensity MDI-QKD in the framework of Curty et al., Nat. Commun. 5, 3732 (2014)) take counts or
one link's parameters. :func:`evaluate_finite_key` applies them to a list of links (parameter
objects of one protocol, possibly all different) at one block size, from the links' expected
counts: with the settings the links carry (the source's three intensities and their
probabilities, and a basis probability), or with the settings that maximise the key per pulse
(``optimize=True``: basis probability, the two upper intensities and the intensity
probabilities; the weakest intensity stays the source's). This is what a finite-key
:class:`~qkdcircuits.links.report.LinkReport` and the finite-key curves of ``abft-qkd keyrate``
are made of.

What a block is
---------------
``block_size`` counts the detections of the key basis (all intensities): ``n_X`` for BB84 (the
key is the X basis in Lim et al.), ``n_Z`` announced events for MDI-QKD. Filling it takes
``N`` pulses (pulse pairs), ``N = n / (q^2 sum_k p_k R_k)``; the key per pulse is ``l / N``.

Differences from the asymptotic reports
---------------------------------------
The asymptotic rates of :mod:`~qkdcircuits.links.rates` count secret bits per *signal* pulse
(GLLP with sifting factor ``q``; decoy pulses are free in the asymptotic limit). The finite-key
rate ``l / N`` counts every pulse sent, decoys and the test basis included, and distils the key
from the detections of all three intensities in the key basis, as the finite-key papers do.
The vacuum-weak decoy method is a special case of the three-intensity analysis (``mu3 = 0``),
so a finite-key BB84 evaluation uses the ``"two-decoy"`` intensities ``(mu, nu, omega)`` and an
MDI-QKD one the ``"three-intensity"`` ones.

Afterpulsing (Lim et al.'s ``p_ap``) is not part of the link parameters; it is 0 here (the
protocol functions take it).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from qkdcircuits.links import finite_key_bb84, finite_key_mdi
from qkdcircuits.links.decoy import (
    bb84_error_gain,
    bb84_gain,
    bb84_single_photon,
    mdi_gains,
    mdi_single_photon,
)
from qkdcircuits.links.evaluation import check_flag, check_params
from qkdcircuits.links.finite_key import (
    DEFAULT_EPS_COR,
    DEFAULT_EPS_SEC,
    DEFAULT_SAMPLING_BOUND,
    binary_entropy_clipped,
    check_block,
    check_sampling,
    check_security,
    maximise_box,
    open_unit_array,
    optimise_protocol,
)
from qkdcircuits.links.params import INTENSITY_NAMES, BB84DecoyParams, LinkParams, MDIParams

__all__ = [
    "DEFAULT_BASIS_PROB",
    "FINITE_KEY_ANALYSES",
    "FINITE_KEY_DECOY",
    "FiniteKeyLimit",
    "FiniteKeyLinks",
    "evaluate_finite_key",
    "finite_key_limit",
]

FINITE_KEY_ANALYSES: dict[str, str] = {
    "lim2014": "decoy-state BB84 with three intensities: C. C. W. Lim, M. Curty, N. Walenta, "
    "F. Xu, H. Zbinden, Phys. Rev. A 89, 022307 (2014), Eqs. (1)-(5)",
    "curty2014": "three-intensity MDI-QKD with Chernoff parameter estimation, in the framework "
    "of M. Curty, F. Xu, W. Cui, C. C. W. Lim, K. Tamaki, H.-K. Lo, Nat. Commun. 5, 3732 (2014)",
}
"""The finite-key analyses a report can name, with the paper each follows."""

ANALYSIS_OF_PROTOCOL: dict[str, str] = {"bb84-decoy": "lim2014", "mdi": "curty2014"}
"""The finite-key analysis of each protocol."""

FINITE_KEY_DECOY: dict[str, str] = {"bb84-decoy": "two-decoy", "mdi": "three-intensity"}
"""The decoy method (three intensities) of each protocol's finite-key analysis."""

DEFAULT_BASIS_PROB = 0.5
"""Key-basis probability of a finite-key evaluation that is neither given one nor optimised."""


@dataclass(frozen=True, eq=False)
class FiniteKeyLinks:
    """Finite-key results of ``P`` links of one protocol at one block size.

    Attributes
    ----------
    protocol : {"bb84-decoy", "mdi"}
    analysis : str
        Key of :data:`FINITE_KEY_ANALYSES` (``"lim2014"`` for BB84, ``"curty2014"`` for MDI).
    sampling_bound : {"serfling", "lim2014"}
        Phase-error sampling bound.
    block_size : float
        Key-basis detections per block (``n_X`` / ``n_Z``).
    eps_sec, eps_cor : float
        Secrecy and correctness parameters.
    optimized : bool
        Whether the settings were optimised.
    params : list of BB84DecoyParams or MDIParams
        The links, with the intensities and probabilities used (the optimum's when optimised).
    basis_prob : numpy.ndarray
        Key-basis probability per link, shape ``(P,)``.
    intensities, intensity_probs : dict of str to numpy.ndarray
        Per link, keyed like a report's ``intensities`` (``"mu"``, ``"nu"``, ``"omega"`` or
        ``"mu_a"`` ... ``"omega_b"``): photons per pulse and probabilities.
    key : BB84FiniteKey or MDIFiniteKey
        Every bound, arrays of shape ``(P,)``; ``key.pulses`` is ``N`` per block.

    Examples
    --------
    >>> from qkdcircuits import BB84DecoyParams
    >>> fk = evaluate_finite_key([BB84DecoyParams.gys(length_km=25.0)], block_size=1e8)
    >>> fk.analysis, f"{fk.key_rate_per_pulse[0]:.3e}"
    ('lim2014', '1.904e-04')
    """

    protocol: str
    analysis: str
    sampling_bound: str
    block_size: float
    eps_sec: float
    eps_cor: float
    optimized: bool
    params: list[LinkParams]
    basis_prob: np.ndarray
    intensities: dict[str, np.ndarray]
    intensity_probs: dict[str, np.ndarray]
    key: Any

    @property
    def key_length(self) -> np.ndarray:
        """Certified key bits per block (rounded down, >= 0), shape ``(P,)``."""
        return np.asarray(self.key.key_length, dtype=float)

    @property
    def pulses(self) -> np.ndarray:
        """Pulses (pulse pairs for MDI-QKD) that fill one block, shape ``(P,)``."""
        return np.asarray(self.key.pulses, dtype=float)

    @property
    def key_rate_per_pulse(self) -> np.ndarray:
        """``l / N``: secret bits per pulse (pair) sent, shape ``(P,)``."""
        return self.key_length / self.pulses

    @property
    def single_photon_yield_lower(self) -> np.ndarray:
        """Certified single-photon yield: ``s_1 / (N q^2 tau_1)`` (``tau_1^A tau_1^B`` for MDI).

        The number of single-photon (pair) detections in the key block is
        ``N q^2 tau_1 Y_1`` with ``tau_1 = sum_k p_k mu_k e^{-mu_k}``, so this is the yield the
        finite-key bound ``s_1`` certifies.
        """
        q2 = self.pulses * self.basis_prob**2
        if self.protocol == "bb84-decoy":
            return np.asarray(self.key.single_x_lower) / (q2 * self._tau1(""))
        return np.asarray(self.key.single_z_lower) / (q2 * self._tau1("_a") * self._tau1("_b"))

    @property
    def single_photon_error_upper(self) -> np.ndarray:
        """Certified phase-error rate of the single photons (pairs) of the key, ``phi``."""
        return np.asarray(self.key.phase_error_upper, dtype=float)

    def _tau1(self, suffix: str) -> np.ndarray:
        return sum(
            self.intensity_probs[name + suffix]
            * self.intensities[name + suffix]
            * np.exp(-self.intensities[name + suffix])
            for name in INTENSITY_NAMES
        )


def _with_settings(params: LinkParams, mu: Sequence[float], p: Sequence[float]) -> LinkParams:
    """``params`` with every source's intensities and probabilities replaced."""
    changes = {
        "signal_intensity": mu[0],
        "decoy_intensity": mu[1],
        "weak_decoy_intensity": mu[2],
        "signal_prob": p[0],
        "decoy_prob": p[1],
        # the remainder, so that the three sum to 1 to the last bit
        "weak_decoy_prob": 1.0 - p[0] - p[1],
    }
    if isinstance(params, BB84DecoyParams):
        return dataclasses.replace(params, source=dataclasses.replace(params.source, **changes))
    return dataclasses.replace(
        params,
        source_a=dataclasses.replace(params.source_a, **changes),
        source_b=dataclasses.replace(params.source_b, **changes),
    )


def _sources(params: LinkParams) -> dict[str, Any]:
    if isinstance(params, BB84DecoyParams):
        return {"": params.source}
    return {"_a": params.source_a, "_b": params.source_b}


def _settings_of(items: list[LinkParams]) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    intensities: dict[str, np.ndarray] = {}
    probs: dict[str, np.ndarray] = {}
    for suffix in _sources(items[0]):
        for k, name in enumerate(INTENSITY_NAMES):
            intensities[name + suffix] = np.array(
                [_sources(p)[suffix].intensities[k] for p in items]
            )
            probs[name + suffix] = np.array([_sources(p)[suffix].probabilities[k] for p in items])
    return intensities, probs


def _stack(table: dict[str, np.ndarray], suffix: str) -> np.ndarray:
    return np.stack([table[name + suffix] for name in INTENSITY_NAMES])


def _link_columns(items: list[LinkParams]) -> tuple[tuple[np.ndarray, ...], np.ndarray]:
    """Collect the expected-count inputs of each link, and ``f``.

    BB84: ``(eta, Y0, e_d)``; MDI: ``(eta_a, eta_b, p_d, e_d)``.
    """
    if isinstance(items[0], BB84DecoyParams):
        columns = [(p.transmittance, p.background_yield, p.misalignment_prob) for p in items]
    else:
        columns = [
            (p.transmittance_a, p.transmittance_b, p.detector.dark_count_prob, p.misalignment_prob)
            for p in items
        ]
    f = np.array([p.ec_inefficiency for p in items])
    return tuple(np.array(c, dtype=float) for c in zip(*columns, strict=True)), f


def _fixed_key(
    items: list[LinkParams], q: np.ndarray, block: float, security: dict[str, Any]
) -> Any:
    """Compute the finite key of each link at its own settings."""
    intensities, probs = _settings_of(items)
    columns, f = _link_columns(items)
    if isinstance(items[0], BB84DecoyParams):
        eta, y0, e_d = columns
        settings = {"intensities": _stack(intensities, ""), "intensity_probs": _stack(probs, "")}
        link = {"transmittance": eta, "background_yield": y0, "misalignment_prob": e_d}
        counts_of = finite_key_bb84.bb84_expected_counts
        key_of = finite_key_bb84.bb84_finite_key_length
    else:
        eta_a, eta_b, p_d, e_d = columns
        settings = {
            "intensities": _stack(intensities, "_a"),
            "intensity_probs": _stack(probs, "_a"),
            "intensities_b": _stack(intensities, "_b"),
            "intensity_probs_b": _stack(probs, "_b"),
        }
        link = {
            "transmittance_a": eta_a,
            "transmittance_b": eta_b,
            "dark_count_prob": p_d,
            "misalignment_prob": e_d,
        }
        counts_of = finite_key_mdi.mdi_expected_counts
        key_of = finite_key_mdi.mdi_finite_key_length
    counts = counts_of(**link, **settings, basis_prob=q, block_size=block)._asdict()
    pulses = counts.pop("pulses")
    return key_of(**counts, **settings, ec_inefficiency=f, pulses=pulses, **security)


def _weakest(params: LinkParams) -> float:
    if isinstance(params, MDIParams):
        if params.source_a.weak_decoy_intensity != params.source_b.weak_decoy_intensity:
            raise ValueError(
                "optimize=True gives both MDI-QKD parties the same settings, so their weakest "
                f"intensities must agree: source_a.weak_decoy_intensity="
                f"{params.source_a.weak_decoy_intensity!r}, source_b.weak_decoy_intensity="
                f"{params.source_b.weak_decoy_intensity!r}"
            )
        return params.source_a.weak_decoy_intensity
    return params.source.weak_decoy_intensity


def _optimised(
    items: list[LinkParams], block: float, eps: tuple[float, float], sampling_bound: str
) -> list[tuple[float, np.ndarray, np.ndarray]]:
    """``(q, mu, p)`` per link at the optimum, one vectorised search per weakest intensity."""
    bb84 = isinstance(items[0], BB84DecoyParams)
    module, result = (
        (finite_key_bb84, finite_key_bb84.BB84FiniteKey)
        if bb84
        else (finite_key_mdi, finite_key_mdi.MDIFiniteKey)
    )
    weakest = np.array([_weakest(p) for p in items])
    out: list[Any] = [None] * len(items)
    for weak in np.unique(weakest):
        index = np.flatnonzero(weakest == weak)
        group = [items[k] for k in index]
        columns, f = _link_columns(group)
        link = (*columns, 0.0) if bb84 else columns  # no afterpulses in the link parameters
        key_at = module.model_key(link, f, float(weak), block, eps[1], sampling_bound)
        lengths = np.array([p.length_km for p in group])
        best = optimise_protocol(key_at, lengths, float(weak), block, *eps, None, result)
        for j, k in enumerate(index):
            out[k] = (
                float(best.basis_prob[j]),
                best.intensities[:, j].copy(),
                best.intensity_probs[:, j].copy(),
            )
    return out


def _check_links(params: Any) -> list[LinkParams]:
    if isinstance(params, str) or not isinstance(params, Sequence) or not params:
        raise ValueError(f"params={params!r} must be a non-empty sequence of link parameters")
    items = [check_params(p, f"params[{k}]") for k, p in enumerate(params)]
    mixed = [k for k, p in enumerate(items) if p.protocol != items[0].protocol]
    if mixed:
        raise ValueError(
            f"params mixes protocols: params[0] is {items[0].protocol!r}, params[{mixed[0]}] "
            f"is {items[mixed[0]].protocol!r}; evaluate each protocol separately"
        )
    return items


def evaluate_finite_key(
    params: Sequence[LinkParams],
    *,
    block_size: float,
    basis_prob: float | None = None,
    optimize: bool = False,
    eps_sec: float = DEFAULT_EPS_SEC,
    eps_cor: float = DEFAULT_EPS_COR,
    sampling_bound: str = DEFAULT_SAMPLING_BOUND,
) -> FiniteKeyLinks:
    r"""Composable finite-key length per block of many links of one protocol, from their models.

    Each link's expected counts for one block of ``block_size`` key-basis detections
    (:func:`~qkdcircuits.links.finite_key_bb84.bb84_expected_counts` /
    :func:`~qkdcircuits.links.finite_key_mdi.mdi_expected_counts`) give its certified key
    length (:func:`~qkdcircuits.links.finite_key_bb84.bb84_finite_key_length` /
    :func:`~qkdcircuits.links.finite_key_mdi.mdi_finite_key_length`, with the link's
    ``ec_inefficiency``). Without ``optimize`` the settings are the sources' intensities and
    probabilities and ``basis_prob``; with it they maximise ``l / N`` per link
    (:func:`~qkdcircuits.links.finite_key_bb84.optimize_bb84_finite_key` /
    :func:`~qkdcircuits.links.finite_key_mdi.optimize_mdi_finite_key`), in one vectorised
    search for all links that share their weakest intensity.

    Parameters
    ----------
    params : sequence of BB84DecoyParams or of MDIParams
        The links (one protocol), each at its own length.
    block_size : float
        Key-basis detections per block (``n_X`` for BB84, ``n_Z`` for MDI-QKD), > 0.
    basis_prob : float, optional
        Probability of the key basis (both parties), in (0, 1); default
        :data:`DEFAULT_BASIS_PROB`. Not with ``optimize``.
    optimize : bool
        Optimise basis probability, intensities (the weakest excepted) and probabilities.
    eps_sec, eps_cor : float
        Secrecy and correctness parameters, in (0, 1).
    sampling_bound : {"serfling", "lim2014"}
        Phase-error sampling bound; the default, Serfling's, holds for any number of errors,
        Lim et al.'s ``gamma`` does not when few errors are observed
        (:data:`~qkdcircuits.links.finite_key.DEFAULT_SAMPLING_BOUND`).

    Returns
    -------
    FiniteKeyLinks

    Raises
    ------
    ValueError
        For an empty or mixed list, a value out of range, intensities that violate
        ``mu > nu + omega``, ``nu > omega``, ``basis_prob`` with ``optimize``, or (optimised
        MDI-QKD) parties with different weakest intensities.
    TypeError
        For a list entry that is not a parameter object, or ``optimize`` not a bool.

    References
    ----------
    C. C. W. Lim, M. Curty, N. Walenta, F. Xu, H. Zbinden, Phys. Rev. A 89, 022307 (2014);
    M. Curty, F. Xu, W. Cui, C. C. W. Lim, K. Tamaki, H.-K. Lo, Nat. Commun. 5, 3732 (2014).

    Examples
    --------
    >>> from qkdcircuits import MDIParams
    >>> links = [MDIParams.xu2013(length_km=L) for L in (10.0, 60.0)]
    >>> fk = evaluate_finite_key(links, block_size=1e10, optimize=True)
    >>> [f"{r:.2e}" for r in fk.key_rate_per_pulse], fk.sampling_bound
    (['5.94e-05', '5.24e-06'], 'serfling')
    """
    items = _check_links(params)
    protocol = items[0].protocol
    optimize = check_flag(optimize, "optimize")
    block = check_block(block_size)
    if not math.isfinite(block):
        raise ValueError(f"block_size={block_size!r} must be finite")
    eps_s, eps_c, _ = check_security(eps_sec, eps_cor, None)
    for name, value in (("eps_sec", eps_s), ("eps_cor", eps_c)):
        if np.ndim(value) != 0:
            raise ValueError(f"{name}={value!r} must be one number")
    eps = (float(eps_s), float(eps_c))
    bound = check_sampling(sampling_bound)
    if optimize:
        if basis_prob is not None:
            raise ValueError(
                f"basis_prob={basis_prob!r} with optimize=True: the optimiser chooses it"
            )
        settings = _optimised(items, block, eps, bound)
        items = [_with_settings(p, mu, pr) for p, (_, mu, pr) in zip(items, settings, strict=True)]
        q = np.array([s[0] for s in settings])
    else:
        value = DEFAULT_BASIS_PROB if basis_prob is None else basis_prob
        if np.ndim(value) != 0:
            raise ValueError(f"basis_prob={basis_prob!r} must be one number")
        q = np.full(len(items), float(open_unit_array(value, "basis_prob")))
    security = {"eps_sec": eps[0], "eps_cor": eps[1], "sampling_bound": bound}
    key = _fixed_key(items, q, block, security)
    intensities, probs = _settings_of(items)
    return FiniteKeyLinks(
        protocol=protocol,
        analysis=ANALYSIS_OF_PROTOCOL[protocol],
        sampling_bound=bound,
        block_size=block,
        eps_sec=eps[0],
        eps_cor=eps[1],
        optimized=optimize,
        params=items,
        basis_prob=q,
        intensities=intensities,
        intensity_probs=probs,
        key=key,
    )


LIMIT_INTENSITY_RANGE = (1e-3, 1.5)
"""Signal intensities (photons per pulse) searched by :func:`finite_key_limit`."""


class FiniteKeyLimit(NamedTuple):
    """The key per pulse of :func:`finite_key_limit` and the intensity that attains it.

    Attributes
    ----------
    key_rate_per_pulse : numpy.ndarray
        Secret bits per pulse (pair) sent, clipped at 0, shape ``(P,)``.
    intensity : numpy.ndarray
        The signal intensity (both parties for MDI-QKD), photons per pulse, shape ``(P,)``.
    """

    key_rate_per_pulse: np.ndarray
    intensity: np.ndarray


def _limit_rate(items: list[LinkParams]) -> Any:
    """``mu -> rate`` of every link with perfect parameter estimation (see finite_key_limit)."""
    columns, f = _link_columns(items)
    if isinstance(items[0], BB84DecoyParams):
        eta, y0, e_d = columns
        y1, e1 = bb84_single_photon(transmittance=eta, background_yield=y0, misalignment_prob=e_d)
        secret1 = y1 * (1.0 - binary_entropy_clipped(e1))

        def rate(mu: np.ndarray) -> np.ndarray:
            gain = np.asarray(bb84_gain(intensity=mu, transmittance=eta, background_yield=y0))
            errors = bb84_error_gain(
                intensity=mu, transmittance=eta, background_yield=y0, misalignment_prob=e_d
            )
            with np.errstate(invalid="ignore", divide="ignore"):
                qber = np.where(gain > 0, errors / np.where(gain > 0, gain, 1.0), 0.0)
            leak = f * gain * binary_entropy_clipped(qber)
            return np.exp(-mu) * (y0 + mu * secret1) - leak

        return rate
    eta_a, eta_b, p_d, e_d = columns
    link = {
        "transmittance_a": eta_a,
        "transmittance_b": eta_b,
        "dark_count_prob": p_d,
        "misalignment_prob": e_d,
    }
    y11, e11 = mdi_single_photon(**link)
    secret11 = y11 * (1.0 - binary_entropy_clipped(e11))

    def rate(mu: np.ndarray) -> np.ndarray:
        gains = mdi_gains(intensity_a=mu, intensity_b=mu, **link)
        leak = f * np.asarray(gains.gain_z) * binary_entropy_clipped(gains.qber_z)
        return mu * mu * np.exp(-2.0 * mu) * secret11 - leak

    return rate


def finite_key_limit(params: Sequence[LinkParams]) -> FiniteKeyLimit:
    r"""Compute the key per pulse that each link's finite-key rates approach and never exceed.

    As the block grows, every finite-size term vanishes, the optimal probabilities of the test
    basis and of the decoys go to 0 and the decoy estimates become exact, so the optimised
    finite-key rate per pulse tends to the rate of a protocol in which every pulse is a
    key-basis signal and the single-photon (pair) quantities are known:

    * decoy BB84 (Lim et al. 2014, whose key counts the vacuum detections ``s_{X,0}``):
      ``R(mu) = Y0 e^{-mu} + mu e^{-mu} Y1 [1 - h(e1)] - f Q_mu h(E_mu)``, the GLLP rate of
      :func:`~qkdcircuits.links.rates.gllp_key_rate` with sifting factor 1 plus the vacuum term
      (Lo, Ma, Chen, PRL 94, 230504 (2005));
    * MDI-QKD (single-photon pairs only, both parties at the same intensity, as the finite-key
      optimiser sets them): ``R(mu) = mu^2 e^{-2 mu} Y11 [1 - h(e11)] - f Q_Z h(E_Z)``
      (Xu, Curty, Qi, Lo, New J. Phys. 15, 113007 (2013), Eq. (1), sifting factor 1),

    each maximised over ``mu`` in :data:`LIMIT_INTENSITY_RANGE` (closed forms of
    :mod:`~qkdcircuits.links.decoy`). It bounds every finite-key rate of the link, optimised or
    not: a finite key never exceeds the key with perfect parameter estimation at its own
    settings, which is an average over its intensities of ``R`` (the leakage of the whole block
    is at least the average leakage, ``h`` being concave), times ``q^2 <= 1``.

    Parameters
    ----------
    params : sequence of BB84DecoyParams or of MDIParams
        The links (one protocol), each at its own length.

    Returns
    -------
    FiniteKeyLimit

    Raises
    ------
    ValueError
        For an empty or mixed list.
    TypeError
        For an entry that is not a parameter object.

    References
    ----------
    C. C. W. Lim, M. Curty, N. Walenta, F. Xu, H. Zbinden, Phys. Rev. A 89, 022307 (2014);
    H.-K. Lo, X. Ma, K. Chen, Phys. Rev. Lett. 94, 230504 (2005); X. Ma, B. Qi, Y. Zhao,
    H.-K. Lo, Phys. Rev. A 72, 012326 (2005); F. Xu et al., New J. Phys. 15, 113007 (2013).

    Examples
    --------
    >>> from qkdcircuits import BB84DecoyParams
    >>> limit = finite_key_limit([BB84DecoyParams.gys(length_km=L) for L in (0.0, 140.0)])
    >>> [f"{r:.3e}" for r in limit.key_rate_per_pulse]
    ['5.111e-03', '1.650e-06']
    """
    items = _check_links(params)
    rate = _limit_rate(items)
    low, high = (math.log(v) for v in LIMIT_INTENSITY_RANGE)
    x, best = maximise_box(
        lambda x: rate(np.exp(x[0])),
        np.array([low]),
        np.array([high]),
        (len(items),),
        starts=32,
        keep=2,
        polish=1,
        simplex_iterations=30,
    )
    return FiniteKeyLimit(np.maximum(best, 0.0), np.exp(x[0]))
