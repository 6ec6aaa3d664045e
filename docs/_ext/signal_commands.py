"""The ``signal-command-options`` directive: a command's options, from its own argument parser.

The table is built from the ``argparse`` parser the command runs with, so an option added there
is in the docs at the next build and none is written twice. In MyST::

    ```{signal-command-options} airflow_provider_signal.watchdog.cli:parser
    ```

Each row has the id ``<prog>-<option>`` (``airflow-signal-watchdog-threshold``).
"""

from __future__ import annotations

import argparse
from importlib import import_module
from typing import Any

from docutils import nodes
from signal_config import cell, table_with_head
from sphinx.util.docutils import SphinxDirective

COLUMNS = (("Option", 22), ("Default", 16), ("What it does", 62))


def _default(action: argparse.Action) -> nodes.Node:
    if action.required:
        return nodes.emphasis(text="required")
    if action.default in (None, False):
        return nodes.emphasis(text="none")
    return nodes.literal(text=str(action.default))


def options_table(parser: argparse.ArgumentParser) -> nodes.table:
    """One row per option of ``parser`` (``--help`` left out), in the parser's order."""
    table, body = table_with_head("signal-command-options", COLUMNS)
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction) or not action.option_strings:
            continue
        name = action.option_strings[-1]
        row = nodes.row(ids=[nodes.make_id(f"{parser.prog}-{name.lstrip('-')}")])
        row += cell(nodes.literal(text=name))
        row += cell(_default(action))
        row += cell(nodes.Text(action.help or ""))
        body += row
    return table


class SignalCommandOptions(SphinxDirective):
    """Render the options of the parser ``module:function`` returns."""

    required_arguments = 1
    has_content = False

    def run(self) -> list[nodes.Node]:
        module_name, _, function = self.arguments[0].partition(":")
        module = import_module(module_name)
        if module.__file__:
            self.env.note_dependency(module.__file__)
        return [options_table(getattr(module, function)())]


def setup(app: Any) -> dict[str, Any]:
    app.add_directive("signal-command-options", SignalCommandOptions)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
