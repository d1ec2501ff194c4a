"""Every command the README shows works as written: the blocks that can run offline are run here, in a shell of
their own from the repository's root (no PYTHONPATH, no AWS credentials, no AWS CLI), against `make local-aws`
on a free port; the operator's commands, written for a deployed stack, run with `--local` against the same local
AWS. Every other block says why it cannot run offline and where it is tested, and a block the test does not know
fails it, so that the README and this test change together."""

import os
import re
import shlex
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.server

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
CLI = ".venv/bin/simpledb-backup"
RUN_ID = re.compile(r"restore-\d{8}T\d{6}Z-[0-9a-f]+")
#: How each `sh` block that does not run offline begins, and why it does not.
ELSEWHERE = {
    "make demo": "tests/integration/test_demo.py runs the demo; `make test` is this suite",
    "make deploy": "deploys to an AWS account",
    "aws lambda invoke --function-name simpledb-backup-backup --cli-binary-format raw-in-base64-out \\": (
        "the raw event for a deployed stack, beside the simpledb-backup command run here"
    ),
    "aws lambda invoke --function-name simpledb-backup-restore --cli-binary-format raw-in-base64-out \\": (
        "raw events for a deployed stack; tests/cli/test_invoke_local.py runs the same events locally"
    ),
    "simpledb-backup restore packages --resume RUN_ID": (
        "needs a stalled run and a stale lock: tests/cli/test_cli_operator.py kills a restore and resumes it"
    ),
    "make alarms": "reads a deployed stack's alarms",
    "DEST=simpledb-backup-copy-eu": "configures a bucket in another AWS account",
}
#: README commands that need a part of issue 17 not on this branch yet: they are run, and must fail until it lands
#: (then they must be taken out of here).
PENDING: dict[str, str] = {}


def sh_blocks() -> list[str]:
    return re.findall(r"^```sh\n(.*?)^```", README.read_text(), re.MULTILINE | re.DOTALL)


def block_starting(first_line: str) -> str:
    [block] = [block for block in sh_blocks() if block.startswith(first_line)]
    return block


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def fresh_shell_environment() -> dict[str, str]:
    """A new terminal's environment: no PYTHONPATH (make sets its own), no AWS settings, not inside a make (as
    when `make test` runs this)."""
    prefixes = ("PYTHON", "AWS_", "SIMPLEDB_BACKUP", "BACKUP_", "DOMAIN_", "POWERTOOLS_", "MAKE", "MFLAGS")
    return {name: value for name, value in os.environ.items() if not name.startswith(prefixes)}


@pytest.fixture
def local_aws() -> Iterator[int]:
    """`make local-aws` on a free port, as the README starts it in its first terminal."""
    port = free_port()
    server = subprocess.Popen(
        ["make", "--no-print-directory", "local-aws", f"LOCAL_AWS_PORT={port}"],
        cwd=ROOT,
        env=fresh_shell_environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    assert server.stdout is not None
    for line in server.stdout:  # make's echo of the command, then the server's one line
        if "ready" in line:
            break
    yield port
    os.killpg(server.pid, 15)
    server.wait(timeout=30)


def shell(script: str, environment: dict[str, str], typed: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=ROOT,
        env=environment,
        input=typed,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def operator_commands(block: str) -> Iterator[tuple[str, list[str]]]:
    """Each `simpledb-backup ...` line of a block: the line as written (comment aside) and its arguments."""
    for line in block.splitlines():
        arguments = shlex.split(line, comments=True)
        if arguments:
            assert arguments[0] in ("simpledb-backup", CLI), line
            yield shlex.join(arguments), arguments[1:]


def test_every_sh_block_of_the_readme_is_run_here_or_said_where_it_is_tested() -> None:
    run_here = ("export AWS_ENDPOINT_URL=", f"{CLI} backup packages", "simpledb-backup list packages")
    unknown = [
        block.splitlines()[0] for block in sh_blocks() if not block.startswith((*run_here, *ELSEWHERE))
    ]
    assert unknown == [], "README blocks this test neither runs nor accounts for"


def test_the_local_session_and_the_operators_commands_work_as_written(local_aws: int, tmp_path: Path) -> None:
    environment = fresh_shell_environment()
    session = block_starting("export AWS_ENDPOINT_URL=").replace("127.0.0.1:5000", f"127.0.0.1:{local_aws}")
    seeded = shell(session, environment)
    assert seeded.returncode == 0, seeded.stderr
    assert '"status": "ok"' in seeded.stdout  # the backup's answer, through the pipe
    assert "Dumps of packages" in seeded.stdout

    # The rest of that terminal's session: its exports, and the operator's commands with --local.
    exports = session.splitlines()[0].removeprefix("export ").split()
    environment.update(dict(assignment.split("=", 1) for assignment in exports))
    [(_, by_hand)] = operator_commands(block_starting(f"{CLI} backup packages"))
    ran = shell(shlex.join([CLI, "--local", *by_hand]), environment)
    assert ran.returncode == 0, ran.stderr

    run_id = ""
    for line, arguments in operator_commands(block_starting("simpledb-backup list packages")):
        if arguments[0] == "restore":  # an accident first, so that the restore (and its undo) has work to do
            damage = (
                "import boto3; boto3.client('sdb').delete_attributes(DomainName='packages', ItemName='meta')"
            )
            assert shell(f".venv/bin/python -c {shlex.quote(damage)}", environment).returncode == 0
        command = [CLI, "--local", *(argument.replace("RUN_ID", run_id) for argument in arguments)]
        ran = shell(shlex.join(command), environment, typed="packages\n")
        if line in PENDING:
            assert ran.returncode != 0, f"{line} works now: take it out of PENDING ({PENDING[line]})"
            continue
        assert ran.returncode == 0, f"{line}\n{ran.stdout}\n{ran.stderr}"
        if arguments[0] == "restore":
            found = RUN_ID.search(ran.stdout)
            assert found, ran.stdout
            run_id = found.group(0)
    assert run_id
