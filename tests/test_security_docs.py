"""docs/security.md, run as printed: keys made, sent, listed and revoked beside a running server.

The page is a walk-through (tests/test_docs.py describes the format): every
```sh block runs in one bash, in order, in the folder of a server started on
loopback without keys (as `make serve` would be), with the test's ports put
in place of the page's. `threadline` is the one this checkout installs.
What each command prints must be what the page shows, once ids, keys, times
and log timestamps are normalised. Each command exits 0, but for grpcurl's
errors (64 + the code) and `threadline serve` refusing to start (1).
"""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.test_docs import (
    DOCS,
    SCRIPT_TIMEOUT,
    Example,
    Normaliser,
    Walkthrough,
    build_script,
    compare,
    read_examples,
    split_output,
)

pytestmark = pytest.mark.toolchain

PAGE = Walkthrough(DOCS / "security.md")
KEY = re.compile(r"tl_[a-z2-7]{16}_[A-Za-z0-9_-]{43}")
KEY_ID = re.compile(r"(?<![A-Za-z0-9_<])[a-z2-7]{16}(?![A-Za-z0-9_>])")
LOG_TIME = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2},\d{3} ", re.MULTILINE)


@dataclass
class KeyNormaliser(Normaliser):
    """Also numbers keys and key ids in order of first appearance, and drops log times."""

    def __post_init__(self) -> None:
        self.keys: dict[str, str] = {}

    def _numbered(self, prefix: str, value: str) -> str:
        if value not in self.keys:
            count = sum(1 for seen in self.keys.values() if seen.startswith(f"<{prefix}_"))
            self.keys[value] = f"<{prefix}_{count + 1}>"
        return self.keys[value]

    def string(self, value: str) -> str:
        value = LOG_TIME.sub("<log time> ", value)
        value = KEY.sub(lambda m: self._numbered("key", m.group(0)), value)
        value = KEY_ID.sub(lambda m: self._numbered("key_id", m.group(0)), value)
        return super().string(value)


def expected_exit(example: Example) -> int:
    """What the command must exit with: 1 for a refused start, else as test_docs says."""
    if example.command.startswith("threadline serve"):
        return 1
    return example.expected_exit


def test_the_security_page_runs_as_printed(spawn_server, tmp_path: Path):
    examples = read_examples(PAGE)
    assert len(examples) >= 10, "docs/security.md has lost its commands"
    child = spawn_server(None, "--http-listen", "127.0.0.1:0")
    addresses = {"grpc": child.address, "http": f"127.0.0.1:{child.http_port}"}
    marker = f"@@docs-{secrets.token_hex(8)}@@"
    script = tmp_path / "security.sh"
    script.write_text(build_script(examples, addresses, marker), encoding="utf-8")
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"BASH_ENV", "ENV"} and not key.startswith(("OTEL_", "THREADLINE_"))
    }
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    finished = subprocess.run(
        ["bash", str(script)],
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
    page, real = KeyNormaliser(), KeyNormaliser()
    problems: list[str] = []
    for example, (printed, status) in zip(examples, results, strict=True):
        if status != expected_exit(example):
            problems.append(
                f"{example.title}: exited {status}, expected {expected_exit(example)}:\n{printed}"
            )
        difference = compare(example, printed, page, real)
        if difference:
            problems.append(difference)
    assert not problems, "\n\n".join(problems) + "\n\nserver log:\n" + child.log
