"""The ``abft-qkd keyrate`` subcommand: secret-key rates of decoy BB84 and MDI-QKD links.

Examples (shell)::

    abft-qkd keyrate --protocol mdi --distance-km 50 --optimize --json
    abft-qkd keyrate --protocol both --sweep 0:250:1 --optimize --plot keyrate.png
    abft-qkd keyrate --protocol bb84-decoy --distance-km 20 --decoy vacuum-weak \\
        --set ec_inefficiency=1.1 --set mu=0.5 --params link.toml
    abft-qkd keyrate --protocol mdi --distance-km 40 --monte-carlo --pulses 1e12 --seed 7

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

from qkdcircuits.cli._common import finite_float

__all__ = ["register"]

_PROTOCOL_CHOICES = ("bb84-decoy", "mdi", "both")
_DECOY_CHOICES = ("infinite", "vacuum-weak", "two-decoy", "three-intensity", "finite")
_FINITE = {"bb84-decoy": "vacuum-weak", "mdi": "three-intensity"}
_LABELS = {"bb84-decoy": "decoy-state BB84", "mdi": "MDI-QKD"}
_MAX_SWEEP_POINTS = 100_000
_TABLE_ROWS = 21


def _count(text: str) -> int:
    """Integer that may be written as 1e12."""
    value = finite_float(text)
    if value != int(value) or value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive integer")
    return int(value)


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
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
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
    file_data = _load_file(args.params) if args.params is not None else {}
    if args.sweep is not None:
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
    """Add the ``keyrate`` subcommand to ``subparsers``."""
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
        default="infinite",
        help="decoy method: infinite, vacuum-weak or two-decoy (BB84), three-intensity (MDI); "
        "'finite' = vacuum-weak for BB84 and three-intensity for MDI",
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
        type=_count,
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
    parser.add_argument("--json", action="store_true", help="print results as JSON on stdout")
    parser.set_defaults(handler=_run)
