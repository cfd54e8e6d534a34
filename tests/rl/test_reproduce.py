"""``abft-qkd reproduce``: the quick run end to end, the statistics, the claims, bad options."""

from __future__ import annotations

import json
import math

import pytest

from qkdcircuits.cli import main
from rl.reproduce import SYSTEMS, ReproduceConfig, statistics
from rl.reproduce.experiment import TABLE_METRICS
from rl.reproduce.plots import FIGURES
from rl.reproduce.report import CLAIMS, check_claims

VERDICTS = {"agrees", "disagrees", "not comparable"}


def run(argv):
    try:
        return main(argv)
    except SystemExit as exc:
        return exc.code


def strict_json(text):
    def refuse(constant):
        raise AssertionError(f"non-standard JSON constant {constant}")

    return json.loads(text, parse_constant=refuse)


@pytest.mark.slow
def test_quick_end_to_end(tmp_path, capsys):
    out = tmp_path / "quick"
    code = run(["reproduce", "--quick", "--executor", "serial", "--no-progress", "--out", str(out)])
    assert code == 0
    for name in ("results.json", "results.md", *FIGURES):
        assert (out / name).stat().st_size > 0, name
    assert not [p for p in out.iterdir() if p.name.startswith(".staging")]
    results = strict_json((out / "results.json").read_text())
    assert {
        "config",
        "code_version",
        "seeds",
        "table",
        "episodes",
        "training",
        "trace",
        "claims",
        "timings",
        "byzantine",
    } <= set(results)
    config = ReproduceConfig.scale("quick")
    fractions = [f"{f:g}" for f in config.fractions]
    for system in SYSTEMS:
        for fraction in fractions:
            cell = results["table"][system][fraction]
            assert set(cell) == set(TABLE_METRICS)
            # every seed gave a key rate, so the spread and the interval exist
            assert cell["relative_key_rate"]["n"] == config.eval_seeds
            low, high = cell["relative_key_rate"]["ci95"]
            assert low <= cell["relative_key_rate"]["mean"] <= high
    # the reference of the relative key rate is the baseline without attack on the same seed
    assert results["episodes"]["baseline"]["0"]["relative_key_rate"] == [1.0] * config.eval_seeds
    # 9 candidates (6 trusted nodes, 3 MDI relays): 0, 1, 2, 3 Byzantine nodes
    assert results["candidates"] == 9
    assert results["byzantine_counts"] == {"0": 0, "0.1": 1, "0.2": 2, "0.3": 3}
    for fraction, count in results["byzantine_counts"].items():
        assert [len(nodes) for nodes in results["byzantine"][fraction]] == [count] * 2
    # training and evaluation seeds are disjoint
    assert not set(results["seeds"]["training"]) & set(results["seeds"]["evaluation"])
    assert [c["claim"] for c in results["claims"]] == list(CLAIMS.values())
    assert {c["verdict"] for c in results["claims"]} <= VERDICTS
    text = (out / "results.md").read_text()
    assert "paper's claim" in text.splitlines()[4]
    for claim in CLAIMS.values():
        assert claim in text
    assert text.count("| baseline |") == 7  # one row per metric
    assert text.count("| abft-dra |") == 8  # and the convergence row
    assert capsys.readouterr().out.startswith("# ABFT-DRA reproduction (quick scale)")


def test_statistics_t_interval():
    # Student's t quantile t(0.975, 4) = 2.7764451 (standard tables); values 1..5: s^2 = 2.5
    s = statistics([1.0, 2.0, 3.0, 4.0, 5.0, math.nan])
    assert s["n"] == 5 and s["mean"] == 3.0
    assert s["std"] == pytest.approx(math.sqrt(2.5), rel=1e-12)
    half = 2.7764451 * math.sqrt(2.5) / math.sqrt(5)
    assert s["ci95"] == pytest.approx([3.0 - half, 3.0 + half], rel=1e-7)
    single = statistics([2.0])
    assert single["mean"] == 2.0 and math.isnan(single["std"]) and math.isnan(single["ci95"][0])


