"""`make bench` / `make bench-large`: issue 18's benchmark, side by side in one run.

    scripts/bench.py [--items 20000 [--items 200000]] [--slow-items 50000 [--slow-items 200000]] [--no-write]

Starts the local SimpleDB engine in a process of its own and, for each planned domain (a size and a kind of
names: hex digests, or ordinary names like ``user-000123``), fills it at 0 ms latency and measures each run in a
fresh child process with the injected latency: at the benchmark's own sizes (hex names, 30 ms) our backup
against a sequential Select loop, our restore against one PutAttributes per item (a sample, extrapolated), the
library floor of the backup's CPU on the same pages, the real ``repoman-cli`` (apt-repoman in build/peer-venv)
backing up and restoring the same domain, our exact restore into a damaged copy, and our restore under write
caps with the engine's own uncapped rate beside them; at the slow Select latency (250 ms) our backup against
the sequential loop, for both kinds of names. Prints the tables and rewrites the tables of docs/PERFORMANCE.md
(and with --record-points, records the capacity model's points for its tests); local/benchkit does the work.
"""

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parent.parent / folder) for folder in ("layers/shared", "local")]

from benchkit.arithmetic import (  # noqa: E402
    is_sampled,
    profile_min_pages,
    profile_min_writes,
    projected_wall_seconds,
)
from benchkit.document import (  # noqa: E402
    DocumentError,
    check_regions,
    load_reports,
    merge_reports,
    update_document,
)
from benchkit.engine import EngineProcess, kms_client, s3_client, sdb_client  # noqa: E402
from benchkit.filling import DomainFiller  # noqa: E402
from benchkit.machine import code_version, machine_facts  # noqa: E402
from benchkit.modelcheck import recorded_points  # noqa: E402
from benchkit.peer import PeerUnavailableError, ensure_peer_venv  # noqa: E402
from benchkit.probe import measure_engine_capacity  # noqa: E402
from benchkit.results import HEX, ORDINARY, JobResult, SizeReport  # noqa: E402
from benchkit.session import ALL_JOBS, PEER_SCENARIO, SCENARIOS, Options, Place, SizeSession  # noqa: E402
from benchkit.tables import (  # noqa: E402
    backup_cpu_table,
    capacity_table,
    growth_table,
    measurements_table,
    peer_table,
    restore_reads_table,
    slow_select_table,
    targets_table,
    throttling_table,
)
from simpledb_backup.config import Settings  # noqa: E402
from statekey import LOCAL_STATE_KEY_ALIAS, create_state_key  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
#: The benchmark's domains, one per kind of names.
DOMAINS = {HEX: "bench-packages", ORDINARY: "bench-users"}
BUCKET = "bench-dumps"
PRODUCT_SEGMENTS = int(Settings.model_fields["segments"].default)
PRODUCT_RESTORE_WORKERS = int(Settings.model_fields["restore_workers"].default)


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def describe(result: JobResult) -> str:
    """One run, for the progress log."""
    if result.error:
        return f"FAILED: {result.error}"
    sampled = (
        f" (sample of {result.items:,}, est. {projected_wall_seconds(result):,.1f} s)"
        if is_sampled(result)
        else ""
    )
    calls = ", ".join(f"{action} {count:,}" for action, count in result.calls.items())
    throttled = sum(result.throttled.values())
    return (
        f"{result.items:,} items in {result.wall_seconds:.1f} s{sampled}; CPU {result.cpu_seconds:.1f} s "
        f"client, {result.server_cpu_seconds:.1f} s engine; RSS {result.rss_start_mb:.0f} MB after imports, "
        f"peak {result.rss_peak_mb:.0f} MB; {calls}" + (f"; {throttled:,} throttled" if throttled else "")
    )


def numbers(text: str) -> list[float]:
    """A comma-separated list of numbers ('' for none)."""
    return [float(part) for part in text.split(",") if part]


