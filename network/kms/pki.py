"""A test public-key infrastructure for the KMS: a CA, KME server and SAE client certificates.

ETSI GS QKD 014 V1.1.1 clause 5.1 puts the API on HTTPS (TLS 1.2 or later) with mutual
authentication: the KME proves itself to the SAE and the SAE to the KME, each with a
certificate. :func:`create_test_pki` makes such a set with the :mod:`cryptography` package
(ECDSA P-256 keys from the operating system's random generator) and writes it to a folder:

``ca.pem``
    The test CA's certificate (its private key is not kept: the set cannot be extended).
``NAME.pem``, ``NAME.key``
    Certificate and private key (PKCS#8 PEM, mode 0600) of each SAE and each KME; an SAE's
    certificate has common name = its SAE ID and the client-authentication key usage; a
    KME's has common name = its node name, the server-authentication key usage and the
    host names / addresses it serves (``localhost``, ``127.0.0.1``, ``::1`` and any given).
``saes.json``
    The SAE-to-node map ``{SAE ID: node}``, and ``kmes.json``, the KME nodes.

Everything is generated in memory before anything is written, and each file is written to a
temporary name and renamed, so a failure leaves no half-written set.

The SAE ID of a client is read from its *verified* certificate (:func:`sae_id_from_certificate`),
never from the request.

Examples
--------
>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> written = create_test_pki(folder, saes={"alice": "CRL", "bob": "EED"})
>>> sorted(p.name for p in folder.iterdir())  # doctest: +NORMALIZE_WHITESPACE
['CRL.key', 'CRL.pem', 'EED.key', 'EED.pem', 'alice.key', 'alice.pem', 'bob.key', 'bob.pem',
 'ca.pem', 'kmes.json', 'saes.json']
>>> sae_id_from_certificate((folder / "alice.pem").read_bytes())
'alice'
>>> sae_id_from_certificate((folder / "CRL.pem").read_bytes()) is None  # a KME, not an SAE
True
"""

from __future__ import annotations

import datetime
import functools
import ipaddress
import json
import os
import ssl
import tempfile
from collections.abc import Hashable, Iterable, Mapping
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from network.kms.service import check_sae_id

__all__ = [
    "DEFAULT_HOSTS",
    "client_ssl_context",
    "create_test_pki",
    "read_pki_map",
    "sae_id_from_certificate",
    "server_ssl_files",
]

DEFAULT_HOSTS: tuple[str, ...] = ("localhost", "127.0.0.1", "::1")
"""Names and addresses every KME certificate is valid for."""

_VALIDITY = datetime.timedelta(days=365)


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "abft-qkd test PKI"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _alt_name(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def _builder(
    *,
    subject: x509.Name,
    issuer: x509.Name,
    public_key: ec.EllipticCurvePublicKey,
    now: datetime.datetime,
    ca: bool,
) -> x509.CertificateBuilder:
    """Start a certificate valid from an hour before ``now`` for :data:`_VALIDITY` (unsigned).

    A CA certificate (``ca=True``, no intermediate CAs below it) may sign certificates and
    CRLs; a leaf certificate may sign (TLS handshakes) and agree keys (ECDHE).
    """
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + _VALIDITY)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=0 if ca else None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=not ca,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=not ca,
                key_cert_sign=ca,
                crl_sign=ca,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    )


