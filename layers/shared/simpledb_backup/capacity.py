"""How long a backup and a restore of a domain will take, and what they cost: a model to plan with. Pure.

From what DomainMetadata says of a domain, the latency of one SimpleDB call, the deployed settings and the cost of
each unit of work, it predicts a backup's Select pages, streams, time, invocations and Lambda cost, and a
restore's write calls, time, invocations and cost. docs/PERFORMANCE.md ("Capacity model") checks it against
the benchmark's measurements and says where it breaks.

The model, in SimpleDB's units:

* **Pages.** A Select page holds at most 2,500 items and 1 MB of response (SimpleDB Developer Guide, "Limits"),
  so a scan needs at least max(items / 2,500, Select XML / 1 MB) pages; each extra stream's run ends on a page
  that is not full, half a page on average (the backup aims each run at a whole number of pages).
* **A stream's page** takes the call's latency, the service's time to produce the page (per MB) and the client's
  CPU for it (per MB of Select XML: the call, parsing, encoding, digest, compression).
* **Streams** are added while pages per second rise (issue 18; backup/streams.py): up to the deployed ceiling,
  within the scan's memory budget (96 MB: 4 MB a backup stream, 12 MB a stream that hands items over), within
  its budget of extra pages (5 % from 100 pages, 3 below, half a page a run), no more than the pages, and no
  more than keep the client's CPU busy: beyond ``cycle / CPU per page`` streams, CPU bounds.
* **CPU.** Lambda gives a function one vCPU per 1,769 MB of memory; the client's Python runs on at most
  ``python_cores`` of them (the GIL). Where the service runs on the same cores (the benchmark's local engine),
  client and service share them.
* **Writes.** BatchPutAttributes takes 25 items under a 1 MB request (the adapter bounds an item at three times its
  bytes, form-encoded); the restore's workers each keep one call in flight.
* **A restore** reads the dump (gzip JSON lines), reads the target before writing when it holds items (the plan
  and the safety backup share that scan), writes, and reads the target back to verify it.
* **Invocations.** A run that needs longer than ``timeout - margin`` continues in new invocations, each paying a
  fixed restart. **Cost** is Lambda's: GB-seconds at the arm64 price and one request per invocation; SimpleDB's
  machine hours, S3 requests and storage are not in it.
"""

import math
from dataclasses import dataclass, field

from simpledb_backup.items import MAX_BATCH_ITEMS, MAX_BATCH_REQUEST_BYTES, MAX_SELECT_LIMIT

#: Select answers at most 1 MB a page (SimpleDB Developer Guide, "Limits").
SELECT_PAGE_BYTES = 1024 * 1024
#: XML around the data of a Select page, calibrated on Repoman items (2,078 bytes of XML for 1,312 of data): per
#: name/value pair its tags and the attribute's name, per item its tags (the backup's estimate, backup/scan.py).
XML_BYTES_PER_VALUE = 65
XML_BYTES_PER_ITEM = 30
#: The streams' memory budget and what each holds, and the extra pages a scan may spend (backup/cells.py,
#: backup/scan.py): each run beyond the first ends on a part-filled page, half a page on average.
STREAM_MEMORY_BUDGET_MB = 96
BACKUP_STREAM_MB = 4
SCAN_STREAM_MB = 12
#: Extra Select pages one split costs on average: the part-filled last page of the run it ends (aimed at 80 %,
#: missed by what the estimates miss).
SPLIT_COST_PAGES = 0.5
#: Streams a scan starts with before it has measured anything (backup/streams.py).
INITIAL_STREAMS = 4
#: Form encoding at most triples a byte; each pair adds its parameter names (aws/simpledb.py, request_size_bound).
REQUEST_BYTES_PER_PAIR = 96
#: Lambda: one vCPU per 1,769 MB; arm64 price per GB-second and per request (us-east-1, 2026).
MB_PER_VCPU = 1769.0
USD_PER_GB_SECOND = 0.0000133334
USD_PER_REQUEST = 0.20 / 1_000_000
MB = 1_000_000


