"""docs/tls.md: every shell block run as printed, in order.

The blocks start their own servers (with TLS, then mutual TLS), so unlike the
walk-throughs of tests/test_docs.py no server is started for them: the
server a block starts takes its ports and database from THREADLINE_LISTEN,
THREADLINE_HTTP_LISTEN and THREADLINE_DATABASE, set to free ports and a file
under tmp_path, and those ports are put in place of the page's localhost:50051
and localhost:8080 (the only change made to a command). Certificates come
from trustme's command line, as the page says; grpcurl from `make tools`.
What each block prints is compared with the page's output block after it.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_docs import (
    DOCS,
    Normaliser,
    Walkthrough,
    build_script,
    compare,
    read_examples,
    split_output,
)

pytestmark = [pytest.mark.toolchain, pytest.mark.timeout(180)]

TLS = Walkthrough(DOCS / "tls.md")
SCRIPT_TIMEOUT = 120


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_the_tls_walkthrough_runs_as_printed(tmp_path: Path) -> None:
    if shutil.which("grpcurl") is None:
        pytest.fail("grpcurl is not on PATH; `make tools` builds it into .tools/bin")
    examples = read_examples(TLS)
    assert len(examples) == 4, "the test knows four commands; a new one needs its place here"
    grpc_port, http_port = free_port(), free_port()
    addresses = {"grpc": f"127.0.0.1:{grpc_port}", "http": f"127.0.0.1:{http_port}"}
    marker = f"@@docs-{secrets.token_hex(8)}@@"
    script = build_script(examples, addresses, marker)
    # Whatever a block left running (a server) is stopped at the end.
    script += "kill $(jobs -p) 2>/dev/null\nwait\n"
    env = {
        **{k: v for k, v in os.environ.items() if k not in {"BASH_ENV", "ENV"}},
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "THREADLINE_LISTEN": addresses["grpc"],
        "THREADLINE_HTTP_LISTEN": addresses["http"],
        "THREADLINE_DATABASE": str(tmp_path / "threadline.db"),
    }
    finished = subprocess.run(
        ["bash", "-c", script],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        cwd=tmp_path,
        env=env,
        timeout=SCRIPT_TIMEOUT,
        check=False,
        text=True,
    )
    results = split_output(finished.stdout, len(examples), marker)
    page, real = Normaliser(), Normaliser()
    problems: list[str] = []
    for example, (printed, status) in zip(examples, results, strict=True):
        if status != example.expected_exit:
            problems.append(f"{example.title}: exited {status}:\n{printed}")
        difference = compare(example, printed, page, real)
        if difference:
            problems.append(difference)
    log = tmp_path / "server.log"
    server_log = log.read_text(encoding="utf-8") if log.exists() else ""
    assert not problems, "\n\n".join(problems) + "\n\nlast server's log:\n" + server_log
