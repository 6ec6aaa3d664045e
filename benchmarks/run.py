"""``make bench``: measure the provider and write ``benchmarks/RESULTS.md``.

1. Import cost at DAG parse time, beside the official Slack and SMTP notifiers.
2. Send overhead of ``SignalHook`` against a bare ``requests.Session().post``.
3. Fan-out: one ``send_message`` to many recipients; TCP connections used.
4. Time of a failure callback when the API hangs, refuses or answers 503 forever,
   against the promised ``SignalClientSettings.time_budget``.

Every measurement runs in fresh interpreters; every HTTP request goes to the local
emulator on 127.0.0.1, in its own process. Raw samples and worker logs are kept in
``benchmarks/logs/``. Not part of ``make test``: it takes a few minutes.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import fanout
import fault_budget
import import_cost
import send_overhead
from benchlib import BENCH_DIR, Summary, airflow_home, machine_info, worker_env

from airflow_provider_signal.client import (
    BACKOFF_MAX,
    CONNECT_TIMEOUT_MAX,
    DEFAULT_BACKOFF_FACTOR,
    RETRY_AFTER_MAX,
)

SECTIONS = ("import", "send", "fanout", "faults")
MS, US = 1e3, 1e6


def _args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="benchmarks/run.py", description=__doc__.splitlines()[0])
    parser.add_argument("--import-samples", type=int, default=20, help="fresh interpreters per import target")
    parser.add_argument("--sends", type=int, default=200, help="sends per sender per round")
    parser.add_argument("--rounds", type=int, default=5, help="rounds of sends (each gives a ratio)")
    parser.add_argument("--block", type=int, default=20, help="sends in a row before switching sender")
    parser.add_argument("--recipients", type=int, default=50, help="recipients of the fan-out send")
    parser.add_argument("--fanout-runs", type=int, default=7)
    parser.add_argument(
        "--fault-runs", type=int, default=3, help="runs per fault scenario (each takes seconds)"
    )
    parser.add_argument("--only", choices=SECTIONS, action="append", help="run only these sections")
    parser.add_argument(
        "--quick", action="store_true", help="a smoke run with few samples (not for RESULTS.md)"
    )
    parser.add_argument("--output", type=Path, default=BENCH_DIR / "RESULTS.md")
    args = parser.parse_args(argv)
    if args.quick:
        args.import_samples, args.rounds, args.sends, args.fanout_runs, args.fault_runs = 3, 1, 60, 2, 1
        if args.output == BENCH_DIR / "RESULTS.md":
            args.output = BENCH_DIR / "logs" / "RESULTS-quick.md"
    return args


def _load() -> str:
    try:
        return " / ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


def _yes(ok: bool) -> str:
    return "**yes**" if ok else "**NO**"


def _spread(summary: Summary) -> str:
    low, high = summary.spread()
    return f"{summary.spread_name} {low:.3f}–{high:.3f}"


def _json_default(value: Any) -> Any:
    if isinstance(value, Summary):
        return value.as_dict()
    raise TypeError(type(value).__name__)


# -- the report ------------------------------------------------------------------------------------


def _import_rows(result: dict[str, Any]) -> list[str]:
    seconds = result["seconds"]
    ours: Summary = seconds["signal"]
    ratio: Summary = result["ratio_to_slack"]
    n = result["samples"]
    imported = result["requests_imported"]["signal"]
    counts = [str(result["requests_imported"][target]) for target in ("signal", "slack", "smtp")]
    after_dag = result["requests_after_dag"]
    preloaded = result["requests_before"]["signal"]
    preloaded_note = f" (already loaded by Airflow in {preloaded})" if preloaded else ""
    return [
        "| **1. Import at DAG parse**, after `from airflow.sdk import DAG` | | | |",
        f"| Signal notifier + callbacks + operator modules | {ours.format(MS, 'ms')} | ≤ 10 ms | "
        f"{_yes(ours.median <= 0.010)} |",
        f"| Slack notifier (`airflow.providers.slack.notifications.slack`) | "
        f"{seconds['slack'].format(MS, 'ms')} | | |",
        f"| SMTP notifier (`airflow.providers.smtp.notifications.smtp`) | "
        f"{seconds['smtp'].format(MS, 'ms')} | | |",
        f"| Signal ÷ Slack (paired samples) | {ratio.format(1, '×', 3)} | ≤ 0.1× | "
        f"{_yes(ratio.median <= 0.1)} |",
        f"| `requests` imported by that import: Signal / Slack / SMTP | {' / '.join(counts)} of {n} samples; "
        f"with Signal, still absent after building a DAG with the operator and callbacks in {n - after_dag} "
        f"of {n}{preloaded_note} | Signal: not before the first send | "
        f"{_yes(imported == 0 and after_dag == 0)} |",
    ]


def _send_rows(result: dict[str, Any]) -> list[str]:
    ratio: float = result["ratio"]
    rounds: Summary = result["ratio_rounds"]
    no_log: Summary = result["ratio_no_log_rounds"]
    return [
        f"| **2. Send overhead**, {result['sends']} sends × {result['rounds']} round(s) per sender, "
        f"interleaved in blocks of {result['block']} | | | |",
        f"| `SignalHook.send_message`, per send | {result['hook'].format(US, 'µs')} | | |",
        f"| bare `requests.Session().post`, per send | {result['bare'].format(US, 'µs')} | | |",
        f"| Hook ÷ bare, ratio of medians (spread: per-round ratios) | {ratio:.3f}× "
        f"({_spread(rounds)}, {rounds.n} round{'' if rounds.n == 1 else 's'}) | "
        f"≤ 1.2× | {_yes(ratio <= 1.2)} |",
        f"| Diagnostic: hook with its per-message INFO log line switched off, ÷ bare | "
        f"{result['ratio_no_log']:.3f}× ({_spread(no_log)}) | | |",
    ]


def _fanout_rows(result: dict[str, Any]) -> list[str]:
    def shown(counts: list[int]) -> str:
        return str(counts[0]) + " in every run" if len(set(counts)) == 1 else ", ".join(map(str, counts))

    connections: list[int] = result["connections"]
    slow_seq, slow_pool, hang = result["slow_sequential"], result["slow_pool"], result["hang"]
    latency_ms = result["latency"] * MS
    n_slow = slow_pool["recipients"]
    speed_up = slow_seq["seconds"].median / slow_pool["seconds"].median
    hang_limit = hang["budget"] + 1  # the deadline: one time_budget plus 1 s for starting threads
    return [
        f"| **3. Fan-out**: one `send_message` to {result['recipients']} recipients, new hook each run "
        "| | | |",
        f"| Wall time (hook, connection look-up, {result['recipients']} sends, close) | "
        f"{result['seconds'].format(MS, 'ms')} | | |",
        f"| TCP connections the emulator accepted | {shown(connections)} | ≤ 4 | "
        f"{_yes(max(connections) <= 4)} |",
        f"| … one at a time (`fanout_workers=1`) | {result['fast_sequential']['seconds'].format(MS, 'ms')}; "
        f"connections: {shown(result['fast_sequential']['connections'])} | | |",
        f"| {n_slow} recipients, API answers {latency_ms:.0f} ms late: one at a time (`fanout_workers=1`) | "
        f"{slow_seq['seconds'].format(1, 's')}; connections: {shown(slow_seq['connections'])} | | |",
        f"| … {slow_pool['workers']} at a time (default) | {slow_pool['seconds'].format(1, 's')}; "
        f"connections: {shown(slow_pool['connections'])} | ≤ 4 connections | "
        f"{_yes(max(slow_pool['connections']) <= 4 and slow_pool['all_delivered'])} |",
        f"| … speed-up (ratio of medians) | {speed_up:.1f}× | | |",
        f"| {hang['recipients']} recipients, API never answers, timeout {fanout.HANG_TIMEOUT:g} s, 0 retries "
        f"(`time_budget` {hang['budget']:g} s): wall time; requests made / not attempted | "
        f"{hang['seconds'].format(1, 's')}; {shown(hang['requests'])} / "
        f"{shown([hang['recipients'] - r for r in hang['requests']])} | ≤ {hang_limit:g} s | "
        f"{_yes(hang['seconds'].high <= hang_limit)} |",
    ]


def _fault_rows(results: list[dict[str, Any]]) -> list[str]:
    first = results[0]
    budget = first["budget"]
    rows = [
        f"| **4. Failure callback under faults**, default settings (timeout {first['timeout']:g} s, "
        f"{first['retries']} retries): budget `time_budget` = {budget:g} s | | | |"
    ]
    for result in results:
        attempts = [a for a in result["requests"] if a is not None]
        seen = f"; API saw {'/'.join(map(str, sorted(set(attempts))))} request(s) per run" if attempts else ""
        rows.append(
            f"| {result['label']}{seen} | {result['seconds'].format(1, 's')} | ≤ {result['budget']:g} s | "
            f"{_yes(result['within_budget'] and not result['raised'])} |"
        )
    return rows


def _details(results: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    if "import" in results:
        breakdown = results["import"]["breakdown"]
        startup = breakdown["signal"]["startup_ms"]
        lines += [
            "",
            "### Import breakdown (one `-X importtime` run per target, self time)",
            "",
        ]
        for target, label in import_cost.LABELS.items():
            top = ", ".join(f"`{name}` {ms:.2f} ms" for name, ms in breakdown[target]["top_self_ms"])
            lines.append(f"- {label}: {top}")
        lines += [
            "",
            "Not in the figures above: Airflow calls every installed provider's `get_provider_info()` "
            "while `airflow` itself is imported, once per process, before any DAG file is read. For this "
            "provider that imports its connection form and shared defaults (no `requests`): "
            f"{startup:.2f} ms in the same `-X importtime` run.",
        ]
    if "send" in results:
        send = results["send"]
        overhead = (send["hook"].median - send["bare"].median) * US
        log_line = (send["hook"].median - send["hook_no_log"].median) * US
        lines += [
            "",
            "### Where the send overhead goes",
            "",
            f"The hook's median send is {overhead:.0f} µs slower than the bare post. Without its one INFO "
            "line per message (`Signal message sent to ... (transaction ...)`) it is "
            f"{send['ratio_no_log']:.2f}× the bare post: that line, going through Airflow's logging "
            f"(structlog, console renderer with call-site lookup, outside a task), costs {log_line:.0f} µs, "
            "and the hook's own work (destination and text checks, retry policy, answer parsing and "
            "redaction) is lost in the noise. Against the real API the network round trip dominates a send.",
        ]
    if "faults" in results:
        budget = results["faults"][0]
        timeout, retries = budget["timeout"], budget["retries"]
        connect = min(timeout, CONNECT_TIMEOUT_MAX)
        # urllib3's back-off before retry n: none for the first, then factor × 2^(n-1), capped.
        waits = ", ".join(
            f"{0 if n == 1 else min(BACKOFF_MAX, DEFAULT_BACKOFF_FACTOR * 2 ** (n - 1)):g}"
            for n in range(1, retries + 1)
        )
        lines += [
            "",
            "### What the fault times follow from",
            "",
            f"`time_budget` = {retries + 1} attempts × ({connect:g} s connect + {timeout:g} s read time-out) "
            f"+ {retries} waits × {max(BACKOFF_MAX, RETRY_AFTER_MAX):g} s = {budget['budget']:g} s per "
            f"destination. A hanging API costs one read time-out ({timeout:g} s): the message may have "
            "arrived, so it is not re-sent. A refused connection and a 503 are retried "
            f"{retries} times with exponential back-off (factor {DEFAULT_BACKOFF_FACTOR:g}: waits of "
            f"{waits} s); a `Retry-After` is honoured but cut to {RETRY_AFTER_MAX} s per wait.",
            "",
            "### What the callback logged (first run of each scenario)",
            "",
        ]
        for result in results["faults"]:
            cause = result["causes"][0] if result["causes"] else "(nothing logged)"
            lines.append(f"- {result['label']}: `{cause[:500]}`")
    checks = []
    if "send" in results:
        send = results["send"]
        checks.append(
            f"send overhead: the emulator received {send['messages_received']} of "
            f"{send['messages_expected']} messages over {send['connections']} TCP connection(s) "
            "(one per sender)"
        )
    if "fanout" in results:
        checks.append(
            "fan-out: every recipient's message arrived in every run (fast API / API answering late, "
            f"one at a time / API answering late, pool): {results['fanout']['all_delivered']} / "
            f"{results['fanout']['slow_sequential']['all_delivered']} / "
            f"{results['fanout']['slow_pool']['all_delivered']}"
        )
    leaked = [
        name for name in ("send", "fanout") if name in results and results[name]["password_in_logs"]
    ] + [r["scenario"] for r in results.get("faults", []) if r["password_in_logs"]]
    where = "in " + ", ".join(leaked) if leaked else "never"
    checks.append(f"the connection password appeared in a worker's output: {where}")
    lines += ["", "### Checks", "", *[f"- {check}" for check in checks]]
    return lines


def render(results: dict[str, Any], machine: dict[str, str], meta: dict[str, str]) -> str:
    rows = ["| Measure | Median (spread, samples) | Target | Met |", "|---|---|---|---|"]
    if "import" in results:
        rows += _import_rows(results["import"])
    if "send" in results:
        rows += _send_rows(results["send"])
    if "fanout" in results:
        rows += _fanout_rows(results["fanout"])
    if "faults" in results:
        rows += _fault_rows(results["faults"])
    head = [
        "# Benchmarks",
        "",
        f"Measured {meta['date']} with `{meta['command']}` (took {meta['duration']}).",
        "",
        f"Machine: {machine['cpu']}, {machine['cores']} cores, {machine['os']}; Python {machine['python']}, "
        f"Airflow {machine['airflow']}, requests {machine['requests']}, urllib3 {machine['urllib3']}; "
        f"Slack provider {machine['slack_provider']}, SMTP provider {machine['smtp_provider']}; "
        f"airflow-provider-signal {machine['provider']}. Load average at start / end: "
        f"{meta['load_start']} · {meta['load_end']}.",
        "",
    ]
    method = [
        "",
        "Spread is the interquartile range (IQR) from 4 samples on, else the full range (min–max).",
        "",
        "### How it is measured",
        "",
        "1. A fresh interpreter per sample runs `from airflow.sdk import DAG`, then times the import of one "
        "target with `time.perf_counter`; targets are sampled round-robin, order rotated each round, after "
        "one untimed warm-up each. The Signal sample then builds a DAG with the operator and callbacks "
        "attached and checks that `requests` is still not imported (it loads at the first send).",
        "2. One worker process, one `SignalHook` reading `AIRFLOW_CONN_SIGNAL_DEFAULT`, one bare "
        "`requests.Session` with the same Basic auth, headers and JSON body (the bare one also checks the "
        "status and decodes the answer); every send timed alone; senders interleaved in blocks, order "
        "rotated per block, after a warm-up block each. Ratio = median hook send ÷ median bare send.",
        "3. Each run: a new `SignalHook`, `send_message(text, numbers)`, `close()`; the emulator counts "
        "the TCP connections it accepted. One untimed send first pays the one-off `requests` import. "
        "Late answers and silence come from the emulator's faults (`delay`, `hang`), one per request.",
        "4. `signal_failure_callback(number)` called with `{'dag': None, 'ti': None, 'exception': "
        "ValueError(...)}`, on a connection without `timeout`/`retries` extras, against the emulator told "
        "to hang, to answer 503 to every request, or a closed port. The callback must return (an alert "
        "never fails its task) within `SignalClientSettings.time_budget`.",
        "",
        "The emulator (`airflow_provider_signal.testing`) runs in its own process on 127.0.0.1; each "
        "measurement runs in its own interpreter with a throwaway `AIRFLOW_HOME`. Raw samples and worker "
        "logs: `benchmarks/logs/`.",
    ]
    return "\n".join(head + rows + method + _details(results)) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = _args(argv)
    sections = args.only or list(SECTIONS)
    log_dir = BENCH_DIR / "logs"
    log_dir.mkdir(exist_ok=True)
    started = time.monotonic()
    meta = {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "command": "make bench"
        + (f" BENCH_ARGS='{' '.join(argv or sys.argv[1:])}'" if (argv or sys.argv[1:]) else ""),
        "load_start": _load(),
    }
    results: dict[str, Any] = {}
    with airflow_home() as home:
        env = worker_env(home)
        if "import" in sections:
            print(
                f"1/4 import cost: {args.import_samples} samples × 3 targets ...", file=sys.stderr, flush=True
            )
            results["import"] = import_cost.run(args.import_samples, env, log_dir / "import_cost.json")
        if "send" in sections:
            print(
                f"2/4 send overhead: {args.rounds} rounds × {args.sends} sends ...",
                file=sys.stderr,
                flush=True,
            )
            results["send"] = send_overhead.run(args.sends, args.rounds, args.block, env, log_dir)
        if "fanout" in sections:
            print(
                f"3/4 fan-out to {args.recipients} recipients × {args.fanout_runs} ...",
                file=sys.stderr,
                flush=True,
            )
            results["fanout"] = fanout.run(args.recipients, args.fanout_runs, env, log_dir)
        if "faults" in sections:
            results["faults"] = []
            for scenario in fault_budget.SCENARIOS:
                print(f"4/4 faults: {scenario} × {args.fault_runs} ...", file=sys.stderr, flush=True)
                results["faults"].append(fault_budget.run(scenario, args.fault_runs, env, log_dir / "faults"))
    elapsed = time.monotonic() - started
    meta.update({"duration": f"{elapsed / 60:.1f} min", "load_end": _load()})
    machine = machine_info()
    report = render(results, machine, meta)
    (log_dir / "results.json").write_text(
        json.dumps({"machine": machine, "meta": meta, "results": results}, indent=1, default=_json_default)
    )
    args.output.write_text(report)
    print(report)
    print(f"Written to {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
