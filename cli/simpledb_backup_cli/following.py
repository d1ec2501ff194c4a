"""Following work that may take long, and stopping to follow it truthfully.

A restore (or a resume) is sent without waiting for its answer in the command's own thread: while its first
invocation works, the command finds the run (the restore function's ``runs``, compared with the runs there
were before) and prints its id and the command that follows it, then shows its progress from its ``status``;
once the first invocation answers, it polls ``status`` until the run ends or stalls. Every poll waits for
``Functions.settle`` (at least 5 s for the deployed and --local functions), so following never calls the
function more often than that.

Ctrl-C stops following, not the work: the first one asks the run's status once more and reports what is true
(the run ended: its answer; it goes on: where, what it is doing and the command that follows it again; it
cannot outlive the command: that, and why), then the command exits 130. A second Ctrl-C exits at once.
"""

import contextlib
import os
import signal
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from simpledb_backup_cli import requests
from simpledb_backup_cli.commands import CommandLine
from simpledb_backup_cli.errors import CliError, FunctionBusyError, StoppedFollowingError
from simpledb_backup_cli.functions import Answer, FunctionName, Functions, Pending
from simpledb_backup_cli.output import Output
from simpledb_backup_cli.progress import ProgressDisplay, progress_display, run_progress

ENDED = ("complete", "failed", "refused")
GOING = ("continued", "running")


def has_ended(answer: Mapping[str, Any] | None) -> bool:
    return answer is not None and (answer.get("status") in ENDED or answer.get("state") in ENDED)


def goes_on(answer: Mapping[str, Any]) -> bool:
    """Whether following the run can still see it move: it has not ended and has not stalled (its saved status
    is ``running`` while an invocation works on it, ``continued`` between two)."""
    return answer.get("status") in GOING and answer.get("state") not in (*ENDED, "stalled")


def exit_on_next_interrupt(
    last_words: Callable[[], str], before_exit: Callable[[], None] = lambda: None
) -> None:
    """From now on, Ctrl-C exits at once (status 130), after one line on stderr: the operator asked twice."""

    def exit_now(signum: int, frame: object) -> None:
        try:
            before_exit()
            sys.stderr.write(f"\n{last_words()}\n")
            sys.stderr.flush()
        finally:
            os._exit(130)

    with contextlib.suppress(ValueError):  # not the main thread: the default handling stays
        signal.signal(signal.SIGINT, exit_now)


@dataclass
class RunWatch:
    """What the command knows of the run it follows."""

    domain: str
    run_id: str | None = None
    last: Answer | None = None
    #: Where the run writes (a run found by ``runs`` must be into it).
    target: str | None = None
    #: The run ids there were before the restore was sent (None when ``runs`` cannot tell).
    known: set[str] | None = field(default=None)


