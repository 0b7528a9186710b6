"""Threadline as a newcomer takes it: built into wheels, installed, run outside the checkout.

The repository's tracked files are copied out (so build output, virtual
environments and caches in the checkout cannot leak in); `python -m build`
makes the sdists of both distributions, `threadline` (the server) and
`threadline-client` (generated/python), and the wheels from those sdists, as
pip does from PyPI. The wheels must hold every module and data file. Installed
(not editable) into a fresh virtual environment under a temporary folder, the
server runs from there and is called over gRPC with the installed client and
over HTTP; a second environment with the client wheel alone must hold nothing
of the server and still call it.

Slow (isolated builds, two environments): marked `toolchain`. Builds and
installs take packages from the registry or pip's cache (and PIP_FIND_LINKS).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from email.parser import HeaderParser
from pathlib import Path

import aiohttp
import pytest

from tests.conftest import ServerProcess, start_server_process

ROOT = Path(__file__).resolve().parent.parent
VERSION = (ROOT / "VERSION").read_text(encoding="utf-8").strip()
CLIENT_SCRIPT = Path(__file__).resolve().parent / "wheel_client.py"
# Building and installing take tens of seconds each on a cold cache.
STEP_TIMEOUT = 300
CALL_TIMEOUT = 60
# What only the server needs; a client-only environment must have none of it.
SERVER_ONLY_MODULES = (
    "threadline_server",
    "aiohttp",
    "aiosqlite",
    "tzdata",
    "grpc_health",
    "grpc_reflection",
    "grpc_status",
)

pytestmark = [pytest.mark.toolchain, pytest.mark.timeout(2 * STEP_TIMEOUT + 3 * CALL_TIMEOUT)]


def run(*command: str | Path, cwd: Path, timeout: float = STEP_TIMEOUT) -> str:
    """Run a command outside the checkout; fail with its output when it fails; return stdout."""
    result = subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env=clean_environment(),
    )
    assert result.returncode == 0, (
        f"`{' '.join(map(str, command))}` exited {result.returncode}:\n"
        f"{result.stdout}\n{result.stderr}"
    )
    return result.stdout


def clean_environment() -> dict[str, str]:
    """This process's environment, minus whatever could make Python find the checkout."""
    environment = {
        name: value
        for name, value in os.environ.items()
        if name not in {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV"}
    }
    return {**environment, "PYTHONNOUSERSITE": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}


def tracked_files() -> list[str]:
    """The paths git tracks in the working tree (staged new files too; deleted ones not)."""
    listing = subprocess.run(
        ["git", "ls-files", "--cached", "-z"],
        cwd=ROOT,
        capture_output=True,
        check=True,
        timeout=CALL_TIMEOUT,
    ).stdout.decode()
    return [name for name in listing.split("\0") if name and os.path.lexists(ROOT / name)]


def export(files: list[str], target: Path) -> None:
    """Copy files (symbolic links as links) from the checkout into target."""
    for name in files:
        source, copy = ROOT / name, target / name
        copy.parent.mkdir(parents=True, exist_ok=True)
        if source.is_symlink():
            copy.symlink_to(os.readlink(source))
        else:
            shutil.copy2(source, copy)


def wheel_files(wheel: Path) -> set[str]:
    """The files of a wheel, less its .dist-info."""
    with zipfile.ZipFile(wheel) as archive:
        return {name for name in archive.namelist() if ".dist-info/" not in name}


def wheel_metadata(wheel: Path) -> tuple[str, list[str]]:
    """A wheel's Version and Requires-Dist."""
    with zipfile.ZipFile(wheel) as archive:
        (name,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        metadata = HeaderParser().parsestr(archive.read(name).decode())
    return metadata["Version"], metadata.get_all("Requires-Dist") or []


def make_venv(folder: Path, *wheels: Path) -> Path:
    """A fresh virtual environment with wheels installed (not editable); return its bin/."""
    run(sys.executable, "-m", "venv", folder, cwd=folder.parent)
    python = folder / "bin" / "python"
    run(python, "-m", "pip", "install", "--quiet", *wheels, cwd=folder.parent)
    return folder / "bin"


@dataclass
class Built:
    """The exported tree, the files it tracks, and the four built artifacts."""

    tree: Path
    files: list[str]
    server_wheel: Path
    client_wheel: Path
    server_sdist: Path
    client_sdist: Path


@dataclass
class LiveServer:
    """A server started from the wheel-installed environment."""

    bin: Path
    process: ServerProcess
    http: str


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """Export the tracked files, then build both sdists and, from them, both wheels."""
    base = tmp_path_factory.mktemp("packaging")
    tree, dist = base / "threadline", base / "dist"
    files = tracked_files()
    export(files, tree)
    # Both at once: each mostly waits on pip setting up its build environments.
    builds = {
        project: subprocess.Popen(
            [sys.executable, "-m", "build", "--outdir", str(dist), str(project)],
            cwd=base,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=clean_environment(),
        )
        for project in (tree, tree / "generated" / "python")
    }
    for project, build in builds.items():
        output, _ = build.communicate(timeout=STEP_TIMEOUT)
        assert build.returncode == 0, f"building {project} failed:\n{output.decode()}"
    return Built(
        tree=tree,
        files=files,
        server_wheel=dist / f"threadline-{VERSION}-py3-none-any.whl",
        client_wheel=dist / f"threadline_client-{VERSION}-py3-none-any.whl",
        server_sdist=dist / f"threadline-{VERSION}.tar.gz",
        client_sdist=dist / f"threadline_client-{VERSION}.tar.gz",
    )


@pytest.fixture(scope="module")
def live_server(built: Built, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """Install both wheels into a new environment; serve gRPC and HTTP from it, off the checkout."""
    base = tmp_path_factory.mktemp("installed")
    venv_bin = make_venv(base / "venv", built.server_wheel, built.client_wheel)
    child = start_server_process(
        base / "threadline.db",
        "--http-listen",
        "127.0.0.1:0",
        program=[str(venv_bin / "threadline")],
        env={"PYTHONNOUSERSITE": "1"},
    )
    yield LiveServer(venv_bin, child, f"http://127.0.0.1:{child.http_port}")
    assert child.stop() == 0, child.log


def test_the_wheels_hold_every_module_and_data_file(built):
    """The rule, from git's file list: everything under the package folders, plus the documents."""
    assert built.server_sdist.is_file()
    assert built.client_sdist.is_file()
    package = "server/threadline_server/"
    documents = [f for f in built.files if re.fullmatch(r"generated/openapi/[^/]+\.json", f)]
    assert "generated/openapi/threadline.swagger.json" in documents
    assert "generated/openapi/threadline.openapi.json" in documents
    expected_server = {
        f.removeprefix("server/")
        for f in built.files
        if f.startswith(package) and not (built.tree / f).is_symlink()
    } | {"threadline_server/openapi/" + Path(f).name for f in documents}
    assert {
        "threadline_server/transport/server.py",
        "threadline_server/store/sqlite/migrations/0001_initial.sql",
        "threadline_server/py.typed",
    } <= expected_server
    assert wheel_files(built.server_wheel) == expected_server

    client = "generated/python/"
    expected_client = {
        f.removeprefix(client) for f in built.files if f.startswith(client + "threadline/")
    }
    assert {"threadline/py.typed", "threadline/v1/thread_pb2.pyi"} <= expected_client
    assert wheel_files(built.client_wheel) == expected_client

    server_version, server_requires = wheel_metadata(built.server_wheel)
    client_version, client_requires = wheel_metadata(built.client_wheel)
    assert server_version == client_version == VERSION
    assert f"threadline-client=={VERSION}" in server_requires
    # The client needs only what the generated modules import.
    assert {re.split(r"[<>=!~ ]", r)[0] for r in client_requires} == {
        "grpcio",
        "protobuf",
        "googleapis-common-protos",
    }


def test_the_installed_server_runs_from_its_environment(live_server, tmp_path):
    for command in (
        [live_server.bin / "threadline", "--version"],
        [live_server.bin / "python", "-m", "threadline_server", "--version"],
    ):
        assert run(*command, cwd=tmp_path).strip() == f"threadline {VERSION}"
    where = run(
        live_server.bin / "python",
        "-c",
        "import threadline, threadline_server; print(threadline.__file__); "
        "print(threadline_server.__file__)",
        cwd=tmp_path,
    )
    venv = live_server.bin.parent
    for module_file in where.split():
        assert Path(module_file).is_relative_to(venv / "lib"), where
        assert not Path(module_file).resolve().is_relative_to(ROOT), where


def call_with_client(python: Path, address: str, cwd: Path) -> dict[str, str]:
    """Run tests/wheel_client.py (copied out) with python against address."""
    script = cwd / CLIENT_SCRIPT.name
    shutil.copy(CLIENT_SCRIPT, script)
    result: dict[str, str] = json.loads(run(python, script, address, cwd=cwd, timeout=CALL_TIMEOUT))
    return result


def check_client_calls(result: dict[str, str], venv: Path) -> None:
    """What wheel_client.py printed: every call answered, by the installed client."""
    assert result["client_version"] == VERSION
    assert Path(result["client_module"]).is_relative_to(venv)
    assert result["title"] == "from the wheel"
    assert result["read_text"] == "hello"
    assert result["read_thread_id"] == result["thread_id"]
    assert result["chat_thread_id"] == result["thread_id"]
    assert result["chat_status"] == "RUN_STATUS_COMPLETED"
    assert result["chat_response"] == "echo me"


def test_grpc_calls_through_the_installed_client(live_server, tmp_path):
    result = call_with_client(live_server.bin / "python", live_server.process.address, tmp_path)
    check_client_calls(result, live_server.bin.parent)


async def test_http_serves_the_packaged_openapi_documents_and_calls(live_server):
    generated = ROOT / "generated" / "openapi"
    timeout = aiohttp.ClientTimeout(total=CALL_TIMEOUT)
    async with aiohttp.ClientSession(live_server.http, timeout=timeout) as session:
        for path, name in (("/openapi.json", "openapi"), ("/swagger.json", "swagger")):
            async with session.get(path) as got:
                assert got.status == 200
                document = json.loads((generated / f"threadline.{name}.json").read_text("utf-8"))
                assert await got.json() == document
        async with session.post("/v1/threads", json={"thread": {"title": "over HTTP"}}) as created:
            assert created.status == 200
            thread = await created.json()
    assert thread["title"] == "over HTTP"
    assert thread["threadId"]


def test_the_client_wheel_alone_installs_no_server_and_calls_it(built, live_server, tmp_path):
    venv_bin = make_venv(tmp_path / "client-venv", built.client_wheel)
    python = venv_bin / "python"
    probe = (
        "import importlib.util, json, sys; "
        "print(json.dumps({m: importlib.util.find_spec(m) is not None for m in sys.argv[1:]}))"
    )
    found = json.loads(run(python, "-c", probe, *SERVER_ONLY_MODULES, "grpc", cwd=tmp_path))
    assert found == {**dict.fromkeys(SERVER_ONLY_MODULES, False), "grpc": True}
    listed = run(python, "-m", "pip", "list", "--format=json", cwd=tmp_path)
    names = {entry["name"].lower() for entry in json.loads(listed)}
    assert "threadline-client" in names
    assert not names & {"threadline", "aiohttp", "aiosqlite", "tzdata", "grpcio-reflection"}

    result = call_with_client(python, live_server.process.address, tmp_path)
    check_client_calls(result, tmp_path / "client-venv")

    # The example in the client's README (its page on a package index), as written
    # but for the address.
    readme = (built.tree / "generated" / "python" / "README.md").read_text(encoding="utf-8")
    (example,) = re.findall(r"```python\n(.*?)```", readme, flags=re.DOTALL)
    assert "localhost:50051" in example
    snippet = tmp_path / "readme_example.py"
    snippet.write_text(example.replace("localhost:50051", live_server.process.address))
    assert re.fullmatch(r"thr_[0-9a-z]{26}\n", run(python, snippet, cwd=tmp_path)), example
