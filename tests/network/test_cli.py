"""``abft-qkd network``: the entry point and the ``topologies`` listing."""

from __future__ import annotations

import json
from importlib.metadata import entry_points

import pytest

from network.topology import SCENARIOS, scenario
from qkdcircuits.cli import ENTRY_POINT_GROUP, main


def test_network_is_registered_in_the_entry_point_group():
    registered = {ep.name: ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)}
    assert registered.get("network") == "network.cli:register"


def test_topologies_json_lists_every_scenario_with_sources_nodes_and_counts(capsys):
    assert main(["network", "topologies", "--json"]) == 0
    out, err = capsys.readouterr()
    listing = json.loads(out)
    assert [entry["name"] for entry in listing] == list(SCENARIOS)
    for entry in listing:
        topo = scenario(entry["name"])
        assert entry["sources"] == list(topo.sources) and entry["sources"]
        assert entry["nodes"] == [{"name": n, "kind": topo.kind(n)} for n in topo.nodes]
        assert entry["link_counts"]["total"] == topo.n_links
        assert entry["link_counts"]["mdi"] == topo.link_protocols.count("mdi")
        assert entry["node_counts"]["relay"] == len(topo.relays)
        assert entry["description"] == topo.description
        assert entry["name"] in err  # the table, on stderr
    secoqc = listing[0]
    assert {"name": "STP", "kind": "trusted"} in secoqc["nodes"]
    assert "Peev" in secoqc["sources"][0]


def test_topologies_table_goes_to_stderr_only(capsys):
    assert main(["network", "topologies"]) == 0
    out, err = capsys.readouterr()
    assert out == ""
    lines = err.splitlines()
    assert lines[0].split()[:4] == ["name", "trusted", "endpoint", "relay"]
    backbone = next(line for line in lines if line.startswith("backbone"))
    assert backbone.split()[1:4] == ["32", "4", "2"]
    assert "Nature 589, 214 (2021)" in backbone


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["network", "topologies", "--bogus"], "network topologies: error: unrecognized arguments"),
        (["network", "--bogus", "topologies"], "network: error: unrecognized arguments: --bogus"),
        (["network"], "network: error: the following arguments are required: SUBCOMMAND"),
        (["network", "draw"], "network: error: argument SUBCOMMAND: invalid choice: 'draw'"),
        (["network", "topologies", "--json=yes"], "ignored explicit argument"),
    ],
)
def test_bad_options_exit_2_with_one_line(capsys, args, message):
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    assert exit_info.value.code == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert len(err.splitlines()) == 1 and message in err
