"""Sphinx configuration of the airflow-provider-signal docs (``make docs``).

The pages are MyST Markdown; the API reference imports the package (autodoc), so Airflow
must be importable. Nothing is fetched from the network at build time (no intersphinx).
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import Any

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS / "_ext"))
sys.path.insert(0, str(DOCS.parent))

# Importing Airflow writes airflow.cfg into AIRFLOW_HOME: keep it out of the user's ~/airflow.
os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="signal-docs-airflow-home-"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING")

from airflow_provider_signal import __version__  # noqa: E402

project = "airflow-provider-signal"
author = "airflow-provider-signal contributors"
copyright = "the airflow-provider-signal contributors, Apache-2.0"
version = release = __version__

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "signal_config",
    "signal_commands",
]
source_suffix = {".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "_ext", "README.md"]

myst_heading_anchors = 3
myst_enable_extensions = ["colon_fence"]

autodoc_member_order = "bysource"
autodoc_typehints = "description"
# Airflow's base classes' docstrings ("Derive when creating an operator") say nothing of ours.
autodoc_inherit_docstrings = False
autodoc_default_options = {"members": True, "show-inheritance": True}

html_theme = "furo"
html_title = f"airflow-provider-signal {release}"
html_static_path: list[str] = []


# Pages the toctree lists that are written on other branches: left out of the toctree while
# the file is missing, so the site builds either way (drop the name here once it is merged).
OPTIONAL_PAGES: tuple[str, ...] = ()


def _drop_missing_optional_pages(app: Any, docname: str, source: list[str]) -> None:
    if docname != root_doc:
        return
    for page in OPTIONAL_PAGES:
        if not (DOCS / f"{page}.md").exists():
            source[0] = source[0].replace(f"\n{page}\n", "\n")


def setup(app: Any) -> None:
    app.connect("source-read", _drop_missing_optional_pages)
