"""The KMEs behind HTTPS: FastAPI routers under uvicorn, with mutual TLS.

Each KME of a :class:`~network.kms.service.KeyManagementService` gets its own FastAPI app
(:func:`create_app`) and its own port; :class:`KMSCluster` runs them all in one background
event loop. The routes are those of ETSI GS QKD 014 V1.1.1 clause 5:

=======  =======================================  ==============================================
GET      ``/api/v1/keys/{slave_SAE_ID}/status``   Get status (clause 5.2) -> Status
POST     ``/api/v1/keys/{slave_SAE_ID}/enc_keys``  Get key (5.3), body Key request -> Key container
GET      ``/api/v1/keys/{slave_SAE_ID}/enc_keys``  Get key, query ``number``, ``size``
POST     ``/api/v1/keys/{master_SAE_ID}/dec_keys`` Get key with key IDs (5.4), body Key IDs
GET      ``/api/v1/keys/{master_SAE_ID}/dec_keys`` Get key with key IDs, query ``key_ID``
=======  =======================================  ==============================================

Answers: 200 with the data format; 400 and 503 with an Error body (clause 6.5); 401 with no
body. Malformed JSON, wrong types, unknown members or query parameters, and bodies over
64 KiB give 400 before the KME is asked, so they change nothing.

Mutual TLS (clause 5.1)
    The servers require TLS 1.2 or later and a client certificate signed by the test CA
    (:mod:`network.kms.pki`); a client without one fails the handshake. The caller's SAE ID
    is the common name of that verified certificate, handed to the app through the ASGI TLS
    extension (``scope["extensions"]["tls"]["client_cert_chain"]``), which
    :class:`TLSH11Protocol` adds to uvicorn's h11 protocol; it is never read from the
    request. A certificate that names no SAE of this KME gives 401.

Threads
    The KME methods run in the event loop's thread pool (they take locks and draw key);
    :class:`~network.kms.supply.NetworkKeySupply` and the service's per-pair locks make
    concurrent requests safe.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import socket
import ssl
import threading
import time
from collections.abc import Hashable, Mapping
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from uvicorn import Config, Server
from uvicorn.protocols.http.h11_impl import H11Protocol

from network.kms.models import Error, KeyContainer, KeyIDs, KeyRequest, Status
from network.kms.pki import sae_id_from_certificate, server_ssl_files
from network.kms.service import KME, KeyManagementService, KMSError

__all__ = ["MAX_BODY_BYTES", "KMSCluster", "TLSH11Protocol", "caller_sae_id", "create_app"]

MAX_BODY_BYTES = 64 * 1024
"""Largest request body a KME reads (a Key request or Key IDs is far smaller)."""

_TLS_VERSIONS = {"TLSv1.2": 0x0303, "TLSv1.3": 0x0304}
_DIGITS = re.compile(r"[0-9]{1,9}")
_LOG = logging.getLogger(__name__)


class TLSH11Protocol(H11Protocol):
    """uvicorn's h11 protocol that fills the ASGI TLS extension with the client certificate.

    On each connection it reads the peer certificate the TLS handshake verified and adds
    ``scope["extensions"]["tls"] = {"client_cert_chain": [PEM], "tls_version": ...}`` to the
    scope of every request on that connection (ASGI TLS extension).
    """

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """Set up the connection and attach its client certificate to every request's scope.

        Parameters
        ----------
        transport : asyncio.Transport
            The connection's transport; its ``ssl_object`` holds the peer certificate that the
            TLS handshake verified (none without TLS or without a client certificate).
        """
        super().connection_made(transport)
        ssl_object = transport.get_extra_info("ssl_object")
        chain: list[str] = []
        version = None
        if ssl_object is not None:
            der = ssl_object.getpeercert(binary_form=True)
            if der:
                chain.append(ssl.DER_cert_to_PEM_cert(der))
            version = _TLS_VERSIONS.get(ssl_object.version())
        tls = {"client_cert_chain": chain, "client_cert_name": None, "tls_version": version}
        app = self.app

        async def with_tls(scope: dict, receive: Any, send: Any) -> None:
            scope["extensions"] = {**scope.get("extensions", {}), "tls": tls}
            await app(scope, receive, send)

        self.app = with_tls


def caller_sae_id(scope: Mapping[str, Any]) -> str | None:
    """Return the SAE ID of the verified client certificate of a request (``None`` if none).

    Parameters
    ----------
    scope : mapping
        The ASGI scope (with the TLS extension that :class:`TLSH11Protocol` adds).
    """
    tls = scope.get("extensions", {}).get("tls") or {}
    chain = tls.get("client_cert_chain") or []
    return sae_id_from_certificate(chain[0]) if chain else None


def _error(exc: KMSError) -> Response:
    body = exc.body()
    if body is None:
        return Response(status_code=exc.status_code)
    return JSONResponse(Error(**body).model_dump(exclude_none=True), status_code=exc.status_code)


def _bad(message: str, **detail: Any) -> KMSError:
    return KMSError(400, message, [detail] if detail else None)


async def _json_body(request: Request) -> Any:
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise _bad("bad request format", body=f"larger than {MAX_BODY_BYTES} bytes")
    if not body.strip():
        return {}
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _bad("bad request format", body=f"not JSON: {exc}") from None


def _validated(model: type, data: Any) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        details = [
            {".".join(map(str, error["loc"])) or "body": error["msg"]} for error in exc.errors()
        ]
        raise KMSError(400, "bad request format", details) from None


def _query(request: Request, allowed: tuple[str, ...]) -> dict[str, str]:
    items = request.query_params.multi_items()
    names = [name for name, _ in items]
    unknown = sorted(set(names) - set(allowed))
    if unknown:
        raise _bad("bad request format", query=f"unknown parameter {unknown[0]!r}")
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise _bad("bad request format", query=f"parameter {repeated[0]!r} given twice")
    return dict(items)


def _query_int(values: Mapping[str, str], name: str) -> int | None:
    text = values.get(name)
    if text is None:
        return None
    if not _DIGITS.fullmatch(text):
        raise _bad("bad request format", **{name: f"{text!r} is not a non-negative integer"})
    return int(text)


def create_app(kme: KME) -> FastAPI:
    """Build the FastAPI app of one KME (the five routes of the module docstring).

    Parameters
    ----------
    kme : KME
        The KME to serve (from :meth:`KeyManagementService.kme`).

    Returns
    -------
    fastapi.FastAPI
        Serve it with :class:`KMSCluster` (mutual TLS); under another server, the caller
        must come in the ASGI TLS extension or every request gets 401.
    """
    if not isinstance(kme, KME):
        raise TypeError(f"kme must be a KME, not {type(kme).__name__}")
    app = FastAPI(
        title=f"KME {kme.kme_id}",
        description="ETSI GS QKD 014 key delivery over a simulated QKD network (abft-qkd)",
        version="1.1.1",
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )

    async def answer(request: Request, call: Any, model: type) -> Response:
        try:
            caller = caller_sae_id(request.scope)
            if caller is None:
                raise KMSError(401)
            result = await call(caller)
        except KMSError as exc:
            return _error(exc)
        except Exception:  # a KME fault must not drop the connection without an answer
            _LOG.exception("KME %s failed on %s", kme.kme_id, request.url.path)
            return _error(KMSError(503, "internal error of the KME"))
        return JSONResponse(model.model_validate(result).model_dump(exclude_none=True))

    @app.get("/api/v1/keys/{slave_SAE_ID}/status")
    async def get_status(slave_SAE_ID: str, request: Request) -> Response:
        """Get status (ETSI GS QKD 014 clause 5.2): the Status of the link to ``slave_SAE_ID``."""

        async def call(caller: str) -> dict:
            _query(request, ())
            return await run_in_threadpool(kme.status, caller, slave_SAE_ID)

        return await answer(request, call, Status)

    @app.post("/api/v1/keys/{slave_SAE_ID}/enc_keys")
    async def post_enc_keys(slave_SAE_ID: str, request: Request) -> Response:
        """Get key (clause 5.3): new keys for the caller to share with ``slave_SAE_ID``.

        The body is a Key request (``number``, ``size`` in bits, extensions); may be empty.
        """

        async def call(caller: str) -> dict:
            _query(request, ())
            body = _validated(KeyRequest, await _json_body(request))
            return await run_in_threadpool(
                lambda: kme.get_enc_keys(
                    caller,
                    slave_SAE_ID,
                    number=body.number,
                    size=body.size,
                    additional_slave_sae_ids=body.additional_slave_SAE_IDs,
                    extension_mandatory=body.extension_mandatory,
                    extension_optional=body.extension_optional,
                )
            )

        return await answer(request, call, KeyContainer)

    @app.get("/api/v1/keys/{slave_SAE_ID}/enc_keys")
    async def get_enc_keys(slave_SAE_ID: str, request: Request) -> Response:
        """Get key (clause 5.3): new keys for the caller to share with ``slave_SAE_ID``.

        The query gives ``number`` (keys) and ``size`` (bits per key); both are optional.
        """

        async def call(caller: str) -> dict:
            query = _query(request, ("number", "size"))
            number, size = _query_int(query, "number"), _query_int(query, "size")
            return await run_in_threadpool(
                lambda: kme.get_enc_keys(caller, slave_SAE_ID, number=number, size=size)
            )

        return await answer(request, call, KeyContainer)

    @app.post("/api/v1/keys/{master_SAE_ID}/dec_keys")
    async def post_dec_keys(master_SAE_ID: str, request: Request) -> Response:
        """Get key with key IDs (clause 5.4): the caller's copies of ``master_SAE_ID``'s keys.

        The body is a Key IDs object naming the keys that ``master_SAE_ID`` obtained.
        """

        async def call(caller: str) -> dict:
            _query(request, ())
            body = _validated(KeyIDs, await _json_body(request))
            ids = [item.key_ID for item in body.key_IDs]
            return await run_in_threadpool(kme.get_dec_keys, caller, master_SAE_ID, ids)

        return await answer(request, call, KeyContainer)

    @app.get("/api/v1/keys/{master_SAE_ID}/dec_keys")
    async def get_dec_keys(master_SAE_ID: str, request: Request) -> Response:
        """Get key with key IDs (clause 5.4): the caller's copy of one of ``master_SAE_ID``'s keys.

        The query gives ``key_ID``, the ID of a key that ``master_SAE_ID`` obtained.
        """

        async def call(caller: str) -> dict:
            query = _query(request, ("key_ID",))
            if "key_ID" not in query:
                raise _bad("bad request format", key_ID="missing")
            return await run_in_threadpool(
                kme.get_dec_keys, caller, master_SAE_ID, [query["key_ID"]]
            )

        return await answer(request, call, KeyContainer)

    return app


class KMSCluster:
    """Every KME of a service on its own HTTPS port, in one background event loop.

    Parameters
    ----------
    service : KeyManagementService
    pki_dir : path
        A folder written by :func:`network.kms.pki.create_test_pki` with a certificate for each
        KME node.
    host : str
        Address to listen on.
    base_port : int
        KME ``i`` (in the service's node order) listens on ``base_port + i``; 0: ephemeral
        ports chosen by the system.

    Examples
    --------
    ``with KMSCluster(service, pki_dir=folder) as cluster: cluster.addresses`` gives
    ``{node: (host, port)}`` once every KME listens; leaving the block stops them.
    """

    def __init__(
        self,
        service: KeyManagementService,
        *,
        pki_dir: str | Path,
        host: str = "127.0.0.1",
        base_port: int = 0,
    ) -> None:
        if not isinstance(service, KeyManagementService):
            raise TypeError(f"service must be a KeyManagementService, not {type(service)}")
        if isinstance(base_port, bool) or not isinstance(base_port, int):
            raise TypeError(f"base_port={base_port!r} must be an integer")
        nodes = list(service.kmes)
        if base_port and not 1 <= base_port <= 65535 - len(nodes) + 1:
            raise ValueError(f"base_port={base_port!r}: ports must fit in 1-65535")
        self._service = service
        self._host = host
        self._base_port = base_port
        self._tls = {node: server_ssl_files(pki_dir, node) for node in nodes}
        self._servers: dict[Hashable, Server] = {}
        self._sockets: dict[Hashable, socket.socket] = {}
        self._thread: threading.Thread | None = None
        self._failure: BaseException | None = None

    @property
    def addresses(self) -> dict[Hashable, tuple[str, int]]:
        """Node -> (host, port) of its KME (after :meth:`start`)."""
        return {node: sock.getsockname()[:2] for node, sock in self._sockets.items()}

    def _bind(self) -> None:
        family = socket.AF_INET6 if ":" in self._host else socket.AF_INET
        try:
            for i, node in enumerate(self._service.kmes):
                # With proto=IPPROTO_TCP asyncio sets TCP_NODELAY on accepted connections;
                # without it, Nagle's algorithm and delayed ACKs add ~40 ms to every answer.
                sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                self._sockets[node] = sock
                sock.bind((self._host, self._base_port + i if self._base_port else 0))
                sock.listen(128)
                sock.set_inheritable(True)
        except OSError:
            self._close_sockets()
            raise

    def _close_sockets(self) -> None:
        for sock in self._sockets.values():
            sock.close()

    def _server(self, node: Hashable) -> Server:
        config = Config(
            create_app(self._service.kme(node)),
            http=TLSH11Protocol,
            ssl_cert_reqs=ssl.CERT_REQUIRED,
            log_config=None,
            log_level="error",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=5,
            **self._tls[node],
        )
        config.load()
        config.ssl.minimum_version = ssl.TLSVersion.TLSv1_2  # clause 5.1: TLS 1.2 or later
        return Server(config)

    def start(self, timeout_s: float = 30.0) -> dict[Hashable, tuple[str, int]]:
        """Bind every port, start the servers, and wait until all of them listen.

        Returns
        -------
        dict
            Node -> (host, port).

        Raises
        ------
        OSError
            If a port cannot be bound (nothing is left running).
        RuntimeError
            If the servers fail to start within ``timeout_s``.
        """
        if self._thread is not None:
            raise RuntimeError("the cluster was already started")
        self._bind()
        self._servers = {node: self._server(node) for node in self._service.kmes}
        self._thread = threading.Thread(target=self._run, name="kms-servers", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not all(server.started for server in self._servers.values()):
            if self._failure is not None or not self._thread.is_alive():
                self.stop()
                raise RuntimeError(f"the KME servers did not start: {self._failure!r}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the KME servers did not start within {timeout_s} s")
            time.sleep(0.01)
        return self.addresses

    def _run(self) -> None:
        async def main() -> None:
            await asyncio.gather(
                *(
                    server.serve(sockets=[self._sockets[node]])
                    for node, server in self._servers.items()
                )
            )

        try:
            asyncio.run(main())
        except BaseException as exc:  # reported by start()/stop()
            self._failure = exc

    def stop(self) -> None:
        """Ask every server to finish its requests and stop; wait for them."""
        for server in self._servers.values():
            server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=30)
        self._close_sockets()

    def __enter__(self) -> KMSCluster:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
