"""The report: the paper's claims checked against the measurements, Markdown and JSON.

Each claim of the ABFT-DRA paper is compared with the measured value under a stated rule and
gets a verdict: ``agrees``, ``disagrees`` or ``not comparable`` (with the reason).

Examples
--------
>>> plain({"a": float("nan"), "b": [1.0, float("inf")]})
{'a': None, 'b': [1.0, None]}
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from rl.reproduce.config import SYSTEMS

__all__ = [
    "CLAIMS",
    "ROWS",
    "check_claims",
    "markdown",
    "plain",
    "results_json",
    "write_outputs",
]

ROWS: tuple[tuple[str, str, float, int], ...] = (
    ("relative_key_rate", "key rate / no-attack baseline", 1.0, 3),
    ("availability", "availability (%)", 100.0, 2),
    ("qber_mean", "QBER of used keys, mean (%)", 100.0, 2),
    ("qber_max", "QBER of used keys, max (%)", 100.0, 2),
    ("qber_above", "used key above threshold (%)", 100.0, 2),
    ("exposed_key_fraction", "exposed key (%)", 100.0, 1),
    ("qber_var_fluct", "QBER variance in fluctuations (1e-5)", 1e5, 2),
)
"""Table rows: metric, label, display scale, decimals."""

CLAIMS: dict[str, str] = {
    "key_rate": "95 % vs 50 % key rate at 20 % Byzantine (ABFT-DRA vs baseline)",
    "qber": "QBER below 1 %",
    "availability": "99.99 % vs 95 % availability (ABFT-DRA vs baseline)",
    "convergence": "DQN converges within 500 episodes",
    "qber_variance": "35 % lower QBER variance in fluctuation periods (ABFT-DRA vs baseline)",
}
"""The paper's claims, by key."""


