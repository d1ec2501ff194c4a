"""`make bench` / `make bench-large`: backup and restore against a sequential baseline, side by side.

    scripts/bench.py --items 20000 [--items 200000] [--latency-ms 30] [--baseline-sample 1000] [--no-write]

Starts the local SimpleDB engine in a process of its own, fills a Repoman-shaped domain once per size (at 0 ms
latency), then measures with the injected latency, each in a fresh child process: our backup, a sequential
Select-loop backup, our restore into a new domain, and a one-PutAttributes-per-item restore (on a sample,
extrapolated). Prints the tables and writes docs/PERFORMANCE.md (local/benchkit.py does the work).
"""

import argparse
import os
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path[:0] = [str(Path(__file__).resolve().parent.parent / folder) for folder in ("layers/shared", "local")]

import benchkit  # noqa: E402
from benchkit import (  # noqa: E402
    BACKUP,
    BASELINE,
    OURS,
    RESTORE,
    EngineProcess,
    JobResult,
    JobSpec,
    Planned,
    SizeReport,
)
from simpledb_backup.config import Settings  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DOMAIN = "bench-packages"
BUCKET = "bench-dumps"
DEFAULT_RESTORE_WORKERS = 8  # Settings.restore_workers' default, used when --restore-workers is not given
ALL_JOBS = ("backup/ours", "backup/baseline", "restore/ours", "restore/baseline")

