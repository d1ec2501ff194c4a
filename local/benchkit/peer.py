"""The benchmark's peer: the real ``repoman-cli`` (apt-repoman from PyPI), in a venv of its own.

apt-repoman 1.0.6 pins boto3 1.4.4, whose botocore imports only on Python 3.9 or older, so the peer's venv
(``build/peer-venv``) is made with a Python 3.9 interpreter: ``$PEER_PYTHON`` if set, else ``python3.9`` on the
PATH, else pyenv's 3.9. It holds exactly peer-requirements.txt (every version pinned), installed with pip
from PyPI the first time and again whenever that file changes. benchkit.peerlaunch runs the command in it.
"""

import hashlib
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from benchkit.engine import ROOT

VENV = ROOT / "build" / "peer-venv"
REQUIREMENTS = Path(__file__).with_name("peer-requirements.txt")
#: The Python the pinned dependencies need (major, minor).
PEER_PYTHON_VERSION = (3, 9)
_MARKER = ".installed"


class PeerUnavailableError(RuntimeError):
    """No interpreter or no venv for the peer: the benchmark runs without its rows and says why."""


def pinned_version(requirements: str, package: str = "apt-repoman") -> str:
    """The version ``requirements`` pins ``package`` to."""
    match = re.search(rf"^{re.escape(package)}==(\S+)", requirements, re.MULTILINE)
    if match is None:
        raise PeerUnavailableError(f"{REQUIREMENTS.name} does not pin {package}")
    return match.group(1)


def candidates(environ: dict[str, str], which: Callable[[str], str | None] = shutil.which) -> list[list[str]]:
    """Command lines that may start a Python 3.9, the most explicit first."""
    found = []
    if environ.get("PEER_PYTHON"):
        found.append([environ["PEER_PYTHON"]])
    name = "python{}.{}".format(*PEER_PYTHON_VERSION)
    if which(name):
        found.append([name])
    pyenv = which("pyenv")
    if pyenv:
        # pyenv's shim runs a version that is installed but not selected when PYENV_VERSION names it.
        found.append(["env", f"PYENV_VERSION={_pyenv_version(pyenv)}", name])
    return found


def _pyenv_version(pyenv: str) -> str:
    listed = subprocess.run([pyenv, "versions", "--bare"], capture_output=True, text=True, check=False).stdout
    prefix = "{}.{}.".format(*PEER_PYTHON_VERSION)
    versions = sorted(
        (line.strip() for line in listed.splitlines() if line.strip().startswith(prefix)),
        key=lambda version: [int(part) for part in re.findall(r"\d+", version)],
    )
    return versions[-1] if versions else prefix.rstrip(".")


def find_interpreter(commands: Sequence[list[str]]) -> str:
    """The executable of the first command that starts the peer's Python version."""
    wanted = "{}.{}".format(*PEER_PYTHON_VERSION)
    for command in commands:
        try:
            answer = subprocess.run(
                [*command, "-c", "import sys; print(sys.executable, '%d.%d' % sys.version_info[:2])"],
                capture_output=True,
                text=True,
                check=False,
                timeout=60,
            ).stdout.split()
        except (OSError, subprocess.TimeoutExpired):
            continue
        if len(answer) == 2 and answer[1] == wanted:
            return answer[0]
    raise PeerUnavailableError(
        f"no Python {wanted} found for apt-repoman's pinned dependencies: set PEER_PYTHON to one "
        f"(tried {', '.join(' '.join(command) for command in commands) or 'nothing'})"
    )


@dataclass(frozen=True)
class PeerVenv:
    python: str  # the venv's interpreter
    version: str  # apt-repoman's version in it


def ensure_peer_venv(
    venv: Path = VENV, requirements: Path = REQUIREMENTS, log: Callable[[str], None] = print
) -> PeerVenv:
    """The peer's venv, made (or remade when the pins changed) with the peer's Python and the pinned packages."""
    pins = requirements.read_text()
    digest = hashlib.sha256(pins.encode()).hexdigest()
    python = venv / "bin" / "python"
    marker = venv / _MARKER
    if not (marker.exists() and marker.read_text() == digest and python.exists()):
        interpreter = find_interpreter(candidates(dict(os.environ)))
        log(f"making the peer's venv {venv} with {interpreter} and {requirements.name}")
        shutil.rmtree(venv, ignore_errors=True)
        venv.parent.mkdir(parents=True, exist_ok=True)
        steps = (
            [interpreter, "-m", "venv", str(venv)],
            [str(python), "-m", "pip", "install", "--quiet", "--no-deps", "-r", str(requirements)],
        )
        for step in steps:
            completed = subprocess.run(step, capture_output=True, text=True, check=False)
            if completed.returncode != 0:
                tail = (completed.stderr.strip().splitlines() or ["no output"])[-1]
                raise PeerUnavailableError(f"{' '.join(step[:3])} failed: {tail}")
        marker.write_text(digest)
    return PeerVenv(str(python), pinned_version(pins))