def plain(value: Any) -> Any:
    """``value`` with non-finite floats as ``None`` (strict JSON)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def _mean(results: dict[str, Any], system: str, fraction: str, metric: str) -> float:
    return results["table"][system][fraction][metric]["mean"]


def _pct(value: float, digits: int = 1) -> str:
    return "n/a" if not math.isfinite(value) else f"{100 * value:.{digits}f} %"


def check_claims(results: dict[str, Any]) -> list[dict[str, str]]:
    """Check the claims: measured values, verdicts and explanations.

    Rules: key rate agrees if ABFT-DRA keeps >= 90 % and the baseline <= 60 % of the no-attack
    rate at the fraction nearest 0.2; QBER if ABFT-DRA's mean used QBER is < 1 % at every
    fraction; availability if ABFT-DRA >= 99.9 % and the baseline <= 97 % at that fraction;
    convergence if every training seed converged within 500 episodes, comparable only when
    training ran beyond 500 episodes; QBER variance if ABFT-DRA's variance in fluctuation
    periods is >= 30 % below the baseline's (means over seeds) and the paired per-seed difference
    has a 95 % t interval that excludes zero (``not comparable`` when it does not).
    """
    config = results["config"]
    fractions = [f"{f:g}" for f in config["fractions"]]
    near = min(config["fractions"], key=lambda f: (abs(f - 0.2), f))
    at = f"{near:g}"
    out = []

    dra = _mean(results, "abft-dra", at, "relative_key_rate")
    base = _mean(results, "baseline", at, "relative_key_rate")
    abft = _mean(results, "abft", at, "relative_key_rate")
    agrees = dra >= 0.9 and base <= 0.6
    out.append(
        {
            "claim": CLAIMS["key_rate"],
            "measured": f"ABFT-DRA {_pct(dra)}, ABFT {_pct(abft)}, baseline {_pct(base)} "
            f"at {_pct(near, 0)}",
            "verdict": "agrees" if agrees else "disagrees",
            "why": "" if agrees else _key_rate_why(results, at, dra, base),
        }
    )

    dra_q = [_mean(results, "abft-dra", f, "qber_mean") for f in fractions]
    finite = [q for q in dra_q if math.isfinite(q)]
    low = max(finite) if finite else math.nan
    agrees = bool(finite) and low < 0.01
    out.append(
        {
            "claim": CLAIMS["qber"],
            "measured": f"ABFT-DRA mean QBER of used keys {', '.join(_pct(q, 2) for q in dra_q)} "
            f"at {', '.join(_pct(float(f), 0) for f in fractions)}; threshold used "
            f"{_pct(config['qber_threshold'], 0)}",
            "verdict": "agrees" if agrees else "disagrees",
            "why": ""
            if agrees
            else "No honest link is below 1 %: the links' own misalignment error is 1.5 % "
            "(MDI-QKD, Xu et al. 2013) and 3.3 % (decoy BB84, GYS set), plus dark counts, so "
            "1 % is unreachable by any allocation. The security threshold used is the "
            "Shor-Preskill bound, 11 % (the one-way secret fraction 1 - 2 h(Q) vanishes there); "
            "a 1 % threshold would flag every link. Passive copying raises no QBER, so no "
            "QBER-driven weight detects it; only multipath relaying would bound that exposure.",
        }
    )

    dra_a = _mean(results, "abft-dra", at, "availability")
    base_a = _mean(results, "baseline", at, "availability")
    agrees = dra_a >= 0.999 and base_a <= 0.97
    out.append(
        {
            "claim": CLAIMS["availability"],
            "measured": f"ABFT-DRA {_pct(dra_a, 2)}, baseline {_pct(base_a, 2)} at {_pct(near, 0)}",
            "verdict": "agrees" if agrees else "disagrees",
            "why": ""
            if agrees
            else "Availability counts a request as served only if its key is correct and no "
            "compromised node saw it. Keys relayed hop by hop through a trusted node are "
            "exposed to it in the clear; a Byzantine trusted node that behaves correctly "
            "(passive copying) is never excluded by QBER-driven votes, so its pairs stay "
            "exposed under every system, and a pair whose only route crosses it cannot be "
            "served unexposed. The defence does raise availability over the baseline "
            f"({_pct(base_a, 1)} to {_pct(dra_a, 1)}) by voting out the nodes whose misbehaviour "
            "is measurable (withholding, altering, corrupting states). 99.99 % would also need "
            "far more requests than an episode holds to be measured.",
        }
    )

    training = results["training"]
    conv = [run["converged_at"] for run in training["runs"]]
    improvement = [
        run["eval_returns"][-1] - run["eval_returns"][0]
        for run in training["runs"]
        if run["eval_returns"]
    ]
    episodes = config["train_episodes"]
    if episodes <= 500:
        verdict, why = (
            "not comparable",
            f"Training ran {episodes} episodes of {config['train_slices']} slices, so "
            "'converged within 500 episodes' holds by construction; the --full scale trains "
            "1,000 episodes.",
        )
    elif all(c is not None and c <= 500 for c in conv):
        verdict, why = "agrees", ""
    else:
        verdict, why = "disagrees", "At least one training seed converged after 500 episodes."
    if improvement and max(improvement) <= 0:
        why += (
            " The greedy policy's evaluation return did not improve over the untrained policy "
            "in any seed, so the convergence episode measures noise, not learning."
        )
    out.append(
        {
            "claim": CLAIMS["convergence"],
            "measured": f"converged at {', '.join(str(c) for c in conv)} episodes "
            f"(training seeds); evaluation-return change "
            f"{', '.join(f'{d:+.2f}' for d in improvement)}",
            "verdict": verdict,
            "why": why.strip(),
        }
    )

    dra_v = _mean(results, "abft-dra", at, "qber_var_fluct")
    base_v = _mean(results, "baseline", at, "qber_var_fluct")
    if math.isfinite(dra_v) and math.isfinite(base_v) and base_v > 0:
        reduction = 1.0 - dra_v / base_v
        low, high = _paired_interval(results, at, "qber_var_fluct")
        resolved = math.isfinite(low) and (low > 0 or high < 0)
        measured = (
            f"{_pct(reduction)} lower (ABFT-DRA {dra_v:.3g}, baseline {base_v:.3g}) at "
            f"{_pct(near, 0)}; paired per-seed difference (baseline - ABFT-DRA) 95 % interval "
            f"[{low:.3g}, {high:.3g}]"
        )
        if reduction >= 0.30 and resolved:
            verdict, why = "agrees", ""
        elif reduction >= 0.30:
            verdict, why = (
                "not comparable",
                "The mean is lower by more than 30 %, but the paired difference over seeds is "
                "within its 95 % interval of zero: few episodes contain a loss burst on a used "
                "link, so this number of seeds does not resolve it (--full runs 20 hour-long "
                "episodes).",
            )
        else:
            verdict, why = (
                "disagrees",
                "A link's QBER during a loss burst is set by its physics (misalignment, dark "
                "counts against the weakened signal) and by corrupted states; allocation changes "
                "which links carry key and their intensity, not the error of a fluctuating link, "
                "so the variance changes little.",
            )
        out.append(
            {"claim": CLAIMS["qber_variance"], "measured": measured, "verdict": verdict, "why": why}
        )
    else:
        out.append(
            {
                "claim": CLAIMS["qber_variance"],
                "measured": "no used link was in a fluctuation period in enough episodes",
                "verdict": "not comparable",
                "why": "Longer episodes (--full: one hour) contain loss bursts on used links.",
            }
        )
    return out


def _paired_interval(results: dict[str, Any], at: str, metric: str) -> tuple[float, float]:
    """95 % t interval of the per-seed difference baseline - ABFT-DRA (common seeds)."""
    from rl.reproduce.experiment import statistics

    episodes = results.get("episodes", {})
    try:
        base = episodes["baseline"][at][metric]
        dra = episodes["abft-dra"][at][metric]
    except KeyError:
        return math.nan, math.nan
    low, high = statistics([b - d for b, d in zip(base, dra, strict=True)])["ci95"]
    return low, high


def _key_rate_why(results: dict[str, Any], at: str, dra: float, base: float) -> str:
    exposed_base = _mean(results, "baseline", at, "exposed_key_fraction")
    exposed_dra = _mean(results, "abft-dra", at, "exposed_key_fraction")
    parts = []
    if base > 0.6:
        parts.append(
            f"The baseline keeps {_pct(base)} of its key rate: most Byzantine behaviours do not "
            "destroy key in transit (a passive copier relays correctly; only withholding and "
            "altering nodes lose requests, and the endpoints' key confirmation rejects altered "
            f"keys), so the attack shows up as exposed key ({_pct(exposed_base)} of the "
            "baseline's delivered key) rather than as lost rate."
        )
    if dra < 0.9:
        parts.append(
            f"ABFT-DRA keeps {_pct(dra)}: excluding suspected nodes and links removes routes "
            "and capacity, and no intensity, protocol or routing choice restores a trusted node "
            "that the network may no longer use. What the defence buys is secrecy: exposed key "
            f"{_pct(exposed_dra)} against {_pct(exposed_base)}."
        )
    return " ".join(parts)


def _cell(stats: dict[str, Any], scale: float, digits: int) -> str:
    mean, std, (lo, hi) = stats["mean"], stats["std"], stats["ci95"]
    if not math.isfinite(mean):
        return "n/a"
    text = f"{mean * scale:.{digits}f}"
    if math.isfinite(std):
        text += f" ± {std * scale:.{digits}f} [{lo * scale:.{digits}f}, {hi * scale:.{digits}f}]"
    return text


def _nodes(count: Any) -> str:
    return "? nodes" if count is None else f"{count} node{'' if count == 1 else 's'}"


def markdown(results: dict[str, Any]) -> str:
    """Write the Markdown report: the table, the claims with verdicts, the notes."""
    config = results["config"]
    fractions = [f"{f:g}" for f in config["fractions"]]
    claims = results["claims"]
    claim_of_row = {
        "relative_key_rate": "key_rate",
        "availability": "availability",
        "qber_mean": "qber",
        "qber_var_fluct": "qber_variance",
    }
    verdicts = {c["claim"]: c["verdict"] for c in claims}
    counts = results.get("byzantine_counts", {})
    header = [
        "metric",
        "system",
        *[f"{100 * float(f):.0f} % Byzantine ({_nodes(counts.get(f))})" for f in fractions],
        "paper's claim",
    ]
    lines = [
        f"# ABFT-DRA reproduction ({config['name']} scale)",
        "",
        f"Scenario {config['topology']}, utilisation {config['utilisation']}, behaviour "
        f"{config['behaviour']}, {len(results['seeds']['evaluation'])} evaluation seeds of "
        f"{config['eval_slices']} s; cells are mean ± seed-to-seed standard deviation "
        "[95 % t interval over seeds].",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
    ]
    for metric, label, scale, digits in ROWS:
        for index, system in enumerate(SYSTEMS):
            cells = [_cell(results["table"][system][f][metric], scale, digits) for f in fractions]
            claim = ""
            if index == 0 and metric in claim_of_row:
                text = CLAIMS[claim_of_row[metric]]
                claim = f"{text}: **{verdicts[text]}**"
            lines.append(
                f"| {label if index == 0 else ''} | {system} | {' | '.join(cells)} | {claim} |"
            )
    conv = results["training"]["converged_at"]
    text = CLAIMS["convergence"]
    lines.append(
        f"| DQN episodes to converge | abft-dra | {_cell(conv, 1.0, 1)} "
        f"(n = {conv['n']} training seeds) |"
        + " |" * (len(fractions) - 1)
        + f" {text}: **{verdicts[text]}** |"
    )
    lines += [
        "",
        "## The paper's claims",
        "",
        "| claim | measured | verdict | why |",
        "|---|---|---|---|",
    ]
    for c in claims:
        lines.append(f"| {c['claim']} | {c['measured']} | {c['verdict']} | {c['why']} |")
    seeds = results["seeds"]
    lines += [
        "",
        "## Notes",
        "",
        "- Systems: baseline = no defence + static allocation (nominal optimal intensities, "
        "primary protocols, fewest-hop routes); ABFT = adaptive weighted voting + static "
        "allocation; ABFT-DRA = adaptive voting + the trained DQN. All run through the same "
        "environment on the same episode seeds (same Byzantine placement, fluctuations and "
        "demands per seed and fraction).",
        f"- Byzantine candidates: the {', '.join(config['byzantine_kinds'])} nodes "
        f"({results.get('candidates', '?')} in {config['topology']}); each fraction places the "
        "nearest whole number of Byzantine nodes, each drawing one behaviour ('mixed').",
        "- Key rate is relative to the baseline without attack on the same seed.",
        f"- QBER threshold: {_pct(config['qber_threshold'], 0)} (Shor-Preskill: the one-way "
        "secret fraction 1 - 2 h(Q) vanishes at 11 %). The paper's 1 % lies below the links' "
        "misalignment error (1.5 % MDI-QKD, 3.3 % decoy BB84).",
        f"- DQN: trained on ABFT at a fixed Byzantine fraction {config['train_fraction']:g} "
        "(the environment fixes the fraction per instance), "
        f"{config['train_episodes']} episodes of {config['train_slices']} s, "
        f"{config['train_seeds']} training seeds disjoint from the evaluation seeds; evaluation "
        f"episode k uses the agent of training seed k mod {config['train_seeds']}.",
        f"- Episodes to converge: on the greedy policy's return over {config['eval_episodes']} "
        f"fixed episodes, evaluated every {config['eval_every']} training episodes; the first "
        "evaluation reaching 95 % of the way from the untrained return to the final return "
        "(mean of the last 10 % of evaluations).",
        f"- Seeds: master {config['seed']}; evaluation {seeds['evaluation']}; training "
        f"{seeds['training']}. Code version {results['code_version']}.",
        f"- Wall time {results['timings']['wall_s']:.1f} s "
        f"({results['cache']['computed_tasks']} tasks computed, "
        f"{results['cache']['cached_tasks']} from the cache).",
        "",
    ]
    return "\n".join(lines)


def results_json(results: dict[str, Any]) -> str:
    """``results`` as strict JSON (``nan`` as ``null``)."""
    return json.dumps(plain(results), indent=1, sort_keys=True) + "\n"


def write_outputs(results: dict[str, Any], out: str | Path) -> list[Path]:
    """Write ``results.json``, ``results.md`` and the figures into ``out``.

    Everything is rendered into a temporary folder inside ``out`` first and then moved into
    place file by file (:func:`os.replace`), so an error or an interrupt leaves the previous
    report (or none), never a half-written one.

    Returns
    -------
    list of pathlib.Path
        The files written.
    """
    import os
    import shutil
    import tempfile

    from rl.reproduce.plots import plot_all

    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    results["claims"] = check_claims(results)
    texts = {"results.md": markdown(results), "results.json": results_json(results)}
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=folder))
    try:
        for name, text in texts.items():
            (staging / name).write_text(text)
        plot_all(results, staging)
        written = []
        for path in sorted(staging.iterdir()):
            target = folder / path.name
            os.replace(path, target)
            written.append(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return written