@dataclass(frozen=True)
class DomainSize:
    """A domain as DomainMetadata describes it."""

    item_count: int
    attribute_name_count: int
    attribute_value_count: int
    item_names_size_bytes: int
    attribute_names_size_bytes: int
    attribute_values_size_bytes: int

    @property
    def data_bytes(self) -> int:
        return self.item_names_size_bytes + self.attribute_names_size_bytes + self.attribute_values_size_bytes

    @property
    def select_xml_bytes(self) -> int:
        """The Select XML a scan of the whole domain receives (estimated from the sizes)."""
        return (
            self.item_names_size_bytes
            + self.attribute_values_size_bytes
            + self.attribute_value_count * XML_BYTES_PER_VALUE
            + self.item_count * XML_BYTES_PER_ITEM
        )

    def scaled(self, factor: float) -> "DomainSize":
        """The same kind of items, ``factor`` times as many (attribute names are shared: they do not grow)."""
        return DomainSize(
            item_count=round(self.item_count * factor),
            attribute_name_count=self.attribute_name_count,
            attribute_value_count=round(self.attribute_value_count * factor),
            item_names_size_bytes=round(self.item_names_size_bytes * factor),
            attribute_names_size_bytes=self.attribute_names_size_bytes,
            attribute_values_size_bytes=round(self.attribute_values_size_bytes * factor),
        )


@dataclass(frozen=True)
class Latency:
    """Milliseconds one call waits on the service: a small Select, a BatchPutAttributes."""

    select_ms: float
    write_ms: float
    measured: bool = False


@dataclass(frozen=True)
class Deployment:
    """The deployed settings a run works within (template.yaml, config.Settings)."""

    segments: int  # the ceiling of Select streams per scan (BackupSegments)
    restore_workers: int  # BatchPutAttributes calls in flight (RestoreWorkers)
    memory_mb: int = 1024
    timeout_seconds: float = 900.0
    margin_seconds: float = 90.0  # CONTINUATION_MARGIN_SECONDS

    @property
    def vcpus(self) -> float:
        return self.memory_mb / MB_PER_VCPU

    @property
    def invocation_seconds(self) -> float:
        """The work one invocation plans to do before it hands over."""
        return max(1.0, self.timeout_seconds - self.margin_seconds)


@dataclass(frozen=True)
class UnitCosts:
    """What each unit of work costs, in milliseconds. The defaults (what ``estimate`` uses) are make bench's on a
    quiet machine, taken to be the same per vCPU on Lambda's arm64 (docs/PERFORMANCE.md, "Capacity model"): the
    backup's client CPU per MB of Select XML (issue 18: 24.5 ms), a restore's per 25-item batch (building,
    signing, sending; ~7 ms, ~11 ms with its share of reading the dump), its reading of the dump and of the
    target."""

    #: The backup client's CPU per MB of Select XML (calls, parse, dump lines, digest, compression).
    backup_ms_per_select_mb: float = 25.0
    #: The restore's CPU per MB of Select XML when it reads the target (parse, compare).
    scan_ms_per_select_mb: float = 25.0
    #: The restore's CPU per MB of item data of the dump it reads (decompress, parse, check).
    dump_ms_per_data_mb: float = 35.0
    #: The client's CPU per BatchPutAttributes call (build, sign, send, read the answer).
    client_ms_per_batch: float = 10.0
    #: The service's own time per MB of Select XML and per batch, beyond the latency (AWS: unknown, 0).
    service_ms_per_select_mb: float = 0.0
    service_ms_per_batch: float = 0.0
    #: True where the service runs on the client's cores (the benchmark's engine): they share the CPU.
    service_shares_cores: bool = False
    #: Cores the service's own time runs on, where it is CPU (the benchmark's engine); None: not a bound.
    service_cores: float | None = None
    #: Cores the client runs on; None: the deployment's vCPUs.
    cores: float | None = None
    #: Cores the client's Python can keep busy at once (the GIL; lxml, hashlib and isal release it a little).
    python_cores: float = 1.0
    #: The share of a core the client gets when it runs (1: the machine is its own; less where other work shares
    #: it, as on the benchmark's machine): every CPU cost on its cores takes 1 / cpu_share of wall time.
    cpu_share: float = 1.0
    #: SimpleDB calls a run makes one after the other before its pages or writes start (DomainMetadata, the
    #: backup's probe pages; the restore's metadata, CreateDomain, its lock's checks): each waits the latency.
    backup_setup_calls: float = 3.0
    restore_setup_calls: float = 6.0
    #: Seconds a run spends besides its pages and writes (clients, DomainMetadata, publishing; a restore's lock
    #: and saved state), and a continuation's restart.
    backup_fixed_seconds: float = 1.0
    restore_fixed_seconds: float = 2.0
    continuation_seconds: float = 3.0


