"""What the installed distribution declares: license, project URLs, extras."""

from __future__ import annotations

import re
from importlib.metadata import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_license_file_is_mit_for_the_rokt_async_authors() -> None:
    """LICENSE holds the MIT text that pyproject's license = "MIT" names."""
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("MIT License\n\nCopyright (c) 2026 the rokt-async authors\n")
    assert 'THE SOFTWARE IS PROVIDED "AS IS"' in text


def test_metadata_lists_project_urls_when_installed() -> None:
    """Homepage, Source, Issues and Changelog point at the project's repository."""
    urls = dict(
        entry.split(", ", 1)
        for entry in (metadata("rokt-async").get_all("Project-URL") or [])
    )
    assert sorted(urls) == ["Changelog", "Homepage", "Issues", "Source"]
    assert all(
        u.startswith("https://github.com/rokt-async/rokt-async") for u in urls.values()
    )


def test_testing_extra_pulls_pytest_and_pytest_asyncio_when_installed() -> None:
    """``rokt-async[testing]`` requires pytest and pytest-asyncio, both bounded."""
    requires = metadata("rokt-async").get_all("Requires-Dist") or []
    testing = {
        name: spec
        for name, spec, extra in (_split(r) for r in requires)
        if extra == "testing"
    }
    assert sorted(testing) == ["pytest", "pytest-asyncio"]
    assert all(">=" in spec and "<" in spec for spec in testing.values())


def _split(requirement: str) -> tuple[str, str, str | None]:
    """``name`` ``spec`` and the extra of one Requires-Dist line."""
    text, _, marker = requirement.partition(";")
    match = re.match(r"\s*([A-Za-z0-9_.-]+)\s*(.*)", text)
    assert match is not None, requirement
    extra = re.search(r"extra\s*==\s*[\"']([^\"']+)", marker)
    return match[1], match[2].strip(), extra[1] if extra else None
