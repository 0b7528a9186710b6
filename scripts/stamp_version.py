"""Stamp the one version number (the VERSION file) into every package manifest.

VERSION at the repository's root is the only place a release's number is
written by hand. The server's pyproject.toml reads it itself (setuptools'
dynamic version); every other manifest carries a copy, written here, so that
`make generate` keeps them equal and `make check-generated` fails when one
drifts. Go modules carry no version of their own (a git tag per module
releases them, docs/clients.md), but the modules here that require one of the
published ones (generated/go/gateway requires generated/go; the examples and
tests/gateway require both) name the release being made, and so does go.work,
which points those versions at the folders of this checkout.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# A release number as PEP 440, npm and Maven all read it alike.
VERSION_FORMAT = re.compile(r"^\d+\.\d+\.\d+(?:-?(?:a|b|rc)\d+)?$")
# A requirement on (or go.work replacement of) one of the published Go modules.
GO_REQUIREMENT = re.compile(
    r"^(\s*(?:require\s+)?(?:replace\s+)?github\.com/threadline/threadline/generated/go(?:/\S+)?) "
    r"(v\S+)",
    flags=re.MULTILINE,
)


def read_version() -> str:
    """Return the version in VERSION, checked."""
    version = (ROOT / "VERSION").read_text(encoding="utf-8").strip()
    if not VERSION_FORMAT.match(version):
        sys.exit(f"VERSION {version!r} is not MAJOR.MINOR.PATCH[aN|bN|rcN]")
    return version


def stamp_package_json(path: Path, version: str) -> None:
    """Set "version" in an npm package.json, keeping its layout."""
    document = json.loads(path.read_text(encoding="utf-8"))
    document["version"] = version
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")


def stamp_first(path: Path, pattern: str, version: str) -> None:
    """Replace the version in the first match of pattern (its one group is the version)."""
    text = path.read_text(encoding="utf-8")
    match = re.search(pattern, text, flags=re.MULTILINE)
    if match is None:
        sys.exit(f"{path}: no version found by {pattern!r}")
    path.write_text(text[: match.start(1)] + version + text[match.end(1) :], encoding="utf-8")


def go_version(version: str) -> str:
    """Return VERSION as Go spells a module version: 0.3.0 → v0.3.0, 0.3.0rc1 → v0.3.0-rc.1."""
    release, kind, number = re.findall(r"^(\d+\.\d+\.\d+)-?(?:(a|b|rc)(\d+))?$", version)[0]
    if not kind:
        return f"v{release}"
    return f"v{release}-{ {'a': 'alpha', 'b': 'beta', 'rc': 'rc'}[kind] }.{number}"


def stamp_go_requirements(path: Path, version: str) -> None:
    """Set every requirement on a published Go module in a go.mod or go.work to version."""
    text = path.read_text(encoding="utf-8")
    path.write_text(GO_REQUIREMENT.sub(rf"\1 {version}", text), encoding="utf-8")


def main() -> None:
    """Stamp VERSION into every manifest that exists."""
    version = read_version()
    package_json = ROOT / "generated/ts/package.json"
    if package_json.exists():
        stamp_package_json(package_json, version)
    pom = ROOT / "generated/java/pom.xml"
    if pom.exists():
        # The project's own <version>, the first one after its <artifactId>.
        project_version = r"<artifactId>threadline-api</artifactId>\s*<version>([^<]+)</version>"
        stamp_first(pom, project_version, version)
    client = ROOT / "generated/python/pyproject.toml"
    if client.exists():
        stamp_first(client, r'^version = "([^"]+)"$', version)
    for path in [ROOT / "go.work", *sorted(ROOT.glob("*/**/go.mod"))]:
        hidden = any(part.startswith(".") for part in path.relative_to(ROOT).parts)
        if path.exists() and not hidden and "node_modules" not in path.parts:
            stamp_go_requirements(path, go_version(version))
    print(f"version {version} stamped")


if __name__ == "__main__":
    main()
