"""``python -m sdblocal.server``: the local AWS endpoint in the foreground.

    python -m sdblocal.server --host 127.0.0.1 --port 5000 [--fault-rate R] [--seed N] [--latency-ms MS]
        [--write-calls-per-second R [--write-calls-burst N]] [--select-calls-per-second R [--select-calls-burst N]]

prints one line, ``local AWS ready at http://127.0.0.1:5000``, once it accepts connections. S3 and
every other moto service are served at the same address; the control endpoints are listed in
:mod:`sdblocal.serving`.
"""

from __future__ import annotations

import argparse

from . import controls
from .serving import make_wsgi_server


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sdblocal.server", description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5000)
    parser.add_argument("--fault-rate", type=float, default=0.0, help="share of SimpleDB calls answering 503")
    parser.add_argument("--seed", type=int, default=None, help="seed of the fault sequence")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="latency added to every SimpleDB call")
    for kind, calls in (("write", "Put/Delete/BatchPut/BatchDelete"), ("select", "Select")):
        parser.add_argument(
            f"--{kind}-calls-per-second",
            type=float,
            default=0.0,
            help=f"per-domain cap on {calls} calls; over it a call answers 503 at once (0: no cap)",
        )
        parser.add_argument(
            f"--{kind}-calls-burst",
            type=float,
            default=0.0,
            help=f"{kind} calls a domain may make at once (0: one second of calls)",
        )
    args = parser.parse_args(argv)
    try:
        controls.configure(
            fault_rate=args.fault_rate,
            seed=args.seed,
            latency_ms=args.latency_ms,
            write_calls_per_second=args.write_calls_per_second,
            write_calls_burst=args.write_calls_burst,
            select_calls_per_second=args.select_calls_per_second,
            select_calls_burst=args.select_calls_burst,
        )
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
