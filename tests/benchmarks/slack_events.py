"""Slack message events through `vmi-bot serve`'s real app, against a do-nothing bolt floor.

Run on demand (pytest does not collect it), from the repository root:

    python tests/benchmarks/slack_events.py --events 2000 --clients 4

The bot: `bot.app.server.build_service` on a temporary SQLite file (`bot.app.bootstrap.start` with
config/example.toml), its Slack Web API calls going to the fake Slack of tests/fake_slack.py,
served by waitress (8 threads) on 127.0.0.1 with the delivery worker running. The floor: a
bolt `App` with the same signing secret and a client on the same fake, whose `message`
listener does nothing, served the same way (Flask, `SlackRequestHandler`, waitress).

Each is sent the same number of really signed `event_callback` message events (a stock count
such as `6205 库存 45` from U01KEEPER in C01VMI, each with its own `ts` and `event_id`) by
`--clients` threads, one HTTP/1.1 connection per request (`Connection: close`), after a few
warm-up events. It prints events per second and p50/p99 of the time from opening the
connection to the end of the answer, the ratios bot/floor, and whether the targets hold:
p99 under 100 ms and at least half the floor's rate. It then checks the bot's work: every
event handled once in the inbox and the outbox delivered to the fake Slack.

Clients, servers and the delivery worker share one process (and its GIL), so the figures are
relative; the ratios are the point. `--profile` adds a cProfile of one more bot run (the
request threads only), the `--top` functions by own time and by cumulative time.
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import hmac
import http.client
import io
import json
import logging
import os
import pstats
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flask import Flask, Response, request
from slack_bolt import App
from slack_bolt.adapter.flask import SlackRequestHandler
from slack_sdk import WebClient
from sqlalchemy import func, select
from waitress.server import create_server

from bot.app.bootstrap import start
from bot.app.server import Service, build_service
from bot.runtime.context import Runtime
from bot.settings import Settings
from bot.storage.db import transaction
from bot.storage.tables import InboxRow, OutboxRow

if TYPE_CHECKING:
    from tests.fake_slack import FakeSlack

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "config" / "example.toml"

SECRET = "bench-signing-secret"
TOKEN = "xoxb-bench"
CHANNEL = "C01VMI"
USER = "U01KEEPER"  # the example's warehouse keeper, who may post counts
SERVER_THREADS = 8
WARMUP_EVENTS = 20
P99_TARGET_MS = 100.0
RATE_TARGET = 0.5  # the bot's rate as a share of the floor's
DRAIN_TIMEOUT_S = 60.0

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


# ---- the requests ----


def message_event(index: int, base_ts: int) -> str:
    """The JSON body of Slack's `event_callback` for one count message; `index` makes the
    message's `ts` and the `event_id` unique, and varies the quantity (some below min 50)."""
    ts = f"{base_ts + index // 1_000_000}.{index % 1_000_000:06d}"
    return json.dumps(
        {
            "token": "legacy",
            "team_id": "T1",
            "api_app_id": "A1",
            "type": "event_callback",
            "event_id": f"EvBench{base_ts}x{index}",
            "event_time": base_ts,
            "event": {
                "type": "message",
                "channel": CHANNEL,
                "channel_type": "channel",
                "user": USER,
                "text": f"6205 库存 {45 + index % 50}",
                "ts": ts,
            },
        },
        ensure_ascii=False,
    )


def signed_headers(body: bytes, secret: str = SECRET) -> dict[str, str]:
    """Slack's request signature: v0=HMAC-SHA256(secret, "v0:" + timestamp + ":" + body)."""
    ts = str(int(time.time()))
    base = b"v0:" + ts.encode() + b":" + body
    signature = hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return {
        "Content-Type": "application/json",
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": f"v0={signature}",
        "Connection": "close",
    }


