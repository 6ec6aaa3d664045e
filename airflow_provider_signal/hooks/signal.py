"""``SignalHook``: turns an Airflow Connection of type ``signal`` into a Signal API client."""

from __future__ import annotations

from functools import cached_property
from typing import Any, cast

from airflow_provider_signal import _compat
from airflow_provider_signal._fanout import send_to_all
from airflow_provider_signal.client import (
    DEFAULT_BACKOFF_FACTOR,
    SignalClient,
    SignalClientSettings,
    api_url_with_port,
)
from airflow_provider_signal.client.credentials import CredentialMasker
from airflow_provider_signal.client.numbers import parse_number
from airflow_provider_signal.connection_form import UI_FIELD_BEHAVIOUR, wtforms_widgets
from airflow_provider_signal.defaults import (
    CONN_TYPE,
    DEFAULT_CONN_ID,
    DEFAULT_MAX_TEXT_LENGTH,
    DEFAULT_RETRIES,
    DEFAULT_TIMEOUT,
    HOOK_NAME,
)
from airflow_provider_signal.errors import SignalAPIError, SignalDeliveryError, SignalInputError
from airflow_provider_signal.shortening import REDACT_MARGIN
from airflow_provider_signal.types import AuthMode, SignalSendResult
from airflow_provider_signal.validation import destinations_or_default, normalise_destinations, validate_text