def _issue(
    *,
    subject: str,
    ca_key: ec.EllipticCurvePrivateKey,
    ca_name: x509.Name,
    now: datetime.datetime,
    usage: x509.ObjectIdentifier,
    hosts: Iterable[str] = (),
) -> tuple[bytes, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    builder = _builder(
        subject=_name(subject), issuer=ca_name, public_key=key.public_key(), now=now, ca=False
    ).add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    names = [_alt_name(host) for host in hosts]
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    cert = builder.sign(ca_key, hashes.SHA256())
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def _write_atomic(path: Path, data: bytes, mode: int = 0o644) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def create_test_pki(
    out_dir: str | os.PathLike[str],
    *,
    saes: Mapping[str, Hashable],
    kme_nodes: Iterable[Hashable] = (),
    hosts: Iterable[str] = (),
) -> dict[str, Path]:
    """Create a CA and certificates for SAEs and KMEs; write them to ``out_dir``.

    Parameters
    ----------
    out_dir : path
        Folder to write to (created if missing; existing files of the same names are
        replaced).
    saes : mapping SAE ID -> node
        Each SAE and the node of its KME (SAE IDs: see :func:`network.kms.check_sae_id`).
    kme_nodes : iterable of nodes
        KMEs to certify besides those of the SAEs' nodes.
    hosts : iterable of str
        Host names or IP addresses the KMEs serve, besides :data:`DEFAULT_HOSTS`.

    Returns
    -------
    dict
        File name (``"ca.pem"``, ``"alice.pem"``, ...) -> path written.

    Raises
    ------
    TypeError, ValueError
        If an SAE ID or node name is invalid (node names must also be valid SAE IDs, as they
        name files), an SAE and a KME share a name, or ``saes`` is empty.
    """
    if not isinstance(saes, Mapping) or not saes:
        raise ValueError("saes must be a non-empty mapping SAE ID -> node")
    for sae in saes:
        check_sae_id(sae, "SAE ID")
    nodes = list(dict.fromkeys([*saes.values(), *kme_nodes]))
    for node in nodes:
        check_sae_id(str(node), "KME node name")
        if str(node) in saes:
            raise ValueError(f"{node!r} names both an SAE and a KME")
    names = [str(node) for node in nodes]
    if len(set(names)) != len(names):
        raise ValueError("KME nodes must have distinct names")
    all_hosts = list(dict.fromkeys([*DEFAULT_HOSTS, *hosts]))
    for host in all_hosts:
        if not isinstance(host, str) or not host:
            raise ValueError(f"host {host!r} must be a non-empty string")

    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("abft-qkd test CA")
    ca_cert = _builder(
        subject=ca_name, issuer=ca_name, public_key=ca_key.public_key(), now=now, ca=True
    ).sign(ca_key, hashes.SHA256())
    files: dict[str, tuple[bytes, int]] = {
        "ca.pem": (ca_cert.public_bytes(serialization.Encoding.PEM), 0o644)
    }
    issue = functools.partial(_issue, ca_key=ca_key, ca_name=ca_name, now=now)
    for sae in saes:
        cert, key = issue(subject=sae, usage=ExtendedKeyUsageOID.CLIENT_AUTH)
        files[f"{sae}.pem"], files[f"{sae}.key"] = (cert, 0o644), (key, 0o600)
    for name in names:
        cert, key = issue(subject=name, usage=ExtendedKeyUsageOID.SERVER_AUTH, hosts=all_hosts)
        files[f"{name}.pem"], files[f"{name}.key"] = (cert, 0o644), (key, 0o600)
    saes_json = json.dumps({sae: str(node) for sae, node in saes.items()}, indent=1) + "\n"
    files["saes.json"] = (saes_json.encode(), 0o644)
    files["kmes.json"] = ((json.dumps(names, indent=1) + "\n").encode(), 0o644)

    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    written = {}
    for file_name, (data, mode) in files.items():
        _write_atomic(folder / file_name, data, mode)
        written[file_name] = folder / file_name
    return written


def read_pki_map(pki_dir: str | os.PathLike[str]) -> tuple[dict[str, str], list[str]]:
    """Read the SAE-to-node map and KME nodes of a folder written by :func:`create_test_pki`.

    Raises
    ------
    FileNotFoundError
        If ``saes.json`` or ``kmes.json`` is missing.
    ValueError
        If they do not hold a ``{SAE ID: node}`` object and a list of node names.
    """
    folder = Path(pki_dir)
    saes = json.loads((folder / "saes.json").read_text())
    kmes = json.loads((folder / "kmes.json").read_text())
    if not isinstance(saes, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in saes.items()
    ):
        raise ValueError(f"{folder / 'saes.json'} must hold an object SAE ID -> node name")
    if not isinstance(kmes, list) or not all(isinstance(k, str) for k in kmes):
        raise ValueError(f"{folder / 'kmes.json'} must hold a list of node names")
    return saes, kmes


def server_ssl_files(pki_dir: str | os.PathLike[str], kme: Hashable) -> dict[str, str]:
    """Return the uvicorn TLS options of a KME: its certificate and key, the CA for clients.

    Raises
    ------
    FileNotFoundError
        If a file is missing.
    """
    folder = Path(pki_dir)
    files = {
        "ssl_certfile": folder / f"{kme}.pem",
        "ssl_keyfile": folder / f"{kme}.key",
        "ssl_ca_certs": folder / "ca.pem",
    }
    for path in files.values():
        if not path.is_file():
            raise FileNotFoundError(f"{path} is missing (make the PKI with `abft-qkd kms pki`)")
    return {name: str(path) for name, path in files.items()}


def client_ssl_context(pki_dir: str | os.PathLike[str], sae: str | None) -> ssl.SSLContext:
    """Make a TLS 1.2+ client context that trusts the test CA and presents an SAE's certificate.

    Parameters
    ----------
    pki_dir : path
        A folder written by :func:`create_test_pki`.
    sae : str or None
        The SAE whose certificate to present (``None``: none, which the KMEs refuse).

    Returns
    -------
    ssl.SSLContext
        For ``httpx.Client(verify=context)``; KME host names are checked.

    Examples
    --------
    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> _ = create_test_pki(folder, saes={"alice": "A"})
    >>> client_ssl_context(folder, "alice").minimum_version
    <TLSVersion.TLSv1_2: 771>
    """
    folder = Path(pki_dir)
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(folder / "ca.pem"))
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if sae is not None:
        check_sae_id(sae, "sae")
        context.load_cert_chain(str(folder / f"{sae}.pem"), str(folder / f"{sae}.key"))
    return context


@functools.lru_cache(maxsize=1024)
def sae_id_from_certificate(certificate: bytes | str) -> str | None:
    """Return the SAE ID a client certificate names, or ``None`` if it names no SAE.

    The certificate must already have been verified against the CA (the TLS handshake does
    it); this reads its common name and checks that it is a client certificate (extended key
    usage ``clientAuth``), so that a KME's server certificate never passes for an SAE.

    Parameters
    ----------
    certificate : bytes or str
        The certificate, PEM or DER.

    Returns
    -------
    str or None
    """
    data = certificate.encode() if isinstance(certificate, str) else bytes(certificate)
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            cert = x509.load_pem_x509_certificate(data)
        else:
            cert = x509.load_der_x509_certificate(data)
        usages = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    except (ValueError, x509.ExtensionNotFound):
        return None
    if ExtendedKeyUsageOID.CLIENT_AUTH not in usages or len(names) != 1:
        return None
    value: Any = names[0].value
    try:
        return check_sae_id(value)
    except (TypeError, ValueError):
        return None
