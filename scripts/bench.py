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

ROOT = Path(__file__).resolve().parent.parent
DOMAIN = "bench-packages"
BUCKET = "bench-dumps"
DEFAULT_RESTORE_WORKERS = 8  # Settings.restore_workers' default, used when --restore-workers is not given
ALL_JOBS = ("backup/ours", "backup/baseline", "restore/ours", "restore/baseline")

# What the measurements showed, and what would fix it: maintained here, rendered into docs/PERFORMANCE.md.
BOTTLENECKS = """
TBD
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, action="append", help="domain size; repeat for several sizes")
    parser.add_argument("--latency-ms", type=float, default=30.0, help="latency injected into SimpleDB calls")
    parser.add_argument("--segments", type=int, default=8, help="backup Select streams (the product default)")
    parser.add_argument("--restore-workers", type=int, default=None, help="default: the product default")
    parser.add_argument(
        "--baseline-sample", type=int, default=1000, help="items the per-item restore baseline writes"
    )
    parser.add_argument(
        "--repeat", type=int, default=2, help="runs of each backup and of our restore; the fastest is kept"
    )
    parser.add_argument(
        "--sweep-segments",
        type=lambda text: [int(part) for part in text.split(",") if part],
        default=[2, 4],
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
            reports.append(measure_size(engine, profile, args, sdb))
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
