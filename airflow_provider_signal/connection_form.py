"""The Signal connection form, declared once as plain data.

``provider_info`` publishes it as ``conn-fields`` / ``ui-field-behaviour`` (read by
Airflow 3.2+ without importing the hook); ``SignalHook`` turns the same data into
wtforms widgets for Airflow 2.11 and 3.0-3.1.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_signal.defaults import (
    CONN_TYPE,
    CONNECT_TIMEOUT_MAX,
    DEFAULT_API_URL,
    DEFAULT_RETRIES,
    DEFAULT_TIMEOUT,
    HOOK_NAME,
)

EXTRA_FIELDS: dict[str, dict[str, Any]] = {
    "auth": {
        "label": "Auth mode",
        "description": "How the credentials are sent: 'basic' (HTTP Basic auth, the default) "
        "or 'payload' (systemid and password inside the JSON body).",
        "schema": {"type": ["string", "null"], "enum": ["basic", "payload"], "default": "basic"},
    },
    "destinations": {
        "label": "Default recipients",
        "description": "Mobile numbers in international form, comma-separated, used when a task "
        "names none, e.g. +447700900123, +447700900456.",
        "schema": {"type": ["string", "null"]},
    },
    "timeout": {
        "label": "Timeout (seconds)",
        "description": f"Seconds to wait for the API's answer (default {DEFAULT_TIMEOUT:g}); "
        f"connecting waits at most {CONNECT_TIMEOUT_MAX:g} s.",
        "schema": {"type": ["number", "null"], "minimum": 0, "maximum": 300},
    },
    "retries": {
        "label": "Retries",
        "description": f"Extra attempts when the API cannot have received the message: connection "
        f"failed, or HTTP 429/502/503/504 (default {DEFAULT_RETRIES}).",
        "schema": {"type": ["integer", "null"], "minimum": 0, "maximum": 10},
    },
}

UI_FIELD_BEHAVIOUR: dict[str, Any] = {
    "hidden_fields": ["port", "schema"],
    "relabeling": {"login": "System ID", "password": "Password", "host": "API URL"},
    "placeholders": {
        "login": "SMPP system ID of your Melrose Labs account",
        "host": DEFAULT_API_URL,
        "auth": "basic",
        "destinations": "+447700900123, +447700900456",
        "timeout": f"{DEFAULT_TIMEOUT:g}",
        "retries": f"{DEFAULT_RETRIES}",
    },
}


def provider_info_connection_type(hook_class_name: str) -> dict[str, Any]:
    """The ``connection-types`` entry of ``get_provider_info()``."""
    return {
        "connection-type": CONN_TYPE,
        "hook-class-name": hook_class_name,
        "hook-name": HOOK_NAME,
        "conn-fields": EXTRA_FIELDS,
        "ui-field-behaviour": {
            "hidden-fields": UI_FIELD_BEHAVIOUR["hidden_fields"],
            "relabeling": UI_FIELD_BEHAVIOUR["relabeling"],
            "placeholders": UI_FIELD_BEHAVIOUR["placeholders"],
        },
    }


def wtforms_widgets() -> dict[str, Any]:
    """The extra fields as wtforms widgets, for Airflow versions that read them from the hook."""
    from flask_appbuilder.fieldwidgets import BS3TextFieldWidget
    from flask_babel import lazy_gettext
    from wtforms import IntegerField, StringField
    from wtforms.validators import AnyOf, NumberRange, Optional

    def describe(name: str) -> dict[str, Any]:
        field = EXTRA_FIELDS[name]
        return {"label": lazy_gettext(field["label"]), "description": field["description"]}

    return {
        "auth": StringField(
            **describe("auth"),
            widget=BS3TextFieldWidget(),
            validators=[Optional(), AnyOf(["basic", "payload"])],
            default="basic",
        ),
        "destinations": StringField(**describe("destinations"), widget=BS3TextFieldWidget()),
        "timeout": StringField(**describe("timeout"), widget=BS3TextFieldWidget()),
        "retries": IntegerField(
            **describe("retries"), widget=BS3TextFieldWidget(), validators=[Optional(), NumberRange(0, 10)]
        ),
    }