class SignalHook(_compat.BaseHook):
    """Send Signal messages with the credentials and settings of an Airflow connection.

    Connection fields: login = System ID, password = Password, host = API base URL
    (default ``https://api.melroselabs.com``). Extras: ``auth`` (``basic`` or
    ``payload``), ``destinations`` (default recipients), ``timeout`` (seconds),
    ``retries``, ``max_text_length``, ``backoff_factor``; also read as ``extra__signal__<name>``. Keyword
    arguments given here override the extras.

    :param signal_conn_id: the Airflow connection to use.
    """

    conn_name_attr = "signal_conn_id"
    default_conn_name = DEFAULT_CONN_ID
    conn_type = CONN_TYPE
    hook_name = HOOK_NAME

    fanout_workers = 4
    """How many destinations one :meth:`send_message` sends to at a time, each over its own
    connection (one connection when there is one destination)."""

    def __init__(
        self,
        signal_conn_id: str = DEFAULT_CONN_ID,
        *,
        destinations: str | list[str] | None = None,
        auth: AuthMode | None = None,
        timeout: float | None = None,
        retries: int | None = None,
        max_text_length: int | None = None,
        backoff_factor: float | None = None,
    ) -> None:
        super().__init__()
        self.signal_conn_id = signal_conn_id
        self._overrides: dict[str, Any] = {
            "destinations": destinations,
            "auth": auth,
            "timeout": timeout,
            "retries": retries,
            "max_text_length": max_text_length,
            "backoff_factor": backoff_factor,
        }
        self._spare_clients: list[SignalClient] = []  # the fan-out's other workers' clients

    def __repr__(self) -> str:
        return f"{type(self).__name__}(signal_conn_id={self.signal_conn_id!r})"

    # -- connection form (Airflow 2.11 and 3.0-3.1; 3.2+ reads provider_info) ---------

    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        """Extra fields of the Signal connection form."""
        return wtforms_widgets()

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Relabel, hide and give placeholders to the standard connection fields."""
        return {key: value.copy() for key, value in UI_FIELD_BEHAVIOUR.items()}

    # -- settings -------------------------------------------------------------------

    @cached_property
    def _extras(self) -> dict[str, Any]:
        return dict(self._connection.extra_dejson or {})

    @cached_property
    def _connection(self) -> Any:
        """The Airflow connection, refused unless it is of type ``signal``.

        Checked before anything is read from it: the login and password of a Postgres or
        HTTP connection must never go to the Signal API as Basic auth.
        """
        conn = self.get_connection(self.signal_conn_id)
        conn_type = str(getattr(conn, "conn_type", None) or "").strip().lower()
        if conn_type != CONN_TYPE:
            shown = repr(conn_type) if conn_type else "no type"
            raise SignalInputError(
                f"Connection {self.signal_conn_id!r} is of type {shown}, not {CONN_TYPE!r}: nothing "
                f"was sent. Name a connection of type {HOOK_NAME!r} (conn_type {CONN_TYPE!r}) here, or "
                "change this connection's type; its login and password are not sent to the Signal API."
            )
        return conn

    def _setting(self, name: str) -> Any:
        """A hook argument, else the extra under its plain or prefixed name, else ``None``."""
        override = self._overrides.get(name)
        if override is not None:
            return override
        for key in (name, f"extra__{CONN_TYPE}__{name}"):
            value = self._extras.get(key)
            if value not in (None, ""):
                return value
        return None

    def _number(self, name: str, kind: type[int] | type[float], default: float) -> Any:
        """A numeric setting as ``kind``; a clear error for anything that is not a finite number.

        ``true``/``false`` (JSON booleans), ``Infinity``/``NaN`` and fractions where a whole
        number is wanted are refused here, when the connection is read, not taken as 1 or
        left to fail at send time.
        """
        value = self._setting(name)
        if value is None:
            return default
        try:
            return parse_number(value, whole=kind is int)
        except ValueError as reason:
            raise SignalInputError(
                f"Signal connection {self.signal_conn_id!r}: {name} {value!r} {reason}; fix it in the "
                "connection's extras."
            ) from None

    @cached_property
    def settings(self) -> SignalClientSettings:
        """Client settings from the connection, read once per hook.

        Every setting is checked here, before any request: a bad one raises
        :class:`SignalInputError` naming the connection. The Port field is honoured, also
        when the host carries a scheme or is an IPv6 address.
        """
        conn = self._connection
        source = f"connection {self.signal_conn_id!r}"
        settings = SignalClientSettings(
            system_id=conn.login or "",
            password=conn.password or "",
            api_url=api_url_with_port(conn.host, conn.port, source),  # empty: the default API URL
            auth=cast(AuthMode, str(self._setting("auth") or "basic").strip().lower()),  # checked there
            timeout=self._number("timeout", float, DEFAULT_TIMEOUT),
            retries=self._number("retries", int, DEFAULT_RETRIES),
            backoff_factor=self._number("backoff_factor", float, DEFAULT_BACKOFF_FACTOR),
            max_text_length=self._number("max_text_length", int, DEFAULT_MAX_TEXT_LENGTH),
            source=source,
        )
        _compat.mask_secret(settings.password)  # Airflow masks it too; the token is ours to add
        _compat.mask_secret(settings.basic_token)
        return settings

    @cached_property
    def default_destinations(self) -> list[str]:
        """The connection's default recipients, normalised; a bad one is refused naming the setting."""
        try:
            return normalise_destinations(self._setting("destinations"))
        except SignalInputError as error:
            raise SignalInputError(
                f"Default recipients ('destinations') of Signal connection {self.signal_conn_id!r}: "
                f"{error} Fix the connection's extra or the hook's destinations argument."
            ) from None

    # -- sending --------------------------------------------------------------------

    def get_conn(self) -> SignalClient:
        """The client for this connection; one HTTP session, reused for every send."""
        return self.client

    @cached_property
    def client(self) -> SignalClient:
        return SignalClient(self.settings)

    def close(self) -> None:
        """Release every HTTP connection (the hook can still be used afterwards)."""
        if "client" in self.__dict__:
            self.client.close()
        for client in self._spare_clients:
            client.close()
        self._spare_clients.clear()

    def _fanout_clients(self, count: int) -> list[SignalClient]:
        """``count`` clients: the hook's own, then spares kept (and reused) until :meth:`close`."""
        while len(self._spare_clients) < count - 1:
            self._spare_clients.append(SignalClient(self.settings))
        return [self.client, *self._spare_clients[: count - 1]]

    @cached_property
    def credential_masker(self) -> CredentialMasker:
        """Masks credentials in free text (a URL's password, the value of a ``token=`` ...),
        with the key names Airflow's masker treats as sensitive on this line; built once."""
        return CredentialMasker(_compat.sensitive_key_names())

    def redact(self, text: str) -> str:
        """``text`` with every secret masked: the connection's password and Basic token in any
        encoding the client masks in answers; credentials written into the text (a URL's
        password, the value after a sensitive key: :mod:`~airflow_provider_signal.client.credentials`),
        which no masker was told of; then whatever Airflow's secrets masker knows (other
        connections' passwords, masked variables, ``mask_secret`` values)."""
        return _compat.redact_secrets(self.credential_masker.redact(self.client.redact(text)))

    def send_message(self, text: str, destinations: str | list[str] | None = None) -> list[SignalSendResult]:
        """Send ``text`` to each destination (default: the connection's), one request each.

        ``destinations`` that name no one (``None``, ``""``, ``" "``, ``","``, ``[]``) mean the
        connection's default recipients; a lone surrogate in ``text`` is sent as U+FFFD.
        ``text`` is sent redacted (:meth:`redact`): no secret the hook or Airflow knows leaves
        in a message, whoever built the text.

        Up to :attr:`fanout_workers` destinations are sent to at a time, and the whole call
        keeps to about one ``settings.time_budget``, whatever the number of destinations: a
        destination whose turn comes late gets fewer retries or a shorter time-out, or, when
        no attempt fits any more, an error saying it was not sent. Each destination is posted
        at most once, and gets a result or a failure.

        Returns one :class:`~airflow_provider_signal.types.SignalSendResult` per destination,
        in the destinations' order. If any failed, raises :class:`SignalDeliveryError` once
        every destination has its outcome, naming each failed destination and its cause, with
        the successful results attached. Bad input raises :class:`SignalInputError` before
        any request.
        """
        try:
            given = normalise_destinations(destinations)
        except SignalInputError as error:
            raise SignalInputError(
                f"destinations of a send on Signal connection {self.signal_conn_id!r}: {error}"
            ) from None
        numbers = destinations_or_default(given, lambda: self.default_destinations)
        if not numbers:
            raise SignalInputError(
                f"No Signal destination to send to: pass destinations, or set default recipients "
                f"('destinations' extra) on connection {self.signal_conn_id!r}."
            )
        settings = self.settings
        if isinstance(text, str) and len(text) <= settings.max_text_length + REDACT_MARGIN:
            text = self.redact(text)
        # A text over the limit by more than the margin is refused as too long without being
        # redacted (nothing is sent; the error gives only its length): a 10 MB rendered template
        # costs its length check, not megabytes of masking.
        text = validate_text(text, settings.max_text_length)
        workers = max(1, min(self.fanout_workers, len(numbers)))
        outcomes = send_to_all(text, numbers, self._fanout_clients(workers))
        results: list[SignalSendResult] = []
        failures: list[SignalAPIError] = []
        for number, outcome in zip(numbers, outcomes, strict=True):
            if isinstance(outcome, SignalAPIError):
                self.log.warning("%s", outcome)
                failures.append(outcome)
            else:
                self.log.info("Signal message sent to %s (transaction %s)", number, outcome["transaction_id"])
                results.append(outcome)
        if failures:
            summary = "; ".join(str(error) for error in failures)
            raise SignalDeliveryError(
                f"Signal message failed for {len(failures)} of {len(numbers)} destination(s) "
                f"via connection {self.signal_conn_id!r} ({len(results)} sent): {summary}",
                failures=failures,
                results=cast("list[dict[str, Any]]", results),
            )
        return results

    def test_connection(self) -> tuple[bool, str]:
        """Check the credentials without delivering a message to anyone.

        Sends a request with valid credentials but no destination and no text. The
        API checks credentials first: 401/403 means they were refused; 400 means they
        were accepted and the empty message was refused, so nothing was delivered.
        This rests on the API refusing a message without a destination, as documented
        ("destination and text must be provided").
        """
        try:
            self.client.post({"destination": "", "text": ""}, destination=None)
        except SignalInputError as error:
            return False, str(error)
        except SignalAPIError as error:
            if error.status_code == 400:
                return True, (
                    f"{self._accepted()} (a test request without a destination was refused, as "
                    "intended; nothing was delivered)."
                )
            return False, str(error)
        except Exception as error:
            return False, f"Connection {self.signal_conn_id!r} could not be tested: {error}"
        finally:
            self.close()
        return True, f"{self._accepted()}."

    def _accepted(self) -> str:
        # Not the connection id: Airflow's UI tests a connection under a random transient id.
        return (
            f"Connection works: the Signal API at {self.settings.message_url} accepted the "
            f"credentials of system ID {self.settings.system_id!r}"
        )
