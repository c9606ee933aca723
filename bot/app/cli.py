"""The `vmi-bot` command line: `vmi-bot [--config PATH] [--db URL] COMMAND [OPTIONS]`."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import NoReturn
from zoneinfo import ZoneInfo

from sqlalchemy.exc import SQLAlchemyError

from bot.adapters.console.chat import ConsoleChat, banner
from bot.app import bootstrap as runtime_module
from bot.app.demo import run_demo
from bot.config import ConfigError
from bot.runtime.clock import aware, clock_from, real_clock
from bot.runtime.context import Runtime
from bot.runtime.scheduler import SchedulerLeader
from bot.services.review import ReviewResult, review
from bot.services.status import status, status_text
from bot.settings import Settings, SettingsError
from bot.storage.db import transaction

log = logging.getLogger("vmi_bot")


class _Parser(argparse.ArgumentParser):
    """argparse, but a mistake on the command line is one line, with where to look for help."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser, with help text that says what each command does."""
    parser = _Parser(
        prog="vmi-bot",
        description=(
            "VMI (供应商管理库存) in the chat: keepers post counts, buyers post plans, the bot "
            "reviews stock against the agreed min and max and proposes replenishment."
        ),
    )
    parser.add_argument(
        "--config",
        metavar="PATH",
        help="configuration file (default: $VMI_CONFIG, else config/example.toml)",
    )
    parser.add_argument(
        "--db",
        metavar="URL",
        help="database URL (default: $DATABASE_URL, else SQLite file vmi-bot.sqlite here)",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    chat = commands.add_parser(
        "chat",
        help="console chat: type as a member, see the bot's replies (reads stdin)",
        description="Chat with the bot in the terminal or through a pipe. /as MEMBER switches "
        "who speaks; buttons print with a number, and typing the number presses it; "
        "/quit or end of input stops.",
    )
    chat.add_argument(
        "--as",
        dest="speaker",
        metavar="MEMBER",
        help="who speaks first: a member's console name (default: the first console member)",
    )
    chat.add_argument(
        "--now",
        metavar="ISO8601",
        type=_parse_now,
        help="start the chat's clock at this time, e.g. 2026-11-21T10:00:00+08:00, to try "
        "another day (scheduled jobs then stay off: they follow the real clock)",
    )

    serve_cmd = commands.add_parser(
        "serve",
        help="HTTP server for Slack (and the JSON status), the scheduler and delivery",
        description="Serve POST /slack/events, GET /healthz and GET /api/status, run the "
        "review scheduler and deliver the outbox. Slack is on when SLACK_BOT_TOKEN and "
        "SLACK_SIGNING_SECRET are set; Socket Mode too when SLACK_APP_TOKEN is set.",
    )
    serve_cmd.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve_cmd.add_argument("--port", type=int, default=8080, help="port to listen on")

    check = commands.add_parser(
        "check",
        help="run the review for every agreement once and print what it proposed",
        description="Review every item of every agreement now (or at --now) and print the "
        "proposals it made. Running it again proposes nothing new.",
    )
    check.add_argument(
        "--now",
        metavar="ISO8601",
        type=_parse_now,
        help="review as of this time, e.g. 2026-11-21T10:00:00+08:00 (a time without an "
        "offset is read in [bot].timezone)",
    )

    commands.add_parser(
        "demo",
        help="replay the seed's month (counts, proposal, confirmation, receipt, withdrawals, "
        "emergency, settlement) and print the conversation and the figures",
        description="Replay a month of bearing 6205 on a simulated clock, in a temporary "
        "database, through the same conversation the chat uses.",
    )

    status_cmd = commands.add_parser(
        "status",
        help="stock, positions, open proposals and plans per agreement and item",
        description="Show on hand, in transit, position, open proposals and demand plans.",
    )
    status_cmd.add_argument("--json", action="store_true", help="print the status as JSON")
    status_cmd.add_argument(
        "--now",
        metavar="ISO8601",
        type=_parse_now,
        help="the status as of this time (ages and due dates are counted to it)",
    )
    return parser


def _parse_now(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text.strip())
    except ValueError as err:
        raise argparse.ArgumentTypeError(
            f"not an ISO 8601 time: {text!r} (e.g. 2026-11-21T10:00:00+08:00)"
        ) from err


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; 0 on success, non-zero with a one-line reason on stderr otherwise."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    try:
        return _run(args, Settings.from_environment())  # the environment, read here only
    except SettingsError as err:
        for line in err.problems:  # one line per variable, like the configuration file's
            print(line, file=sys.stderr)
        return 2
    except BrokenPipeError:  # `vmi-bot demo | head`: the reader has had enough
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except ConfigError as err:
        for line in err.problems:  # the one exception: one line per problem in the file
            print(line, file=sys.stderr)
        return 2
    except SQLAlchemyError as err:
        print(f"vmi-bot: cannot use the database: {_first_line(err)}", file=sys.stderr)
        return 3
    except (ValueError, ImportError) as err:  # e.g. a malformed or unsupported --db URL
        print(f"vmi-bot: {_first_line(err)}", file=sys.stderr)
        return 2


def _first_line(err: Exception) -> str:
    return str(getattr(err, "orig", None) or err).strip().splitlines()[0]


def _run(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "demo":  # its own temporary database: it must not touch yours
        run_demo(sys.stdout, args.config, settings=settings)
        return 0
    runtime = runtime_module.start(args.config, args.db, settings)
    if args.command == "chat":
        return _chat(runtime, args.speaker, args.now)
    if args.command == "serve":
        from bot.app.server import serve

        logging.getLogger().setLevel(logging.INFO)
        return serve(runtime, args.host, args.port)
    if args.command == "check":
        return _check(runtime, args.now)
    if args.command == "status":
        return _status(runtime, args.json, args.now)
    return 1  # argparse has already refused anything else


def _chat(runtime: Runtime, speaker: str | None, now: datetime | None) -> int:
    consoles = [m.console for m in runtime.config.members if m.console]
    speaker = speaker or (consoles[0] if consoles else None)
    if speaker is None or speaker not in consoles:
        print(
            f"vmi-bot: no console member {speaker!r}; known: {', '.join(consoles)}", file=sys.stderr
        )
        return 2
    zone = ZoneInfo(runtime.config.bot.timezone)
    chat = ConsoleChat(runtime, speaker, clock=clock_from(now, zone))
    leader = SchedulerLeader(runtime)
    if now is None:
        leader.start()
    interactive = sys.stdin.isatty()
    try:
        if interactive:
            sys.stdout.write(banner(runtime, speaker))
            chat.deliver_in_background()
        chat.deliver()  # what came while nobody was here
        chat.run(_lines(interactive), echo=not interactive)  # piped: show who said what
    except KeyboardInterrupt:
        pass
    finally:
        chat.stop()
        leader.stop()
    return 0


def _lines(interactive: bool) -> Iterator[str]:
    while True:
        try:
            line = input("> ") if interactive else sys.stdin.readline()
        except EOFError:
            return
        if not interactive and line == "":
            return
        yield line


def _check(runtime: Runtime, now: datetime | None) -> int:
    config = runtime.config
    now = real_clock() if now is None else aware(now, ZoneInfo(config.bot.timezone))
    with transaction(runtime.engine) as session:
        results = review(session, config, now, platforms=runtime.settings.platforms_on)
    print(check_report(results, config.bot.locale))
    return 0


def check_report(results: list[ReviewResult], locale: str) -> str:
    """What `vmi-bot check` prints: the proposals made or resized, else that there were none."""
    zh = locale == "zh"
    lines = []
    for r in results:
        d, unit = r.decision, r.item.unit
        if d.action == "propose":
            why = (
                f"库存位置 {d.position} < 补货线 {r.item.min}"
                if d.reason == "below_min"
                else f"按计划约 {d.days_to_min:.1f} 天后低于补货线 {r.item.min}"
            )
            if not zh:
                why = (
                    f"position {d.position} < min {r.item.min}"
                    if d.reason == "below_min"
                    else f"by the plan below min {r.item.min} in {d.days_to_min:.1f} days"
                )
            head = "建议补货" if zh else "proposed"
            lines.append(
                f"{r.agreement_id} {r.item.sku}: {head} {r.proposal_id} {d.qty} {unit} ({why})"
            )
        elif d.action == "update":
            head = "补货建议已更新" if zh else "updated"
            change = f"{r.previous_qty} → {d.qty} {unit}"
            lines.append(f"{r.agreement_id} {r.item.sku}: {head} {r.proposal_id} {change}")
    if not lines:
        return "没有新的补货建议。" if zh else "Nothing new to propose."
    return "\n".join(lines)


def _status(runtime: Runtime, as_json: bool, now: datetime | None) -> int:
    zone = ZoneInfo(runtime.config.bot.timezone)
    with transaction(runtime.engine, read_only=True) as session:
        document = status(
            session, runtime.config, real_clock() if now is None else aware(now, zone)
        )
    if as_json:
        print(json.dumps(document, ensure_ascii=False, indent=2))
    else:
        print(status_text(document, runtime.config.bot.locale))
    return 0


if __name__ == "__main__":
    sys.exit(main())
