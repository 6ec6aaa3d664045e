"""``SignalNotifier``: a Signal alert for task, DAG and Deadline callbacks.

DAG files import this module, so it holds only the class and its argument checks; what only
a send needs (the text builders, the hook, the redaction) is imported at the first send.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_signal import _compat
from airflow_provider_signal.defaults import DEFAULT_CONN_ID

if TYPE_CHECKING:
    from airflow_provider_signal._compat import Context
    from airflow_provider_signal.notifications.alert_text import input_request as input_request


class SignalNotifier(_compat.BaseNotifier):
    """Send a Signal message from ``on_failure_callback`` / ``on_success_callback`` /
    ``on_retry_callback`` (task, ``default_args`` or DAG level) or a Deadline Alert.

    Unlike Airflow's base class, each call renders the templates afresh from the
    originals (one instance can serve many tasks), the text sent is always a string
    (also with ``render_template_as_native_obj``), an over-long text is shortened with
    a visible marker rather than dropped, and a failed send is logged with its cause
    and never changes the outcome of the task it reports on.

    :param text: Jinja template of the message; ``None`` for the default alert text.
    :param destinations: recipients (list or comma-separated); ``None`` for the
        connection's default recipients.
    :param signal_conn_id: the Signal connection.
    :param kind: ``failure``, ``retry``, ``success`` or ``input``: which default text to
        use when ``text`` is ``None``. When not given, a notifier of a human-in-the-loop
        operator (``notifiers=``, Airflow 3.1+) sends the "input needed" text with the link to
        answer in the UI; otherwise the kind is guessed from the context.
    :param timeout: seconds to wait for the API's answer, for this alert only; ``None`` for
        the connection's ``timeout``. With ``retries`` it bounds the alert: the whole send,
        to any number of recipients, takes about one ``time_budget`` of these settings.
    :param retries: extra attempts where the API cannot have received the message, for
        this alert only; ``None`` for the connection's ``retries``.

    ``timeout`` and ``retries`` may be Jinja templates, like ``text`` and ``destinations``.
    A value given as it is is checked here, when the DAG is parsed (0, a negative number, a
    boolean, NaN, infinity, a string that is not a template, anything out of the client's
    range: :class:`~airflow_provider_signal.errors.SignalInputError` naming the argument);
    a template is checked once rendered, and a bad result is logged naming the argument.
    """

    template_fields: Sequence[str] = ("text", "destinations", "signal_conn_id", "timeout", "retries")

    def __init__(
        self,
        *,
        text: str | None = None,
        destinations: str | list[str] | None = None,
        signal_conn_id: str = DEFAULT_CONN_ID,
        kind: str | None = None,
        timeout: float | None = None,
        retries: int | None = None,
        context: Context | None = None,
    ) -> None:
        super().__init__()
        self.text = text
        self.destinations = destinations
        self.signal_conn_id = signal_conn_id
        self.kind = kind
        self.timeout = send_timeout(timeout, owner=type(self).__name__)
        self.retries = send_retries(retries, owner=type(self).__name__)
        self.context = context or {}

    def rendered(self, context: Context) -> SignalNotifier:
        """A copy with its template fields rendered for ``context``; ``self`` is left as it was."""
        clone = copy.copy(self)
        dag = context.get("dag")
        # Deadline contexts have no DAG, and `airflow dags test` on Airflow 3 hands DAG callbacks
        # a serialized DAG without a template environment: render with the default one there.
        # (The base classes' render_template_fields would also insist on context["dag"] on 2.11.)
        env = clone.get_template_env(dag=dag if hasattr(dag, "get_template_env") else None)
        for name in clone.template_fields:
            # Set every rendered value, also an empty one: Airflow 2.11 keeps the template when a
            # field renders empty, and destinations "{{ '' }}" must mean "the default recipients".
            setattr(clone, name, clone.render_template(getattr(clone, name), context, env, set()))
        owner = type(self).__name__
        clone.timeout = send_timeout(clone.timeout, owner=owner, template=self.timeout)
        clone.retries = send_retries(clone.retries, owner=owner, template=self.retries)
        return clone

    def _render(self, template: Any, context: Any, dag: Any = None) -> Any:
        # Skip BaseNotifier._render, which on Airflow 2.11 requires context["dag"].
        return super(_compat.BaseNotifier, self)._render(template, context, dag or context.get("dag"))

    def notify(self, context: Context) -> None:
        """Send the (already rendered) message; raises if any destination failed.

        The text is redacted (the connection's secrets and whatever Airflow's masker knows)
        before it is fitted into the connection's ``max_text_length``, so no cut leaves half
        a secret; the default texts are shortened in the middle, a link kept whole.
        """
        from airflow_provider_signal.hooks.signal import SignalHook
        from airflow_provider_signal.notifications.alert_text import (
            build_alert_text,
            build_input_request_text,
            input_request,
        )
        from airflow_provider_signal.shortening import fit_text

        hook = SignalHook(signal_conn_id=str(self.signal_conn_id), timeout=self.timeout, retries=self.retries)
        try:
            limit = hook.settings.max_text_length
            text = self.text
            if text is None:
                request = input_request(context) if self.kind in (None, "input") else None
                text = (
                    build_input_request_text(context, **request, limit=limit, redact=hook.redact)
                    if request is not None
                    else build_alert_text(context, self.kind, limit=limit, redact=hook.redact)
                )
            else:
                text = fit_text(text if isinstance(text, str) else str(text), limit, redact=hook.redact)
            hook.send_message(text, self.destinations or None)
        finally:
            hook.close()

    async def async_notify(self, context: Context) -> None:
        """Send from the triggerer (Deadline Alerts) without blocking its event loop."""
        import asyncio

        await asyncio.to_thread(self.notify, context)

    def __call__(self, *args: Any) -> None:
        """Render, send, and log (not raise) any failure: an alert never fails its task."""
        context: Any = args[0] if len(args) == 1 else {"dag": args[0], "task_list": args[1]}
        try:
            self.rendered(context).notify(context)
        except Exception as error:
            self.log.error(
                "Signal alert via connection %r was not sent (the task's outcome is unchanged): %s",
                self.signal_conn_id,
                error,
            )

    def __await__(self) -> Any:
        return self._send_async(self.context).__await__()

    async def _send_async(self, context: Context) -> None:
        try:
            await self.rendered(context).async_notify(context)
        except Exception as error:
            self.log.error("Signal alert via connection %r was not sent: %s", self.signal_conn_id, error)
            raise


def send_timeout(value: Any, *, owner: str, template: Any = None) -> Any:
    """``value`` if it is a valid ``timeout`` (or ``None``, or a template not yet rendered).

    ``template`` is the original when ``value`` was rendered from it: a rendered text is read
    as a number, and a bad one is refused naming the template.
    """
    if value is None:
        return None  # the usual case: nothing to check, nothing to import
    from airflow_provider_signal.limits import TIMEOUT_RULE, checked_limit, is_timeout

    return checked_limit("timeout", value, owner, template, is_timeout, TIMEOUT_RULE, float)


def send_retries(value: Any, *, owner: str, template: Any = None) -> Any:
    """As :func:`send_timeout`, for ``retries``."""
    if value is None:
        return None
    from airflow_provider_signal.limits import RETRIES_RULE, checked_limit, is_retries

    return checked_limit("retries", value, owner, template, is_retries, RETRIES_RULE, int)


send_signal_notification = SignalNotifier


def __getattr__(name: str) -> Any:
    # ``input_request`` lived here; it is now beside the text it feeds, imported on first use.
    if name == "input_request":
        from airflow_provider_signal.notifications import alert_text

        return alert_text.input_request
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