@dataclass(frozen=True)
class BackupEstimate:
    seconds: float
    invocations: int
    select_pages: int
    streams: int
    lambda_gb_seconds: float
    cost_usd: float
    #: Which bound set the page rate: "latency" (streams), "client CPU", "shared CPU" or "service".
    bound: str = ""


@dataclass(frozen=True)
class RestoreEstimate:
    seconds: float
    invocations: int
    write_calls: int
    select_pages: int
    lambda_gb_seconds: float
    cost_usd: float
    phases: dict[str, float] = field(default_factory=dict)  # seconds: dump, before, write, verify
    bound: str = ""  # what bounds the writes: "latency" (workers), "client CPU", "shared CPU", "cap"


def min_select_pages(size: DomainSize) -> int:
    """The fewest Select pages a scan of the whole domain can take (an empty one takes one)."""
    if size.item_count <= 0:
        return 1
    return max(
        math.ceil(size.item_count / MAX_SELECT_LIMIT), math.ceil(size.select_xml_bytes / SELECT_PAGE_BYTES)
    )


def extra_pages_allowed(least_pages: int) -> int:
    """Select pages a scan may spend beyond the fewest: 5 % from 100 pages on, 3 below (issue 18)."""
    return 3 if least_pages < 100 else least_pages // 20


def most_runs(least_pages: int) -> int:
    """The most runs (streams reading at once) the extra pages pay for, each ending on a part-filled page."""
    return 1 + max(0, int((extra_pages_allowed(least_pages) - SPLIT_COST_PAGES) / SPLIT_COST_PAGES))


