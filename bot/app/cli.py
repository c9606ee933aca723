"""The `vmi-bot` command line: `vmi-bot [--config PATH] [--db URL] COMMAND [OPTIONS]`.

Only argparse is loaded up front; each command imports what it needs when it runs, so
`vmi-bot --help` answers at once and `status` never loads Slack, WeCom or alembic.
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import sys
from collections.abc import Iterator, Sequence
from datetime import datetime, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

if TYPE_CHECKING:
    from bot.config import AgreementConfig, Config
    from bot.runtime.context import Runtime
    from bot.services.review import ReviewResult

GLOBAL_OPTIONS = ("--config", "--db")
DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 8080
INIT_FILE = "vmi-bot.toml"


class _Parser(argparse.ArgumentParser):
    """argparse, but a mistake on the command line is one line, with where to look for help."""

    def error(self, message: str) -> NoReturn:
        misplaced = [o for o in GLOBAL_OPTIONS if f"unrecognized arguments: {o}" in message]
        if misplaced:  # `vmi-bot status --db X`: the global options come first
            message += (
                f" ({misplaced[0]} goes before the command: vmi-bot {misplaced[0]} … COMMAND)"
            )
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= port < 65536:  # 0: any free port (the server says which)
        raise argparse.ArgumentTypeError(f"port {port} is out of range (1-65535, or 0 for any)")
    return port


def _parse_now(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text.strip())
    except ValueError as err:
        raise argparse.ArgumentTypeError(
            f"not an ISO 8601 time: {text!r} (e.g. 2026-11-21T10:00:00+08:00)"
        ) from err


def _month(text: str) -> str:
    """A review month, YYYY-MM, checked before anything starts."""
    from vmi_rules.periods import parse_period  # pure and small: no start-up cost

    try:
        period = parse_period(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    if period.days < 28:
        raise argparse.ArgumentTypeError(f"{text!r} is a week: expected a month YYYY-MM")
    return period.label


def _days(text: str) -> int:
    """A simulation's length: whole days, 1 to 3650."""
    try:
        days = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of days: {text!r}") from None
    if not 1 <= days <= 3650:
        raise argparse.ArgumentTypeError(f"{days} days is out of range (1-3650)")
    return days