def integers(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part]


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument(
        "--items", type=int, action="append", help="size of the benchmark's own runs; repeat for several"
    )
    parser.add_argument("--latency-ms", type=float, default=30.0, help="latency injected into SimpleDB calls")
    parser.add_argument(
        "--segments",
        type=int,
        default=PRODUCT_SEGMENTS,
        help="most backup Select streams (the product default)",
    )
    parser.add_argument(
        "--restore-workers", type=int, default=PRODUCT_RESTORE_WORKERS, help="default: the product default"
    )
    parser.add_argument(
        "--baseline-sample", type=int, default=1000, help="items the per-item restore baseline writes"
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs of each backup and of our restore; the fastest is kept"
    )
    parser.add_argument(
        "--sweep-segments",
        type=integers,
        default=[],
        help="extra backup runs with these segment counts (informative), comma-separated",
    )
    parser.add_argument(
        "--write-caps",
        type=numbers,
        default=[10.0, 40.0, 80.0, 120.0],
        help="write caps (calls/s per domain) to restore under, comma-separated; '' for none",
    )
    parser.add_argument(
        "--cap-items", type=integers, default=[20000], help="the sizes at which the write caps run"
    )
    parser.add_argument(
        "--legacy",
        action="store_true",
        help="also today's shared backoff (issue 12): our restore with it, uncapped and under each write cap",
    )
    parser.add_argument(
        "--select-cap",
        type=float,
        default=0.0,
        help="Select cap (calls/s per domain) to back up under, both policies (issue 12); 0: none",
    )
    parser.add_argument("--cap-repeat", type=int, default=1, help="runs of each capped job")
    parser.add_argument(
        "--slow-latency-ms", type=float, default=250.0, help="the slow Select latency scenario; 0: none"
    )
    parser.add_argument(
        "--slow-items",
        type=int,
        action="append",
        help="sizes of the slow Select scenario, for hex and ordinary names (default 50,000)",
    )
    parser.add_argument("--slow-repeat", type=int, default=2, help="runs of each backup at the slow latency")
    parser.add_argument(
        "--slow-sweep-segments",
        type=integers,
        default=[],
        help="our backup at the slow latency with these maximum segment counts too",
    )
    parser.add_argument(
        "--damage", type=int, default=5, help="items damaged in the copy our exact restore repairs; 0: none"
    )
    parser.add_argument(
        "--damage-items", type=integers, default=[20000], help="sizes at which the damaged copy is restored"
    )
    parser.add_argument(
        "--peer-items",
        type=integers,
        default=[20000],
        help="sizes at which repoman-cli backs up and restores beside ours; '' for none",
    )
    parser.add_argument("--peer-repeat", type=int, default=1, help="runs of the peer's backup and restore")
    parser.add_argument(
        "--floor-items", type=integers, help="sizes at which the library floor runs (default: --items)"
    )
    parser.add_argument(
        "--floor-pages", type=int, default=100, help="most Select pages the library floor measures"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "PERFORMANCE.md")
    parser.add_argument(
        "--record-points",
        type=Path,
        help="also record the capacity model's points of this run there (the tests' fixture: "
        "tests/unit/localtools/fixtures/capacity_points.json)",
    )
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/PERFORMANCE.md alone")
    parser.add_argument(
        "--only",
        action="append",
        choices=(*ALL_JOBS, *SCENARIOS),
        help="run only these jobs or scenarios (for investigating; implies --no-write)",
    )
    parser.add_argument(
        "--render-only",
        action="store_true",
        help="rewrite docs/PERFORMANCE.md's tables from the results it keeps, without measuring",
    )
    return parser.parse_args(argv)


def options_from(args: argparse.Namespace, peer_python: str) -> Options:
    base = sorted(set(args.items or [20000]))
    return Options(
        latency_ms=args.latency_ms,
        segments=args.segments,
        restore_workers=args.restore_workers,
        baseline_sample=args.baseline_sample or None,
        repeat=args.repeat,
        base_items=base,
        sweep_segments=args.sweep_segments,
        only=args.only or (),
        write_caps=args.write_caps,
        cap_items=args.cap_items,
        legacy=args.legacy,
        select_cap=args.select_cap,
        cap_repeat=args.cap_repeat,
        slow_latency_ms=args.slow_latency_ms,
        slow_items=sorted(set(args.slow_items or [50000])),
        slow_repeat=args.slow_repeat,
        slow_sweep_segments=args.slow_sweep_segments,
        damage=args.damage,
        damage_items=args.damage_items,
        peer_items=args.peer_items,
        peer_python=peer_python,
        peer_repeat=args.peer_repeat,
        peer_folder=ROOT / "build" / "peer",
        floor_items=base if args.floor_items is None else args.floor_items,
        floor_pages=args.floor_pages,
        seed=args.seed,
    )


def peer_interpreter(args: argparse.Namespace) -> str:
    """The peer's venv's interpreter, made if needed; "" (and why, logged) when the peer cannot run."""
    wanted = args.peer_items and (not args.only or PEER_SCENARIO in args.only)
    if not wanted:
        return ""
    try:
        venv = ensure_peer_venv(log=log)
    except PeerUnavailableError as error:
        log(f"the peer (repoman-cli) will not run: {error}")
        return ""
    log(f"peer: apt-repoman {venv.version} in {venv.python}")
    return venv.python


