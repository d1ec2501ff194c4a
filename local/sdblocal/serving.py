"""The local AWS server: moto's WSGI app with the SimpleDB engine and the ``/_sdblocal/*`` control endpoints.

Besides moto's own ``/moto-api/*``, the server answers:

* ``POST /_sdblocal/controls`` - JSON with any of ``fault_rate``, ``seed``, ``latency_ms``,
  ``write_calls_per_second``, ``write_calls_burst``, ``select_calls_per_second``,
  ``select_calls_burst``; answers the settings;
* ``GET /_sdblocal/controls`` - the settings;
* ``POST /_sdblocal/reset`` - no caps, faults off, latency 0, counts cleared;
* ``POST /_sdblocal/reset-counts``;
* ``GET /_sdblocal/calls`` - the per-action SimpleDB call counts, as JSON;
* ``GET /_sdblocal/throttled`` - the per-action counts of throttled calls, as JSON;
* ``GET /_sdblocal/cpu`` - ``{"cpu_seconds": ...}``, the user + system CPU time of the server's process
  (``time.process_time()``), so that a client can measure what its calls cost the engine.

Requests are served by werkzeug's threaded server, one thread per request, so concurrent clients
overlap (the benchmark's parallel Select streams depend on it). ``python -m sdblocal.server`` runs it
in the foreground; :func:`start_server` on a thread of this process.
"""

from __future__ import annotations

import io
import json
import re
import threading
import time
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any
from urllib.parse import urlsplit

from moto.core.request import Request
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import BaseWSGIServer, make_server

from . import controls
from .activation import activate
from .responses import answer_form, sdb_dispatch

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
CONTROL_PREFIX = "/_sdblocal/"
_CONFIGURABLE = frozenset({*controls.SETTING_NAMES, "seed"})


