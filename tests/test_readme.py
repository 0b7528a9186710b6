"""The README's grpcurl walk-through, run against a real server.

The "Try it with grpcurl" section of README.md is a list of ```sh blocks, each
followed by the output it printed in a real session (a ```json or a ```text
block). This test runs every ```sh block of that section, in order, in one bash
process, so shell variables that one block sets are there for the next; and it
checks what each block prints against the README's output block, once the
values that differ from one run to the next are normalised. Each block must
exit 0, except one whose output is a grpcurl ``ERROR:``, which must exit with
grpcurl's status for that code (64 plus the gRPC code).

The section runs from its heading to the next ``## `` heading. Every fenced
block in it is a command or the output just after one; anything else is an
error, so that a command can never be skipped without notice.
"""

from __future__ import annotations

import contextlib
import difflib
import json
import os
import re
import secrets
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import pytest
from threadline.v1 import message_pb2, run_pb2, thread_pb2

README = Path(__file__).resolve().parent.parent / "README.md"
SECTION = "## Try it with grpcurl"
# The address the README's commands use: where `make serve` listens.
README_ADDRESS = "localhost:50051"
OUTPUT_LANGUAGES = ("json", "text")
SCRIPT_TIMEOUT = 30

# Values that differ from run to run. Server-made ids are replaced by a
# placeholder numbered in order of first appearance (the first msg_ id seen is
# <msg_1> wherever it appears again), so the README and the real run must refer
# to the same messages in the same places. Times, etags and page tokens are
# replaced by a fixed word. Durations are left alone: every duration in these
# outputs (a ttl) is one the client sent, so it is the same on every run.
SERVER_ID = re.compile(r"(?<![0-9a-z_])(thr|msg|run|call)_[0-9a-z]{26}(?![0-9a-z])")
TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})")
VOLATILE_KEYS = {
    "etag": "<etag>",
    "next_page_token": "<page_token>",
    # How long a tool took: 0 ms on one machine, 1 ms on a slower one.
    "duration_ms": "<duration>",
}
VOLATILE_TEXT = re.compile(r'"(etag|next_page_token|duration_ms)":(\s*)"[^"]+"')

# grpcurl names codes as Go does; it exits with 64 plus the code's number.
GRPCURL_ERROR_CODE = re.compile(r"^\s*Code: (\w+)$", re.MULTILINE)
GO_CODE_NAMES: dict[str, int] = {
    "".join(word.capitalize() for word in code.name.split("_")): int(code.value[0])
    for code in grpc.StatusCode
} | {"OK": 0, "Canceled": 1}


@dataclass
class Example:
    """One command of the walk-through and the output the README shows for it."""

    command: str
    language: str
    output: str
    line: int

    @property
    def expected_exit(self) -> int:
        """The exit status the command must end with."""
        if self.language != "text" or not self.output.startswith("ERROR:"):
            return 0
        match = GRPCURL_ERROR_CODE.search(self.output)
        assert match, f"README line {self.line}: a grpcurl ERROR output without a Code: line"
        assert match.group(1) in GO_CODE_NAMES, f"README line {self.line}: unknown code"
        return 64 + GO_CODE_NAMES[match.group(1)]

    @property
    def title(self) -> str:
        """Where the command is and what it calls, for failure messages."""
        words = self.command.split()
        first_line = self.command.strip().splitlines()[0] if self.command.strip() else ""
        method = next((w.rstrip(")") for w in words if "/" in w and w[0].isalpha()), first_line)
        return f"README line {self.line} ({method})"


def read_blocks(text: str, section: str = SECTION) -> list[tuple[str, str, int]]:
    """Return (info string, body, line number) of every fenced block in the section."""
    lines = text.splitlines()
    assert section in lines, f"README.md has no {section!r} heading"
    start = lines.index(section) + 1
    blocks: list[tuple[str, str, int]] = []
    info: str | None = None
    body: list[str] = []
    opened = 0
    for number, line in enumerate(lines[start:], start + 1):
        if info is None:
            if line.startswith("## "):
                break
            if line.startswith("```"):
                info, body, opened = line[3:].strip(), [], number
        elif line.rstrip() == "```":
            blocks.append((info, "\n".join(body), opened))
            info = None
        else:
            body.append(line)
    assert info is None, f"README line {opened}: the ``` block is never closed"
    return blocks


