"""The docs: every link resolves, every config key and every public name is documented.

The links are checked in the Markdown sources (README.md, which is also the PyPI page, and
docs/*.md), as GitHub resolves them: a relative path must name a file of the repository, and a
``#fragment`` a heading of the page it points to. The keys and names are checked in the site
``make docs`` built (docs/_build/html): every key the provider declares under ``config`` in
``get_provider_info()`` has its row in the generated table of ``alerts.html``, and every public
name is in the API reference's inventory (``objects.inv``), found there under its own name.

No built site, or one older than the sources: those tests skip (``make docs`` builds it, and
``make test`` runs it before this suite); under CI (``CI=true``) they fail instead.
"""

from __future__ import annotations

import importlib
import inspect
import os
import re
import types
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_signal.provider_info import get_provider_info

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
HTML = DOCS / "_build" / "html"
IN_CI = os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")
PAGES = sorted([ROOT / "README.md", *DOCS.glob("*.md")])

# The public surface: module -> the names a user may import from it. A module's ``__all__``
# when it has one, else every public class and function defined in it; the client's surface
# is its two classes (its other functions serve them), plus its ``__all__`` if it gets one.
PUBLIC_MODULES = (
    "airflow_provider_signal.hooks.signal",
    "airflow_provider_signal.operators.signal",
    "airflow_provider_signal.notifications.signal",
    "airflow_provider_signal.callbacks",
    "airflow_provider_signal.errors",
    "airflow_provider_signal.types",
    "airflow_provider_signal.testing",
    "airflow_provider_signal.testing.pytest_plugin",
)
CLIENT = "airflow_provider_signal.client"
CLIENT_CLASSES = ("SignalClient", "SignalClientSettings")
# DESIGN.md's fixed names: documented whatever the rules above say.
FIXED_NAMES = (
    "airflow_provider_signal.hooks.signal.SignalHook",
    "airflow_provider_signal.operators.signal.SignalSendOperator",
    "airflow_provider_signal.notifications.signal.SignalNotifier",
    "airflow_provider_signal.notifications.signal.send_signal_notification",
    "airflow_provider_signal.callbacks.signal_failure_callback",
    "airflow_provider_signal.callbacks.signal_success_callback",
    "airflow_provider_signal.callbacks.signal_retry_callback",
    "airflow_provider_signal.errors.SignalError",
    "airflow_provider_signal.errors.SignalInputError",
    "airflow_provider_signal.errors.SignalAPIError",
    "airflow_provider_signal.errors.SignalDeliveryError",
    "airflow_provider_signal.testing.SignalAPIEmulator",
    "airflow_provider_signal.testing.pytest_plugin.signal_api",
    "airflow_provider_signal.types.SignalSendResult",
)

# --- links --------------------------------------------------------------------------------------

FENCE = re.compile(r"^(```|~~~)")
INLINE_CODE = re.compile(r"`[^`]*`")
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
EXTERNAL = re.compile(r"^[a-z][a-z0-9+.-]*:", re.IGNORECASE)


def _prose_lines(text: str) -> Iterator[tuple[int, str]]:
    """Lines outside fenced code blocks, with inline code removed: ``(number, line)``."""
    in_fence = False
    for number, line in enumerate(text.splitlines(), 1):
        if FENCE.match(line.lstrip()):
            in_fence = not in_fence
            continue
        if not in_fence:
            yield number, INLINE_CODE.sub("", line)


def links(page: Path) -> list[tuple[int, str]]:
    """Every Markdown link and image target on a page: ``(line, target)``."""
    return [(n, m.group(1)) for n, line in _prose_lines(page.read_text()) for m in LINK.finditer(line)]