class _EngineRequestHandler(MotoRequestHandler):
    """moto's request handler with a lean path for SimpleDB, and without werkzeug's line per request.

    werkzeug answers every request with ``Connection: close``, so each call of a client cost a TCP
    connection, a thread and a WSGI environment, more than the engine's own work on a write. A SimpleDB
    request (a form body with ``Version=2009-04-15``) is answered here, on the connection's thread:
    the answer goes out in one write with its ``Content-Length`` and the connection stays open for the
    client's next call (HTTP/1.1 keep-alive). Everything else, a chunked SimpleDB body included, goes
    through werkzeug and moto as before.
    """

    disable_nagle_algorithm = True  # an answer is one write; never hold it back for an ACK

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return

    def run_wsgi(self) -> None:
        length = self.headers.get("Content-Length")
        if (
            self.command == "POST"
            and length is not None
            and length.isdecimal()
            and "Transfer-Encoding" not in self.headers
            and (self.headers.get("Content-Type") or "").startswith("application/x-www-form-urlencoded")
        ):
            body = self.rfile.read(int(length))
            if _SDB_VERSION.search(body) and "?" not in self.path:
                self._answer_simpledb(body)
                return
            self.rfile = io.BytesIO(body)  # werkzeug reads the body again (and closes the connection)
        super().run_wsgi()

    def _answer_simpledb(self, body: bytes) -> None:
        host = urlsplit(f"http://{self.headers.get('Host') or ''}/").hostname or ""
        try:
            status, headers, text = answer_form(body, host, self.headers.get("Authorization") or "")
        except Exception:  # a defect of the engine: answered like werkzeug would, then the connection closes
            self.send_error(HTTPStatus.INTERNAL_SERVER_ERROR)
            self.close_connection = True
            raise
        payload = text.encode("utf-8")
        lines = [f"{self.protocol_version} {status} {HTTPStatus(status).phrase}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        lines += [f"Content-Length: {len(payload)}", "", ""]
        self.wfile.write("\r\n".join(lines).encode("latin-1") + payload)


def _json_response(start_response: Callable[..., Any], status: str, payload: Any) -> list[bytes]:
    body = json.dumps(payload).encode("utf-8")
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


def _control_endpoints(app: WSGIApp) -> WSGIApp:
    """Wrap moto's WSGI app with the ``/_sdblocal/*`` endpoints."""

    def wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if not path.startswith(CONTROL_PREFIX):
            return app(environ, start_response)
        endpoint, method = path[len(CONTROL_PREFIX) :].rstrip("/"), environ.get("REQUEST_METHOD", "GET")
        try:
            if endpoint == "calls" and method == "GET":
                return _json_response(start_response, "200 OK", controls.call_counts())
            if endpoint == "controls" and method == "POST":
                length = int(environ.get("CONTENT_LENGTH") or 0)
                raw = environ["wsgi.input"].read(length) if length else b""
                settings = json.loads(raw) if raw else {}
                if not isinstance(settings, dict) or set(settings) - _CONFIGURABLE:
                    raise ValueError(f"expected a JSON object with any of {', '.join(sorted(_CONFIGURABLE))}")
                controls.configure(**settings)
                return _json_response(start_response, "200 OK", controls.settings())
            if endpoint == "controls" and method == "GET":
                return _json_response(start_response, "200 OK", controls.settings())
            if endpoint == "cpu" and method == "GET":
                return _json_response(start_response, "200 OK", {"cpu_seconds": time.process_time()})
            if endpoint == "throttled" and method == "GET":
                return _json_response(start_response, "200 OK", controls.throttled_counts())
            if endpoint == "reset" and method == "POST":
                controls.reset()
                return _json_response(start_response, "200 OK", controls.settings())
            if endpoint == "reset-counts" and method == "POST":
                controls.reset_counts()
                return _json_response(start_response, "200 OK", {})
        except (ValueError, TypeError) as exc:
            return _json_response(start_response, "400 Bad Request", {"error": str(exc)})
        return _json_response(
            start_response, "404 Not Found", {"error": f"no control endpoint {method} {path}"}
        )

    return wsgi


_SDB_VERSION = re.compile(rb"(?:^|&)Version=2009-04-15(?:&|$)")


def _simpledb_first(app: WSGIApp) -> WSGIApp:
    """Answer SimpleDB requests straight from the engine, everything else through moto.

    moto's ``DomainDispatcherApplication`` would route them to the same handler, but only after
    listing moto's service modules from disk under a global lock (~1 ms a request); that would
    serialise the parallel Select streams the benchmark measures. SimpleDB calls are recognised
    the way moto does it: a form body with the API version ``2009-04-15``.
    """

    def wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        content_type = environ.get("CONTENT_TYPE") or ""
        if environ.get("REQUEST_METHOD") == "POST" and content_type.startswith(
            "application/x-www-form-urlencoded"
        ):
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = environ["wsgi.input"].read(length) if length else b""
            environ["wsgi.input"] = io.BytesIO(body)
            if _SDB_VERSION.search(body):
                request = Request(environ)
                status, headers, text = sdb_dispatch(request, request.raw_url, request.headers)
                payload = text.encode("utf-8")
                response_headers = [*headers.items(), ("Content-Length", str(len(payload)))]
                start_response(f"{status} {HTTPStatus(status).phrase}", response_headers)
                return [payload]
        return app(environ, start_response)

    return wsgi


def make_app() -> WSGIApp:
    """moto's server application with the engine installed, SimpleDB and the control endpoints in front."""
    activate()
    return _control_endpoints(_simpledb_first(DomainDispatcherApplication(create_backend_app)))


def make_wsgi_server(host: str, port: int) -> BaseWSGIServer:
    return make_server(host, port, make_app(), threaded=True, request_handler=_EngineRequestHandler)


class Server:
    """A threaded server running in this process (``sdblocal.start_server``)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._server = make_wsgi_server(host, port)
        self.host = host
        self.port: int = self._server.server_port
        self.url = f"http://{host}:{self.port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="sdblocal-server", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_server(host: str = "127.0.0.1", port: int = 0) -> Server:
    return Server(host, port)
