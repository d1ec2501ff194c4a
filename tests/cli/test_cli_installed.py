"""The command as `make setup` installs it (.venv/bin/simpledb-backup), run from a temporary directory with no
PYTHONPATH: it answers --version and --help, runs --local against an embedded local AWS it starts, and everything
--local imports comes from the project's own packages or from a dependency pyproject.toml declares (nothing
dev-only: no test tool, linter or stub package)."""

import json
import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement

pytestmark = pytest.mark.server

BIN = Path(sys.executable).parent
INSTALLED = BIN / "simpledb-backup"
PROJECT = "simpledb-backup"
#: The project's own top-level modules (pyproject.toml's packages and py-modules) and the handlers localrun
#: loads from functions/ under their own names.
OWN = {
    "simpledb_backup",
    "simpledb_backup_cli",
    "sdblocal",
    "localrun",
    "localworker",
    "repomandata",
    "repomanauthoring",
    "stackbucket",
    "statekey",
    "awserrors",
    "backup_handler",
    "restore_handler",
    "drill_handler",
}
#: In a child without PYTHONPATH: what was imported before anything of ours (the interpreter's start, site's
#: .pth files), then the modules --local imports to list dumps against an embedded local AWS, a worker and every
#: handler. Each new top-level module that comes from a file is reported with where the file is: in the
#: environment's site-packages (with the distributions that provide it), or else its path. (Modules without a file
#: are built in or made at run time by an extension.)
IMPORTS = """
import json, sys, sysconfig
from importlib import metadata
before = {name.partition(".")[0] for name in sys.modules}
from simpledb_backup_cli.app import main
status = main(["--local", "--quiet", "list", "packages", "--json"])
import localworker
from localrun import load_handler
for function in ("backup", "restore", "drill"):
    load_handler(function)
providers = metadata.packages_distributions()
site = (sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"])
stdlib = (sysconfig.get_paths()["stdlib"], sysconfig.get_paths()["platstdlib"])
report = {}
for name in sorted({name.partition(".")[0] for name in list(sys.modules)} - before):
    path = getattr(sys.modules.get(name), "__file__", None)
    if path is None or (path.startswith(stdlib) and not path.startswith(site)):
        continue
    report[name] = {"providers": providers.get(name, [])} if path.startswith(site) else {"path": path}
print(json.dumps({"status": status, "modules": report}))
"""


def clean_environment(**extra: str) -> dict[str, str]:
    environment = {
        name: value for name, value in os.environ.items() if not name.startswith(("PYTHON", "AWS_"))
    }
    environment.update(
        AWS_ACCESS_KEY_ID="local", AWS_SECRET_ACCESS_KEY="local", AWS_DEFAULT_REGION="us-east-1"
    )
    return {**environment, **extra}


def run(tmp_path: Path, *command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(command),
        cwd=tmp_path,
        env=clean_environment(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def declared_closure(project: str) -> set[str]:
    """The distributions the project's dependencies bring, with the extras they ask for, normalised."""
    found: set[str] = set()
    pending = [(project, frozenset[str]())]
    while pending:
        name, extras = pending.pop()
        key = normalise(name)
        distribution = metadata.distribution(name)
        found.add(key)
        for line in distribution.requires or []:
            requirement = Requirement(line)
            environments = [{"extra": extra} for extra in extras] or [{"extra": ""}]
            if requirement.marker and not any(requirement.marker.evaluate(env) for env in environments):
                continue
            if normalise(requirement.name) not in found:
                pending.append((requirement.name, frozenset(requirement.extras)))
    return found


def normalise(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def test_version_and_help_from_anywhere(tmp_path: Path) -> None:
    version = run(tmp_path, str(INSTALLED), "--version")
    assert version.returncode == 0, version.stderr
    assert version.stdout.strip() == f"simpledb-backup {metadata.version(PROJECT)}"
    helped = run(tmp_path, str(INSTALLED), "--help")
    for command in ("restore", "runs", "unlock", "drill", "estimate", "status", "undo"):
        assert f"  {command} " in helped.stdout


def test_local_runs_as_installed_with_an_embedded_aws(tmp_path: Path) -> None:
    listed = run(tmp_path, str(INSTALLED), "--local", "list", "packages", "--json")
    assert listed.returncode == 0, listed.stderr
    [dump] = json.loads(listed.stdout)["dumps"]
    assert dump["items"] == 500
    assert "embedded local AWS at http://127.0.0.1:" in listed.stderr
    assert list(tmp_path.iterdir()) == []  # nothing left behind in the directory it ran from


def test_quiet_keeps_stderr_to_what_a_person_must_see(tmp_path: Path) -> None:
    quiet = run(tmp_path, str(INSTALLED), "--quiet", "--local", "list", "packages")
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stderr == ""  # no report of the embedded AWS, no function logs
    assert "Dumps of packages" in quiet.stdout


def test_everything_local_imports_is_the_projects_or_a_declared_dependency(tmp_path: Path) -> None:
    child = run(tmp_path, str(BIN / "python"), "-c", IMPORTS)
    assert child.returncode == 0, child.stderr
    report = json.loads(child.stdout.splitlines()[-1])
    assert report["status"] == 0
    declared = declared_closure(PROJECT)
    modules = report["modules"]
    undeclared = {
        module: found["providers"]
        for module, found in modules.items()
        if "providers" in found
        and not any(normalise(provider) in declared for provider in found["providers"])
    }
    assert undeclared == {}, "imported at run time but not a dependency of the project (pyproject.toml)"
    from_the_checkout = {module: found["path"] for module, found in modules.items() if "path" in found}
    assert set(from_the_checkout) <= OWN, "imported from the checkout but not one of the project's modules"
    assert OWN - {"awserrors"} <= set(from_the_checkout)  # the test saw the whole of --local