def heading_anchor(title: str) -> str:
    """The anchor GitHub (and MyST's ``myst_heading_anchors``) give a heading."""
    title = re.sub(r"`([^`]*)`", r"\1", title.strip()).lower()
    title = re.sub(r"[^\w\- ]", "", title)
    return title.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    """The anchors of a Markdown page's headings."""
    return {
        heading_anchor(line.lstrip("#"))
        for _, line in _prose_lines(page.read_text())
        if re.match(r"^#{1,6} ", line)
    }


def broken_link(page: Path, target: str) -> str | None:
    """Why a relative link does not resolve, or ``None`` when it does (external links pass)."""
    if EXTERNAL.match(target):
        return None
    path, _, fragment = target.partition("#")
    resolved = (page.parent / path).resolve() if path else page
    if not resolved.is_relative_to(ROOT):
        return f"{target}: outside the repository"
    if not resolved.exists():
        return f"{target}: no such file"
    if fragment:
        if resolved.suffix != ".md":
            return f"{target}: a fragment into a file that is not a Markdown page"
        if fragment not in anchors(resolved):
            return f"{target}: no heading with the anchor #{fragment} in {resolved.name}"
    return None


def test_the_link_checker_catches_what_it_must(tmp_path: Path) -> None:
    """The checker itself: a missing file, a missing heading and code are told apart."""
    page = DOCS / "sending.md"
    assert broken_link(page, "guarantees.md#time-budget") is None
    assert broken_link(page, "../README.md") is None
    assert broken_link(page, "https://example.com/nowhere") is None
    assert broken_link(page, "#the-hook") is None
    assert "no such file" in (broken_link(page, "nowhere.md") or "")
    assert "no heading" in (broken_link(page, "guarantees.md#no-such-heading") or "")
    assert "outside" in (broken_link(page, "../../etc/passwd") or "")
    sample = tmp_path / "sample.md"
    sample.write_text("[a](a.md) `[b](b.md)`\n```\n[c](c.md)\n```\n![d](d.png)\n")
    assert [target for _, target in links(sample)] == ["a.md", "d.png"]


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.relative_to(ROOT).as_posix())
def test_every_relative_link_resolves(page: Path) -> None:
    broken = [f"line {n}: {why}" for n, target in links(page) if (why := broken_link(page, target))]
    assert not broken, f"{page.relative_to(ROOT)} has broken links:\n" + "\n".join(broken)


def test_readme_links_into_every_page() -> None:
    """The README is the way in: it links to every page of the site."""
    linked = {(ROOT / target.partition("#")[0]).resolve() for _, target in links(ROOT / "README.md")}
    pages = {page.resolve() for page in DOCS.glob("*.md")} - {(DOCS / "index.md").resolve()}
    missing = sorted(page.name for page in pages - linked)
    assert not missing, f"README.md links to no docs page of: {', '.join(missing)}"


# --- the built site -----------------------------------------------------------------------------


def _sources() -> Iterator[Path]:
    yield ROOT / "CHANGELOG.md"
    yield ROOT / "pyproject.toml"
    for folder, pattern in ((DOCS, "*.md"), (DOCS, "*.py"), (DOCS / "_ext", "*.py")):
        yield from folder.glob(pattern)
    yield from (ROOT / "airflow_provider_signal").rglob("*.py")


@pytest.fixture(scope="module")
def site() -> Path:
    """docs/_build/html, built after the last change to its sources."""
    index = HTML / "index.html"
    if not index.exists():
        _unavailable(f"no built docs in {HTML}: run `make docs`")
    built = index.stat().st_mtime
    stale = [p.relative_to(ROOT).as_posix() for p in _sources() if p.stat().st_mtime > built]
    if stale:
        _unavailable(f"the built docs are older than {', '.join(stale[:3])}: run `make docs`")
    return HTML


def _unavailable(reason: str) -> None:
    """Skip locally; fail under CI, where `make test` ran `make docs` just before."""
    if IN_CI:
        pytest.fail(reason)
    pytest.skip(reason)


