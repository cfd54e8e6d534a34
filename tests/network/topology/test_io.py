"""JSON and GraphML: exact round trips, atomic writes, clear errors on malformed files."""

from __future__ import annotations

import itertools
import json
import os

import networkx as nx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import network.topology.io as topology_io
from network.errors import TopologyError
from network.topology import (
    QKDTopology,
    load_topology,
    random_geometric_topology,
    save_topology,
    scenario,
)
from network.topology.io import from_graphml, from_json, resolve_topology, to_graphml, to_json
from qkdcircuits import BB84DecoyParams, MDIParams

# Text XML 1.0 can hold (no control characters, surrogates or non-characters).
TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cc", "Cs", "Cn")), min_size=0, max_size=12
)
NAMES = st.one_of(TEXT.filter(bool), st.integers(-(10**6), 10**6))
COORDINATES = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)


@st.composite
def topologies(draw) -> QKDTopology:
    n_trusted = draw(st.integers(1, 5))
    n_endpoints = draw(st.integers(0, 3))
    n_links_max = 8
    names = draw(
        st.lists(
            NAMES,
            min_size=n_trusted + n_endpoints + n_links_max,
            max_size=n_trusted + n_endpoints + n_links_max,
            unique_by=str,
        )
    )
    trusted, endpoints = names[:n_trusted], names[n_trusted : n_trusted + n_endpoints]
    spare = iter(names[n_trusted + n_endpoints :])
    graph = nx.Graph()
    for node, kind in [*((n, "trusted") for n in trusted), *((n, "endpoint") for n in endpoints)]:
        pos = draw(st.none() | st.tuples(COORDINATES, COORDINATES))
        graph.add_node(node, kind=kind, **({} if pos is None else {"pos_km": pos}))
    pairs = list(itertools.combinations(trusted + endpoints, 2))
    chosen = (
        draw(st.lists(st.sampled_from(pairs), unique=True, max_size=n_links_max)) if pairs else []
    )
    for u, v in chosen:
        length = draw(st.floats(0.0, 100.0, allow_nan=False))
        if draw(st.booleans()):
            fraction = draw(st.sampled_from([0.5, 0.25]))
            relay = next(spare)
            graph.add_node(relay, kind="relay")
            params = MDIParams.xu2013(length_km=length, relay_fraction=fraction)
            graph.add_edge(u, v, protocol="mdi", params=params, relay=relay)
        else:
            graph.add_edge(
                u, v, protocol="bb84-decoy", params=BB84DecoyParams.gys(length_km=length)
            )
    plain = QKDTopology(graph)
    candidates = [(a, b) for a, b in pairs if plain.connected(a, b)]
    demands = draw(
        st.none() | st.lists(st.sampled_from(candidates), unique=True) if candidates else st.none()
    )
    return QKDTopology(
        graph,
        name=draw(TEXT),
        description=draw(TEXT),
        sources=tuple(draw(st.lists(TEXT, max_size=3))),
        demands=demands,
        decoy=draw(st.sampled_from(["infinite", {"mdi": "infinite"}])),
    )


SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(topologies())
def test_json_round_trip_is_exact(topo):
    again = from_json(to_json(topo))
    assert again == topo
    assert again.links == topo.links and again.nodes == topo.nodes
    assert again.lengths_km.tolist() == topo.lengths_km.tolist()
    assert again.demands == topo.demands and again.decoy == topo.decoy
    assert QKDTopology.from_dict(json.loads(json.dumps(topo.to_dict()))) == topo


@SETTINGS
@given(topologies())
def test_graphml_round_trip_is_exact(topo):
    again = from_graphml(to_graphml(topo))
    assert again == topo
    assert again.links == topo.links and again.nodes == topo.nodes
    assert [type(n) for n in again.nodes] == [type(n) for n in topo.nodes]
    assert again.link_params == topo.link_params