def post_event(port: int, body: bytes) -> tuple[int, float]:
    """POST one signed event on a new connection; the HTTP status and the seconds from
    opening the connection to the end of the answer. Signing happens before the clock starts."""
    headers = signed_headers(body)
    began = time.perf_counter()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("POST", "/slack/events", body=body, headers=headers)
        answer = connection.getresponse()
        answer.read()
        status = answer.status
    finally:
        connection.close()
    return status, time.perf_counter() - began


# ---- the load ----


@dataclass
class Run:
    """What one server was sent and how it answered."""

    name: str
    seconds: float
    latencies: list[float]
    statuses: Counter[int | str]

    @property
    def events(self) -> int:
        """Requests sent (and answered or failed)."""
        return sum(self.statuses.values())

    @property
    def rate(self) -> float:
        """Events per second over the whole run, first request to last answer."""
        return self.events / self.seconds

    @property
    def ok(self) -> bool:
        """Every request was answered 200."""
        return self.statuses[200] == self.events


def percentile(values: Sequence[float], share: float) -> float:
    """The nearest-rank percentile: the smallest value with at least `share` of all below or
    at it."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * share // 1))  # ceil(len * share), at least 1
    return ordered[int(rank) - 1]


@dataclass
class Load:
    """Numbers the events of one server, so warm-up and timed events never repeat a ts."""

    port: int
    base_ts: int = field(default_factory=lambda: int(time.time()))
    sent: int = 0

    def take(self, count: int) -> range:
        """The next `count` event numbers."""
        numbers = range(self.sent, self.sent + count)
        self.sent += count
        return numbers


def drive(name: str, load: Load, events: int, clients: int) -> Run:
    """Send `events` events from `clients` threads (client k sends every k-th), each request
    on its own connection; bounded, so it ends by itself."""
    numbers = load.take(events)
    bodies = [message_event(i, load.base_ts).encode() for i in numbers]
    latencies: list[list[float]] = [[] for _ in range(clients)]
    statuses: list[Counter[int | str]] = [Counter() for _ in range(clients)]

    def client(k: int) -> None:
        for body in bodies[k::clients]:
            try:
                status, seconds = post_event(load.port, body)
            except OSError as err:  # refused, reset, timed out: counted, not timed
                statuses[k][err.__class__.__name__] += 1
                continue
            statuses[k][status] += 1
            latencies[k].append(seconds)

    threads = [
        threading.Thread(target=client, args=(k,), name=f"client-{k}") for k in range(clients)
    ]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - began
    return Run(name, seconds, [x for each in latencies for x in each], sum(statuses, Counter()))


def warm_up(load: Load) -> None:
    """A few events first, so the first timed ones do not pay for imports and caches."""
    drive("warm-up", load, WARMUP_EVENTS, 1)


# ---- the servers ----


@contextmanager
def serving(app: WSGIApp) -> Iterator[int]:
    """Serve `app` with waitress (as `vmi-bot serve` does) on 127.0.0.1 and a free port,
    in a thread; yields the port, and closes the server afterwards."""
    server = create_server(app, host="127.0.0.1", port=0, threads=SERVER_THREADS)

    def run() -> None:
        with suppress(OSError):  # the listening socket was closed under select(), as in serve()
            server.run()

    thread = threading.Thread(target=run, name="waitress", daemon=True)
    thread.start()
    try:
        yield int(server.effective_port)  # type: ignore[union-attr]
    finally:
        # the request threads first: one still finishing an answer pulls the server's trigger
        server.task_dispatcher.shutdown()
        server.close()
        thread.join(timeout=5)


@contextmanager
def the_bot(fake: FakeSlack, workdir: Path) -> Iterator[tuple[Runtime, Service]]:
    """The bot's real app on a new SQLite file, its Slack calls going to `fake`, with the
    inbox and delivery workers running, as `vmi-bot serve` runs them."""
    settings = Settings(
        slack_bot_token=TOKEN, slack_signing_secret=SECRET, slack_api_base_url=fake.base_url
    )
    runtime = start(str(EXAMPLE), f"sqlite:///{workdir / 'vmi.sqlite'}", settings)
    service = build_service(runtime)
    service.delivery.start()
    service.inbox.start()
    try:
        yield runtime, service
    finally:
        service.inbox.stop()
        service.delivery.stop()
        runtime.engine.dispose()


def floor_app(fake: FakeSlack) -> Flask:
    """The least any bolt app does for a message event: verify, parse, authorize (auth.test
    once, on the fake), dispatch to a listener that does nothing, answer 200."""
    bolt = App(
        client=WebClient(token=TOKEN, base_url=fake.base_url, retry_handlers=[]),
        signing_secret=SECRET,
        process_before_response=True,
        raise_error_for_unhandled_request=False,
    )

    @bolt.event("message")
    def ignore() -> None:
        """Take the event and do nothing with it."""

    handler = SlackRequestHandler(bolt)
    app = Flask("floor")

    @app.post("/slack/events")
    def slack_events() -> Response:
        return handler.handle(request)

    return app


class Profiled:
    """A WSGI middleware that profiles the server's requests.

    Up to Python 3.11 a profiler sees only the thread that enabled it: one cProfile.Profile
    per server thread, enabled around each request, merged at the end. From 3.12 a profiler
    sees every thread and only one may be on: one, on for the whole run (`running`), which
    then also counts the client threads and the delivery worker.
    """

    per_thread = sys.version_info < (3, 12)

    def __init__(self, app: WSGIApp) -> None:
        self.app = app
        self.profiles: list[cProfile.Profile] = []
        self._local = threading.local()
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if not self.per_thread:
            return self.app(environ, start_response)
        profile = getattr(self._local, "profile", None)
        if profile is None:
            profile = self._local.profile = cProfile.Profile()
            with self._lock:
                self.profiles.append(profile)
        profile.enable()
        try:
            return self.app(environ, start_response)
        finally:
            profile.disable()

    @contextmanager
    def running(self) -> Iterator[None]:
        """Around the profiled run: the one process-wide profiler from Python 3.12."""
        if self.per_thread:
            yield
            return
        profile = cProfile.Profile()
        profile.enable()
        try:
            yield
        finally:
            profile.disable()
            self.profiles.append(profile)

    def report(self, top: int) -> str:
        """The `top` functions by own time, then by cumulative time, over all threads."""
        out = io.StringIO()
        first, *rest = self.profiles
        stats = pstats.Stats(first, stream=out)
        for profile in rest:
            stats.add(profile)
        stats.strip_dirs()
        stats.sort_stats("tottime").print_stats(top)
        stats.sort_stats("cumulative").print_stats(top)
        return out.getvalue()


# ---- the bot's work ----


@dataclass(frozen=True)
class Work:
    """What the bot did with the events: inbox rows handled, outbox rows by state."""

    handled: int
    outbox: dict[str, int]
    drained_after: float | None  # seconds after the last answer; None: not within the timeout


def expected_events(runtime: Runtime) -> int:
    """How many Slack messages reached the inbox (all of them, once each)."""
    with transaction(runtime.engine, read_only=True) as session:
        return session.scalar(select(func.count()).where(InboxRow.platform == "slack")) or 0


def bot_work(runtime: Runtime, timeout: float = DRAIN_TIMEOUT_S) -> Work:
    """Wait (bounded) until every message is handled and the outbox has nothing pending."""
    began = time.perf_counter()
    while True:
        with transaction(runtime.engine, read_only=True) as session:
            handled = session.scalar(
                select(func.count()).where(
                    InboxRow.platform == "slack", InboxRow.handled_at.is_not(None)
                )
            )
            by_state = select(OutboxRow.state, func.count()).group_by(OutboxRow.state)
            outbox = {state: n for state, n in session.execute(by_state)}
        waited = time.perf_counter() - began
        settled = handled == expected_events(runtime)
        if settled and not outbox.get("pending") and not outbox.get("sending"):
            return Work(handled or 0, outbox, waited)
        if waited > timeout:
            return Work(handled or 0, outbox, None)
        time.sleep(0.1)


# ---- the command ----


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=2000, help="events per server (2000)")
    parser.add_argument("--clients", type=int, default=4, help="client threads (4)")
    parser.add_argument(
        "--profile", action="store_true", help="also print a cProfile of one more bot run"
    )
    parser.add_argument("--top", type=int, default=25, help="functions in the profile (25)")
    args = parser.parse_args(argv)
    if args.events < 1 or args.clients < 1:
        parser.error("--events and --clients must be at least 1")
    return args


def describe(run: Run) -> str:
    """One line of figures."""
    p50, p99 = (percentile(run.latencies, q) * 1000 for q in (0.50, 0.99))
    answers = ", ".join(f"{status}: {n}" for status, n in sorted(run.statuses.items(), key=str))
    return (
        f"{run.name:>5}: {run.rate:8.1f} events/s   p50 {p50:6.1f} ms   p99 {p99:6.1f} ms"
        f"   ({run.seconds:.1f} s; answers {answers})"
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Time the bot, then the floor, print both, the ratios and the bot's work."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    sys.path.insert(0, str(ROOT))  # tests/ is not an installed package
    from tests.fake_slack import FakeSlack

    print(
        f"events: {args.events} per server (+{WARMUP_EVENTS} warm-up), clients: {args.clients},"
        f" waitress threads: {SERVER_THREADS}, CPUs: {os.cpu_count()},"
        f" Python {sys.version.split()[0]}"
    )
    profile = ""
    with FakeSlack() as fake, tempfile.TemporaryDirectory(prefix="vmi-slack-bench-") as tmp:
        with the_bot(fake, Path(tmp)) as (runtime, service), serving(service.app) as port:
            load = Load(port)
            warm_up(load)
            bot = drive("bot", load, args.events, args.clients)
            work = bot_work(runtime)
        if args.profile:
            (Path(tmp) / "profiled").mkdir()
            with the_bot(fake, Path(tmp) / "profiled") as (_, service):
                profiled = Profiled(service.app)
                with serving(profiled) as port:
                    load = Load(port)
                    warm_up(load)
                    with profiled.running():
                        drive("profiled bot", load, args.events, args.clients)
                profile = profiled.report(args.top)
        with serving(floor_app(fake)) as port:
            load = Load(port)
            warm_up(load)
            floor = drive("floor", load, args.events, args.clients)

    print(describe(bot))
    print(describe(floor))
    bot_p99 = percentile(bot.latencies, 0.99) * 1000
    floor_p99 = percentile(floor.latencies, 0.99) * 1000
    rate_ratio = bot.rate / floor.rate
    print(
        f"rate bot/floor: {rate_ratio:.2f} (target at least {RATE_TARGET:g}: "
        f"{'met' if rate_ratio >= RATE_TARGET else 'NOT met'})"
    )
    print(
        f"p99 bot: {bot_p99:.1f} ms (target under {P99_TARGET_MS:g} ms: "
        f"{'met' if bot_p99 < P99_TARGET_MS else 'NOT met'}); "
        f"p99 bot/floor: {bot_p99 / floor_p99:.1f}x"
    )
    expected = WARMUP_EVENTS + args.events
    outbox = ", ".join(f"{state} {n}" for state, n in sorted(work.outbox.items()))
    drained = "not within the timeout" if work.drained_after is None else (
        f"{work.drained_after:.1f} s after the last answer"
    )  # fmt: skip
    print(f"bot's inbox: {work.handled} of {expected} events handled")
    print(f"bot's outbox: {outbox}; delivered to the fake Slack {drained}")
    if profile:
        print(profile)
    delivered = work.drained_after is not None and set(work.outbox) <= {"sent"}
    if not (bot.ok and floor.ok) or work.handled != expected or not delivered:
        print("FAIL: not every event was answered 200, handled once and answered", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
