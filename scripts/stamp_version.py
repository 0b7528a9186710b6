"""Stamp the one version number (the VERSION file) into every package manifest.

VERSION at the repository's root is the only place a release's number is
written by hand. The server's pyproject.toml reads it itself (setuptools'
dynamic version); every other place carries a copy, written here, so that
`make generate` keeps them equal: the npm and Maven manifests, the
threadline-client distribution (its pyproject.toml and threadline.__version__),
and the server's pin on threadline-client. Go modules carry no version of
their own (a git tag per module releases them, docs/clients.md), but the
modules here that require a published one (generated/go/gateway requires
generated/go; the Go examples and tests/gateway require both) name the
release being made, and so does go.work, which points that release at the
folders of this checkout.

With --check nothing is written: it lists the files whose copy differs from
VERSION and fails (`make check-generated` runs it).
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# A release number as PEP 440, npm and Maven all read it alike.
VERSION_FORMAT = re.compile(r"^\d+\.\d+\.\d+(?:-?(?:a|b|rc)\d+)?$")
# A requirement on (or go.work replacement of) one of the published Go modules.
GO_REQUIREMENT = re.compile(
    r"^(\s*(?:require\s+|replace\s+)?github\.com/threadline/threadline/generated/go(?:/\S+)?) "
    r"v\S+",
    flags=re.MULTILINE,
)

CLIENT_INIT = '''"""Threadline's gRPC API for Python: the stubs generated from protos/."""

__version__ = "{version}"
'''


def read_version() -> str:
    """Return the version in VERSION, checked."""
    version = (ROOT / "VERSION").read_text(encoding="utf-8").strip()
    if not VERSION_FORMAT.match(version):
        sys.exit(f"VERSION {version!r} is not MAJOR.MINOR.PATCH[aN|bN|rcN]")
    return version


def package_json(text: str, version: str) -> str:
    """Set "version" in an npm package.json, keeping its layout."""
    document = json.loads(text)
    document["version"] = version
    return json.dumps(document, indent=2) + "\n"


def first_match(pattern: str) -> Callable[[str, str], str]:
    """Replace the version in the first match of pattern (its one group is the version)."""

    def stamp(text: str, version: str) -> str:
        match = re.search(pattern, text, flags=re.MULTILINE)
        if match is None:
            raise LookupError(f"no version found by {pattern!r}")
        return text[: match.start(1)] + version + text[match.end(1) :]

    return stamp


def client_init(_text: str, version: str) -> str:
    """The whole threadline/__init__.py of the client, which make generate leaves empty."""
    return CLIENT_INIT.format(version=version)


def go_version(version: str) -> str:
    """Return VERSION as Go spells a module version: 0.3.0 → v0.3.0, 0.3.0rc1 → v0.3.0-rc.1."""
    release, kind, number = re.findall(r"^(\d+\.\d+\.\d+)-?(?:(a|b|rc)(\d+))?$", version)[0]
    if not kind:
        return f"v{release}"
    return f"v{release}-{ {'a': 'alpha', 'b': 'beta', 'rc': 'rc'}[kind] }.{number}"


def go_requirements(text: str, version: str) -> str:
    """Set every requirement on a published Go module, in a go.mod or go.work, to the release."""
    return GO_REQUIREMENT.sub(rf"\1 {go_version(version)}", text)


# Each file that carries the version, and how it is written there.
STAMPS: dict[str, Callable[[str, str], str]] = {
    "generated/ts/package.json": package_json,
    # The project's own <version>, the first one after its <artifactId>.
    "generated/java/pom.xml": first_match(
        r"<artifactId>threadline-api</artifactId>\s*<version>([^<]+)</version>"
    ),
    "generated/python/pyproject.toml": first_match(r'^version = "([^"]+)"$'),
    "generated/python/threadline/__init__.py": client_init,
    # The server runs with the stubs of its own release, exactly.
    "pyproject.toml": first_match(r'^\s*"threadline-client==([^"]+)",'),
    "go.work": go_requirements,
    "generated/go/gateway/go.mod": go_requirements,
    "examples/go/go.mod": go_requirements,
    "tests/gateway/go.mod": go_requirements,
}


def main() -> None:
    """Stamp VERSION into every file that exists, or with --check list those that differ."""
    check = sys.argv[1:] == ["--check"]
    version = read_version()
    stale = []
    for name, stamp in STAMPS.items():
        path = ROOT / name
        if not path.exists():
            continue
        text = path.read_text(encoding="utf-8")
        try:
            stamped = stamp(text, version)
        except LookupError as error:
            sys.exit(f"{name}: {error}")
        if stamped == text:
            continue
        stale.append(name)
        if not check:
            path.write_text(stamped, encoding="utf-8")
    if check and stale:
        sys.exit(f"not at VERSION {version}: {', '.join(stale)}; run 'make generate'")
    print(f"version {version} {'checked' if check else 'stamped'}")


if __name__ == "__main__":
    main()