class Follower:
    """Sends long work and follows it, for one command."""

    def __init__(
        self,
        functions: Functions,
        output: Output,
        commands: CommandLine,
        before_exit: Callable[[], None] = lambda: None,
    ) -> None:
        self.functions, self.output, self.commands = functions, output, commands
        self.before_exit = before_exit
        self.poll_seconds = float(getattr(functions, "POLL_SECONDS", 5.0))

    def display(self) -> ProgressDisplay:
        return progress_display(self.output.error_console, self.output.quiet)

    # ------------------------------------------------------------------------------------------ a run
    def restore(self, request: BaseModel, domain: str, run_id: str | None, wait: bool) -> Answer:
        """Send a restore (or resume ``run_id``) and follow it until it ends or stalls (until its first answer
        when not ``wait``); the last answer."""
        watch = RunWatch(domain, run_id, target=getattr(request, "target", None))
        if run_id is None:
            watch.known = self._run_ids(domain)
        else:
            self.output.say(f"resuming run {run_id} (Ctrl-C stops following, not the run)")
        pending = self.functions.start("restore", request)
        try:
            with self.display() as display:
                while not pending.wait(self.poll_seconds):
                    self._look(watch, display)
                self._saw(watch, pending.result(), display)
                if wait:
                    self._until_it_stops(watch, display)
        except KeyboardInterrupt:
            return self._stopped(watch, pending)
        assert watch.last is not None
        return watch.last

    def follow(self, domain: str, run_id: str, answer: Answer) -> Answer:
        """Follow a run from a status answer until it ends or stalls."""
        watch = RunWatch(domain, run_id, answer)
        try:
            with self.display() as display:
                display.show(run_progress(answer), self._note(answer))
                self._until_it_stops(watch, display)
        except KeyboardInterrupt:
            return self._stopped(watch, None)
        assert watch.last is not None
        return watch.last

    def _until_it_stops(self, watch: RunWatch, display: ProgressDisplay) -> None:
        while watch.last is not None and watch.run_id is not None and goes_on(watch.last):
            self.functions.settle()
            try:
                answer = self.functions.invoke("restore", requests.status_request(watch.domain, watch.run_id))
            except FunctionBusyError:
                display.show(run_progress(watch.last), "the function is busy (throttled); waiting")
                continue
            self._saw(watch, answer, display)

    def _look(self, watch: RunWatch, display: ProgressDisplay) -> None:
        """While the first invocation works: find the run, then show its progress."""
        try:
            if watch.run_id is None:
                found = self._new_run(watch)
                if found is not None:
                    self._saw(watch, found, display)
                return
            self._saw(
                watch,
                self.functions.invoke("restore", requests.status_request(watch.domain, watch.run_id)),
                display,
            )
        except CliError:
            return  # a poll that failed (throttled, say): the first invocation's answer will tell

    def _saw(self, watch: RunWatch, answer: Answer, display: ProgressDisplay) -> None:
        if watch.run_id is None and answer.get("run_id"):
            watch.run_id = str(answer["run_id"])
            if not has_ended(answer):
                self._announce(watch.domain, watch.run_id)
        watch.last = answer
        if answer.get("run_id") or answer.get("progress"):
            display.show(run_progress(answer), self._note(answer))

    def _announce(self, domain: str, run_id: str) -> None:
        self.output.say(
            f"run {run_id}: follow it with `{self.commands.status(domain, run_id)}` "
            "(Ctrl-C stops following, not the run)"
        )

    @staticmethod
    def _note(answer: Mapping[str, Any]) -> str:
        state = answer.get("state")
        return f"{state}" if state and state != "running" else ""

    def _run_ids(self, domain: str) -> set[str] | None:
        try:
            answer = self.functions.invoke("restore", requests.runs_request(domain))
        except CliError:
            return None
        runs = answer.get("runs")
        if answer.get("status") == "refused" or not isinstance(runs, list):
            return None
        return {str(run.get("run_id")) for run in runs if isinstance(run, Mapping)}

    def _new_run(self, watch: RunWatch) -> Answer | None:
        """The newest run that was not there before the restore was sent, as ``runs`` lists it."""
        if watch.known is None:
            return None
        answer = self.functions.invoke("restore", requests.runs_request(watch.domain))
        for run in answer.get("runs") or []:
            if (
                isinstance(run, Mapping)
                and run.get("run_id") not in watch.known
                and run.get("state") != "refused"
                and run.get("target_domain", watch.target) == watch.target
            ):
                return {**run, "domain": watch.domain}
        return None

    # ----------------------------------------------------------------------------------------- Ctrl-C
    def _stopped(self, watch: RunWatch, pending: Pending | None) -> Answer:
        """After the first Ctrl-C: the truth about the run, as far as one more look can tell."""
        exit_on_next_interrupt(lambda: self._last_words(watch), self.before_exit)
        if pending is not None and pending.wait(0):
            self._saw(watch, pending.result(), _Silent())
        try:
            if watch.run_id is None:
                found = self._new_run(watch)
                if found is not None:
                    self._saw(watch, found, _Silent())
            if watch.run_id is not None and not has_ended(watch.last):
                status = requests.status_request(watch.domain, watch.run_id)
                self._saw(watch, self.functions.invoke("restore", status), _Silent())
        except CliError:
            pass  # what we knew before is what we report
        if has_ended(watch.last):
            assert watch.last is not None
            self.output.note("(Ctrl-C: the run had already ended; here is how)")
            return watch.last
        raise self._stopped_error(watch)

    def _stopped_error(self, watch: RunWatch) -> StoppedFollowingError:
        continues, where = self.functions.after_exit()
        if not continues:
            self.before_exit()  # what cannot outlive the command stops now, rather than fail later
        details: dict[str, Any] = {"domain": watch.domain, "run_id": watch.run_id, "goes_on": continues}
        if watch.run_id is None:
            text = "stopped waiting for the restore (Ctrl-C). It was sent"
            text += (
                f" and goes on {where}; its run id comes with its answer, which this command no longer waits "
                f"for: `{self.commands.runs(watch.domain)}` lists it"
                if continues
                else f", and stops with this command: {where}"
            )
            return StoppedFollowingError(text, details)
        last = watch.last or {}
        progress = run_progress(last)
        state = last.get("state") or last.get("status") or "unknown"
        doing = f"{state}, {progress.phase or 'starting'}, {progress.items_written:,} of {progress.items_to_write:,} item writes made"
        follow = self.commands.status(watch.domain, watch.run_id)
        resume = self.commands.resume(watch.domain, watch.run_id, last.get("target_domain"))
        details.update(state=state, phase=progress.phase, progress=last.get("progress"), follow=follow)
        if state == "stalled":
            text = f"stopped following run {watch.run_id} (Ctrl-C). It is stalled ({doing}): resume it with `{resume}`"
        elif continues:
            text = f"stopped following run {watch.run_id} (Ctrl-C). It goes on {where}: {doing}. Follow it again: `{follow}`"
        else:
            text = (
                f"stopped following run {watch.run_id} (Ctrl-C) at {doing}. It stops with this command: {where}. "
                f"Resume it with `{resume}`"
            )
            details["resume"] = resume
        return StoppedFollowingError(text, details)

    def _last_words(self, watch: RunWatch) -> str:
        if watch.run_id is None:
            return f"interrupted again: exiting now; `{self.commands.runs(watch.domain)}` lists the run"
        return f"interrupted again: exiting now; follow run {watch.run_id} with `{self.commands.status(watch.domain, watch.run_id)}`"

    # ------------------------------------------------------------------------------ backups and drills
    def answer_of(self, function: FunctionName, event: BaseModel, what: str, follow_hint: str) -> Answer:
        """Send work that may take long (a backup, a drill) and wait for its answer; Ctrl-C stops waiting and
        says where the work goes on and how to see its outcome (``follow_hint``)."""
        pending = self.functions.start(function, event)
        try:
            while not pending.wait(self.poll_seconds):
                pass
            return pending.result()
        except KeyboardInterrupt:
            return self._stopped_waiting(pending, what, follow_hint)

    def finish(self, what: str, follow_hint: str, answer: Answer) -> Answer:
        """Wait for the continuations this command runs (local); Ctrl-C as in ``answer_of``."""
        try:
            return self.functions.finish() or answer
        except KeyboardInterrupt:
            return self._stopped_waiting(None, what, follow_hint)

    def _stopped_waiting(self, pending: Pending | None, what: str, follow_hint: str) -> Answer:
        exit_on_next_interrupt(lambda: f"interrupted again: exiting now; {follow_hint}", self.before_exit)
        if pending is not None and pending.wait(0):
            self.output.note(f"(Ctrl-C: the {what} had already answered)")
            return pending.result()
        continues, where = self.functions.after_exit()
        if not continues:
            self.before_exit()
        if continues:
            text = f"stopped waiting for the {what} (Ctrl-C). It goes on {where}; {follow_hint}"
        else:
            text = f"stopped waiting for the {what} (Ctrl-C). It stops with this command: {where}"
        raise StoppedFollowingError(text, {"goes_on": continues})


class _Silent:
    """A display for the looks taken after Ctrl-C, when the bar is gone."""

    def __enter__(self) -> "_Silent":
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def show(self, progress: object, note: str = "") -> None:
        pass
