"""One text to several destinations, a few at a time, within one time budget.

Plain Python (no Airflow); the hook hands over its clients, built in the calling thread,
so the worker threads never touch Airflow (connection look-ups stay in the task's own
thread). Why: sending to N people one
after the other takes up to N x ``time_budget`` when the API hangs. Here up to
``len(clients)`` sends run at once, each client (one HTTP session, one TCP connection)
used by one thread only, since a client is not thread-safe. The whole call keeps to a
deadline of one ``time_budget`` (plus :data:`START_ALLOWANCE`):

- a destination whose turn comes when one full send no longer fits is sent with fewer
  retries and, if need be, a shorter read time-out (:func:`settings_within`), over the
  same connection (:meth:`SignalClient.limited_to`);
- a destination whose turn comes when not even one attempt fits is not attempted, and
  gets an error saying so (``maybe_delivered=False``).

Each destination is posted at most once (the client's retry policy still decides when a
request may be repeated), every destination gets an outcome, in order, and every thread
has ended before :func:`send_to_all` returns or raises.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Sequence
from time import monotonic

from airflow_provider_signal.client import SignalClient, SignalClientSettings
from airflow_provider_signal.errors import SignalAPIError, SignalMaybeDeliveredError, SignalNotSentError
from airflow_provider_signal.types import SignalSendResult

Outcome = SignalSendResult | SignalAPIError

MIN_READ_TIMEOUT = 1.0
"""Shortest read time-out a destination is attempted with when time runs short (seconds)."""

START_ALLOWANCE = 1.0
"""Seconds added to the deadline for starting threads and handling answers."""


def settings_within(settings: SignalClientSettings, seconds: float) -> SignalClientSettings | None:
    """Settings whose ``time_budget`` fits in ``seconds``, as close to ``settings`` as possible.

    ``settings`` itself when it fits; else fewer retries; else no retry and a shorter read
    time-out, down to :data:`MIN_READ_TIMEOUT`; ``None`` when even that does not fit.
    """
    if settings.time_budget <= seconds:
        return settings
    for retries in range(settings.retries - 1, -1, -1):
        fewer = dataclasses.replace(settings, retries=retries)
        if fewer.time_budget <= seconds:
            return fewer
    low, high = min(MIN_READ_TIMEOUT, settings.timeout), settings.timeout
    if dataclasses.replace(settings, retries=0, timeout=low).time_budget > seconds:
        return None
    for _ in range(20):  # bisect: the longest read time-out that still fits
        middle = (low + high) / 2
        if dataclasses.replace(settings, retries=0, timeout=middle).time_budget <= seconds:
            low = middle
        else:
            high = middle
    return dataclasses.replace(settings, retries=0, timeout=low)


def not_attempted(settings: SignalClientSettings, destination: str, count: int) -> SignalAPIError:
    """The error of a destination whose turn came after the send's time budget was used up."""
    return SignalNotSentError(
        f"Signal message to {destination} was not sent ({settings.source}): the send to {count} "
        f"destination(s) used up its time budget of {settings.time_budget:g} s before this "
        "destination's turn, because the API was slow or failing for the ones before it. No request "
        "was made for it, so it was not delivered: send it again once the API answers, or lower the "
        "timeout and retries so failing sends give up sooner.",
        destination=destination,
        maybe_delivered=False,
    )


def send_to_all(text: str, numbers: Sequence[str], clients: Sequence[SignalClient]) -> list[Outcome]:
    """Send ``text`` to each number; return one outcome per number, in the numbers' order.

    ``clients[0]`` works in the calling thread, each other client in a thread of its own.
    """
    settings = clients[0].settings
    deadline = monotonic() + settings.time_budget + START_ALLOWANCE
    outcomes: list[Outcome | None] = [None] * len(numbers)
    stages: list[str | None] = [None] * len(numbers)
    """Per destination, how far its worker got: ``None`` (not its turn yet), "taken" or
    "posting" (from there on its request may have gone out)."""
    turns = iter(range(len(numbers)))
    turn_lock = threading.Lock()
    stop = threading.Event()
    stopped: list[str] = []
    """What ended each thread that died, e.g. "SystemExit in thread signal-send-1"."""

    def work(client: SignalClient) -> None:
        try:
            while not stop.is_set():
                with turn_lock:
                    index = next(turns, None)
                if index is None:
                    return
                stages[index] = "taken"
                outcomes[index] = _send_one(
                    client, text, numbers[index], deadline, len(numbers), stages, index
                )
        except BaseException as error:  # noted for the destinations left without an outcome
            stopped.append(f"{type(error).__name__} in thread {threading.current_thread().name}")
            raise

    started: list[threading.Thread] = []
    try:
        for worker, client in enumerate(clients[1:], start=1):
            thread = threading.Thread(target=work, args=(client,), name=f"signal-send-{worker}", daemon=True)
            thread.start()
            started.append(thread)
        work(clients[0])
    finally:
        stop.set()  # after an interruption (e.g. a task time-out), start nothing new ...
        for thread in started:
            thread.join()  # ... and let the sends in flight end: each is bounded by its time-out
    # The calling thread returned, so every turn was taken: a destination without an outcome
    # lost its thread, before its turn was noted (stage None), or later.
    return [
        outcome
        if outcome is not None
        else worker_stopped(settings, number, stage=stages[index], stopped=stopped)
        for index, (number, outcome) in enumerate(zip(numbers, outcomes, strict=True))
    ]


def worker_stopped(
    settings: SignalClientSettings, destination: str, *, stage: str | None, stopped: Sequence[str]
) -> SignalAPIError:
    """The error of a destination whose worker stopped without an outcome (a ``BaseException``
    that is not an ``Exception``, such as ``SystemExit`` in its thread), naming what stopped
    which threads (``stopped``) when known: may have been delivered once its request may have
    gone out (``stage`` "posting"), else certainly not sent."""
    what = f" ({'; '.join(stopped)})" if stopped else " (what stopped it is not known)"
    if stage == "posting":
        return SignalMaybeDeliveredError(
            f"Signal message to {destination} may or may not have been delivered ({settings.source}): "
            f"the thread sending it stopped{what} after its request may have gone out, before an "
            "answer was recorded. It was not re-sent, to avoid a duplicate.",
            destination=destination,
            maybe_delivered=True,
        )
    return SignalNotSentError(
        f"Signal message to {destination} was not sent ({settings.source}): the thread that was to "
        f"send it stopped{what} before any request was made, so it was not delivered: send it again.",
        destination=destination,
        maybe_delivered=False,
    )


def _send_one(
    client: SignalClient,
    text: str,
    number: str,
    deadline: float,
    count: int,
    stages: list[str | None],
    index: int,
) -> Outcome:
    settings = settings_within(client.settings, deadline - monotonic())
    if settings is None:
        return not_attempted(client.settings, number, count)
    payload = {"destination": number, "text": text}
    try:
        with client.limited_to(settings):
            stages[index] = "posting"  # from here on, the request may have gone out
            return client.post(payload, destination=number)
    except SignalAPIError as error:
        return error
    except Exception as error:  # a bug here must not cost the other destinations their outcome
        return SignalMaybeDeliveredError(
            client.redact(
                f"Signal message to {number} failed unexpectedly ({client.settings.source}): "
                f"{type(error).__name__}: {error}. It may or may not have been delivered."
            ),
            destination=number,
            maybe_delivered=True,
        )
