"""A morning's counts acknowledged, and nothing else: what `POST /slack/events` costs a count.

Run on demand (pytest does not collect it), from the repository root, with the project
installed in .venv:

    python tests/benchmarks/acknowledging.py --events 2000
    python tests/benchmarks/acknowledging.py --instructions

The bot's app (`vmi-bot serve`'s Flask app: the body bounded, the signature checked, the
payload read, the message stored in the inbox, 200) and the floor (bolt's do-nothing listener
behind Flask, as in tests/benchmarks/burst.py) each take `--events` signed `event_callback`
counts of `--agreements` agreements, called as WSGI apps in this one thread: no HTTP server,
no inbox worker, no delivery. It prints the CPU milliseconds per event of each and their ratio.
This is the part of the burst that the acknowledgement rate measures, apart from waitress and
from handling competing for the interpreter.

CPU time moves with the machine's speed. `--instructions` counts machine instructions instead,
under valgrind's cachegrind: the script runs itself for each app with `--events` and with a
fifth as many, and prints the difference per event, so the start is left out. The figure is
the same run after run: compare two versions of the code with it.
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # tests/ is not an installed package

from bot.app.bootstrap import start  # noqa: E402
from bot.app.server import build_service  # noqa: E402
from bot.settings import Settings  # noqa: E402
from tests.benchmarks import cachegrind  # noqa: E402
from tests.benchmarks.burst import agree_figures, config_text, count_event  # noqa: E402
from tests.benchmarks.slack_events import SECRET, TOKEN, floor_app, signed_headers  # noqa: E402
from tests.fake_slack import FakeSlack  # noqa: E402

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
APPS = ("bot", "floor")
WARMUP_EVENTS = 20


def environ(body: bytes) -> dict[str, Any]:
    """The WSGI environ waitress would hand the app for this signed POST /slack/events."""
    headers = signed_headers(body)
    return {
        "REQUEST_METHOD": "POST",
        "SCRIPT_NAME": "",
        "PATH_INFO": "/slack/events",
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8080",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "CONTENT_TYPE": headers["Content-Type"],
        "CONTENT_LENGTH": str(len(body)),
        "HTTP_X_SLACK_REQUEST_TIMESTAMP": headers["X-Slack-Request-Timestamp"],
        "HTTP_X_SLACK_SIGNATURE": headers["X-Slack-Signature"],
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }


def acknowledged_cpu_ms(which: str, agreements: int, events: int) -> float:
    """CPU milliseconds per event of `which` app (bot or floor) taking `events` counts."""
    with tempfile.TemporaryDirectory() as work, FakeSlack() as fake:
        bodies = [count_event(i, agreements, int(time.time()), "A") for i in range(events)]
        if which == "floor":
            app: WSGIApp = floor_app(fake).wsgi_app
        else:
            db = f"sqlite:///{work}/acknowledging.sqlite"
            config = Path(work) / "vmi.toml"
            config.write_text(config_text(agreements), encoding="utf-8")
            settings = Settings(slack_bot_token=TOKEN, slack_signing_secret=SECRET,
                                slack_api_base_url=fake.base_url)  # fmt: skip
            runtime = start(str(config), db, settings)
            agree_figures(db, agreements, 1)
            app = build_service(runtime).app.wsgi_app  # no worker started: nothing handles
        statuses: list[str] = []

        def start_response(status: str, headers: list[tuple[str, str]], *_: object) -> None:
            statuses.append(status)

        warm = [environ(count_event(i, agreements, 1, "W")) for i in range(WARMUP_EVENTS)]
        for each in warm:
            b"".join(app(each, start_response))
        requests = [environ(body) for body in bodies]
        began = time.process_time()
        for each in requests:
            b"".join(app(each, start_response))
        spent = time.process_time() - began
    refused = [s for s in statuses if not s.startswith("200")]
    if refused:
        raise SystemExit(f"{which}: {len(refused)} of {len(statuses)} answered {refused[0]}")
    return 1000 * spent / events


def instructions(args: argparse.Namespace, which: str, events: int) -> int:
    """Machine instructions of a run of this script for `which` with `events`, under
    cachegrind."""
    return cachegrind.instructions([__file__, "--only", which, "--events", str(events),
                                    "--agreements", str(args.agreements)])  # fmt: skip


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--agreements", type=int, default=500, help="agreements (500)")
    parser.add_argument("--events", type=int, default=2000, help="counts acknowledged (2000)")
    parser.add_argument("--only", choices=APPS, help="measure one app only")
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="count instructions per event under valgrind (the same figure every run)",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Print what acknowledging a count costs the bot and the floor."""
    args = parse_args(argv)
    apps = [args.only] if args.only else list(APPS)
    if args.instructions:
        if args.events < 2:  # the figure is a difference of two runs' counts
            raise SystemExit("--instructions needs --events 2 or more")
        few, many = args.events // 5 or 1, args.events
        per_event = {
            which: (instructions(args, which, many) - instructions(args, which, few)) / (many - few)
            for which in apps
        }
        unit, scale = "M instructions", 1e6
    else:
        per_event = {
            which: acknowledged_cpu_ms(which, args.agreements, args.events) for which in apps
        }
        unit, scale = "ms of CPU", 1.0
    for which in apps:
        print(f"{which:5}: {per_event[which] / scale:.3f} {unit} per event acknowledged "
              f"({args.events} events, {args.agreements} agreements)")  # fmt: skip
    if len(apps) == 2:
        print(f"bot / floor: {per_event['bot'] / per_event['floor']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