@pytest.mark.parametrize("suffix", [".json", ".graphml", ".xml"])
def test_files_round_trip(tmp_path, suffix):
    topo = random_geometric_topology(40, seed=7)
    path = save_topology(topo, tmp_path / f"net{suffix}")
    assert load_topology(path) == topo
    assert os.listdir(tmp_path) == [f"net{suffix}"]
    for name in ("secoqc", "tokyo", "cambridge", "backbone"):
        path = save_topology(scenario(name), tmp_path / f"{name}{suffix}")
        assert load_topology(path) == scenario(name)


def test_explicit_format_and_bad_suffix(tmp_path):
    topo = scenario("cambridge")
    path = save_topology(topo, tmp_path / "net.txt", format="graphml")
    assert load_topology(path, format="graphml") == topo
    with pytest.raises(ValueError, match="cannot tell the format"):
        load_topology(path)
    with pytest.raises(ValueError, match="cannot tell the format"):
        save_topology(topo, tmp_path / "net.yaml")
    with pytest.raises(ValueError, match="format='yaml'"):
        save_topology(topo, tmp_path / "net.json", format="yaml")
    with pytest.raises(TypeError, match="must be a QKDTopology"):
        save_topology(topo.to_dict(), tmp_path / "net.json")


def test_networkx_reads_our_graphml(tmp_path):
    topo = scenario("secoqc")
    path = save_topology(topo, tmp_path / "secoqc.graphml")
    graph = nx.read_graphml(path)
    assert set(graph.nodes) == {str(n) for n in topo.nodes}
    assert graph.nodes["STP"]["kind"] == "trusted"
    assert graph.edges["BRE", "STP"]["length_km"] == 85.0
    assert graph.graph["name"] == "secoqc"


@pytest.mark.parametrize("suffix", [".json", ".graphml"])
def test_failed_write_leaves_the_previous_file(tmp_path, monkeypatch, suffix):
    path = tmp_path / f"net{suffix}"
    save_topology(scenario("tokyo"), path)
    before = path.read_bytes()

    def broken(_fd):
        raise OSError("disk full")

    monkeypatch.setattr(topology_io.os, "fsync", broken)
    with pytest.raises(OSError, match="disk full"):
        save_topology(scenario("backbone"), path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == [path.name]


def test_graphml_cannot_hold_control_characters():
    graph = nx.Graph()
    graph.add_node("a\x01", kind="trusted")
    topo = QKDTopology(graph)
    with pytest.raises(ValueError, match="XML"):
        to_graphml(topo)
    assert from_json(to_json(topo)) == topo


# -- malformed files ------------------------------------------------------------------------

GOOD = to_graphml(scenario("cambridge"))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("<graphml><graph", "not well-formed XML"),
        ("<network/>", "root element <network> is not <graphml>"),
        ("<graphml/>", "expected one <graph>, found 0"),
        (GOOD.replace('edgedefault="undirected"', 'edgedefault="directed"'), "undirected"),
        (GOOD.replace('<data key="n_kind">trusted</data>', "", 1), "node 'CRL': kind=None"),
        (GOOD.replace('<data key="n_kind">', '<data key="n_colour">', 1), "unknown key 'n_colour'"),
        (GOOD.replace('source="CRL"', 'source="XYZ"', 1), "node 'XYZ' is not declared"),
        (GOOD.replace('<node id="ENG">', '<node id="CRL">', 1), "node 'CRL' is listed twice"),
        (
            GOOD.replace('"length_km":10.0', '"length_km":-10.0', 1),
            r"link \('CRL', 'ENG'\): params",
        ),
        (GOOD.replace('"length_km":10.0', '"length_km":NaN', 1), r"link \('CRL', 'ENG'\): params"),
        (
            GOOD.replace(
                '<data key="e_length_km">10.0</data>', '<data key="e_length_km">11.0</data>'
            ),
            r"link \('CRL', 'ENG'\): length_km=11.0 disagrees",
        ),
        (
            GOOD.replace(
                '<data key="e_length_km">10.0</data>', '<data key="e_length_km">ten</data>'
            ),
            "length_km='ten' is not a number",
        ),
        (
            GOOD.replace('<data key="e_params">{', '<data key="e_params">{{', 1),
            "params is not valid JSON",
        ),
        (
            GOOD.replace('<data key="e_protocol">bb84-decoy</data>', "", 1),
            "missing 'protocol'",
        ),
        (
            GOOD.replace(
                '<data key="e_protocol">bb84-decoy</data>', '<data key="e_protocol">e91</data>', 1
            ),
            r"link \('CRL', 'ENG'\): protocol='e91'",
        ),
        (
            GOOD.replace('<data key="g_version">1</data>', '<data key="g_version">2</data>'),
            "version=2",
        ),
        (
            GOOD.replace('<data key="g_format">abft-qkd-topology</data>', ""),
            "<graph> has no 'format'",
        ),
        (
            GOOD.replace('<node id="CRL">', '<node id="CRL"><data key="n_name_type">int</data>', 1),
            "name_type 'int' but not an integer",
        ),
        (GOOD.replace('<data key="g_demands">', '<data key="n_kind">', 1), "declared for 'node'"),
    ],
)
def test_malformed_graphml(text, message):
    assert text != GOOD or message == ""
    with pytest.raises(TopologyError, match=message):
        from_graphml(text, source="bad.graphml")


