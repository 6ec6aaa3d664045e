"""``SignalSendOperator``: send a templated Signal message from a task."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_signal import _compat
from airflow_provider_signal.defaults import DEFAULT_CONN_ID

if TYPE_CHECKING:
    from airflow_provider_signal._compat import Context
    from airflow_provider_signal.types import SignalSendResult


class SignalSendOperator(_compat.BaseOperator):
    """Send ``text`` to one or more Signal users; returns (and pushes to XCom) one
    :class:`~airflow_provider_signal.types.SignalSendResult` per destination.

    The hook, and so the connection, is only touched in :meth:`execute`, never while
    the DAG file is parsed. If any destination fails the task fails after every
    destination was tried, and the results of those that succeeded are pushed to XCom
    under the key ``signal_results``. Bad input (a bad number, an empty or over-long
    text, a bad connection setting) fails the task at once, without its retries: a
    retry would meet the same input.

    :param text: message, Jinja-templated.
    :param destinations: recipients (list or comma-separated string, templated);
        ``None`` for the connection's default recipients.
    :param signal_conn_id: the Signal connection (templated).
    """

    template_fields: Sequence[str] = ("text", "destinations", "signal_conn_id")
    ui_color = "#3a76f0"

    def __init__(
        self,
        *,
        text: str,
        destinations: str | list[str] | None = None,
        signal_conn_id: str = DEFAULT_CONN_ID,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.text = text
        self.destinations = destinations
        self.signal_conn_id = signal_conn_id

    def execute(self, context: Context) -> list[SignalSendResult]:
        from airflow_provider_signal.errors import SignalDeliveryError, SignalInputError
        from airflow_provider_signal.hooks.signal import SignalHook

        text = self.text if self.text is None or isinstance(self.text, str) else str(self.text)
        hook = SignalHook(signal_conn_id=str(self.signal_conn_id))
        try:
            return hook.send_message(text, self.destinations or None)
        except SignalInputError as error:
            raise _compat.AirflowFailException(
                f"{error} Nothing was sent; the task fails without retrying, since a retry would meet "
                "the same input."
            ) from error
        except SignalDeliveryError as error:
            if error.results:
                context["ti"].xcom_push(key="signal_results", value=error.results)
            raise
        finally:
            hook.close()