def write_calls(size: DomainSize, items: int | None = None) -> int:
    """BatchPutAttributes calls for ``items`` items of this domain (all of them by default)."""
    count = size.item_count if items is None else items
    if count <= 0 or size.item_count <= 0:
        return 0
    pairs = size.attribute_value_count / size.item_count
    name_bytes = size.attribute_names_size_bytes / max(1, size.attribute_name_count)
    per_item = 3 * (
        size.item_names_size_bytes + size.attribute_values_size_bytes
    ) / size.item_count + pairs * (3 * name_bytes + REQUEST_BYTES_PER_PAIR)
    per_batch = max(1, min(MAX_BATCH_ITEMS, int(MAX_BATCH_REQUEST_BYTES // max(1.0, per_item))))
    return math.ceil(count / per_batch)


def _cores(deployment: Deployment, costs: UnitCosts) -> float:
    return costs.cores if costs.cores is not None else deployment.vcpus


@dataclass(frozen=True)
class _Scan:
    pages: int
    streams: int
    seconds: float
    bound: str


def _scan(
    size: DomainSize,
    latency: Latency,
    deployment: Deployment,
    costs: UnitCosts,
    client_ms: float,
    stream_mb: int = BACKUP_STREAM_MB,
) -> _Scan:
    """A segmented scan of the whole domain with ``client_ms`` of client CPU per MB of Select XML, each stream
    holding ``stream_mb`` of the memory budget."""
    least = min_select_pages(size)
    page_mb = size.select_xml_bytes / least / MB
    client = client_ms * page_mb / costs.cpu_share
    service = (
        costs.service_ms_per_select_mb * page_mb / (costs.cpu_share if costs.service_shares_cores else 1.0)
    )
    cycle = latency.select_ms + service + client  # one stream's page, ms
    cores = _cores(deployment, costs)
    rates = {"client CPU": 1000 * min(cores, costs.python_cores) / max(client, 1e-9)}
    if costs.service_shares_cores:
        rates["shared CPU"] = 1000 * cores / max(client + service, 1e-9)
    if costs.service_cores and service > 0:
        rates["service"] = 1000 * costs.service_cores / service
    useful = math.ceil(cycle * min(rates.values()) / 1000)  # more streams than this only queue for the CPU
    memory = STREAM_MEMORY_BUDGET_MB // stream_mb
    # A scan starts a few streams before it has measured anything (backup/streams.py), more while they pay.
    streams = max(1, min(deployment.segments, memory, most_runs(least), least, max(INITIAL_STREAMS, useful)))
    pages = least + math.ceil(SPLIT_COST_PAGES * (streams - 1))
    rates["latency"] = 1000 * streams / cycle
    bound = min(rates, key=lambda name: rates[name])
    return _Scan(pages, streams, pages / rates[bound], bound)


def _invocations(
    work_seconds: float, fixed_seconds: float, deployment: Deployment, costs: UnitCosts
) -> tuple[int, float]:
    """Invocations a run of ``work_seconds`` needs, and its seconds with the restarts and fixed costs."""
    seconds = work_seconds + fixed_seconds
    invocations = max(1, math.ceil(seconds / deployment.invocation_seconds))
    return invocations, seconds + (invocations - 1) * costs.continuation_seconds


def _lambda_cost(seconds: float, invocations: int, deployment: Deployment) -> tuple[float, float]:
    gb_seconds = deployment.memory_mb / 1024 * seconds
    return gb_seconds, gb_seconds * USD_PER_GB_SECOND + invocations * USD_PER_REQUEST


def estimate_backup(
    size: DomainSize, latency: Latency, deployment: Deployment, costs: UnitCosts | None = None
) -> BackupEstimate:
    costs = costs or UnitCosts()
    scan = _scan(size, latency, deployment, costs, costs.backup_ms_per_select_mb)
    setup = costs.backup_fixed_seconds + costs.backup_setup_calls * latency.select_ms / 1000
    invocations, seconds = _invocations(scan.seconds, setup, deployment, costs)
    gb_seconds, cost = _lambda_cost(seconds, invocations, deployment)
    return BackupEstimate(seconds, invocations, scan.pages, scan.streams, gb_seconds, cost, scan.bound)


def _write_seconds(
    calls: int, latency: Latency, deployment: Deployment, costs: UnitCosts, cap: float | None
) -> tuple[float, str]:
    client = costs.client_ms_per_batch / costs.cpu_share
    service = costs.service_ms_per_batch / (costs.cpu_share if costs.service_shares_cores else 1.0)
    cycle = latency.write_ms + service + client
    cores = _cores(deployment, costs)
    rates = {
        "latency": 1000 * deployment.restore_workers / cycle,
        "client CPU": 1000 * min(cores, costs.python_cores) / max(client, 1e-9),
    }
    if costs.service_shares_cores:
        rates["shared CPU"] = 1000 * cores / max(client + service, 1e-9)
    if costs.service_cores and service > 0:
        rates["service"] = 1000 * costs.service_cores / service
    if cap:
        rates["cap"] = cap
    bound = min(rates, key=lambda name: rates[name])
    return calls / rates[bound], bound


def estimate_restore(
    size: DomainSize,
    latency: Latency,
    deployment: Deployment,
    costs: UnitCosts | None = None,
    *,
    items_to_write: int | None = None,
    target: DomainSize | None = None,
    write_cap: float | None = None,
) -> RestoreEstimate:
    """A restore of a dump of ``size`` into ``target`` (empty by default: the domain lost), writing
    ``items_to_write`` items (all by default), under a write cap in calls/s if one applies."""
    costs = costs or UnitCosts()
    calls = write_calls(size, items_to_write)
    final = target if target is not None and items_to_write is not None else size
    verify = _scan(final, latency, deployment, costs, costs.scan_ms_per_select_mb, SCAN_STREAM_MB)
    before = None
    if target is not None and target.item_count > 0:
        before = _scan(target, latency, deployment, costs, costs.backup_ms_per_select_mb, SCAN_STREAM_MB)
    write, bound = _write_seconds(calls, latency, deployment, costs, write_cap)
    phases = {
        "dump": size.data_bytes / MB * costs.dump_ms_per_data_mb / 1000,
        "before": before.seconds if before else latency.select_ms / 1000,
        "write": write,
        "verify": verify.seconds,
    }
    setup = costs.restore_fixed_seconds + costs.restore_setup_calls * latency.select_ms / 1000
    invocations, seconds = _invocations(sum(phases.values()), setup, deployment, costs)
    gb_seconds, cost = _lambda_cost(seconds, invocations, deployment)
    pages = verify.pages + (before.pages if before else 1)
    return RestoreEstimate(seconds, invocations, calls, pages, gb_seconds, cost, phases, bound)