def test_malformed_graphml_file_names_the_file(tmp_path):
    path = tmp_path / "broken.graphml"
    path.write_text(GOOD.replace("</graphml>", ""))
    with pytest.raises(TopologyError, match=r"broken\.graphml.*not well-formed"):
        load_topology(path)
    path.write_bytes(b"\xff\xfe\x00junk")
    with pytest.raises(TopologyError, match="not UTF-8"):
        load_topology(path)


GOOD_DATA = scenario("cambridge").to_dict()


def edited(change):
    data = json.loads(json.dumps(GOOD_DATA))
    change(data)
    return json.dumps(data)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{", "not valid JSON"),
        ("[]", "must be a mapping"),
        (edited(lambda d: d.update(format="other")), "format='other'"),
        (edited(lambda d: d.update(version=9)), "version=9"),
        (edited(lambda d: d.pop("links")), "needs a list under 'links'"),
        (edited(lambda d: d["nodes"].append({"kind": "trusted"})), r"nodes\[8\]"),
        (edited(lambda d: d["nodes"].append(d["nodes"][0])), "listed twice"),
        (edited(lambda d: d["nodes"][0].update(name=1.5)), "node name 1.5"),
        (edited(lambda d: d["links"][0].update(ends=["CRL"])), r"links\[0\]: ends="),
        (edited(lambda d: d["links"][0].update(ends=["CRL", "XYZ"])), "node 'XYZ' is not listed"),
        (
            edited(lambda d: d["links"].append(d["links"][0])),
            r"link \('CRL', 'ENG'\) is listed twice",
        ),
        (edited(lambda d: d["links"][0].update(colour="red")), "unknown field"),
        (edited(lambda d: d["links"][0].update(params=None)), r"link \('CRL', 'ENG'\): params"),
        (
            edited(lambda d: d["links"][0]["params"]["channel"].update(length_km=-3.0)),
            r"link \('CRL', 'ENG'\): params: length_km=-3\.0 must be >= 0",
        ),
        (
            edited(lambda d: d["links"][0]["params"]["channel"].update(length_km=1e4)),
            r"link \('CRL', 'ENG'\) is 10000 km long",
        ),
        (edited(lambda d: d.update(demands=[["crl-user", "nobody"]])), "node 'nobody'"),
        (edited(lambda d: d.update(demands="all")), "demands='all'"),
        (edited(lambda d: d["nodes"][0].update(kind="satellite")), "node 'CRL': kind='satellite'"),
    ],
)
def test_malformed_json(text, message):
    with pytest.raises(TopologyError, match=message):
        from_json(text, source="bad.json")


def test_resolve_topology(tmp_path):
    assert resolve_topology("secoqc") is scenario("secoqc")
    path = save_topology(scenario("tokyo"), tmp_path / "t.json")
    assert resolve_topology(path) == scenario("tokyo")
    assert resolve_topology(str(path)) == scenario("tokyo")
    with pytest.raises(ValueError, match="neither a built-in scenario"):
        resolve_topology("vienna")
