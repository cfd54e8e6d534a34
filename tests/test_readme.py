"""README.md's Python examples run as written, and its commands name real subcommands."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
# Examples that need an IBM Quantum account are shown, not run.
EXAMPLES = [
    block
    for block in re.findall(r"```python\n(.*?)```", README, flags=re.DOTALL)
    if "QiskitRuntimeService" not in block
]


def test_readme_has_examples_for_every_layer():
    text = "\n".join(EXAMPLES)
    for package in ("qkdcircuits", "network", "rl"):
        assert re.search(rf"^(from|import) {package}\b", text, flags=re.MULTILINE), package


@pytest.mark.slow
@pytest.mark.parametrize("index", range(len(EXAMPLES)))
def test_python_example_runs(index, tmp_path):
    script = tmp_path / f"example_{index}.py"
    script.write_text(EXAMPLES[index])
    # A file, not `python -c`, so that a process pool can import the example's functions.
    done = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "MPLBACKEND": "Agg", "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode == 0, f"example {index}:\n{EXAMPLES[index]}\n{done.stderr[-3000:]}"


def test_every_command_in_the_readme_is_a_subcommand():
    """Each ``abft-qkd X Y`` line names a subcommand that ``abft-qkd X --help`` lists."""
    commands = set(re.findall(r"abft-qkd ([a-z0-9-]+)(?: ([a-z][a-z0-9-]+))?", README))
    assert {name for name, _ in commands} >= {"reproduce", "mdi", "keyrate", "network", "rl"}
    for name, sub in sorted(commands):
        argv = [sys.executable, "-m", "qkdcircuits.cli", name, "--help"]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=120, cwd=ROOT)
        assert done.returncode == 0, f"abft-qkd {name}: {done.stderr[-500:]}"
        if sub and f"{{{sub}" not in done.stdout and f"    {sub}" not in done.stdout:
            pytest.fail(f"abft-qkd {name} lists no subcommand {sub!r}:\n{done.stdout}")


def test_results_section_is_the_committed_output_of_reproduce():
    """The README's table is a verbatim excerpt of results/default/results.md, not typed by hand."""
    match = re.search(r"<!-- results:begin -->\n(.*?)<!-- results:end -->", README, re.DOTALL)
    assert match, "README.md has no results section"
    excerpt = match.group(1).strip()
    assert excerpt.count("\n|") >= 5, "the results section holds no table"
    produced = (ROOT / "results" / "default" / "results.md").read_text()
    assert excerpt in produced, "README's results differ from results/default/results.md"
    for name in ("results.json", "results.md"):
        assert (ROOT / "results" / "default" / name).is_file(), name
    assert list((ROOT / "results" / "default").glob("*.png")), "no plots committed"