# What the measurements showed, and what would fix it: maintained here, rendered into docs/PERFORMANCE.md.
BOTTLENECKS = """
Found with this benchmark, profiling and interleaved A/B runs (fresh child processes, one engine, 30 ms,
2026-11-26). The tables above measure the commit they name; each A/B figure below names the code it ran on.

**Applied since the first measurement** (first `make bench-large` at b9b34f0; the tables above name theirs):

* Select pages parsed by the adapter itself (`simpledb.py`, `parse_select_response`; 0e17613, restored by
  844fe62): -40 % backup CPU in an interleaved A/B on 523f3ba (20,000 items: 3.40-3.72 s -> 1.98-2.15 s;
  80,000: 14.0-15.4 s -> 8.1-9.5 s; wall -25 to -30 %). An earlier “~5 %” in this file came from an invalid
  A/B (the parser had already landed, so both arms had it) and caused the revert 0c9ebf9 that 844fe62 undid.
* Streams sized from DomainMetadata, one per 20 estimated pages (`scan.py`, `segment_count_for`; 87d9db9):
  Select pages at 20,000 items 44 -> 42 (+10 % -> +5.0 %, 3 streams).
* One copy per S3 part and a two-page queue (`backup.py`, `_flush_parts`; `scan.py`, `scan_segments`;
  87d9db9): -9 to -13 MB at 8 streams (A/B with the change patched in, 20,000 items).
* The restore verifies by count and digest (`restore.py`, `_verify`; 523f3ba) instead of a fingerprint per
  item, and its SimpleDB client skips botocore's parameter validation (`functions/restore/handler.py`,
  `clients()`; -9 % CPU per batch in an A/B, 7.29 -> 6.62 ms). Restore at 200,000 items: 149 s and 268 MB
  -> 119 s and 172 MB (verify phase 52 s -> 25 s), 47x -> 57x the per-item baseline.
* At most 4 streams by default (`config.py`, `Settings.segments`; template.yaml `BackupSegments`), and the
  restore's scans sized from DomainMetadata like the backup's (`scan.py`, `scan_domain`): items 2 and 3 below.

**What remains** (the tables above: three interleaved runs each, fastest kept, highest peak RSS kept)

1. **Backup speed: 1.7x / 2.6x against 6x, not met; CPU-bound, and capped by the stream count.** A 1 MB
   Select page (~514 items) costs the backup process ~56 ms of CPU and the engine ~56 ms (200,000 items:
   22.3 s and 22.5 s for 401 pages); the latency is 30 ms. Both processes share two cores with other work, so
   the cap computed under “Why a target is not met” bounds any number of streams. What is left in the client:
   the dump encoder (JSON, SHA-256 and zlib level 6, ~18 ms a page in a micro-benchmark) and the parse
   (~20 ms); the engine's rendering is not product code. Raising only the latency moves the ratio as expected
   (8 streams, 20,000 items, on 0e17613's code): 150 ms gave 3.3x, 600 ms 4.9x. The stream count caps it as
   well, even with free CPU: one stream reads its share of the pages one after the other, so at most ~4x with
   4 streams at any size, and 3x at 20,000 items, where 3 streams keep the pages within 5 %. 6x needs at
   least 7 streams: at 20,000 items that breaks the 5 % call target (one part-filled page per stream), and
   at 200,000 items the memory target (the “max 8 segments” row: 157 MB, 26.0 s against 28.1 s with 4). The
   three targets cannot all be met by this design on this machine; the call and memory targets won.
2. **Backup memory: 141 MB at 200,000 items, met; ~74 MB fixed plus a few MB per stream.** After imports
   and client setup the process holds 74 MB: boto3 with both clients 53 MB, and Powertools' `Tracer()`
   (created by `simpledb_backup.observability`) imports `aws_xray_sdk`: +20 MB on its own, measured with
   tracing disabled too (template.yaml runs the functions with `Tracing: Active`, so that is the price of the
   traces); `events` adds Pydantic and the Powertools parser. Each stream adds its 1 MB response body, the
   decoded page (~1.9 MB of `Item`s, tracemalloc) it holds while the queue is full, and the page's element
   tree while it is parsed (~4-5 MB peak). Peaks at 200,000 items: 2 streams 122 MB, 4 streams 137-141 MB,
   8 streams 157 MB. The peak follows the streams, not the items: 3 streams at 20,000 items, 4 from ~30,000
   up, which is the +18 MB the growth row shows; with the stream count fixed it barely moves (2 streams:
   114 -> 122 MB). `BackupSegments` above 4 buys speed only where SimpleDB answers slowly, at a few MB a
   stream.
3. **Restore memory: 142 MB at 200,000 items, met, with a thin margin.** Its scans follow the stream count
   like the backup's (3 at 20,000 items, 4 at 200,000: the +16 MB growth row). The three runs peaked at 130,
   137 and 143 MB; on a busier machine an earlier run on the same code reached 153 MB in one of two runs, so
   the margin is about the run-to-run spread. On 844fe62 with 4 streams at both sizes the peak moved only
   +6 MB from 20,000 to 200,000 items: nothing per item is held. It also holds the in-flight write batches
   (2 per worker) and the dump reader's buffers. Not done: a target this run just created needs no re-plan
   scan in `_write` (a few empty Selects).
4. **Restore speed: 55x / 59x, met; the writes are CPU-bound.** Busier runs measured 46x at 200,000 items,
   so the margin is modest. At 200,000 items the write phase took 81 s for 8,000 batches (~10 ms each over 8
   workers): the restore process spends ~6.6 ms of CPU building and signing each 25-item request (form
   encoding twice, once for the body and once for the SigV2 signature) and the engine ~5 ms; more workers
   would not help on two cores. Plan 7.5 s and verify 24.6 s are the rest.
5. **Calls are at the minimum where it matters.** Backup pages +5.0 % at 20,000 items (3 streams, 2
   part-filled pages; on the line) and +0.5 % at 200,000. The restore's writes are exactly ceil(items/25);
   its other calls are fixed (5 DomainMetadata, 1 CreateDomain, the empty re-plan scan) plus one read-back.
   The sequential baseline holds every item (1.65 GB at 200,000 items); ours does not.
"""


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def describe(result: JobResult) -> str:
    if result.error:
        return f"FAILED: {result.error}"
    sampled = (
        f" (sample of {result.items:,}, est. {result.projected_wall_seconds:,.1f} s)"
        if result.sampled
        else ""
    )
    calls = ", ".join(f"{action} {count:,}" for action, count in result.calls.items())
    return (
        f"{result.items:,} items in {result.wall_seconds:.1f} s{sampled}; CPU {result.cpu_seconds:.1f} s client, "
        f"{result.server_cpu_seconds:.1f} s engine; RSS {result.rss_start_mb:.0f} MB after imports, peak {result.rss_peak_mb:.0f} MB; {calls}"
    )


