"""Topologies to and from JSON and GraphML files, exactly and atomically.

Both formats keep everything a :class:`~network.topology.QKDTopology` holds, in order: node names
(str or int) and kinds, positions, links with protocol, parameters and relay, link ids (the
order of the links), name, description, sources, decoy methods and demands. Loading what was
saved gives an equal topology (``==``), every float bit for bit.

* **JSON**: :meth:`QKDTopology.to_dict` as text (strict JSON: no NaN).
* **GraphML** (http://graphml.graphdrawing.org): one ``<node>`` per node (``id`` = the name as
  text; ``name_type`` = ``"int"`` for an integer name), ``kind``, ``x_km``/``y_km``; one
  ``<edge>`` per link in link-id order with ``protocol``, ``relay`` (the relay's node id),
  ``length_km`` (a double, for graph tools; it must agree with the parameters) and ``params``,
  the parameter object's ``to_dict()`` as JSON text; graph data ``name``, ``description``,
  and ``sources``, ``decoy``, ``demands`` as JSON text. Data are matched by their key's
  ``attr.name``, so key ids written by other tools work.

Files are written to a temporary file in the target's directory and moved into place with
:func:`os.replace`, so a failed or interrupted save leaves the previous file (or none), never
half a file. A file that cannot be read raises :class:`~network.errors.TopologyError` naming
the file and the element at fault.

Examples
--------
>>> import tempfile, pathlib
>>> from network.topology import scenario
>>> topo = scenario("cambridge")
>>> with tempfile.TemporaryDirectory() as tmp:
...     path = pathlib.Path(tmp) / "cambridge.graphml"
...     _ = save_topology(topo, path)
...     load_topology(path) == topo
True
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Hashable
from pathlib import Path
from typing import Any

from network.errors import TopologyError
from network.topology.model import FORMAT, FORMAT_VERSION, QKDTopology

__all__ = [
    "FILE_FORMATS",
    "from_graphml",
    "from_json",
    "load_topology",
    "resolve_topology",
    "save_topology",
    "to_graphml",
    "to_json",
]

FILE_FORMATS: dict[str, str] = {".json": "json", ".graphml": "graphml", ".xml": "graphml"}
"""File suffix -> format used when ``format`` is not given."""

GRAPHML_NS = "http://graphml.graphdrawing.org/xmlns"

# (domain, attribute name, GraphML type) of every datum written.
_KEYS: tuple[tuple[str, str, str], ...] = (
    ("graph", "format", "string"),
    ("graph", "version", "int"),
    ("graph", "name", "string"),
    ("graph", "description", "string"),
    ("graph", "sources", "string"),
    ("graph", "decoy", "string"),
    ("graph", "demands", "string"),
    ("node", "kind", "string"),
    ("node", "name_type", "string"),
    ("node", "x_km", "double"),
    ("node", "y_km", "double"),
    ("edge", "protocol", "string"),
    ("edge", "relay", "string"),
    ("edge", "length_km", "double"),
    ("edge", "params", "string"),
)


def to_json(topology: QKDTopology) -> str:
    """JSON text of ``topology`` (:meth:`QKDTopology.to_dict`, indented).

    Parameters
    ----------
    topology : QKDTopology

    Returns
    -------
    str

    Examples
    --------
    >>> from network.topology import scenario
    >>> from_json(to_json(scenario("tokyo"))) == scenario("tokyo")
    True
    """
    _check_topology(topology)
    return json.dumps(topology.to_dict(), indent=1, allow_nan=False) + "\n"


def from_json(text: str, *, source: str = "JSON text") -> QKDTopology:
    """Topology from JSON text written by :func:`to_json`.

    Parameters
    ----------
    text : str
        The JSON document.
    source : str
        Name used in error messages (a file path).

    Returns
    -------
    QKDTopology

    Raises
    ------
    TopologyError
        For text that is not JSON, or a document that is not a valid topology.

    Examples
    --------
    >>> from_json("[", source="x.json")
    Traceback (most recent call last):
    ...
    network.errors.TopologyError: x.json: not valid JSON: Expecting value: line 1 column 2 (char 1)
    """
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise TopologyError(f"{source}: not valid JSON: {exc}") from exc
    try:
        return QKDTopology.from_dict(data)
    except TopologyError as exc:
        raise TopologyError(f"{source}: {exc}") from exc


def _json_text(value: Any) -> str:
    return json.dumps(value, allow_nan=False, separators=(",", ":"))


# Characters XML 1.0 cannot carry, even escaped (control characters, surrogates, U+FFFE/F).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _xml_text(value: str, what: str) -> str:
    if _NOT_XML.search(value):
        raise ValueError(f"{what} {value!r} holds characters that XML (GraphML) cannot store")
    return value


def to_graphml(topology: QKDTopology) -> str:
    """GraphML text of ``topology`` (see the module docstring for the schema).

    Parameters
    ----------
    topology : QKDTopology

    Returns
    -------
    str

    Raises
    ------
    TypeError
        If ``topology`` is not a :class:`QKDTopology`.
    ValueError
        If a name or the description holds characters XML cannot store (control characters).

    Examples
    --------
    >>> from network.topology import scenario
    >>> text = to_graphml(scenario("cambridge"))
    >>> text.splitlines()[1][:60]
    '<graphml xmlns="http://graphml.graphdrawing.org/xmlns">'
    """
    _check_topology(topology)
    ET.register_namespace("", GRAPHML_NS)
    root = ET.Element(f"{{{GRAPHML_NS}}}graphml")
    key_id = {}
    for domain, name, kind in _KEYS:
        key_id[domain, name] = f"{domain[0]}_{name}"
        ET.SubElement(
            root,
            f"{{{GRAPHML_NS}}}key",
            {"id": key_id[domain, name], "for": domain, "attr.name": name, "attr.type": kind},
        )
    graph = ET.SubElement(root, f"{{{GRAPHML_NS}}}graph", {"id": "G", "edgedefault": "undirected"})

    def data(parent: ET.Element, domain: str, name: str, value: str) -> None:
        element = ET.SubElement(parent, f"{{{GRAPHML_NS}}}data", {"key": key_id[domain, name]})
        element.text = value

    meta = topology.to_dict()
    data(graph, "graph", "format", FORMAT)
    data(graph, "graph", "version", str(FORMAT_VERSION))
    data(graph, "graph", "name", _xml_text(meta["name"], "name"))
    data(graph, "graph", "description", _xml_text(meta["description"], "description"))
    for name in ("sources", "decoy", "demands"):
        data(graph, "graph", name, _json_text(meta[name]))
    for node, attributes in topology.graph.nodes(data=True):
        ident = _xml_text(str(node), "node name")
        element = ET.SubElement(graph, f"{{{GRAPHML_NS}}}node", {"id": ident})
        data(element, "node", "kind", attributes["kind"])
        if isinstance(node, int):
            data(element, "node", "name_type", "int")
        if "pos_km" in attributes:
            x, y = attributes["pos_km"]
            data(element, "node", "x_km", repr(float(x)))
            data(element, "node", "y_km", repr(float(y)))
    for link_id, (u, v) in enumerate(topology.links):
        attributes = topology.graph.edges[u, v]
        element = ET.SubElement(
            graph,
            f"{{{GRAPHML_NS}}}edge",
            {"id": f"e{link_id}", "source": str(u), "target": str(v)},
        )
        data(element, "edge", "protocol", attributes["protocol"])
        if "relay" in attributes:
            data(element, "edge", "relay", str(attributes["relay"]))
        data(element, "edge", "length_km", repr(float(attributes["length_km"])))
        data(element, "edge", "params", _json_text(attributes["params"].to_dict()))
    ET.indent(root, space=" ")
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _children(element: ET.Element, name: str) -> list[ET.Element]:
    return [child for child in element if _local(child.tag) == name]


class _GraphMLReader:
    """Reads the data of one GraphML document by attribute name."""

    def __init__(self, text: str, source: str) -> None:
        self.source = source
        try:
            self.root = ET.fromstring(text)
        except ET.ParseError as exc:
            raise TopologyError(f"{source}: not well-formed XML: {exc}") from exc
        if _local(self.root.tag) != "graphml":
            raise TopologyError(
                f"{source}: root element <{_local(self.root.tag)}> is not <graphml>"
            )
        self.keys: dict[str, tuple[str, str, str]] = {}
        for key in _children(self.root, "key"):
            ident, name = key.get("id"), key.get("attr.name")
            if ident is None or name is None:
                raise TopologyError(f"{source}: <key> {key.attrib} needs 'id' and 'attr.name'")
            self.keys[ident] = (key.get("for", "all"), name, key.get("attr.type", "string"))
        graphs = _children(self.root, "graph")
        if len(graphs) != 1:
            raise TopologyError(f"{source}: expected one <graph>, found {len(graphs)}")
        self.graph = graphs[0]
        if self.graph.get("edgedefault", "directed") != "undirected":
            raise TopologyError(f"{source}: the <graph> must have edgedefault='undirected'")

    def data(self, element: ET.Element, domain: str, where: str) -> dict[str, str]:
        values: dict[str, str] = {}
        for datum in _children(element, "data"):
            key = datum.get("key")
            if key not in self.keys:
                raise TopologyError(f"{self.source}: {where}: <data> with unknown key {key!r}")
            target, name, _ = self.keys[key]
            if target not in (domain, "all"):
                raise TopologyError(
                    f"{self.source}: {where}: key {key!r} is declared for {target!r}, "
                    f"not {domain!r}"
                )
            values[name] = datum.text or ""
        allowed = {name for d, name, _ in _KEYS if d == domain}
        unknown = set(values) - allowed
        if unknown:
            raise TopologyError(
                f"{self.source}: {where}: unknown attribute(s) {sorted(unknown)}; "
                f"expected some of {sorted(allowed)}"
            )
        return values

    def json_value(self, values: dict[str, str], name: str, where: str, default: Any) -> Any:
        if name not in values:
            return default
        try:
            return json.loads(values[name])
        except json.JSONDecodeError as exc:
            raise TopologyError(f"{self.source}: {where}: {name} is not valid JSON: {exc}") from exc

    def number(self, values: dict[str, str], name: str, where: str) -> float:
        try:
            return float(values[name])
        except ValueError as exc:
            raise TopologyError(
                f"{self.source}: {where}: {name}={values[name]!r} is not a number"
            ) from exc


def from_graphml(text: str, *, source: str = "GraphML text") -> QKDTopology:
    """Topology from GraphML text written by :func:`to_graphml`.

    Parameters
    ----------
    text : str
        The GraphML document.
    source : str
        Name used in error messages (a file path).

    Returns
    -------
    QKDTopology

    Raises
    ------
    TopologyError
        For malformed XML, a document that does not follow the schema (naming the node or edge),
        or a topology that does not validate.

    Examples
    --------
    >>> from_graphml("<graphml><graph edgedefault='undirected'><node/></graph></graphml>")
    Traceback (most recent call last):
    ...
    network.errors.TopologyError: GraphML text: <node> #0 has no 'id'
    """
    reader = _GraphMLReader(text, source)
    meta = reader.data(reader.graph, "graph", "<graph>")
    ids: dict[str, Hashable] = {}
    nodes = []
    for index, element in enumerate(_children(reader.graph, "node")):
        ident = element.get("id")
        if ident is None:
            raise TopologyError(f"{source}: <node> #{index} has no 'id'")
        where = f"node {ident!r}"
        values = reader.data(element, "node", where)
        name: Hashable = ident
        if values.get("name_type", "str") == "int":
            try:
                name = int(ident)
            except ValueError as exc:
                raise TopologyError(
                    f"{source}: {where}: name_type 'int' but not an integer"
                ) from exc
        elif values.get("name_type", "str") != "str":
            raise TopologyError(f"{source}: {where}: name_type={values['name_type']!r}")
        if ident in ids:
            raise TopologyError(f"{source}: {where} is listed twice")
        ids[ident] = name
        entry: dict[str, Any] = {"name": name, "kind": values.get("kind")}
        if "x_km" in values or "y_km" in values:
            if not ("x_km" in values and "y_km" in values):
                raise TopologyError(f"{source}: {where}: x_km and y_km must come together")
            entry["pos_km"] = [
                reader.number(values, "x_km", where),
                reader.number(values, "y_km", where),
            ]
        nodes.append(entry)

    def node_of(ident: str | None, where: str) -> Hashable:
        if ident not in ids:
            raise TopologyError(f"{source}: {where}: node {ident!r} is not declared")
        return ids[ident]

    links = []
    for index, element in enumerate(_children(reader.graph, "edge")):
        where = f"<edge> #{index} ({element.get('source')!r}, {element.get('target')!r})"
        u = node_of(element.get("source"), where)
        v = node_of(element.get("target"), where)
        values = reader.data(element, "edge", where)
        for name in ("protocol", "params"):
            if name not in values:
                raise TopologyError(f"{source}: {where}: missing {name!r}")
        entry = {
            "ends": [u, v],
            "protocol": values["protocol"],
            "params": reader.json_value(values, "params", where, None),
        }
        if "relay" in values:
            entry["relay"] = node_of(values["relay"], where)
        if not isinstance(entry["params"], dict):
            raise TopologyError(f"{source}: {where}: params must be a JSON object")
        links.append(
            (entry, reader.number(values, "length_km", where) if "length_km" in values else None)
        )
    for name in ("format", "version"):
        if name not in meta:
            raise TopologyError(f"{source}: <graph> has no {name!r} datum")
    try:
        version = int(meta["version"])
    except ValueError as exc:
        raise TopologyError(f"{source}: version={meta['version']!r} is not an integer") from exc
    data = {
        "format": meta["format"],
        "version": version,
        "name": meta.get("name", "custom"),
        "description": meta.get("description", ""),
        "sources": reader.json_value(meta, "sources", "<graph>", []),
        "decoy": reader.json_value(meta, "decoy", "<graph>", "infinite"),
        "demands": reader.json_value(meta, "demands", "<graph>", None),
        "nodes": nodes,
        "links": [entry for entry, _ in links],
    }
    try:
        topology = QKDTopology.from_dict(data)
    except TopologyError as exc:
        raise TopologyError(f"{source}: {exc}") from exc
    for (entry, length), stored in zip(links, topology.lengths_km, strict=True):
        if length is not None and length != stored:
            u, v = entry["ends"]
            raise TopologyError(
                f"{source}: link ({u!r}, {v!r}): length_km={length!r} disagrees with its "
                f"parameters ({float(stored)!r} km)"
            )
    return topology


def _check_topology(topology: Any) -> None:
    if not isinstance(topology, QKDTopology):
        raise TypeError(f"topology={topology!r} must be a QKDTopology")


def _format_of(path: Path, format: str | None) -> str:
    if format is not None:
        if format not in ("json", "graphml"):
            raise ValueError(f"format={format!r} must be 'json' or 'graphml'")
        return format
    try:
        return FILE_FORMATS[path.suffix.lower()]
    except KeyError:
        raise ValueError(
            f"cannot tell the format of {str(path)!r} from its suffix; use one of "
            f"{sorted(FILE_FORMATS)} or pass format='json' or 'graphml'"
        ) from None


def save_topology(
    topology: QKDTopology, path: str | os.PathLike[str], *, format: str | None = None
) -> Path:
    """Write ``topology`` to ``path`` atomically (temporary file, then :func:`os.replace`).

    Parameters
    ----------
    topology : QKDTopology
        What to save.
    path : str or path-like
        Target file; its directory must exist.
    format : {"json", "graphml"}, optional
        File format; from the suffix (``.json``, ``.graphml``, ``.xml``) when omitted.

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    TypeError
        If ``topology`` is not a :class:`QKDTopology`.
    ValueError
        For an unknown format or suffix.
    OSError
        If the file cannot be written (the previous file, if any, is left as it was).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from network.topology import scenario
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     save_topology(scenario("tokyo"), pathlib.Path(tmp) / "tokyo.json").name
    'tokyo.json'
    """
    path = Path(path)
    text = to_json(topology) if _format_of(path, format) == "json" else to_graphml(topology)
    descriptor, temporary = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"
    )
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def load_topology(path: str | os.PathLike[str], *, format: str | None = None) -> QKDTopology:
    """Read a topology written by :func:`save_topology`.

    Parameters
    ----------
    path : str or path-like
        The file.
    format : {"json", "graphml"}, optional
        File format; from the suffix when omitted.

    Returns
    -------
    QKDTopology

    Raises
    ------
    FileNotFoundError
        If there is no such file.
    ValueError
        For an unknown format or suffix.
    TopologyError
        For a file that is not a valid topology (the message names the file and the element).

    Examples
    --------
    >>> load_topology("/no/such/file.json")
    Traceback (most recent call last):
    ...
    FileNotFoundError: [Errno 2] No such file or directory: '/no/such/file.json'
    """
    path = Path(path)
    kind = _format_of(path, format)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise TopologyError(f"{str(path)!r}: not UTF-8 text: {exc}") from exc
    if kind == "json":
        return from_json(text, source=repr(str(path)))
    return from_graphml(text, source=repr(str(path)))


def resolve_topology(spec: str | os.PathLike[str]) -> QKDTopology:
    """Return a built-in scenario by name, or read a topology file by path.

    Parameters
    ----------
    spec : str or path-like
        A name in :data:`~network.topology.SCENARIOS` or the path of a ``.json`` / ``.graphml``
        file.

    Returns
    -------
    QKDTopology

    Raises
    ------
    ValueError
        If ``spec`` is neither a scenario name nor an existing file (the message lists the
        scenario names).
    TopologyError
        For a file that is not a valid topology.

    Examples
    --------
    >>> resolve_topology("tokyo").name
    'tokyo'
    """
    from network.topology.scenarios import SCENARIOS, scenario

    if isinstance(spec, str) and spec in SCENARIOS:
        return scenario(spec)
    path = Path(spec)
    if not path.is_file():
        raise ValueError(
            f"topology {str(spec)!r} is neither a built-in scenario "
            f"({', '.join(sorted(SCENARIOS))}) nor an existing file"
        )
    return load_topology(path)
