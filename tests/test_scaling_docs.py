"""docs/scaling.md: every shell block run as printed, in order, on a throwaway PostgreSQL.

The blocks migrate a database and start two servers on it, so no server is
started for them: THREADLINE_DATABASE is set to a fresh database of the
test session's throwaway cluster (tests/pgcluster.py), and two free ports
are put in place of the page's localhost:50051 and localhost:50052 (the
only change made to a command). What each block prints is compared with
the page's output block after it.
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

SCALING = Walkthrough(DOCS / "scaling.md")
SCRIPT_TIMEOUT = 120
SECOND_ADDRESS = "localhost:50052"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_the_scaling_walkthrough_runs_as_printed(tmp_path: Path, postgres_url: str) -> None:
    if shutil.which("grpcurl") is None:
        pytest.fail("grpcurl is not on PATH; `make tools` builds it into .tools/bin")
    examples = read_examples(SCALING)
    assert len(examples) == 4, "the test knows four commands; a new one needs its place here"
    addresses = {"grpc": f"127.0.0.1:{free_port()}", "http": f"127.0.0.1:{free_port()}"}
    marker = f"@@docs-{secrets.token_hex(8)}@@"
    script = build_script(examples, addresses, marker).replace(
        SECOND_ADDRESS, f"127.0.0.1:{free_port()}"
    )
    # The two servers the page starts are stopped at the end.
    script += "kill $(jobs -p) 2>/dev/null\nwait\n"
    env = {
        **{k: v for k, v in os.environ.items() if k not in {"BASH_ENV", "ENV"}},
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "THREADLINE_DATABASE": postgres_url,
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
    logs = "\n".join(
        f"{log.name}:\n{log.read_text(encoding='utf-8')}" for log in sorted(tmp_path.glob("*.log"))
    )
    assert not problems, "\n\n".join(problems) + "\n\nthe servers' logs:\n" + logs