def measure_size(
    engine: EngineProcess, profile: benchkit.DomainProfile, args: argparse.Namespace, sdb: Any
) -> SizeReport:
    """Every job at one domain size, side by side; the domain is already filled and the latency set."""
    report = SizeReport(
        profile=profile,
        latency_ms=args.latency_ms,
        segments=args.segments,
        restore_workers=args.restore_workers or DEFAULT_RESTORE_WORKERS,
        measured_on=datetime.now(UTC).strftime("%Y-%m-%d"),
        cores=os.cpu_count() or 1,
        commit=args.code_version,
    )
    common = {"url": engine.url, "bucket": BUCKET, "domain": DOMAIN, "domain_items": profile.items}
    wanted = set(args.only or ALL_JOBS)

    def measure(planned: list[Planned]) -> None:
        for job in planned:
            log(f"  {report.label(job.key).strip()}: {job.repeat} run(s)")
        report.jobs.update(benchkit.run_interleaved(planned, engine, on_result))

    def on_result(key: str, result: JobResult) -> None:
        log(f"  {report.label(key).strip()}: {describe(result)}")

    def drop_target(spec: JobSpec) -> None:
        sdb.delete_domain(DomainName=spec.target)

    def restore_spec(run: str, sample: int | None) -> Callable[[], JobSpec]:
        return lambda: JobSpec(
            RESTORE,
            run,
            segments=args.segments,
            restore_workers=args.restore_workers,
            target=f"bench-restore-{profile.items}-{run}-{uuid.uuid4().hex[:6]}",
            version_id=version_id,
            sample=sample,
            **common,
        )

    # Our backup runs whenever a restore needs its dump; the restores read the version it published.
    backups = []
    if wanted & {"backup/ours", "restore/ours", "restore/baseline"}:
        backups.append(
            Planned(
                "backup/ours", lambda: JobSpec(BACKUP, OURS, segments=args.segments, **common), args.repeat
            )
        )
    if "backup/baseline" in wanted:
        backups.append(Planned("backup/baseline", lambda: JobSpec(BACKUP, BASELINE, **common), args.repeat))
    measure(backups)
    ours = report.jobs.get("backup/ours")
    version_id = ours.extra.get("version_id") if ours is not None and ours.error is None else None
    restores = []
    if version_id is not None and "restore/ours" in wanted:
        restores.append(Planned("restore/ours", restore_spec(OURS, None), args.repeat, drop_target))
    if version_id is not None and "restore/baseline" in wanted:
        sample = min(args.baseline_sample, profile.items) if args.baseline_sample else None
        restores.append(Planned("restore/baseline", restore_spec(BASELINE, sample), 1, drop_target))
    measure(restores)
    result = report.jobs.get("restore/ours")
    if result is not None and result.error is None and not result.extra.get("verified"):
        result.error = "the restore did not verify"
    if not args.only:
        sweep = [
            Planned(
                f"backup/{benchkit.SWEEP_PREFIX}{segments}",
                lambda segments=segments: JobSpec(
                    BACKUP, f"{benchkit.SWEEP_PREFIX}{segments}", segments=segments, **common
                ),
            )
            for segments in args.sweep_segments
            if segments != args.segments
        ]
        measure(sweep)
    if "backup/ours" not in wanted:
        report.jobs.pop("backup/ours", None)
    return report


