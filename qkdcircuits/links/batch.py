"""Many links at once: :class:`LinkArray` (struct of arrays) and :func:`evaluate_links`.

The network layer evaluates every link each time slice, so it must never loop over links in
Python. A :class:`LinkArray` holds the parameters of ``n`` links of one protocol as read-only
float64 arrays of shape ``(n,)``, one per column of
:data:`~qkdcircuits.links.params.COLUMNS` (the fields of the parameter dataclasses, flattened:
``length_km``, ``loss_db_per_km``, ``detector_efficiency``, ``signal_intensity``, ... and for
MDI-QKD per-arm ``length_a_km``, ``loss_a_db_per_km``, ``extra_loss_a_db``,
``signal_intensity_a``, ...). :meth:`LinkArray.replace` swaps in fluctuating quantities (extra
loss, detector efficiency, repetition rate, signal intensity) with vectorised validation, and
:func:`evaluate_links` computes every link's gains, QBERs, decoy bounds and key rates in one call
of the kernel that :func:`~qkdcircuits.links.evaluation.evaluate_link` uses, optionally with
each link's optimal signal intensities (:mod:`qkdcircuits.links.optimize`).

Examples
--------
>>> from qkdcircuits import BB84DecoyParams
>>> links = LinkArray.from_params([BB84DecoyParams.gys(length_km=L) for L in (0.0, 50.0)])
>>> ev = evaluate_links(links)
>>> [f"{r:.4e}" for r in ev.key_rate_per_pulse]
['2.5546e-03', '2.2260e-04']
>>> hot = links.replace(extra_loss_db=[3.0, 3.0])
>>> bool(np.all(evaluate_links(hot).key_rate_per_pulse < ev.key_rate_per_pulse))
True
"""

from __future__ import annotations

import math
import types
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from qkdcircuits._validation import real_array
from qkdcircuits.links.evaluation import (
    LinkEvaluation,
    check_decoy,
    check_flag,
    check_params,
    evaluate_columns,
)
from qkdcircuits.links.optimize import optimal_signal
from qkdcircuits.links.params import (
    COLUMNS,
    PROBABILITY_SUM_TOLERANCE,
    PROTOCOLS,
    BB84DecoyParams,
    LinkParams,
    MDIParams,
    params_from_columns,
    params_to_columns,
)

__all__ = ["LinkArray", "evaluate_links"]


# (low, high, low inclusive, high inclusive, nan allowed) of each kind of column.
_RULES: dict[str, tuple[float, float, bool, bool, bool]] = {
    "non-negative": (0.0, math.inf, True, False, False),
    "positive": (0.0, math.inf, False, False, False),
    "probability": (0.0, 1.0, True, True, False),
    "efficiency": (0.0, 1.0, False, True, False),
    "dark": (0.0, 1.0, True, False, False),
    "dead-time": (0.0, math.inf, True, False, True),
    "misalignment": (0.0, 0.5, True, True, False),
    "inefficiency": (1.0, math.inf, True, False, False),
    "sifting": (0.0, 1.0, False, True, False),
}


def _rule(column: str) -> str:
    exact = {
        "detector_efficiency": "efficiency",
        "dark_count_prob": "dark",
        "dead_time_s": "dead-time",
        "misalignment_prob": "misalignment",
        "ec_inefficiency": "inefficiency",
        "sifting_factor": "sifting",
        "repetition_rate_hz": "positive",
    }
    if column in exact:
        return exact[column]
    if column.startswith("signal_intensity"):
        return "positive"
    if column.endswith(("_prob", "_prob_a", "_prob_b")):
        return "probability"
    return "non-negative"  # lengths, losses, extra losses, decoy intensities


