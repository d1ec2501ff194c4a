"""`make bench` / `make bench-large`: backup and restore against a sequential baseline, side by side.

    scripts/bench.py --items 20000 [--items 200000] [--latency-ms 30] [--baseline-sample 1000] [--no-write]

Starts the local SimpleDB engine in a process of its own, fills a Repoman-shaped domain once per size (at 0 ms
latency), then measures with the injected latency, each run in a fresh child process: our backup, a sequential
Select-loop backup, our restore into a new domain, a one-PutAttributes-per-item restore (on a sample,
extrapolated) and our restore with today's shared backoff; then issue 12's scenarios: the restore under write
caps and the backup under a Select cap (rate controller against shared backoff), and the backup at a slow
Select latency. Prints the tables and rewrites the tables of docs/PERFORMANCE.md (local/benchkit does the work).
"""

import argparse
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
from benchkit.results import JobResult, SizeReport  # noqa: E402
from benchkit.session import ALL_JOBS, SCENARIOS, Options, Place, SizeSession  # noqa: E402
from benchkit.tables import (  # noqa: E402
    backup_cpu_table,
    growth_table,
    measurements_table,
    slow_select_table,
    targets_table,
    throttling_table,
)
from simpledb_backup.config import Settings  # noqa: E402
from statekey import LOCAL_STATE_KEY_ALIAS, create_state_key  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DOMAIN = "bench-packages"
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
    parser.add_argument("--items", type=int, action="append", help="domain size; repeat for several sizes")
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
        default=[2, 8],
        help="extra backup runs with these segment counts (informative), comma-separated; '' for none",
    )
    parser.add_argument(
        "--write-caps",
        type=numbers,
        default=[10.0, 40.0, 80.0],
        help="write caps (calls/s per domain) to restore under, comma-separated; '' for none",
    )
    parser.add_argument(
        "--cap-items",
        type=integers,
        default=[20000],
        help="the sizes at which the write caps, and the uncapped restore with the shared backoff, run",
    )
    parser.add_argument(
        "--select-cap",
        type=float,
        default=5.0,
        help="Select cap (calls/s per domain) to back up under; 0: none",
    )
    parser.add_argument("--cap-repeat", type=int, default=1, help="runs of each capped job")
    parser.add_argument(
        "--slow-latency-ms", type=float, default=250.0, help="the slow Select latency scenario; 0: none"
    )
    parser.add_argument("--slow-repeat", type=int, default=2, help="runs of each backup at the slow latency")
    parser.add_argument(
        "--slow-sweep-segments",
        type=integers,
        default=[16],
        help="our backup at the slow latency with these maximum segment counts too (what would meet 10x)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "PERFORMANCE.md")
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


def measure(
    args: argparse.Namespace, on_size: Callable[[list[SizeReport]], None] | None = None
) -> list[SizeReport]:
    """Every size in turn; ``on_size`` gets the sizes measured so far after each (a long run keeps them)."""
    options = Options(
        latency_ms=args.latency_ms,
        segments=args.segments,
        restore_workers=args.restore_workers,
        baseline_sample=args.baseline_sample or None,
        repeat=args.repeat,
        sweep_segments=args.sweep_segments,
        only=args.only or (),
        write_caps=args.write_caps,
        cap_items=args.cap_items,
        select_cap=args.select_cap,
        cap_repeat=args.cap_repeat,
        slow_latency_ms=args.slow_latency_ms,
        slow_repeat=args.slow_repeat,
        slow_sweep_segments=args.slow_sweep_segments,
    )
    machine = machine_facts()
    reports: list[SizeReport] = []
    with EngineProcess(latency_ms=0) as engine:
        log(f"engine at {engine.url} (pid {engine.pid})")
        s3 = s3_client(engine.url)
        s3.create_bucket(Bucket=BUCKET)
        s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        create_state_key(kms_client(engine.url), LOCAL_STATE_KEY_ALIAS, ROOT / "template.yaml")
        session = SizeSession(
            Place(engine, BUCKET, DOMAIN, sdb_client(engine.url)),
            options,
            on_start=lambda key, repeat: log(f"  {key}: {repeat} run(s)"),
            on_result=lambda key, result: log(f"  {key}: {describe(result)}"),
        )
        filler = DomainFiller(engine.url, DOMAIN, seed=args.seed)
        for size in sorted(set(args.items or [20000])):
            engine.controls.configure(latency_ms=0, write_calls_per_second=0, select_calls_per_second=0)
            fill_started = time.monotonic()
            profile = filler.fill_to(size)
            log(
                f"{size:,} items filled in {time.monotonic() - fill_started:.0f} s: "
                f"{profile.data_bytes / 1e6:.1f} MB data, {profile.response_bytes / 1e6:.1f} MB Select XML, "
                f"minimum {profile_min_pages(profile)} Select pages, {profile_min_writes(profile)} batch writes"
            )
            before = code_version()  # each job sets the engine's latency and caps it runs under
            report = session.measure(profile, machine, before)
            after = code_version()
            if after != before:
                log(f"WARNING: the product code changed during this size ({before} → {after}): rerun")
                report.commit = f"{before}→{after}"
            reports.append(report)
            if on_size is not None:
                on_size(reports)
            log(f"engine RSS {engine.rss_mb():.0f} MB")
    return reports


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
        log(f"wrote {args.output} ({len(measured)} size(s) so far)")

    reports = measure(args, keep if writes else None)
    printed = [measurements_table(reports), targets_table(reports)]
    if len(reports) > 1:
        printed.append(growth_table(reports))
    printed += [throttling_table(reports), backup_cpu_table(reports), slow_select_table(reports)]
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
