r"""The ``abft-qkd keyrate`` subcommand: secret-key rates of decoy BB84 and MDI-QKD links.

Examples (shell)::

    abft-qkd keyrate --protocol mdi --distance-km 50 --optimize --json
    abft-qkd keyrate --protocol both --sweep 0:250:1 --optimize --plot keyrate.png
    abft-qkd keyrate --protocol bb84-decoy --distance-km 20 --decoy vacuum-weak \
        --set ec_inefficiency=1.1 --set mu=0.5 --params link.toml
    abft-qkd keyrate --protocol mdi --distance-km 40 --monte-carlo --pulses 1e12 --seed 7
    abft-qkd keyrate --protocol bb84-decoy --distance-km 50 --finite-key --block-size 1e6 \
        --eps-sec 1e-10 --eps-cor 1e-15 --json
    abft-qkd keyrate --protocol both --sweep 0:200:2 --optimize --finite-key \
        --block-size 1e6,1e8,1e10 --plot finite.png

``--protocol both`` evaluates both protocols (one figure with ``--plot``); ``--decoy finite``
means ``vacuum-weak`` for BB84 and ``three-intensity`` for MDI-QKD. Parameters default to the
reference sets (GYS for BB84, Xu et al. 2013 for MDI-QKD) and are overridden first by
``--params FILE`` (JSON, or TOML on Python >= 3.11 or with ``tomli``), then by ``--set``. In a
file, top-level keys apply to every protocol selected and tables named ``[bb84-decoy]`` or
``[mdi]`` to one; other tables give dotted names (``[detector]`` + ``efficiency``). JSON goes to
stdout, tables and progress to stderr: one protocol prints its link report (one distance) or
its curve (``--sweep``: columns ``length_km``, ``key_rate_per_pulse``, ``key_rate_bps``,
``gain_z``, ``gain_x``, ``qber_z``, ``qber_x``, ``intensities``, ``max_distance_km``, null
when unbounded);
``--protocol both`` prints ``{"bb84-decoy": ..., "mdi": ...}``. Closed-form sweeps are
vectorised and instant; Monte Carlo sweeps (``--monte-carlo``) show a tqdm bar, give each
distance its own integer seed spawned from ``--seed`` (so every report is reproducible and
records its seed), and keep the distances already done when interrupted with Ctrl-C.
``--plot`` writes the format its extension names (PNG, PDF, SVG, ...) atomically.

``--finite-key`` replaces the asymptotic rate by the composable key length of blocks of
``--block-size`` key-basis detections (repeatable, or a comma-separated list), with secrecy
``--eps-sec`` and correctness ``--eps-cor``: decoy BB84 after Lim et al., PRA 89, 022307 (2014),
three-intensity MDI-QKD after Curty et al., Nat. Commun. 5, 3732 (2014)
(:func:`~qkdcircuits.links.report.link_report` with ``block_size``). The phase-error sampling
bound is Serfling's by default, valid for any number of errors; ``--sampling-bound lim2014``
selects Lim et al.'s ``gamma``, which is not a bound when few errors are observed (it can be
exceeded orders of magnitude more often than it claims) and serves to reproduce the paper. At
one distance the output is the finite-key link report (a list of reports for several block
sizes); a sweep prints ``length_km``, one curve per block size (``block_size``,
``key_rate_per_pulse``, ``key_rate_bps``, ``key_length_per_block``, ``block_time_s``,
``basis_prob``, ``intensities``, ``intensity_probs``, ``reach_km``: the largest swept distance
with a key, null if none) and ``asymptotic`` (``key_rate_per_pulse`` and the ``intensity`` that
attains it): the rate the finite-key rates approach as the block grows and never exceed, with
every pulse a key-basis signal and exact single-photon estimates
(:func:`~qkdcircuits.links.finite_key_links.finite_key_limit`; for BB84 it counts the vacuum
detections, as Lim et al.'s key does, so it lies above the GLLP rate of the asymptotic mode near
the cut-off). ``--plot`` draws it with the finite-key curves.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from qkdcircuits.cli.arguments import finite_float, positive_count

__all__ = ["register"]

_PROTOCOL_CHOICES = ("bb84-decoy", "mdi", "both")
_DECOY_CHOICES = ("infinite", "vacuum-weak", "two-decoy", "three-intensity", "finite")
_FINITE = {"bb84-decoy": "vacuum-weak", "mdi": "three-intensity"}
_LABELS = {"bb84-decoy": "decoy-state BB84", "mdi": "MDI-QKD"}
_MAX_SWEEP_POINTS = 100_000
_TABLE_ROWS = 21


def _block_sizes(text: str) -> list[float]:
    """One block size or a comma-separated list (key-basis detections, > 0, e.g. ``1e6``)."""
    values = []
    for part in text.split(","):
        value = finite_float(part.strip())
        if value <= 0:
            raise argparse.ArgumentTypeError(f"{part.strip()!r} is not a block size > 0")
        values.append(value)
    return values


def _assignment(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"{text!r} must look like NAME=VALUE")
    return key.strip(), value.strip()


def parse_sweep(text: str) -> np.ndarray:
    """``"START:STOP:STEP"`` -> distances in km, STOP included when it lies on the grid.

    Examples
    --------
    >>> parse_sweep("0:10:2.5").tolist()
    [0.0, 2.5, 5.0, 7.5, 10.0]
    """
    parts = text.split(":")
    if len(parts) != 3:
        raise ValueError(f"--sweep {text!r} must be START:STOP:STEP (km)")
    try:
        start, stop, step = (float(p) for p in parts)
    except ValueError as exc:
        raise ValueError(f"--sweep {text!r}: START, STOP and STEP must be numbers") from exc
    if not all(math.isfinite(v) for v in (start, stop, step)):
        raise ValueError(f"--sweep {text!r}: values must be finite")
    if start < 0 or stop < start or step <= 0:
        raise ValueError(f"--sweep {text!r}: need 0 <= START <= STOP and STEP > 0")
    points = (stop - start) / step + 1e-9
    if not math.isfinite(points) or points + 1 > _MAX_SWEEP_POINTS:
        raise ValueError(
            f"--sweep {text!r} has more than {_MAX_SWEEP_POINTS} points; use a larger STEP"
        )
    return start + step * np.arange(math.floor(points) + 1)


def _load_file(path: str) -> dict[str, Any]:
    if not path.strip():
        raise ValueError("--params '': give a file name (JSON or TOML)")
    file = Path(path)
    try:
        raw = file.read_bytes()
    except OSError as exc:
        raise ValueError(f"--params {path!r}: {exc.strerror or exc}") from exc
    if file.suffix.lower() == ".toml":
        try:
            import tomllib as toml_reader  # Python >= 3.11
        except ModuleNotFoundError:  # pragma: no cover - Python 3.10
            try:
                import tomli as toml_reader  # type: ignore[no-redef]
            except ModuleNotFoundError as exc:
                raise ValueError(
                    f"--params {path!r}: reading TOML needs Python >= 3.11 or 'pip install "
                    "tomli'; a JSON file works everywhere"
                ) from exc
        try:
            data = toml_reader.loads(raw.decode("utf-8"))
        except (toml_reader.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ValueError(f"--params {path!r}: invalid TOML: {exc}") from exc
    else:
        try:
            data = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ValueError(f"--params {path!r}: invalid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ValueError(f"--params {path!r} must hold a table/object of parameters")
    return data


def _flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def _overrides_for(protocol: str, file_data: dict[str, Any], sets: list[tuple[str, str]]):
    common = {k: v for k, v in file_data.items() if k not in _FINITE}
    own = file_data.get(protocol, {})
    if not isinstance(own, dict):
        raise ValueError(f"--params: [{protocol}] must be a table")
    overrides = {**_flatten(common), **_flatten(own)}
    overrides.update(dict(sets))
    return overrides


def _params_for(protocol: str, args: argparse.Namespace, file_data: dict[str, Any]) -> Any:
    from qkdcircuits.links.params import default_params, with_overrides

    return with_overrides(default_params(protocol), _overrides_for(protocol, file_data, args.set))


def _decoy_for(protocol: str, decoy: str) -> str:
    from qkdcircuits.links.evaluation import DECOY_METHODS

    if decoy is None:
        return "infinite"
    if decoy == "finite":
        return _FINITE[protocol]
    if decoy not in DECOY_METHODS[protocol]:
        raise ValueError(
            f"--decoy {decoy} is not available for {protocol}; choose one of "
            f"{', '.join(DECOY_METHODS[protocol])} or 'finite'"
        )
    return decoy


def _print_rows(title: str, rows: list[tuple[str, str]]) -> None:
    width = max(len(k) for k, _ in rows)
    print(title, file=sys.stderr)
    for key, value in rows:
        print(f"  {key:<{width}}  {value}", file=sys.stderr)


def _fmt(value: Any, spec: str = ".4e") -> str:
    return "n/a" if value is None else format(value, spec)


def _report_rows(report: Any) -> list[tuple[str, str]]:
    single = "Y1" if report.protocol == "bb84-decoy" else "Y11"
    error = "e1" if report.protocol == "bb84-decoy" else "e11 (X)"
    method = (
        report.method if report.method == "closed-form" else f"{report.method} ({report.source})"
    )
    rows = [
        ("method", method),
        ("decoy", report.decoy),
        ("distance", f"{report.length_km:g} km"),
    ]
    if report.length_a_km is not None:
        rows.append(("arms A / B", f"{report.length_a_km:g} / {report.length_b_km:g} km"))
    rows += [
        ("intensities", ", ".join(f"{k}={v:.4g}" for k, v in report.intensities.items())),
        ("gain Z / X", f"{_fmt(report.gain_z)} / {_fmt(report.gain_x)}"),
        ("QBER Z / X", f"{_fmt(report.qber_z, '.5f')} / {_fmt(report.qber_x, '.5f')}"),
        (
            f"{single} true / bound",
            f"{_fmt(report.single_photon_yield)} / {_fmt(report.single_photon_yield_lower)}",
        ),
        (
            f"{error} true / bound",
            f"{_fmt(report.single_photon_error, '.5f')} / "
            f"{_fmt(report.single_photon_error_upper, '.5f')}",
        ),
        ("key rate", f"{report.key_rate_per_pulse:.4e} bits/pulse"),
        ("key rate", f"{report.key_rate_bps:.4e} bits/s at {report.repetition_rate_hz:.3g} Hz"),
        ("secure", f"{report.secure} ({report.verdict}, {report.rate_model} rate)"),
    ]
    if report.rate_model == "finite-key":
        probs = ", ".join(f"{k}={v:.4g}" for k, v in report.intensity_probs.items())
        rows[-3:-3] = [
            ("analysis", f"{report.finite_key_analysis} ({report.sampling_bound} sampling bound)"),
            ("block", f"{report.block_size:.4g} key-basis detections"),
            ("eps_sec / eps_cor", f"{report.eps_sec:.1e} / {report.eps_cor:.1e}"),
            ("basis / intensity probs", f"{report.basis_prob:.4g}; {probs}"),
            ("pulses per block", f"{report.pulses_per_block:.4e}"),
            ("key per block", f"{report.key_length_per_block} bits"),
            ("time per block", f"{report.block_time_s:.4g} s"),
        ]
    if report.key_rate_at_confidence is not None:
        rows.append(
            (
                "rate the counts support",
                f"{report.key_rate_at_confidence:.4e} bits/pulse at confidence "
                f"1 - {1 - report.confidence:.0e}",
            )
        )
    if report.pulses is not None:
        rows.insert(1, ("pulses", f"{report.pulses:.3e} (seed {report.seed})"))
    return rows


def _finite_options(args: argparse.Namespace) -> dict[str, Any] | None:
    """Return the finite-key options as ``link_report`` keywords (no block size), or ``None``."""
    given = {
        "--block-size": args.block_size,
        "--eps-sec": args.eps_sec,
        "--eps-cor": args.eps_cor,
        "--sampling-bound": args.sampling_bound,
        "--basis-prob": args.basis_prob,
    }
    if not args.finite_key:
        stray = [name for name, value in given.items() if value is not None]
        if stray:
            raise ValueError(f"{', '.join(stray)} need --finite-key")
        return None
    if args.block_size is None:
        raise ValueError("--finite-key needs --block-size N (key-basis detections per block)")
    if args.monte_carlo:
        raise ValueError("--finite-key is a closed form: drop --monte-carlo")
    for name in ("--eps-sec", "--eps-cor", "--basis-prob"):
        value = given[name]
        if value is not None and not 0.0 < value < 1.0:
            raise ValueError(f"{name} {value!r} not in (0, 1)")
    if args.basis_prob is not None and args.optimize:
        raise ValueError("--basis-prob with --optimize: the optimiser chooses the basis")
    return {
        "eps_sec": args.eps_sec,
        "eps_cor": args.eps_cor,
        "sampling_bound": args.sampling_bound,
        "basis_prob": args.basis_prob,
        # "finite" (the asymptotic alias) and the default leave the choice to the analysis
        "decoy": None if args.decoy in (None, "finite") else args.decoy,
    }


def _blocks(args: argparse.Namespace) -> list[float]:
    return [n for group in args.block_size for n in group]


def _single_finite(
    args: argparse.Namespace, protocols: list[str], file_data: dict[str, Any], finite: dict
) -> dict:
    from qkdcircuits.links.report import link_report

    out: dict[str, Any] = {}
    for protocol in protocols:
        params = _params_for(protocol, args, file_data)
        reports = []
        for block in _blocks(args):
            report = link_report(
                params=params,
                length_km=args.distance_km,
                relay_fraction=args.relay_fraction,
                optimize=args.optimize,
                block_size=block,
                **finite,
            )
            _print_rows(f"{_LABELS[protocol]} finite-key rate", _report_rows(report))
            reports.append(report.to_dict())
        out[protocol] = reports[0] if len(reports) == 1 else reports
    return out


def _single(args: argparse.Namespace, protocols: list[str], file_data: dict[str, Any]) -> dict:
    from qkdcircuits.links.report import link_report

    out = {}
    for protocol in protocols:
        params = _params_for(protocol, args, file_data)
        decoy = _decoy_for(protocol, args.decoy)
        common = {
            "params": params,
            "length_km": args.distance_km,
            "relay_fraction": args.relay_fraction,
            "decoy": decoy,
            "optimize": args.optimize,
        }
        if args.monte_carlo:
            from qkdcircuits.links.montecarlo import simulate_link

            report = simulate_link(pulses=args.pulses, seed=args.seed, **common)
        else:
            report = link_report(**common)
        _print_rows(f"{_LABELS[protocol]} key rate", _report_rows(report))
        out[protocol] = report.to_dict()
    return out


def _curve_columns(curve: Any) -> dict[str, Any]:
    ev = curve.evaluation
    signal = ev.signal_key
    shape = curve.length_km.shape

    def column(values: Any) -> list[float | None]:
        array = np.broadcast_to(np.asarray(values, dtype=float), shape)
        return [None if math.isnan(v) else float(v) for v in array]

    return {
        **curve.to_dict(),
        "gain_z": column(ev.gains[f"Z:{signal}"]),
        "gain_x": column(ev.gains[f"X:{signal}"]),
        "qber_z": column(ev.qbers[f"Z:{signal}"]),
        "qber_x": column(ev.qbers[f"X:{signal}"]),
    }


def _mc_sweep(args: argparse.Namespace, params: Any, decoy: str, lengths: np.ndarray) -> dict:
    from tqdm import tqdm

    from qkdcircuits.links.montecarlo import simulate_link

    # One integer seed per distance, spawned from --seed: every report is reproducible.
    seeds = [
        int(child.generate_state(1, dtype=np.uint64)[0] >> np.uint64(1))
        for child in np.random.SeedSequence(args.seed).spawn(len(lengths))
    ]
    columns: dict[str, list[Any]] = {
        k: []
        for k in (
            "length_km",
            "key_rate_per_pulse",
            "key_rate_bps",
            "gain_z",
            "gain_x",
            "qber_z",
            "qber_x",
            "secure",
            "seed",
        )
    }
    intensities: dict[str, list[float]] = {}
    try:
        for length, seed in tqdm(
            list(zip(lengths, seeds, strict=True)),
            desc=f"{params.protocol} Monte Carlo",
            unit="km",
            file=sys.stderr,
        ):
            report = simulate_link(
                pulses=args.pulses,
                params=params,
                length_km=float(length),
                relay_fraction=args.relay_fraction,
                decoy=decoy,
                optimize=args.optimize,
                seed=seed,
            )
            for key in columns:
                columns[key].append(getattr(report, key))
            for key, value in report.intensities.items():
                if key.startswith("mu"):
                    intensities.setdefault(key, []).append(value)
    except KeyboardInterrupt:
        print(
            f"interrupted: keeping the {len(columns['length_km'])} distances computed",
            file=sys.stderr,
        )
    return {
        "protocol": params.protocol,
        "decoy": decoy,
        "optimized": bool(args.optimize),
        "method": "monte-carlo",
        "pulses": args.pulses,
        "sweep_seed": args.seed,
        **columns,
        "intensities": intensities,
    }


def _sweep(args: argparse.Namespace, protocols: list[str], file_data: dict[str, Any]) -> dict:
    from qkdcircuits.links.curves import key_rate_curve, max_distance

    lengths = parse_sweep(args.sweep)
    out = {}
    for protocol in protocols:
        params = _params_for(protocol, args, file_data)
        decoy = _decoy_for(protocol, args.decoy)
        if args.monte_carlo:
            data = _mc_sweep(args, params, decoy, lengths)
        else:
            curve = key_rate_curve(
                params,
                lengths_km=lengths,
                decoy=decoy,
                optimize=args.optimize,
                relay_fraction=args.relay_fraction,
            )
            data = {"method": "closed-form", **_curve_columns(curve)}
            reach = max_distance(
                params, decoy=decoy, optimize=args.optimize, relay_fraction=args.relay_fraction
            )
            # A lossless, noiseless link has no maximum distance (inf): JSON has no inf, so
            # it is written as null.
            data["max_distance_km"] = reach if math.isfinite(reach) else None
        _print_sweep(protocol, decoy, data)
        out[protocol] = data
    return out


def _finite_sweep(
    args: argparse.Namespace, protocols: list[str], file_data: dict[str, Any], finite: dict
) -> dict:
    from qkdcircuits.links.finite_key_links import finite_key_limit
    from qkdcircuits.links.report import link_reports, resolve_params

    lengths = parse_sweep(args.sweep)
    out = {}
    for protocol in protocols:
        params = _params_for(protocol, args, file_data)
        curves = []
        for block in _blocks(args):
            reports = link_reports(
                params,
                lengths_km=lengths,
                relay_fraction=args.relay_fraction,
                optimize=args.optimize,
                block_size=block,
                **finite,
            )
            keyed = [r for r in reports if r.secure]
            curves.append(
                {
                    "block_size": block,
                    **{
                        name: [getattr(r, name) for r in reports]
                        for name in (
                            "key_rate_per_pulse",
                            "key_rate_bps",
                            "key_length_per_block",
                            "block_time_s",
                            "basis_prob",
                        )
                    },
                    "intensities": {
                        k: [r.intensities[k] for r in reports] for k in reports[0].intensities
                    },
                    "intensity_probs": {
                        k: [r.intensity_probs[k] for r in reports]
                        for k in reports[0].intensity_probs
                    },
                    "reach_km": keyed[-1].length_km if keyed else None,
                }
            )
        # the rate every finite-key curve approaches from below as the block grows
        fraction = args.relay_fraction
        limit = finite_key_limit(
            [resolve_params(None, params, float(L), None, None, fraction) for L in lengths]
        )
        data = {
            "protocol": protocol,
            "method": "closed-form",
            "rate_model": "finite-key",
            "optimized": bool(args.optimize),
            "finite_key_analysis": reports[0].finite_key_analysis,
            "sampling_bound": reports[0].sampling_bound,
            "eps_sec": reports[0].eps_sec,
            "eps_cor": reports[0].eps_cor,
            "length_km": [float(v) for v in lengths],
            "curves": curves,
            "asymptotic": {
                "key_rate_per_pulse": limit.key_rate_per_pulse.tolist(),
                "intensity": limit.intensity.tolist(),
            },
        }
        _print_finite_sweep(protocol, data)
        out[protocol] = data
    return out


def _print_finite_sweep(protocol: str, data: dict[str, Any]) -> None:
    lengths = data["length_km"]
    print(
        f"{_LABELS[protocol]} finite key ({data['finite_key_analysis']}, "
        f"{data['sampling_bound']} sampling bound, eps_sec {data['eps_sec']:.0e}, "
        f"eps_cor {data['eps_cor']:.0e})",
        file=sys.stderr,
    )
    picks = np.unique(np.linspace(0, len(lengths) - 1, min(_TABLE_ROWS, len(lengths))).astype(int))
    header = f"  {'L (km)':>9} {'asymptotic':>11}"
    header += "".join(f" {'n=' + format(c['block_size'], '.0e'):>11}" for c in data["curves"])
    print(header + "   (bits/pulse)", file=sys.stderr)
    for k in picks:
        line = f"  {lengths[k]:>9.2f} {data['asymptotic']['key_rate_per_pulse'][k]:>11.3e}"
        line += "".join(f" {c['key_rate_per_pulse'][k]:>11.3e}" for c in data["curves"])
        print(line, file=sys.stderr)
    for curve in data["curves"]:
        reach = curve["reach_km"]
        text = "no key" if reach is None else f"key up to {reach:.2f} km"
        print(f"  n = {curve['block_size']:.0e}: {text} (swept)", file=sys.stderr)


def _print_sweep(protocol: str, decoy: str, data: dict[str, Any]) -> None:
    lengths = data["length_km"]
    print(f"{_LABELS[protocol]} ({decoy} decoy, {data['method']})", file=sys.stderr)
    if not lengths:
        return
    names = sorted(data["intensities"])
    header = f"  {'L (km)':>9} {'R (bits/pulse)':>15} {'R (bits/s)':>12} {'QBER Z':>8}"
    header += "".join(f" {n:>7}" for n in names)
    print(header, file=sys.stderr)
    picks = np.unique(np.linspace(0, len(lengths) - 1, min(_TABLE_ROWS, len(lengths))).astype(int))
    for k in picks:
        qber = data["qber_z"][k]
        line = (
            f"  {lengths[k]:>9.2f} {data['key_rate_per_pulse'][k]:>15.4e} "
            f"{data['key_rate_bps'][k]:>12.4e} {_fmt(qber, '8.5f'):>8}"
        )
        line += "".join(f" {data['intensities'][n][k]:>7.4f}" for n in names)
        print(line, file=sys.stderr)
    if "max_distance_km" in data:
        reach = data["max_distance_km"]
        text = "unbounded" if reach is None else f"{reach:.2f} km"
        print(f"  maximum distance: {text}", file=sys.stderr)


def check_plot_path(path: str) -> Path:
    """Check the ``--plot`` target before any work is done.

    It must be a file name with a format matplotlib writes, in an existing, writable directory.

    Examples
    --------
    >>> check_plot_path("rates.pdf").suffix
    '.pdf'
    """
    if not path.strip():
        raise ValueError("--plot '': give a file name such as keyrate.png")
    target = Path(path)
    suffix = target.suffix.lower().lstrip(".")
    if suffix not in _PLOT_FORMATS:
        raise ValueError(
            f"--plot {path!r}: the extension must name the format, one of "
            f"{', '.join('.' + f for f in _PLOT_FORMATS)}"
        )
    folder = target.parent
    if not folder.is_dir():
        raise ValueError(f"--plot {path!r}: directory {str(folder)!r} does not exist")
    if target.is_dir():
        raise ValueError(f"--plot {path!r} is a directory")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ValueError(f"--plot {path!r}: directory {str(folder)!r} is not writable")
    return target


_PLOT_FORMATS = ("png", "pdf", "svg", "eps", "ps", "jpg", "jpeg", "tif", "tiff", "webp")


def _plot(target: Path, results: dict[str, dict[str, Any]], optimize: bool) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.0, 4.5))
    for protocol, data in results.items():
        lengths = np.asarray(data["length_km"], dtype=float)
        rates = np.asarray(data["key_rate_per_pulse"], dtype=float)
        positive = rates > 0
        label = f"{_LABELS[protocol]} ({data['decoy']} decoy, {data['method']})"
        ax.semilogy(lengths[positive], rates[positive], label=label)
    ax.set_xlabel("distance Alice-Bob (km)")
    ax.set_ylabel("secret key rate (bits per pulse)")
    ax.set_title("Key rate vs distance" + (" (optimised intensities)" if optimize else ""))
    _save(fig, ax, target)


def _plot_finite(target: Path, results: dict[str, dict[str, Any]], optimize: bool) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 5.0))
    styles = ["--", "-.", ":", (0, (5, 1, 1, 1)), (0, (1, 2))]
    for colour, (protocol, data) in enumerate(results.items()):
        lengths = np.asarray(data["length_km"], dtype=float)
        rates = np.asarray(data["asymptotic"]["key_rate_per_pulse"], dtype=float)
        ax.semilogy(
            lengths[rates > 0],
            rates[rates > 0],
            color=f"C{colour}",
            label=f"{_LABELS[protocol]}, asymptotic limit",
        )
        for k, curve in enumerate(data["curves"]):
            rates = np.asarray(curve["key_rate_per_pulse"], dtype=float)
            ax.semilogy(
                lengths[rates > 0],
                rates[rates > 0],
                color=f"C{colour}",
                linestyle=styles[k % len(styles)],
                label=f"{_LABELS[protocol]}, block {curve['block_size']:.0e}",
            )
    first = next(iter(results.values()))
    ax.set_xlabel("distance Alice-Bob (km)")
    ax.set_ylabel("secret key rate (bits per pulse sent)")
    ax.set_title(
        f"Finite-key rate ({first['sampling_bound']} sampling bound, eps_sec "
        f"{first['eps_sec']:.0e})" + (", optimised settings" if optimize else "")
    )
    _save(fig, ax, target)


def _save(fig: Any, ax: Any, target: Path) -> None:
    import matplotlib.pyplot as plt

    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize="small")
    fig.tight_layout()
    # Write to a temporary file in the same folder, then rename: never a half-written figure.
    # The format comes from the target's extension (the temporary name has the same one).
    handle, tmp = tempfile.mkstemp(suffix=target.suffix, dir=target.parent)
    os.close(handle)
    try:
        fig.savefig(tmp, dpi=150, format=target.suffix.lower().lstrip("."))
        os.replace(tmp, target)
    finally:
        plt.close(fig)
        if os.path.exists(tmp):
            os.remove(tmp)
    print(f"plot written to {target}", file=sys.stderr)


def _run(args: argparse.Namespace) -> int:
    protocols = ["bb84-decoy", "mdi"] if args.protocol == "both" else [args.protocol]
    if args.plot is not None and args.sweep is None:
        raise ValueError("--plot needs --sweep START:STOP:STEP")
    target = None if args.plot is None else check_plot_path(args.plot)
    if not 0.0 <= args.relay_fraction <= 1.0:
        raise ValueError(f"--relay-fraction {args.relay_fraction!r} not in [0, 1]")
    if args.distance_km is not None and args.distance_km < 0:
        raise ValueError(f"--distance-km {args.distance_km!r} must be >= 0")
    finite = _finite_options(args)
    file_data = _load_file(args.params) if args.params is not None else {}
    if finite is not None:
        if args.sweep is not None:
            results = _finite_sweep(args, protocols, file_data, finite)
            if target is not None:
                _plot_finite(target, results, args.optimize)
        else:
            results = _single_finite(args, protocols, file_data, finite)
    elif args.sweep is not None:
        results = _sweep(args, protocols, file_data)
        if target is not None:
            _plot(target, results, args.optimize)
    else:
        results = _single(args, protocols, file_data)
    if args.json:
        payload = results[protocols[0]] if len(protocols) == 1 else results
        # Serialise first: an unserialisable value must not leave half a document on stdout.
        sys.stdout.write(json.dumps(payload, indent=2, allow_nan=False) + "\n")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``keyrate`` subcommand to ``subparsers``.

    Parameters
    ----------
    subparsers : argparse._SubParsersAction
        The top-level subparsers of ``abft-qkd``.
    """
    parser = subparsers.add_parser(
        "keyrate",
        help="secret-key rate of decoy-state BB84 / MDI-QKD links (closed form or Monte Carlo)",
        description="Secret-key rate per pulse and per second of weak-coherent-pulse links: "
        "decoy-state BB84 (GLLP) and MDI-QKD, with infinite or finite decoys, at one distance or "
        "over a sweep. Parameters default to the GYS (BB84) and Xu et al. 2013 (MDI-QKD) sets.",
    )
    parser.add_argument(
        "--protocol",
        choices=_PROTOCOL_CHOICES,
        required=True,
        help="protocol; 'both' evaluates both (one figure with --plot)",
    )
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument(
        "--distance-km", type=finite_float, metavar="D", help="Alice-Bob distance in km"
    )
    where.add_argument(
        "--sweep",
        metavar="START:STOP:STEP",
        help="distances in km (STOP included), e.g. 0:200:1",
    )
    parser.add_argument(
        "--decoy",
        choices=_DECOY_CHOICES,
        default=None,
        help="decoy method: infinite (default), vacuum-weak or two-decoy (BB84), three-intensity "
        "(MDI); 'finite' = vacuum-weak for BB84 and three-intensity for MDI. --finite-key always "
        "uses three intensities (two-decoy for BB84)",
    )
    parser.add_argument(
        "--optimize", action="store_true", help="optimise the signal intensities at each distance"
    )
    parser.add_argument(
        "--relay-fraction",
        type=finite_float,
        default=0.5,
        metavar="F",
        help="MDI-QKD: Charlie's position as a fraction of the distance from Alice (0.5)",
    )
    parser.add_argument(
        "--set",
        type=_assignment,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override a parameter, e.g. ec_inefficiency=1.1 (alias f), mu=0.4, e_d=0.02, "
        "detector.dark_count_prob=1e-6 (repeatable)",
    )
    parser.add_argument(
        "--params",
        metavar="FILE",
        help="parameter overrides from a JSON file, or TOML (Python >= 3.11 or tomli)",
    )
    parser.add_argument(
        "--monte-carlo",
        action="store_true",
        help="simulate pulses (single-photon statistics from the circuit engine) instead of "
        "using the closed form",
    )
    parser.add_argument(
        "--pulses",
        type=positive_count,
        default=10**10,
        metavar="N",
        help="Monte Carlo pulses (pairs) per distance, e.g. 1e12 (default 1e10)",
    )
    parser.add_argument("--seed", type=int, default=None, help="Monte Carlo seed")
    parser.add_argument(
        "--plot",
        metavar="OUT.png",
        help="with --sweep: save a log-scale plot; the extension picks the format (png, pdf, svg)",
    )
    finite = parser.add_argument_group(
        "finite key",
        "composable key length of blocks of N key-basis detections (decoy BB84: Lim et al., PRA "
        "89, 022307 (2014); MDI-QKD: Curty et al., Nat. Commun. 5, 3732 (2014))",
    )
    finite.add_argument(
        "--finite-key",
        action="store_true",
        help="finite-key rate per pulse sent instead of the asymptotic rate",
    )
    finite.add_argument(
        "--block-size",
        type=_block_sizes,
        action="append",
        metavar="N[,N...]",
        help="key-basis detections per block, e.g. 1e6 (repeatable or a comma-separated list; "
        "--plot draws one curve per block size with the asymptotic limit)",
    )
    finite.add_argument(
        "--eps-sec", type=finite_float, metavar="E", help="secrecy parameter (default 1e-10)"
    )
    finite.add_argument(
        "--eps-cor", type=finite_float, metavar="E", help="correctness parameter (default 1e-15)"
    )
    finite.add_argument(
        "--sampling-bound",
        choices=("serfling", "lim2014"),
        help="phase-error sampling bound: serfling (default; valid for any number of errors) or "
        "lim2014 (Lim et al.'s gamma: not a bound when few errors are observed; reproduces the "
        "paper)",
    )
    finite.add_argument(
        "--basis-prob",
        type=finite_float,
        metavar="Q",
        help="key-basis probability without --optimize (default 0.5)",
    )
    parser.add_argument("--json", action="store_true", help="print results as JSON on stdout")
    parser.set_defaults(handler=_run)