def _check_column(name: str, values: Any, n: int | None) -> np.ndarray:
    array = np.array(real_array(values, name))  # a copy: the caller keeps its own array
    if array.ndim > 1:
        raise ValueError(f"{name} must be one-dimensional (one value per link), got {array.shape}")
    if n is not None:
        if array.ndim == 0:
            array = np.full(n, float(array))
        elif array.shape != (n,):
            raise ValueError(f"{name} has {array.shape[0]} values for {n} links")
    low, high, low_in, high_in, nan_ok = _RULES[_rule(name)]
    finite_or_nan = np.isfinite(array) | (np.isnan(array) if nan_ok else False)
    inside = (
        (array >= low if low_in else array > low) & (array <= high if high_in else array < high)
    ) | (np.isnan(array) if nan_ok else False)
    bad = ~(finite_or_nan & inside)
    if np.any(bad):
        k = int(np.argmax(np.atleast_1d(bad)))
        value = float(np.atleast_1d(array)[k])
        interval = f"{'[' if low_in else '('}{low:g}, {high:g}{']' if high_in else ')'}"
        extra = " or nan (no dead time)" if nan_ok else ""
        raise ValueError(f"{name}[{k}]={value!r} not in {interval}{extra}")
    array.setflags(write=False)
    return array


def _check_sources(protocol: str, columns: Mapping[str, np.ndarray]) -> None:
    for suffix in ("",) if protocol == "bb84-decoy" else ("_a", "_b"):
        names = [f"{kind}_prob{suffix}" for kind in ("signal", "decoy", "weak_decoy")]
        total = columns[names[0]] + columns[names[1]] + columns[names[2]]
        bad = np.abs(total - 1.0) > PROBABILITY_SUM_TOLERANCE
        if np.any(bad):
            k = int(np.argmax(bad))
            raise ValueError(f"{' + '.join(names)} = {float(total[k])!r} must equal 1 (link {k})")
        zero = columns[names[0]] == 0.0
        if np.any(zero):
            raise ValueError(f"{names[0]}[{int(np.argmax(zero))}]=0.0 must be > 0")


