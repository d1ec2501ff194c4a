"""A local AWS endpoint: moto's server with the SimpleDB engine and the control endpoints.

    python -m sdblocal.server --host 127.0.0.1 --port 5000 [--fault-rate R] [--seed N] [--latency-ms MS]

runs in the foreground and prints one line, ``local AWS ready at http://127.0.0.1:5000``, once it
accepts connections. S3 and every other moto service are served at the same address. Besides
moto's own ``/moto-api/*``, the server answers:

* ``POST /_sdblocal/controls`` - JSON with any of ``fault_rate``, ``seed``, ``latency_ms``;
* ``POST /_sdblocal/reset`` - faults off, latency 0, counts cleared;
* ``POST /_sdblocal/reset-counts``;
* ``GET /_sdblocal/calls`` - the per-action SimpleDB call counts, as JSON.

Requests are served by werkzeug's threaded server, one thread per request, so concurrent clients
overlap (the benchmark's parallel Select streams depend on it).
"""

from __future__ import annotations

import argparse
import io
import json
import re
import threading
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any

from moto.core.request import Request
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import BaseWSGIServer, make_server

from . import activate, controls
from .responses import sdb_dispatch

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
CONTROL_PREFIX = "/_sdblocal/"


class _QuietRequestHandler(MotoRequestHandler):
    """moto's request handler without werkzeug's line per request on stderr."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return


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
                if not isinstance(settings, dict) or set(settings) - {"fault_rate", "seed", "latency_ms"}:
                    raise ValueError("expected a JSON object with fault_rate, seed and/or latency_ms")
                controls.configure(**settings)
                return _json_response(start_response, "200 OK", controls.settings())
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
    return make_server(host, port, make_app(), threaded=True, request_handler=_QuietRequestHandler)


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sdblocal.server", description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5000)
    parser.add_argument("--fault-rate", type=float, default=0.0, help="share of SimpleDB calls answering 503")
    parser.add_argument("--seed", type=int, default=None, help="seed of the fault sequence")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="latency added to every SimpleDB call")
    args = parser.parse_args(argv)
    try:
        controls.configure(fault_rate=args.fault_rate, seed=args.seed, latency_ms=args.latency_ms)
    except ValueError as exc:
        parser.error(str(exc))
    server = make_wsgi_server(args.host, args.port)
    print(f"local AWS ready at http://{args.host}:{server.server_port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
