"""`buf breaking` catches incompatible changes to the protos.

Each test copies buf.yaml and protos/ into a temporary folder, edits the copy
the way a careless change would, and runs ``buf breaking <copy> --against .``:
the copy is the change, this checkout is what it must stay compatible with.
``make breaking`` runs the same check against the previous commit.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.toolchain

# The buf CLI of the virtual environment that runs the tests (the buf-bin wheel).
BUF = Path(sys.executable).parent / "buf"
THREAD_PROTO = Path("protos/threadline/v1/thread.proto")
RUN_PROTO = Path("protos/threadline/v1/run.proto")


def copy_module(tmp_path: Path) -> Path:
    """Copy buf.yaml and protos/ into a new folder; return it."""
    copy = tmp_path / "proposed"
    copy.mkdir()
    shutil.copy(ROOT / "buf.yaml", copy / "buf.yaml")
    shutil.copytree(ROOT / "protos", copy / "protos")
    return copy


def edit(copy: Path, proto: Path, old: str, new: str) -> None:
    """Replace text that occurs exactly once in one proto file of the copy."""
    path = copy / proto
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} is not in {proto} exactly once"
    path.write_text(text.replace(old, new), encoding="utf-8")


def buf_breaking(copy: Path) -> subprocess.CompletedProcess[str]:
    """Compare the copy against this checkout's protos."""
    return subprocess.run(
        [str(BUF), "breaking", str(copy), "--against", str(ROOT)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=ROOT,
    )


def test_unchanged_protos_pass(tmp_path: Path):
    result = buf_breaking(copy_module(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("proto", "old", "new", "complaint"),
    [
        pytest.param(
            THREAD_PROTO,
            "  string title = 2 [",
            "  string title = 20 [",
            'Previously present field "2" with name "title" on message "Thread" was deleted.',
            id="field-number-changed",
        ),
        pytest.param(
            THREAD_PROTO,
            "  string title = 2 [",
            "  string name = 2 [",
            'Field "2" with name "name" on message "Thread" changed option "json_name"',
            id="field-renamed",
        ),
        pytest.param(
            RUN_PROTO,
            "  int64 event_id = 1;",
            "  int32 event_id = 1;",
            'Field "1" with name "event_id" on message "RunEvent" changed type from "int64" to '
            '"int32".',
            id="field-type-changed",
        ),
    ],
)
def test_incompatible_change_fails(tmp_path: Path, proto: Path, old: str, new: str, complaint):
    copy = copy_module(tmp_path)
    edit(copy, proto, old, new)
    result = buf_breaking(copy)
    assert result.returncode != 0, "buf breaking passed an incompatible change"
    assert complaint in result.stdout, result.stdout + result.stderr
    assert str(proto) in result.stdout