class LinkArray:
    """Parameters of ``n`` links of one protocol as float64 arrays of shape ``(n,)``.

    A struct of arrays: one read-only array per column of
    :data:`~qkdcircuits.links.params.COLUMNS` ``[protocol]``, read as attributes
    (``links.detector_efficiency``). The values are validated like the parameter dataclasses
    (a bad entry raises ``ValueError`` naming the column, the link index and the value), and the
    arrays are copies, so a :class:`LinkArray` never changes; :meth:`replace` returns a new one.

    Parameters
    ----------
    protocol : {"bb84-decoy", "mdi"}
        The protocol of every link.
    columns : mapping of str to array_like
        Every column of the protocol (units in the names: km, dB, dB/km, s, Hz; intensities in
        photons per pulse; ``dead_time_s`` is ``nan`` for a detector without dead time). Scalars
        are broadcast to the length of the arrays.

    Raises
    ------
    ValueError
        For an unknown protocol, missing or unknown columns, arrays of different lengths or an
        invalid value.
    TypeError
        For non-numeric values.

    Examples
    --------
    >>> from qkdcircuits import MDIParams
    >>> links = LinkArray.from_params([MDIParams.xu2013(length_km=L) for L in (10.0, 20.0)])
    >>> len(links), links.length_km.tolist(), links.length_a_km.tolist()
    (2, [10.0, 20.0], [5.0, 10.0])
    >>> links.params(1) == MDIParams.xu2013(length_km=20.0)
    True
    """

    __slots__ = ("_columns", "_n", "_protocol")

    def __init__(self, protocol: str, columns: Mapping[str, Any]) -> None:
        if not isinstance(protocol, str) or protocol not in PROTOCOLS:
            raise ValueError(f"protocol={protocol!r} must be one of {PROTOCOLS}")
        if not isinstance(columns, Mapping):
            raise TypeError(f"columns={columns!r} must be a mapping of column name to array")
        expected = COLUMNS[protocol]
        unknown = sorted(set(columns) - set(expected))
        missing = [name for name in expected if name not in columns]
        if unknown or missing:
            raise ValueError(
                f"columns for protocol {protocol!r}: unknown {unknown}, missing {missing}"
            )
        sizes = {np.shape(columns[name]) for name in expected} - {()}
        if len(sizes) > 1:
            raise ValueError(f"columns have different shapes {sorted(sizes)}")
        n = next(iter(sizes))[0] if sizes else 1
        checked = {name: _check_column(name, columns[name], n) for name in expected}
        _check_sources(protocol, checked)
        self._protocol = protocol
        self._n = n
        self._columns = types.MappingProxyType(checked)

    @classmethod
    def from_params(cls, params: Sequence[LinkParams]) -> LinkArray:
        """Stack parameter objects of one protocol into columns.

        Parameters
        ----------
        params : sequence of BB84DecoyParams or MDIParams
            At least one link, all of the same protocol.

        Returns
        -------
        LinkArray

        Raises
        ------
        ValueError
            For an empty sequence or mixed protocols.
        TypeError
            For an element that is not a parameter object.

        Examples
        --------
        >>> from qkdcircuits import BB84DecoyParams
        >>> LinkArray.from_params([BB84DecoyParams.gys()] * 3).signal_intensity.tolist()
        [0.48, 0.48, 0.48]
        """
        if isinstance(params, BB84DecoyParams | MDIParams) or not isinstance(params, Sequence):
            raise TypeError(f"params={params!r} must be a sequence of parameter objects")
        if len(params) == 0:
            raise ValueError("params is empty: a LinkArray needs at least one link")
        items = [check_params(p, f"params[{k}]") for k, p in enumerate(params)]
        protocols = {p.protocol for p in items}
        if len(protocols) > 1:
            raise ValueError(
                f"params mix protocols {sorted(protocols)}; one LinkArray per protocol"
            )
        rows = [params_to_columns(p) for p in items]
        protocol = items[0].protocol
        return cls(protocol, {name: [row[name] for row in rows] for name in COLUMNS[protocol]})

    @property
    def protocol(self) -> str:
        """``"bb84-decoy"`` or ``"mdi"``."""
        return self._protocol

    @property
    def columns(self) -> Mapping[str, np.ndarray]:
        """Read-only mapping of column name to read-only array."""
        return self._columns

    @property
    def length_km(self) -> np.ndarray:
        """Total Alice-to-Bob length in km (MDI-QKD: ``length_a_km + length_b_km``)."""
        if self._protocol == "bb84-decoy":
            return self._columns["length_km"]
        return self._columns["length_a_km"] + self._columns["length_b_km"]

    def __getattr__(self, name: str) -> np.ndarray:
        columns = object.__getattribute__(self, "_columns")
        if name in columns:
            return columns[name]
        raise AttributeError(
            f"LinkArray ({object.__getattribute__(self, '_protocol')}) has no column {name!r}"
        )

    def __len__(self) -> int:
        return self._n

    def __repr__(self) -> str:
        return f"LinkArray(protocol={self._protocol!r}, n={self._n})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, LinkArray):
            return NotImplemented
        return (
            self._protocol == other._protocol
            and self._n == other._n
            and all(
                np.array_equal(self._columns[k], other._columns[k], equal_nan=True)
                for k in self._columns
            )
        )

    __hash__ = None  # type: ignore[assignment]

    def __getitem__(self, index: Any) -> LinkArray:
        """Return a subset: a slice, index array or boolean mask (``params(i)`` for one link)."""
        if isinstance(index, int | np.integer):
            raise TypeError(f"LinkArray[{index!r}]: use .params({index!r}) for one link")
        return LinkArray(self._protocol, {k: v[index] for k, v in self._columns.items()})

    def params(self, i: int) -> LinkParams:
        """Return the parameter dataclass of link ``i``.

        Parameters
        ----------
        i : int
            Link index (negative indices count from the end).

        Returns
        -------
        BB84DecoyParams or MDIParams

        Raises
        ------
        IndexError
            For an index out of range.

        Examples
        --------
        >>> from qkdcircuits import BB84DecoyParams
        >>> p = BB84DecoyParams.gys(length_km=7.0)
        >>> LinkArray.from_params([p]).params(0) == p
        True
        """
        if isinstance(i, bool) or not isinstance(i, int | np.integer):
            raise TypeError(f"i={i!r} must be an integer")
        if not -self._n <= i < self._n:
            raise IndexError(f"link {i} out of range for {self._n} links")
        return params_from_columns(
            self._protocol, {k: float(v[i]) for k, v in self._columns.items()}
        )

    def to_params(self) -> list[LinkParams]:
        """Every link as a parameter dataclass (``from_params`` inverts it).

        Returns
        -------
        list of BB84DecoyParams or MDIParams

        Examples
        --------
        >>> from qkdcircuits import MDIParams
        >>> ps = [MDIParams.xu2013(length_km=5.0)]
        >>> LinkArray.from_params(ps).to_params() == ps
        True
        """
        return [self.params(i) for i in range(self._n)]

    def replace(self, **arrays: Any) -> LinkArray:
        """Return a copy with some columns replaced (validated), e.g. each time slice.

        Parameters
        ----------
        **arrays : array_like or float
            New values of columns (shape ``(n,)``, or a scalar for every link), e.g.
            ``extra_loss_db``, ``detector_efficiency``, ``repetition_rate_hz``,
            ``signal_intensity`` (``_a``/``_b`` for MDI-QKD).

        Returns
        -------
        LinkArray

        Raises
        ------
        ValueError
            For an unknown column, a wrong length or an invalid value.

        Examples
        --------
        >>> from qkdcircuits import BB84DecoyParams
        >>> links = LinkArray.from_params([BB84DecoyParams.gys()] * 2)
        >>> links.replace(detector_efficiency=[0.1, 0.2]).detector_efficiency.tolist()
        [0.1, 0.2]
        """
        unknown = sorted(set(arrays) - set(self._columns))
        if unknown:
            raise ValueError(
                f"unknown columns {unknown} for protocol {self._protocol!r}; valid: "
                f"{', '.join(self._columns)}"
            )
        changed = {name: _check_column(name, value, self._n) for name, value in arrays.items()}
        new = object.__new__(LinkArray)
        columns = {**self._columns, **changed}
        if any(name.endswith(("_prob", "_prob_a", "_prob_b")) for name in changed):
            _check_sources(self._protocol, columns)
        new._protocol, new._n = self._protocol, self._n
        new._columns = types.MappingProxyType(columns)
        return new