def key_id(section: str, key: str) -> str:
    """The row id docs/_ext/signal_config.py gives a key (docutils' ``make_id``, for ASCII)."""
    return re.sub(r"[^a-z0-9]+", "-", f"{section}-{key}".lower()).strip("-")


def test_every_config_key_is_in_the_generated_table(site: Path) -> None:
    html = (site / "alerts.html").read_text()
    config = get_provider_info()["config"]
    assert config, "the provider declares no config section"
    missing = [
        f"[{section}] {key}"
        for section, declaration in config.items()
        for key in declaration["options"]
        if f'id="{key_id(section, key)}"' not in html
    ]
    assert not missing, f"keys missing from the table in alerts.html: {', '.join(missing)}"


def test_every_watchdog_option_is_in_the_generated_table(site: Path) -> None:
    from airflow_provider_signal.watchdog.cli import parser

    html = (site / "watchdog.html").read_text()
    command = parser()
    options = [action.option_strings[-1] for action in command._actions if action.dest != "help"]
    assert "--state-file" in options
    missing = [name for name in options if f'id="{key_id(command.prog, name.lstrip("-"))}"' not in html]
    assert not missing, f"options missing from the table in watchdog.html: {', '.join(missing)}"


def inventory(site: Path) -> dict[str, str]:
    """The Python objects in Sphinx's ``objects.inv``: dotted name -> role (``py:class``...)."""
    raw = (site / "objects.inv").read_bytes()
    header_end = 0
    for _ in range(4):  # "# Sphinx inventory version 2", project, version, compression note
        header_end = raw.index(b"\n", header_end) + 1
    entries = {}
    for line in zlib.decompress(raw[header_end:]).decode().splitlines():
        match = re.match(r"(.+?)\s+(py:\S+)\s+-?\d+\s+\S*\s+.*", line)
        if match:
            entries[match.group(1)] = match.group(2)
    return entries


def resolve(dotted: str) -> Any:
    """The object a dotted name stands for: the longest importable module, then attributes."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj: Any = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attribute in parts[cut:]:
            obj = getattr(obj, attribute)
        return obj
    raise ImportError(dotted)


def public_names() -> dict[str, Any]:
    """Every public name, dotted, with its object."""
    names: dict[str, Any] = {}
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(module_name)
        exported = getattr(module, "__all__", None)
        if exported is None:
            exported = [
                name
                for name, obj in vars(module).items()
                if not name.startswith("_")
                and (inspect.isclass(obj) or inspect.isfunction(obj))
                and getattr(obj, "__module__", None) == module_name
            ]
            # pytest fixtures are objects, not functions (pytest 8.4+): the plugin's are public.
            exported += [n for n, obj in vars(module).items() if type(obj).__name__.startswith("Fixture")]
        names.update({f"{module_name}.{name}": getattr(module, name) for name in exported})
    client = importlib.import_module(CLIENT)
    for name in (*CLIENT_CLASSES, *getattr(client, "__all__", ())):
        names[f"{CLIENT}.{name}"] = getattr(client, name)
    for dotted in FIXED_NAMES:
        names[dotted] = resolve(dotted)
    return names


def test_every_public_name_is_in_the_api_reference(site: Path) -> None:
    documented: dict[str, set[int]] = {}  # last part of the name -> ids of the objects under it
    for dotted, role in inventory(site).items():
        if role == "py:module":
            continue
        try:
            obj = resolve(dotted)
        except (ImportError, AttributeError):
            continue
        documented.setdefault(dotted.rsplit(".", 1)[-1], set()).add(id(obj))
    names = public_names()
    assert len(names) >= len(FIXED_NAMES)
    missing = sorted(
        dotted
        for dotted, obj in names.items()
        if id(obj) not in documented.get(dotted.rsplit(".", 1)[-1], set())
        and not isinstance(obj, types.ModuleType)
    )
    assert not missing, "public names missing from docs/api.md (the API reference):\n" + "\n".join(missing)