def read_examples(text: str, section: str = SECTION) -> list[Example]:
    """Pair each ```sh block of the section with the output block after it."""
    blocks = read_blocks(text, section)
    examples: list[Example] = []
    index = 0
    while index < len(blocks):
        info, body, line = blocks[index]
        assert info == "sh", (
            f"README line {line}: a ```{info} block that follows no ```sh block; every block "
            "in the section is a command or the output after one"
        )
        language, output, _ = blocks[index + 1] if index + 1 < len(blocks) else ("", "", 0)
        assert language in OUTPUT_LANGUAGES, (
            f"README line {line}: the ```sh block has no ```json or ```text output block after it"
        )
        examples.append(Example(body, language, output, line))
        index += 2
    return examples


@dataclass
class Normaliser:
    """Replaces what differs between runs; one per session, README or real."""

    ids: dict[str, str] = field(default_factory=dict)

    def server_id(self, match: re.Match[str]) -> str:
        value, prefix = match.group(0), match.group(1)
        if value not in self.ids:
            count = sum(1 for seen in self.ids if seen.startswith(prefix))
            self.ids[value] = f"<{prefix}_{count + 1}>"
        return self.ids[value]

    def string(self, value: str) -> str:
        return TIMESTAMP.sub("<time>", SERVER_ID.sub(self.server_id, value))

    def json(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {
                key: VOLATILE_KEYS[key]
                if key in VOLATILE_KEYS and isinstance(item, str) and item
                else self.json(item)
                for key, item in value.items()
            }
        if isinstance(value, list):
            return [self.json(item) for item in value]
        if isinstance(value, str):
            return self.string(value)
        return value

    def text(self, value: str) -> list[str]:
        """Normalise text output, line by line; tabs are expanded and trailing space dropped."""
        value = VOLATILE_TEXT.sub(lambda m: f'"{m.group(1)}":{m.group(2)}"<{m.group(1)}>"', value)
        lines = [self.string(line).expandtabs().rstrip() for line in value.splitlines()]
        while lines and not lines[-1]:
            lines.pop()
        return lines


def build_script(
    examples: list[Example], address: str, marker: str, readme_address: str = README_ADDRESS
) -> str:
    """Return one bash script that runs every command, each between two marker lines."""
    parts = [
        "set -o pipefail",
        # ERR fires for every command that fails, also in the middle of a
        # block; keep the first failure of the block as its status.
        """trap '__rc=$?; [ "$__status" -ne 0 ] || __status=$__rc' ERR""",
    ]
    for number, example in enumerate(examples):
        # The README's commands talk to localhost:50051, where `make serve`
        # listens; the test's server listens on an ephemeral port instead.
        # Putting its address in is the only change made to the commands.
        command = example.command.replace(readme_address, address)
        parts += [
            "__status=0",
            f"printf '%s\\n' '{marker} begin {number}'",
            command,
            f"printf '\\n%s %s\\n' '{marker} end {number}' \"$__status\"",
        ]
    return "\n".join(parts) + "\n"


def split_output(output: str, count: int, marker: str) -> list[tuple[str, int]]:
    """Return what each command printed, and its exit status."""
    results: list[tuple[str, int]] = []
    for number in range(count):
        match = re.search(
            rf"^{re.escape(marker)} begin {number}\n(.*?)\n{re.escape(marker)} end {number} (\d+)$",
            output,
            re.DOTALL | re.MULTILINE,
        )
        assert match, f"command {number} did not finish; everything bash printed:\n{output}"
        results.append((match.group(1), int(match.group(2))))
    return results


def json_documents(text: str) -> list[Any]:
    """Parse the JSON documents grpcurl prints one after another (one per streamed message)."""
    decoder = json.JSONDecoder()
    documents: list[Any] = []
    position = 0
    text = text.strip()
    while position < len(text):
        document, position = decoder.raw_decode(text, position)
        documents.append(document)
        while position < len(text) and text[position].isspace():
            position += 1
    return documents


def compare(example: Example, printed: str, readme: Normaliser, real: Normaliser) -> str | None:
    """Return a description of how the output differs from the README's, or None."""
    if example.language == "json":
        expected = readme.json(json_documents(example.output))
        try:
            actual = real.json(json_documents(printed))
        except json.JSONDecodeError:
            return f"{example.title}: the output is not JSON:\n{printed}"
        if expected == actual:
            return None
        expected_lines = json.dumps(expected, indent=2).splitlines()
        actual_lines = json.dumps(actual, indent=2).splitlines()
    else:
        expected_lines = readme.text(example.output)
        actual_lines = real.text(printed)
        if expected_lines == actual_lines:
            return None
    diff = difflib.unified_diff(expected_lines, actual_lines, "README", "actual", lineterm="")
    return f"{example.title}: the output differs from the README's:\n" + "\n".join(diff)


# RPCs the walk-through leaves out on purpose, and why.
WITHOUT_EXAMPLE = {
    # It streams until the client leaves, so grpcurl would wait for ever; the
    # README describes it beside the walk-through instead.
    "threadline.v1.RunService/WatchThread",
}


def test_every_rpc_has_an_example():
    commands = "\n".join(e.command for e in read_examples(README.read_text(encoding="utf-8")))
    # AgentWorkerService is for worker processes, not people: its example is
    # examples/python/worker.py, run by tests/test_worker.py.
    for module in (thread_pb2, message_pb2, run_pb2):
        for service in module.DESCRIPTOR.services_by_name.values():
            for method in service.methods:
                name = f"{service.full_name}/{method.name}"
                if name in WITHOUT_EXAMPLE:
                    continue
                assert re.search(rf"{re.escape(name)}(?!\w)", commands), (
                    f"the grpcurl walk-through in README.md has no example of "
                    f"{service.full_name}/{method.name}"
                )


def test_readme_examples_run_as_printed(spawn_server, tmp_path: Path):
    if shutil.which("grpcurl") is None:
        pytest.skip("grpcurl is not on PATH; `make tools` builds it into .tools/bin with Go")
    examples = read_examples(README.read_text(encoding="utf-8"))
    assert len(examples) >= 10, "the grpcurl walk-through in README.md looks cut short"
    child = spawn_server()
    marker = f"@@readme-{secrets.token_hex(8)}@@"
    script = tmp_path / "readme.sh"
    script.write_text(build_script(examples, child.address, marker), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in {"BASH_ENV", "ENV"}}
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

    readme, real = Normaliser(), Normaliser()
    problems: list[str] = []
    for example, (printed, status) in zip(examples, results, strict=True):
        if status != example.expected_exit:
            problems.append(
                f"{example.title}: exited {status}, expected {example.expected_exit}:\n{printed}"
            )
        difference = compare(example, printed, readme, real)
        if difference:
            problems.append(difference)
    assert not problems, "\n\n".join(problems) + "\n\nserver log:\n" + child.log


# -- the HTTP/JSON walk-through ---------------------------------------------------

HTTP_SECTION = "## HTTP/JSON"
# Where `make serve` answers HTTP.
HTTP_README_ADDRESS = "localhost:8080"
HTTP_VOLATILE_KEYS = {
    "etag": "<etag>",
    "nextPageToken": "<page_token>",
    "durationMs": "<duration>",
}
HTTP_VOLATILE_TEXT = re.compile(r'"(etag|nextPageToken|durationMs)":(\s*)"[^"]+"')
HTTP_LISTENING = re.compile(r"http listening on (\S+):(\d+)")
# Worker RPCs are for worker processes, as in the grpcurl walk-through.
HTTP_WITHOUT_EXAMPLE_SERVICES = {"threadline.v1.AgentWorkerService"}


class HttpNormaliser(Normaliser):
    """The Normaliser with the HTTP side's JSON names (lowerCamelCase)."""

    def json(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {
                key: HTTP_VOLATILE_KEYS[key]
                if key in HTTP_VOLATILE_KEYS and isinstance(item, str) and item
                else self.json(item)
                for key, item in value.items()
            }
        if isinstance(value, list):
            return [self.json(item) for item in value]
        return super().json(value)

    def text(self, value: str) -> list[str]:
        value = HTTP_VOLATILE_TEXT.sub(lambda m: f'"{m.group(1)}":{m.group(2)}"<x>"', value)
        return super().text(value)


def http_requests(command: str) -> list[tuple[str, str]]:
    """The (method, path) of each curl call in a command, shell variables as "x"."""
    requests = []
    for piece in re.split(r"(?=\bcurl )", command)[1:]:
        call = piece.split("|")[0]
        url = re.search(rf"{re.escape(HTTP_README_ADDRESS)}(/[^\s'\"?]*)", call)
        if url is None:
            continue
        path = re.sub(r"\$\w+", "x", url.group(1))
        explicit = re.search(r"-X (\w+)", call)
        sends_body = re.search(r"(^|\s)-d |--data ", call) and not re.search(r"-\w*G", call)
        method = explicit.group(1) if explicit else "POST" if sends_body else "GET"
        requests.append((method, path))
    return requests


def test_every_http_route_has_an_example():
    from threadline_server.http.routes import Router, RoutingError, bindings_for  # noqa: PLC0415
    from threadline_server.transport.server import SERVICE_NAMES  # noqa: PLC0415

    router = Router(bindings_for(SERVICE_NAMES))
    examples = read_examples(README.read_text(encoding="utf-8"), HTTP_SECTION)
    served: set[str] = set()
    for example in examples:
        for method, path in http_requests(example.command):
            # The examples of paths that nobody serves route nowhere.
            with contextlib.suppress(RoutingError):
                served.add(router.route(method, path).binding.rpc)
    for binding in router.bindings:
        service = binding.rpc.split("/")[1]
        if service in HTTP_WITHOUT_EXAMPLE_SERVICES:
            continue
        assert binding.rpc in served, (
            f"the HTTP walk-through in README.md has no curl {binding.rpc}"
        )


def test_readme_http_examples_run_as_printed(spawn_server, tmp_path: Path):
    if shutil.which("curl") is None:
        pytest.skip("curl is not on PATH")
    examples = read_examples(README.read_text(encoding="utf-8"), HTTP_SECTION)
    assert len(examples) >= 20, "the HTTP walk-through in README.md looks cut short"
    child = spawn_server(None, "--http-listen", "127.0.0.1:0")
    match = HTTP_LISTENING.search(child.log)
    assert match, "the server logged no 'http listening on':\n" + child.log
    address = f"127.0.0.1:{match.group(2)}"
    marker = f"@@readme-{secrets.token_hex(8)}@@"
    script = tmp_path / "readme-http.sh"
    script.write_text(
        build_script(examples, address, marker, readme_address=HTTP_README_ADDRESS),
        encoding="utf-8",
    )
    env = {k: v for k, v in os.environ.items() if k not in {"BASH_ENV", "ENV"}}
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

    readme, real = HttpNormaliser(), HttpNormaliser()
    problems: list[str] = []
    for example, (printed, status) in zip(examples, results, strict=True):
        if status != 0:
            problems.append(f"{example.title}: exited {status}:\n{printed}")
        difference = compare(example, printed, readme, real)
        if difference:
            problems.append(difference)
    assert not problems, "\n\n".join(problems) + "\n\nserver log:\n" + child.log