def evaluate_links(
    links: LinkArray, *, decoy: str = "infinite", optimize: bool = False
) -> LinkEvaluation:
    """Gains, QBERs, decoy bounds and key rates of every link, in one vectorised call.

    The same kernel as :func:`~qkdcircuits.links.evaluation.evaluate_link`
    (:func:`~qkdcircuits.links.evaluation.evaluate_columns`), applied to the columns of
    ``links``.

    Parameters
    ----------
    links : LinkArray
        ``n`` links of one protocol.
    decoy : str
        Decoy method (:data:`~qkdcircuits.links.evaluation.DECOY_METHODS`).
    optimize : bool
        Replace each link's signal intensities by the ones that maximise its key rate
        (vectorised over all links, each with its own parameters; symmetric MDI-QKD links keep
        ``mu_a = mu_b``). The optimal values are in ``intensities`` (``"mu"`` or
        ``"mu_a"``/``"mu_b"``).

    Returns
    -------
    LinkEvaluation
        Arrays of shape ``(n,)``: ``gain_z``, ``qber_z``, ``gain_x``, ``qber_x`` (signal),
        every gain and QBER, ``key_rate_unclipped``, ``key_rate_per_pulse``, ``key_rate_bps``
        (with dead time), the true and certified single-photon values, ``intensities``.

    Raises
    ------
    ValueError
        For an unsupported decoy method or decoy intensities it cannot use (naming the link).
    TypeError
        If ``links`` is not a :class:`LinkArray` or ``optimize`` not a bool.

    References
    ----------
    See :mod:`qkdcircuits.links.decoy` and :mod:`qkdcircuits.links.rates`.

    Examples
    --------
    >>> from qkdcircuits import MDIParams
    >>> links = LinkArray.from_params(
    ...     [MDIParams.xu2013(length_km=100.0, relay_fraction=f) for f in (0.5, 0.2)])
    >>> ev = evaluate_links(links, optimize=True)
    >>> [(round(float(a), 3), round(float(b), 3))
    ...  for a, b in zip(ev.intensities["mu_a"], ev.intensities["mu_b"])]
    [(0.549, 0.549), (0.518, 0.567)]
    """
    if not isinstance(links, LinkArray):
        raise TypeError(f"links={links!r} must be a LinkArray (see LinkArray.from_params)")
    decoy = check_decoy(links.protocol, decoy)
    optimize = check_flag(optimize, "optimize")
    columns: dict[str, Any] = dict(links.columns)
    if optimize:
        signal, _ = optimal_signal(links.protocol, columns, decoy)
        columns.update(signal)
    return evaluate_columns(links.protocol, columns, decoy)
