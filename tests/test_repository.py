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
    """The first command installs from scratch and ends in the main job, ``abft-qkd reproduce``."""
    readme = (ROOT / "README.md").read_text()
    command = (
        "python3 -m venv .venv && . .venv/bin/activate && pip install torch==2.13.0 && "
        "pip install . && abft-qkd reproduce"
    )
    assert command in readme.splitlines()


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


PACKAGES = ("qkdcircuits", "network", "rl")


def _is_module(dotted: str) -> bool:
    path = ROOT.joinpath(*dotted.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _private_imports(source: str, module: str) -> list[str]:
    """``from x import _y`` and ``x._y`` in ``source`` (the code of ``module``), where ``_y`` is
    a private name of a module of this project; importing a private *module* is allowed."""
    import ast

    tree = ast.parse(source)
    found = []
    aliases = {}  # local name -> project module it stands for
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = module.split(".")[: -node.level]
                base = ".".join([*parts, base] if base else parts)
            if base.split(".")[0] not in PACKAGES:
                continue
            for alias in node.names:
                if _is_module(f"{base}.{alias.name}"):
                    aliases[alias.asname or alias.name] = f"{base}.{alias.name}"
                elif _private(alias.name):
                    found.append(f"line {node.lineno}: from {base} import {alias.name}")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in PACKAGES and alias.asname:
                    aliases[alias.asname] = alias.name
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and _private(node.attr)
            and isinstance(node.value, ast.Name)
            and node.value.id in aliases
            and not _is_module(f"{aliases[node.value.id]}.{node.attr}")
        ):
            found.append(f"line {node.lineno}: {aliases[node.value.id]}.{node.attr}")
    return found


def test_private_import_scan_finds_private_names_and_allows_private_modules():
    source = (
        "from qkdcircuits.engine._common import prepare_run\n"
        "from qkdcircuits.engine import _common\n"
        "from qkdcircuits.links.decoy import _hidden, visible\n"
        "from . import _helper\n"
        "from numpy import _private_of_numpy\n"
        "import qkdcircuits.links.rates as rates\n"
        "rates._clip(1.0)\n"
        "_common._seed()\n"
    )
    assert _private_imports(source, "qkdcircuits.links.montecarlo") == [
        "line 3: from qkdcircuits.links.decoy import _hidden",
        "line 4: from qkdcircuits.links import _helper",
        "line 7: qkdcircuits.links.rates._clip",
        "line 8: qkdcircuits.engine._common._seed",
    ]


def test_no_private_name_is_imported_across_modules():
    """A helper that two modules share gets a plain name in a private module."""
    found = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            found += [
                f"{path.relative_to(ROOT)} {hit}"
                for hit in _private_imports(path.read_text(), module)
            ]
    assert not found, "\n".join(found)
