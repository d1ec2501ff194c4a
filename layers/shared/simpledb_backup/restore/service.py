"""The restore function's one entry point: a request in, an answer out; refusals are raised."""

from typing import Any

from simpledb_backup.config import Settings
from simpledb_backup.errors import InvalidRequestError
from simpledb_backup.events import (
    DiffRequest,
    EstimateRequest,
    ListRequest,
    PlanRequest,
    RestoreRunRequest,
    StatusRequest,
)
from simpledb_backup.restore.answers import list_answer, status_answer
from simpledb_backup.restore.catalog import DumpCatalog
from simpledb_backup.restore.diff import DumpDiffer
from simpledb_backup.restore.estimate import CapacityEstimator
from simpledb_backup.restore.prepare import Preparation
from simpledb_backup.restore.runner import RestoreRunner
from simpledb_backup.restore.runs import RestoreRuns
from simpledb_backup.restore.sources import SourceOpener
from simpledb_backup.runtime import Deadline

Request = ListRequest | PlanRequest | RestoreRunRequest | StatusRequest | DiffRequest | EstimateRequest


class RestoreService:
    def __init__(
        self,
        settings: Settings,
        catalog: DumpCatalog,
        sources: SourceOpener,
        preparation: Preparation,
        runner: RestoreRunner,
        runs: RestoreRuns,
        differ: DumpDiffer,
        estimator: CapacityEstimator | None = None,
    ) -> None:
        self.settings, self.catalog, self.sources = settings, catalog, sources
        self.preparation, self.runner, self.runs, self.differ = preparation, runner, runs, differ
        self.estimator = estimator

    # No tracer.capture_method on the entry points: it logs every exception with its traceback, and most
    # exceptions here are refusals the operator reads in the answer. The stages are traced.
    def handle(self, request: Request, deadline: Deadline) -> dict[str, Any]:
        match request:
            case ListRequest():
                versions = self.catalog.list(request.domain, request.limit, request.label)
                return list_answer(request, versions, self.catalog.store.bucket)
            case DiffRequest():
                return self.differ.diff(request)
            case PlanRequest():
                self.check_target(request.target)
                return self.preparation.plan(request, self.sources.open(request)).answer
            case StatusRequest():
                return status_answer(self.runs.load(request.run_id))
            case RestoreRunRequest():
                self.check_target(request.target)
                return self.runner.run(request, deadline)
            case EstimateRequest():
                if self.estimator is None:
                    raise InvalidRequestError("action: estimate is not available in this deployment")
                return self.estimator.estimate(request)

    def check_target(self, target: str) -> None:
        if not self.settings.may_restore_into(target):
            allowed = ", ".join(self.settings.domain_names)
            pattern = self.settings.restore_target_pattern or "(empty)"
            raise InvalidRequestError(
                f"target_domain: {target!r} is neither a configured domain ({allowed}) nor matches "
                f"RESTORE_TARGET_PATTERN {pattern}"
            )