def measure(
    args: argparse.Namespace, on_size: Callable[[list[SizeReport]], None] | None = None
) -> list[SizeReport]:
    """Every planned domain in turn; ``on_size`` gets the reports so far after each (a long run keeps them)."""
    options = options_from(args, peer_interpreter(args))
    machine = machine_facts()
    reports: list[SizeReport] = []
    with EngineProcess(latency_ms=0) as engine:
        log(f"engine at {engine.url} (pid {engine.pid})")
        s3 = s3_client(engine.url)
        s3.create_bucket(Bucket=BUCKET)
        s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        create_state_key(kms_client(engine.url), LOCAL_STATE_KEY_ALIAS, ROOT / "template.yaml")
        fillers: dict[str, DomainFiller] = {}
        for names, size in options.domains():
            domain = DOMAINS[names]
            if names not in fillers:
                for done in fillers.values():  # each kind of names in turn: free the engine's memory
                    done.sdb.delete_domain(DomainName=done.domain)
                fillers = {names: DomainFiller(engine.url, domain, seed=args.seed, names=names)}
            session = SizeSession(
                Place(engine, BUCKET, domain, sdb_client(engine.url)),
                options,
                on_start=lambda key, repeat: log(f"  {key}: {repeat} run(s)"),
                on_result=lambda key, result: log(f"  {key}: {describe(result)}"),
                measure_engine=lambda report: measure_engine_capacity(engine, report, log),
            )
            engine.controls.configure(latency_ms=0, write_calls_per_second=0, select_calls_per_second=0)
            fill_started = time.monotonic()
            profile = fillers[names].fill_to(size)
            log(
                f"{size:,} items ({names} names) filled in {time.monotonic() - fill_started:.0f} s: "
                f"{profile.data_bytes / 1e6:.1f} MB data, {profile.response_bytes / 1e6:.1f} MB Select XML, "
                f"minimum {profile_min_pages(profile)} Select pages, {profile_min_writes(profile)} batch writes"
            )
            before = code_version()  # each job sets the engine's latency and caps it runs under
            report = session.measure(profile, machine, before, names)
            after = code_version()
            if after != before:
                log(f"WARNING: the product code changed during this size ({before} → {after}): rerun")
                report.commit = f"{before}→{after}"
            reports.append(report)
            if on_size is not None:
                on_size(reports)
            log(f"engine RSS {engine.rss_mb():.0f} MB")
    return reports


def record_points(path: Path, reports: list[SizeReport]) -> None:
    """The capacity model's inputs and the measurements it is checked against, kept for the tests."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(recorded_points(reports), indent=1, sort_keys=True) + "\n")


def main(argv: list[str] | None = None) -> int:
    args = parse_arguments(argv)
    document = args.output.read_text() if args.output.exists() else ""
    if args.render_only:
        reports = load_reports(document)
        if not reports:
            log(f"{args.output} holds no results to render")
            return 2
        args.output.write_text(update_document(document, reports))
        log(f"rendered {args.output} from its {len(reports)} stored result(s)")
        return 0
    writes = not (args.no_write or args.only)
    if writes:
        try:
            check_regions(document)  # before measuring: a run must not end in a document it cannot fill
        except DocumentError as error:
            log(f"{args.output}: {error}")
            return 2
    started = time.monotonic()

    def keep(measured: list[SizeReport]) -> None:
        # Read again: the words around the tables may have been edited by hand during a long run.
        current = args.output.read_text()
        args.output.write_text(update_document(current, merge_reports(load_reports(current), measured)))
        log(f"wrote {args.output} ({len(measured)} domain(s) so far)")

    reports = measure(args, keep if writes else None)
    if args.record_points:
        record_points(args.record_points, reports)
        log(f"recorded the capacity model's points of this run in {args.record_points}")
    printed = [measurements_table(reports), targets_table(reports)]
    if len(reports) > 1:
        printed.append(growth_table(reports))
    printed += [
        slow_select_table(reports),
        throttling_table(reports),
        backup_cpu_table(reports),
        peer_table(reports),
        restore_reads_table(reports),
        capacity_table(reports),
    ]
    for table in printed:
        if table.count("\n") > 1:  # a header without rows: nothing measured for it
            print()
            print(table)
    print()
    if not writes:
        log(f"done in {time.monotonic() - started:.0f} s (docs not written)")
        return 0
    log(f"done in {time.monotonic() - started:.0f} s; wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