def _add_now(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument("--now", metavar="ISO8601", type=_parse_now, help=what)


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
        help="agreement file (default: $VMI_CONFIG, else config/example.toml, else the "
        "example shipped with vmi-bot)",
    )
    parser.add_argument(
        "--db",
        metavar="URL",
        help="database URL, e.g. sqlite:///path/file.sqlite or postgresql://user:pass@host/db "
        "(default: $DATABASE_URL, else SQLite file vmi-bot.sqlite here)",
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
    _add_now(
        chat,
        "start the chat's clock at this time, e.g. 2026-11-21T10:00:00+08:00, to try another "
        "day (scheduled jobs then stay off: they follow the real clock)",
    )

    serve_cmd = commands.add_parser(
        "serve",
        help="HTTP server for Slack, WeCom and Feishu (and the JSON status), scheduler, delivery",
        description="Serve POST /slack/events, GET and POST /wecom/callback, POST /feishu/events, "
        "Feishu's long connection, GET /healthz and "
        "GET /api/status (with VMI_API_TOKEN set); run the review scheduler and deliver the "
        "outbox. Slack is on when SLACK_BOT_TOKEN is set with SLACK_SIGNING_SECRET (HTTP) or "
        "SLACK_APP_TOKEN (Socket Mode); WeCom when WECOM_CORP_ID, WECOM_CORP_SECRET and "
        "WECOM_AGENT_ID are set, and it hears messages when WECOM_TOKEN and "
        "WECOM_ENCODING_AES_KEY are set too; Feishu when FEISHU_APP_ID and FEISHU_APP_SECRET "
        "are set (the long connection, or FEISHU_MODE=http with FEISHU_VERIFICATION_TOKEN); "
        "DingTalk when DINGTALK_CLIENT_ID and DINGTALK_CLIENT_SECRET are set (Stream mode: no "
        "public URL needed).",
    )
    serve_cmd.add_argument(
        "--host", default=DEFAULT_HOST, help=f"address to listen on (default {DEFAULT_HOST})"
    )
    serve_cmd.add_argument(
        "--port",
        type=_port,
        default=DEFAULT_PORT,
        help=f"port to listen on (default {DEFAULT_PORT})",
    )

    check = commands.add_parser(
        "check",
        help="run the review for every agreement once and print what it proposed",
        description="Review every item of every agreement now (or at --now) and print the "
        "proposals it made. Running it again proposes nothing new.",
    )
    _add_now(
        check,
        "review as of this time, e.g. 2026-11-21T10:00:00+08:00 (a time without an offset is "
        "read in [bot].timezone)",
    )

    commands.add_parser(
        "demo",
        help="replay the seed's month (counts, proposal, confirmation, receipt, withdrawals, "
        "emergency, settlement) and print the conversation and the figures",
        description="Replay a month of bearing 6205 on a simulated clock, in a temporary "
        "database, through the same conversation the chat uses. Works in an empty folder.",
    )

    status_cmd = commands.add_parser(
        "status",
        help="stock, positions, open proposals and plans per agreement and item",
        description="Show on hand, in transit, position, open proposals and demand plans.",
    )
    status_cmd.add_argument("--json", action="store_true", help="print the status as JSON")
    status_cmd.add_argument("--agreement", metavar="ID", help="only this agreement")
    _add_now(status_cmd, "the status as of this time (ages and due dates are counted to it)")

    settle_cmd = commands.add_parser(
        "settle",
        help="draft the settlement statement for the period since the last cutoff",
        description="Draft each agreement's statement (S1, S2, …) for the period that closed at "
        "its latest cutoff, print it and post it to the agreement's group with the buttons to "
        "confirm it for each side or dispute it. Running it again gives the same statement and "
        "posts nothing, unless it was disputed or its figures changed: then it is re-issued as "
        "the next revision. A locked statement is printed as it is.",
    )
    settle_cmd.add_argument("--agreement", metavar="ID", help="only this agreement")
    settle_cmd.add_argument(
        "--json", action="store_true",
        help="print the statement as JSON (a list when there are several agreements)",
    )  # fmt: skip
    _add_now(settle_cmd, "as of this time: the period that closed at the cutoff before it")
    retro_cmd = commands.add_parser(
        "retro",
        help="the monthly review (复盘), with suggested min/max and a chart",
        description="Review a month item by item: withdrawals against the plan (WMAPE, bias), "
        "stock-out days, fill rate, replenishment in time or late, emergencies, aged units, "
        "average stock and its value, turns, days of cover, and the suggested min/max. The "
        "month is the settlement period closing in it (with settlement on the 25th, 2026-11 "
        "is 10-25 to 11-24). Records nothing.",
    )
    retro_cmd.add_argument(
        "--month",
        required=True,
        type=_month,
        metavar="YYYY-MM",
        help="the month to review, e.g. 2026-11",
    )
    retro_cmd.add_argument("--agreement", metavar="ID", help="only this agreement")
    retro_cmd.add_argument("--json", action="store_true", help="print the review as JSON")
    retro_cmd.add_argument(
        "--chart",
        metavar="PATH",
        help="also write a PNG of daily on hand against min and max (with several agreements, "
        "one file each, named PATH-ID.png)",
    )
    _add_now(retro_cmd, "review as of this time (a month still running is reviewed to date)")

    export_cmd = commands.add_parser(
        "export",
        help="the shared sheet as an Excel workbook",
        description="Write the agreement's shared sheet as an .xlsx workbook: stock (on hand, "
        "in transit, position, min, max, days of cover, last count), the ledger, the proposals "
        "with their steps, the plans and the statements. Records nothing.",
    )
    export_cmd.add_argument("--agreement", metavar="ID", help="the agreement (default: the first)")
    export_cmd.add_argument(
        "--out", metavar="FILE.xlsx", help="where to write it (default: vmi-ID[-MONTH].xlsx here)"
    )
    export_cmd.add_argument("--month", type=_month, metavar="YYYY-MM",
                            help="only the ledger's movements of this month")  # fmt: skip
    _add_now(export_cmd, "the sheet as of this time")

    import_cmd = commands.add_parser(
        "import",
        help="counts and plans from an .xlsx or .csv a keeper or buyer keeps",
        description="Read counts and plans from a sheet (the header row is found by its words: "
        "物料编码/sku, 库存/数量/qty, 计划/需求 with a period), show per row what will be "
        "recorded and what is refused and why, and record it as MEMBER, in one go. The same "
        "file twice records once.",
    )
    import_cmd.add_argument("file", metavar="FILE", help="an .xlsx or .csv file")
    import_cmd.add_argument("--as", dest="member", required=True, metavar="MEMBER",
                            help="who it is from: a member's id or console name")  # fmt: skip
    import_cmd.add_argument("--dry-run", action="store_true",
                            help="only show what would be recorded; record nothing")  # fmt: skip
    _add_now(import_cmd, "record it as said at this time")

    simulate_cmd = commands.add_parser(
        "simulate",
        help="traditional ordering vs VMI as the bot runs it vs VMI with suggested min/max",
        description="Simulate an agreement's items day by day under three policies side by "
        "side: the customer ordering on its own (a fixed monthly quantity, its own safety "
        "stock, emergency shipments), VMI as the bot runs it (its review, look-ahead and "
        "emergency top-ups) and VMI with the suggested min/max; print the figures, VMI - "
        "traditional in %% and the seed's claims. Records nothing.",
    )
    simulate_cmd.add_argument(
        "--agreement", metavar="ID", help="the agreement (default: the first)"
    )
    simulate_cmd.add_argument("--days", type=_days, default=365, metavar="N",
                              help="how many days (default 365)")  # fmt: skip
    simulate_cmd.add_argument("--seed", type=int, default=0, metavar="N",
                              help="the random seed; the same seed, the same figures (default 0)",
                              )  # fmt: skip
    simulate_cmd.add_argument(
        "--demand",
        default="smooth",
        choices=("smooth", "erratic", "seasonal", "intermittent", "lumpy", "history"),
        metavar="KIND",
        help="smooth | erratic | seasonal | intermittent | lumpy (generated, with urgent "
        "changes like 90 -> 120) | history (the agreement's own withdrawals of the last 90 "
        "days, resampled to the length asked); default smooth",
    )
    simulate_cmd.add_argument("--json", action="store_true", help="print the figures as JSON")
    simulate_cmd.add_argument("--chart", metavar="PATH",
                              help="also write a PNG of stock over the days under each policy",
                              )  # fmt: skip
    _add_now(simulate_cmd, "read the history up to this time")

    init = commands.add_parser(
        "init",
        help="write a commented agreement file to start from",
        description="Write the example agreement (bearing 6205, commented in Chinese and "
        "English) to PATH, to edit into your own. An existing file is never overwritten.",
    )
    init.add_argument("path", nargs="?", default=INIT_FILE, metavar="PATH",
                      help=f"where to write it (default {INIT_FILE})")  # fmt: skip
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; 0 on success, non-zero with a one-line reason on stderr otherwise."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    # Starting up builds many long-lived objects (tables, models, templates) and no cycles
    # worth collecting: collecting during it costs ~10 % of `status`. `_started()` turns the
    # collector back on, with the start-up objects frozen out of its way.
    gc.disable()
    try:
        return _run(args)
    except BrokenPipeError:  # `vmi-bot demo | head`: the reader has had enough
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as err:
        return _explain(err)
    finally:
        gc.enable()  # for callers that go on after `main` returns, such as tests


def _explain(err: Exception) -> int:
    """The one line (or one line per problem in the file) a failed start gets; else raise."""
    from sqlalchemy.exc import SQLAlchemyError

    from bot.app.bootstrap import StartRefused
    from bot.config import ConfigError
    from bot.settings import SettingsError

    if isinstance(err, ConfigError | SettingsError):  # one line per problem in the file or env
        for line in err.problems:
            print(line, file=sys.stderr)
        return 2
    if isinstance(err, StartRefused):
        print(f"vmi-bot: {err}", file=sys.stderr)
        return 2
    if isinstance(err, SQLAlchemyError):
        print(f"vmi-bot: cannot use the database: {_first_line(err)}", file=sys.stderr)
        return 3
    raise err


def _first_line(err: Exception) -> str:
    return str(getattr(err, "orig", None) or err).strip().splitlines()[0]


def _note(line: str) -> None:
    print(line, file=sys.stderr)


def _run(args: argparse.Namespace) -> int:
    if args.command == "init":
        return _init(Path(args.path))
    from bot.settings import Settings

    settings = Settings.from_environment()  # the environment, read here only
    if args.command == "demo":  # its own temporary database: it must not touch yours
        from bot.app.demo import run_demo

        _started()
        run_demo(sys.stdout, args.config, settings=settings)
        return 0
    from bot.app.bootstrap import start

    runtime = start(args.config, args.db, settings, say=_note)
    _started()
    if args.command == "chat":
        return _chat(runtime, args.speaker, args.now)
    if args.command == "serve":
        from bot.app.server import serve

        logging.getLogger().setLevel(logging.INFO)
        return serve(runtime, args.host, args.port)
    if args.command == "check":
        return _check(runtime, args.now)
    if args.command == "settle":
        return _settle(runtime, args.agreement, args.now, args.json)
    if args.command == "retro":
        return _retro(runtime, args)
    if args.command == "export":
        return _export(runtime, args)
    if args.command == "simulate":
        return _simulate(runtime, args)
    if args.command == "import":
        from bot.app.sheet_import import import_file

        return import_file(runtime, args)
    return _status(runtime, args.json, args.now, args.agreement)  # argparse refused the rest


def _started() -> None:
    """The collector back on for the command's own work; start-up objects stay out of it."""
    gc.freeze()
    gc.enable()


def _init(path: Path) -> int:
    from bot.config.locate import shipped_example

    if path.exists():
        print(f"vmi-bot: {path} exists already; choose another PATH", file=sys.stderr)
        return 2
    try:
        path.write_text(shipped_example().read_text(encoding="utf-8"), encoding="utf-8")
    except OSError as err:
        print(f"vmi-bot: cannot write {path}: {err.strerror or err}", file=sys.stderr)
        return 2
    print(f"wrote {path}: edit the parties, members and items, then: vmi-bot --config {path} chat")
    return 0


def _zone(runtime: Runtime) -> tzinfo:
    from zoneinfo import ZoneInfo

    return ZoneInfo(runtime.config.bot.timezone)


def _chat(runtime: Runtime, speaker: str | None, now: datetime | None) -> int:
    from bot.adapters.console.chat import ConsoleChat, banner
    from bot.runtime.clock import clock_from
    from bot.runtime.scheduler import SchedulerLeader

    consoles = [m.console for m in runtime.config.members if m.console]
    speaker = speaker or (consoles[0] if consoles else None)
    if speaker is None or speaker not in consoles:
        print(
            f"vmi-bot: no console member {speaker!r}; known: {', '.join(consoles)}", file=sys.stderr
        )
        return 2
    chat = ConsoleChat(runtime, speaker, clock=clock_from(now, _zone(runtime)))
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
    """The person's messages: a piped line each; in a terminal, a paste of lines as one."""
    if not interactive:
        yield from iter(sys.stdin.readline, "")
        return
    from bot.adapters.console.chat import pasted_together

    prompt = {"next": "> "}  # the prompt before a message, not before each line of a paste

    def read_line() -> str | None:
        shown, prompt["next"] = prompt["next"], ""
        try:
            return input(shown)
        except EOFError:
            return None

    for message in pasted_together(read_line, _more_waiting):
        yield message
        prompt["next"] = "> "


def _more_waiting() -> bool:
    """Whether another line is already waiting on the terminal (a paste), within 30 ms: a
    terminal hands over one line per read, so the rest of a paste is still waiting."""
    import select

    try:
        return bool(select.select([sys.stdin], [], [], 0.03)[0])
    except (OSError, ValueError):  # no select on this console (Windows): a line per message
        return False


def _check(runtime: Runtime, now: datetime | None) -> int:
    from bot.runtime.clock import aware, real_clock
    from bot.services.overstock import check_overstock
    from bot.services.review import review
    from bot.storage.db import transaction

    at = real_clock() if now is None else aware(now, _zone(runtime))
    platforms = runtime.settings.platforms_on
    with transaction(runtime.engine) as session:
        results = review(session, runtime.config, at, platforms=platforms)
        raised = check_overstock(session, runtime.config, at, platforms=platforms)
    print(check_report(results, runtime.config.bot.locale))
    zh = runtime.config.bot.locale == "zh"
    for alert in raised:  # the overstock alerts the same run raised (DESIGN rule 9)
        again = alert.due == "again"
        if zh:
            print(f"{'再次提醒' if again else '积压提醒'} {alert.alert_id}：{alert.sku}")
        else:
            print(f"overstock {'reminder' if again else 'alert'} {alert.alert_id}: {alert.sku}")
    return 0


def check_report(results: list[ReviewResult], locale: str) -> str:
    """What `vmi-bot check` prints: the proposals made or resized, else that there were none."""
    from messages.words import unit_word

    zh = locale == "zh"
    lines = []
    for r in results:
        d, unit = r.decision, unit_word(r.item.unit, locale)
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


def _settle(runtime: Runtime, agreement_id: str | None, now: datetime | None, as_json: bool) -> int:
    from bot.runtime.clock import aware, real_clock
    from bot.services.settlement import post_statements
    from bot.services.statement_card import statement_card, statement_document
    from bot.storage.db import transaction

    config = runtime.config
    if _chosen(config, agreement_id) is None:
        return 2
    at = real_clock() if now is None else aware(now, _zone(runtime))
    ids = [agreement_id] if agreement_id else None
    documents, texts = [], []
    with transaction(runtime.engine) as session:
        for issued in post_statements(
            session, config, at, agreement_ids=ids, platforms=runtime.settings.platforms_on
        ):
            agreement = config.agreement(issued.row.agreement_id)
            assert agreement is not None
            documents.append(statement_document(session, agreement, issued.row))
            texts.append(
                statement_card(session, agreement, issued.row, config.bot.locale).as_text()
            )
    if as_json:
        shown: object = documents[0] if len(documents) == 1 else documents
        print(json.dumps(shown, ensure_ascii=False, indent=2))
    else:
        print("\n\n".join(texts))
    return 0


def _retro(runtime: Runtime, args: argparse.Namespace) -> int:
    from bot.runtime.clock import aware, real_clock
    from bot.services.retro import retro, retro_card
    from bot.services.terms import effective_agreement
    from bot.storage.db import transaction

    config = runtime.config
    chosen = _chosen(config, args.agreement)
    if chosen is None:
        return 2
    agreements = list(chosen)
    at = real_clock() if args.now is None else aware(args.now, _zone(runtime))
    try:
        with transaction(runtime.engine, read_only=True) as session:
            agreements = [effective_agreement(config, session, a) for a in agreements]
            reviews = [(a, retro(session, a, args.month, at)) for a in agreements]
    except ValueError as err:
        print(f"vmi-bot: --month {args.month}: {err}", file=sys.stderr)
        return 2
    if args.chart:
        from bot.services.chart import review_chart

        path = Path(args.chart)
        for agreement, done in reviews:
            target = (
                path if len(reviews) == 1 else path.with_name(f"{path.stem}-{agreement.id}.png")
            )
            target.write_bytes(review_chart(done, config.bot.locale))
            print(f"chart: {target}", file=sys.stderr)
    if args.json:
        print(json.dumps({"agreements": [d.as_json() for _, d in reviews]}, ensure_ascii=False,
                         indent=2))  # fmt: skip
    else:
        for agreement, done in reviews:
            print(retro_card(done, agreement, config.bot.locale).as_text())
    return 0


def _export(runtime: Runtime, args: argparse.Namespace) -> int:
    from bot.runtime.clock import aware, real_clock
    from bot.services.workbook import sheet_name, workbook
    from bot.storage.db import transaction

    config = runtime.config
    chosen = _chosen(config, args.agreement)
    if chosen is None:
        return 2
    agreement = chosen[0]  # the one named, else the first
    at = real_clock() if args.now is None else aware(args.now, _zone(runtime))
    with transaction(runtime.engine, read_only=True) as session:
        data = workbook(session, config, agreement, at, config.bot.locale, args.month)
    path = Path(args.out or sheet_name(agreement, args.month))
    try:
        path.write_bytes(data)
    except OSError as err:
        print(f"vmi-bot: cannot write {path}: {err.strerror or err}", file=sys.stderr)
        return 2
    print(path)
    return 0


def _simulate(runtime: Runtime, args: argparse.Namespace) -> int:
    from bot.runtime.clock import aware, real_clock
    from bot.services.simulate import NoHistory, run_simulation
    from bot.services.simulate_report import simulation_table
    from bot.services.terms import effective_agreement
    from bot.storage.db import transaction

    config = runtime.config
    chosen = _chosen(config, args.agreement)
    if chosen is None:
        return 2
    agreement = chosen[0]  # the one named, else the first
    at = real_clock() if args.now is None else aware(args.now, _zone(runtime))
    try:
        with transaction(runtime.engine, read_only=True) as session:
            agreement = effective_agreement(config, session, agreement)
            run = run_simulation(session, agreement, at, days=args.days, seed=args.seed,
                                 demand=args.demand)  # fmt: skip
    except NoHistory as err:
        print(f"vmi-bot: --demand history: {err}; try --demand smooth", file=sys.stderr)
        return 2
    if args.chart:
        from bot.services.simulate_chart import simulation_chart

        Path(args.chart).write_bytes(simulation_chart(run, config.bot.locale))
        print(f"chart: {args.chart}", file=sys.stderr)
    if args.json:
        print(json.dumps(run.as_json(), ensure_ascii=False, indent=2, sort_keys=True))
    else:
        print(simulation_table(run, config.bot.locale))
    return 0


def _status(
    runtime: Runtime, as_json: bool, now: datetime | None, agreement_id: str | None = None
) -> int:
    from bot.runtime.clock import aware, real_clock
    from bot.services.status import status, status_text
    from bot.storage.db import transaction

    if _chosen(runtime.config, agreement_id) is None:
        return 2
    at = real_clock() if now is None else aware(now, _zone(runtime))
    ids = None if agreement_id is None else [agreement_id]
    with transaction(runtime.engine, read_only=True) as session:
        document = status(session, runtime.config, at, ids)
    if as_json:
        print(json.dumps(document, ensure_ascii=False, indent=2))
    else:
        print(status_text(document, runtime.config.bot.locale))
    return 0


def _chosen(config: Config, wanted: str | None) -> tuple[AgreementConfig, ...] | None:
    """The agreements `--agreement` chooses: the one it names, or all of them when it names
    none; None, after saying which there are, when the file has no such agreement."""
    if wanted is None:
        return config.agreements
    agreement = config.agreement(wanted)
    if agreement is None:
        known = ", ".join(a.id for a in config.agreements)
        print(f"vmi-bot: no agreement {wanted!r}; known: {known}", file=sys.stderr)
        return None
    return (agreement,)


if __name__ == "__main__":
    sys.exit(main())
