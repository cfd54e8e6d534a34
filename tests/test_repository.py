"""Repository-level checks: the CI script runs the README's test command, the CLI plugin group."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _last_command(path: Path) -> str:
    lines = [line.strip() for line in path.read_text().splitlines() if line.strip()]
    return lines[-1]


def test_ci_runs_exactly_the_readme_test_command():
    command = _last_command(ROOT / ".ci" / "run")
    readme = (ROOT / "README.md").read_text()
    assert command in readme.splitlines(), command


def test_readme_gives_the_install_and_run_command():
    readme = (ROOT / "README.md").read_text()
    assert "pip install torch==2.13.0 && pip install . && abft-qkd mdi" in readme


def test_layers_do_not_import_upwards():
    """qkdcircuits never imports network or rl; network never imports rl."""
    forbidden = {"qkdcircuits": ("network", "rl"), "network": ("rl",)}
    for package, above in forbidden.items():
        for path in (ROOT / package).rglob("*.py"):
            for line in path.read_text().splitlines():
                stripped = line.strip()
                for name in above:
                    assert not stripped.startswith((f"import {name}", f"from {name}")), (
                        f"{path}: {stripped}"
                    )


def test_public_api_names_exist():
    import network
    import qkdcircuits
    import rl

    for module in (qkdcircuits, network, rl):
        for name in module.__all__:
            assert hasattr(module, name), f"{module.__name__}.{name}"


def test_link_physics_imports_without_qiskit():
    """The network layer reads link reports and key rates without paying for a Qiskit import."""
    import subprocess
    import sys

    code = (
        "import sys; from qkdcircuits import LinkReport, link_report, key_rate_curve, KeyPool; "
        "link_report(protocol='mdi', length_km=10); "
        "assert 'qiskit' not in sys.modules, sorted(m for m in sys.modules if 'qiskit' in m)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_lazy_exports_resolve_and_unknown_names_fail():
    import pytest

    import qkdcircuits

    assert qkdcircuits.simulate_mdi is qkdcircuits.engine.rounds.simulate_mdi
    with pytest.raises(AttributeError, match="no_such_name"):
        qkdcircuits.no_such_name  # noqa: B018