def _synthetic(dra_rate, base_rate, dra_qber, dra_avail, base_avail, episodes=1000, conv=300):
    def cell(**means):
        return {m: {"mean": means.get(m, math.nan)} for m in TABLE_METRICS}

    table = {
        "abft-dra": {
            "0.2": cell(
                relative_key_rate=dra_rate,
                qber_mean=dra_qber,
                availability=dra_avail,
                qber_var_fluct=6e-5,
            )
        },
        "abft": {"0.2": cell(relative_key_rate=dra_rate)},
        "baseline": {
            "0.2": cell(
                relative_key_rate=base_rate,
                availability=base_avail,
                exposed_key_fraction=0.1,
                qber_var_fluct=1e-4,
            )
        },
    }
    return {
        "config": {
            "fractions": [0.2],
            "qber_threshold": 0.11,
            "train_episodes": episodes,
            "train_slices": 100,
        },
        "table": table,
        "training": {"runs": [{"converged_at": conv, "eval_returns": [1.0, 2.0]}]},
        # per-seed variances: baseline - ABFT-DRA = 4e-5 +- 1e-6, an interval clear of zero
        "episodes": {
            "baseline": {"0.2": {"qber_var_fluct": [1.01e-4, 0.99e-4, 1.0e-4]}},
            "abft-dra": {"0.2": {"qber_var_fluct": [6e-5, 6e-5, 6e-5]}},
        },
    }


def test_claims_verdicts_follow_the_stated_rules():
    agree = {
        c["claim"]: c["verdict"] for c in check_claims(_synthetic(0.95, 0.5, 0.008, 0.9999, 0.95))
    }
    assert set(agree.values()) == {"agrees"}  # variance: 1 - 6e-5 / 1e-4 = 40 % lower
    differ = {
        c["claim"]: c
        for c in check_claims(_synthetic(0.8, 0.8, 0.03, 0.9, 0.9, episodes=100, conv=50))
    }
    for key in ("key_rate", "qber", "availability"):
        assert differ[CLAIMS[key]]["verdict"] == "disagrees"
        assert differ[CLAIMS[key]]["why"]
    assert differ[CLAIMS["convergence"]]["verdict"] == "not comparable"
    unresolved = _synthetic(0.95, 0.5, 0.008, 0.9999, 0.95)
    unresolved["episodes"]["abft-dra"]["0.2"]["qber_var_fluct"] = [0.0, 1.8e-4, 0.0]
    verdict = {c["claim"]: c["verdict"] for c in check_claims(unresolved)}
    assert verdict[CLAIMS["qber_variance"]] == "not comparable"
    late = {
        c["claim"]: c["verdict"]
        for c in check_claims(_synthetic(0.95, 0.5, 0.008, 0.9999, 0.95, conv=700))
    }
    assert late[CLAIMS["convergence"]] == "disagrees"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--seeds", "1"], "--seeds"),
        (["--quick", "--full"], "not allowed with"),
        (["--dask-address", "tcp://127.0.0.1:1"], "--dask-address"),
        (["--workers", "0"], "--workers"),
        (["--executor", "spark"], "--executor"),
    ],
)
def test_bad_options_exit_2_and_write_nothing(tmp_path, capsys, argv, message):
    out = tmp_path / "never"
    assert run(["reproduce", "--quick", *argv, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert not out.exists()


def test_out_that_is_a_file_is_refused(tmp_path, capsys):
    target = tmp_path / "file"
    target.write_text("keep")
    assert run(["reproduce", "--quick", "--out", str(target)]) == 2
    assert "not a folder" in capsys.readouterr().err
    assert target.read_text() == "keep"


def test_config_validation():
    with pytest.raises(ValueError, match="eval_seeds"):
        ReproduceConfig(eval_seeds=1)
    with pytest.raises(ValueError, match="include 0"):
        ReproduceConfig(fractions=(0.1, 0.2))
    with pytest.raises(ValueError, match="scale"):
        ReproduceConfig.scale("huge")


def test_an_excluded_byzantine_relay_takes_its_links_out_of_routing():
    # MDI relays are Byzantine candidates of the experiment; the defence may exclude one
    from network.simulation.simulator import SimulationConfig, build_simulation

    sim = build_simulation(
        "secoqc",
        byzantine_fraction=0.3,
        config=SimulationConfig(duration_s=300.0),
        seed=5,
        kinds=("trusted", "relay"),
    )
    result = sim.run()
    assert "relay-bre-gud" in result.excluded_nodes
    through = [k for k in range(sim.n_links) if sim.topology.relay(k) == "relay-bre-gud"]
    assert through and set(through) <= sim.router.exclusions[1]
    assert "relay-bre-gud" not in sim.router.exclusions[0]
