"""The ``signal-config-table`` directive: a config section's keys, from the provider's declaration.

The table is built from ``get_provider_info()["config"]``, the declaration Airflow itself
reads (``airflow config list``, ``AIRFLOW__<SECTION>__<KEY>``), so a key added there is in
the docs at the next build and no key is written twice. In MyST::

    ```{signal-config-table}
    ```

takes ``signal_alerts``; another section is named as the argument. Each row has the id
``<section>-<key>`` in docutils' spelling (``signal-alerts-cooldown``), so a page can link to
one key and tests/test_docs.py can find every key in the built page.
"""

from __future__ import annotations

from typing import Any, ClassVar

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.util.docutils import SphinxDirective

DEFAULT_SECTION = "signal_alerts"
COLUMNS = (("Key", 18), ("Type", 8), ("Default", 16), ("What it does", 58))


def config_sections() -> dict[str, Any]:
    """The provider's config declaration, as Airflow reads it."""
    from airflow_provider_signal.provider_info import get_provider_info

    return get_provider_info()["config"]


def key_id(section: str, key: str) -> str:
    """The HTML id of one key's row: ``signal-alerts-cooldown``."""
    return nodes.make_id(f"{section}-{key}")


def _literal_or_empty(value: str | None) -> nodes.Node:
    if value is None or value == "":
        return nodes.emphasis(text="empty")
    return nodes.literal(text=value)


def cell(*children: nodes.Node) -> nodes.entry:
    return nodes.entry("", nodes.paragraph("", "", *children))


def _row(section: str, key: str, option: dict[str, Any]) -> nodes.row:
    what: list[nodes.Node] = [nodes.Text(option["description"])]
    if option.get("example"):
        what += [nodes.Text(" Example: "), nodes.literal(text=option["example"])]
    row = nodes.row(ids=[key_id(section, key)])
    row += cell(nodes.literal(text=key))
    row += cell(nodes.Text(option["type"]))
    row += cell(_literal_or_empty(option.get("default")))
    row += cell(*what)
    return row


def table_with_head(css_class: str, columns: tuple[tuple[str, int], ...]) -> tuple[nodes.table, nodes.tbody]:
    """An empty docutils table with ``columns`` (title, width) as its head, and its body to fill."""
    table = nodes.table(classes=[css_class])
    group = nodes.tgroup(cols=len(columns))
    table += group
    for _, width in columns:
        group += nodes.colspec(colwidth=width)
    head = nodes.thead()
    head += nodes.row("", *(cell(nodes.Text(title)) for title, _ in columns))
    group += head
    body = nodes.tbody()
    group += body
    return table, body


def config_table(section: str, declaration: dict[str, Any]) -> nodes.table:
    """A docutils table with one row per declared key, in declaration order."""
    table, body = table_with_head("signal-config-table", COLUMNS)
    for key, option in declaration["options"].items():
        body += _row(section, key, option)
    return table


class SignalConfigTable(SphinxDirective):
    """Render one section of the provider's config declaration as a table."""

    optional_arguments = 1
    has_content = False
    option_spec: ClassVar[dict[str, Any]] = {"class": directives.class_option}

    def run(self) -> list[nodes.Node]:
        section = self.arguments[0] if self.arguments else DEFAULT_SECTION
        sections = config_sections()
        if section not in sections:
            raise self.error(
                f"signal-config-table: no section {section!r} in get_provider_info()['config'] "
                f"(declared: {', '.join(sorted(sections))})"
            )
        # Rebuild the page when the declaration changes.
        from airflow_provider_signal.alerts import config as declaration_module

        if declaration_module.__file__:
            self.env.note_dependency(declaration_module.__file__)
        return [config_table(section, sections[section])]


def setup(app: Any) -> dict[str, Any]:
    app.add_directive("signal-config-table", SignalConfigTable)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