PRODUCT_SEGMENTS = int(Settings.model_fields["segments"].default)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, action="append", help="domain size; repeat for several sizes")
    parser.add_argument("--latency-ms", type=float, default=30.0, help="latency injected into SimpleDB calls")
    parser.add_argument(
        "--segments",
        type=int,
        default=PRODUCT_SEGMENTS,
        help="most backup Select streams (the product default)",
    )
    parser.add_argument("--restore-workers", type=int, default=None, help="default: the product default")
    parser.add_argument(
        "--baseline-sample", type=int, default=1000, help="items the per-item restore baseline writes"
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs of each backup and of our restore; the fastest is kept"
    )
    parser.add_argument(
        "--sweep-segments",
        type=lambda text: [int(part) for part in text.split(",") if part],
        default=[2, 8],
        help="extra backup runs with these segment counts (informative), comma-separated; '' for none",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "PERFORMANCE.md")
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/PERFORMANCE.md alone")
    parser.add_argument(
        "--only",
        action="append",
        choices=ALL_JOBS,
        help="run only these jobs (for investigating; implies --no-write)",
    )
    parser.add_argument(
        "--render-only",
        action="store_true",
        help="rewrite docs/PERFORMANCE.md from the results it keeps, without measuring",
    )
    args = parser.parse_args(argv)
    if args.render_only:
        reports = benchkit.load_reports(args.output.read_text()) if args.output.exists() else []
        if not reports:
            parser.error(f"{args.output} holds no results to render")
        machine = args.output.read_text().split("## Machine\n\n", 1)[-1].split("\n\n", 1)[0]
        command = "make bench-large" if len(reports) > 1 else "make bench"
        args.output.write_text(benchkit.render_performance(reports, machine, BOTTLENECKS, command))
        log(f"rendered {args.output.relative_to(ROOT)} from its {len(reports)} stored result(s)")
        return 0
    sizes = sorted(set(args.items or [20000]))
    started = time.monotonic()
    machine = benchkit.machine_note()
    reports: list[SizeReport] = []
    with EngineProcess(latency_ms=0) as engine:
        log(f"engine at {engine.url} (pid {engine.process.pid})")
        s3 = benchkit.client("s3", engine.url)
        s3.create_bucket(Bucket=BUCKET)
        s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        sdb = benchkit.client("sdb", engine.url)
        filler = benchkit.DomainFiller(engine.url, DOMAIN, seed=args.seed)
        for size in sizes:
            engine.controls.configure(latency_ms=0)
            fill_started = time.monotonic()
            profile = filler.fill_to(size)
            log(
                f"{size:,} items filled in {time.monotonic() - fill_started:.0f} s: "
                f"{profile.data_bytes / 1e6:.1f} MB data, {profile.response_bytes / 1e6:.1f} MB Select XML, "
                f"minimum {profile.min_select_pages} Select pages, {profile.min_batch_writes} batch writes"
            )
            engine.controls.configure(latency_ms=args.latency_ms)
            args.code_version = benchkit.code_version()
            report = measure_size(engine, profile, args, sdb)
            now = benchkit.code_version()
            if now != args.code_version:
                log(
                    f"WARNING: the product code changed during this size ({args.code_version} → {now}): rerun"
                )
                report.commit = f"{args.code_version}→{now}"
            reports.append(report)
            log(f"engine RSS {engine.rss_mb():.0f} MB")
    print()
    print(benchkit.measurement_table(reports))
    print()
    print(benchkit.verdict_table(reports))
    growth = benchkit.growth_table(reports)
    if growth:
        print()
        print(growth)
    for note in benchkit.shortfall_notes(reports):
        print()
        print(note)
    print()
    if args.no_write or args.only:
        log(f"done in {time.monotonic() - started:.0f} s (docs not written)")
        return 0
    previous = benchkit.load_reports(args.output.read_text()) if args.output.exists() else []
    merged = benchkit.merge_reports(previous, reports)
    command = "make bench-large" if len(sizes) > 1 else "make bench"
    args.output.write_text(benchkit.render_performance(merged, machine, BOTTLENECKS, command))
    log(f"done in {time.monotonic() - started:.0f} s; wrote {args.output.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
