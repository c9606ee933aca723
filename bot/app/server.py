"""`vmi-bot serve`: one web app (Flask on waitress) for Slack's HTTP requests, the health check
and the JSON status, with the review scheduler and the delivery worker in the same process."""

from __future__ import annotations

import gc
import hmac
import logging
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from flask import Flask, Response, jsonify, request
from waitress.server import BaseWSGIServer, MultiSocketServer, create_server

from bot.app.bootstrap import StartRefused
from bot.app.limits import SERVER_BODY_LIMIT, BodyLimit
from bot.runtime.context import Runtime
from bot.runtime.delivery import DeliveryWorker, Sender
from bot.runtime.inbox_worker import InboxWorker
from bot.runtime.scheduler import SchedulerLeader
from bot.services.sheet import agreement_sheet, overview
from bot.services.sheet_links import Grant, SheetLinks, sheet_links
from bot.services.status import status
from bot.settings import DINGTALK, FEISHU, SLACK, WECOM, WECOM_ROBOT, secret
from bot.storage.db import StoreUnavailable, check_writable, transaction
from messages.pages import forbidden_page, overview_page, sheet_page

log = logging.getLogger(__name__)


@dataclass
class Service:
    """Everything `serve` runs: the web app and the background parts beside it."""

    app: Flask
    inbox: InboxWorker
    delivery: DeliveryWorker
    leader: SchedulerLeader
    slack_app: Any = None
    socket_mode: Any = None
    long_connections: list[Any] = field(default_factory=list)  # Feishu's, WeCom robot's
    platforms: frozenset[str] = frozenset()
    dingtalk_stream: Any = None  # DingTalk's Stream connection, held while this process leads
    smartsheet: Any = None  # the WeCom smart sheet mirror, when an agreement asks for it
    _stopped: threading.Event = field(default_factory=threading.Event)

    def start_background(self) -> None:
        """Start the scheduler and the inbox (when this process leads), delivery, and Socket
        Mode if set."""
        self.leader.start()
        self.delivery.start()
        self.inbox.start()
        if self.socket_mode is not None:
            self.socket_mode.connect()
        if self.dingtalk_stream is not None:
            self.dingtalk_stream.start()
        for connection in self.long_connections:
            connection.start()
        if self.smartsheet is not None:
            self.smartsheet.start()

    def stop_background(self) -> None:
        """Stop them; undelivered messages stay in the outbox for the next start."""
        if self._stopped.is_set():
            return
        self._stopped.set()
        if self.socket_mode is not None:
            self.socket_mode.close()
        if self.dingtalk_stream is not None:
            self.dingtalk_stream.stop()
        for connection in self.long_connections:
            connection.stop()
        self.inbox.stop()  # what was accepted is handled before the process ends
        self.leader.stop()
        self.delivery.stop()
        if self.smartsheet is not None:
            self.smartsheet.stop()


def build_service(runtime: Runtime) -> Service:
    """The app and its background parts, from the runtime's settings (tokens, endpoints)."""
    settings = runtime.settings
    platforms = settings.platforms_on
    senders: dict[str, Sender] = {}
    app = Flask("vmi-bot")
    # bodies are bounded before Flask, Bolt or wechatpy parse them (limits.py: the sizes, why)
    app.wsgi_app = BodyLimit(app.wsgi_app)  # type: ignore[method-assign]
    delivery = DeliveryWorker(runtime.engine, senders)
    leader = SchedulerLeader(runtime)
    # On PostgreSQL every process accepts and handles messages: a chat's next message is locked
    # by the process handling it (bot.storage.inbox.heads), so a chat's order holds.
    handled: list[Callable[[], None]] = [delivery.wake]  # who hears that a message was handled

    def on_handled() -> None:
        for wake in handled:
            wake()

    inbox = InboxWorker(
        runtime.engine,
        runtime.config,
        platforms,
        on_handled=on_handled,
        links=sheet_links(settings),
    )
    socket_mode = slack = smartsheet = None
    long_connections: list[Any] = []

    if SLACK in platforms:
        from bot.adapters.slack.app import build_slack_app
        from bot.adapters.slack.http import slack_events_endpoint
        from bot.adapters.slack.sender import SlackSender, slack_client

        client = slack_client(secret(settings.slack_bot_token), settings.slack_api_base_url)
        senders[SLACK] = SlackSender(client)
        signing_secret = secret(settings.slack_signing_secret)
        slack = build_slack_app(runtime, client, signing_secret, inbox.wake)
        if signing_secret:  # HTTP needs it; Socket Mode alone does not
            # the signature is checked on the raw body before bolt parses or logs anything
            slack_endpoint = slack_events_endpoint(slack, signing_secret)

            @app.post("/slack/events")
            def slack_events() -> Response:
                return slack_endpoint(request)

        if settings.slack_app_token:  # no public URL: Slack's envelopes over a websocket
            from bot.adapters.slack.socket_mode import SlackSocketMode

            socket_mode = SlackSocketMode(slack, secret(settings.slack_app_token))
    if WECOM in platforms:
        from wechatpy.enterprise.crypto import WeChatCrypto

        from bot.adapters.wecom.app import register_wecom
        from bot.adapters.wecom.client import WeComClient, api_root
        from bot.adapters.wecom.media import download
        from bot.adapters.wecom.sender import WeComSender

        corp_id = settings.wecom_corp_id or ""
        root = api_root(settings.wecom_api_base_url)
        wecom = WeComClient(corp_id, secret(settings.wecom_corp_secret), root)
        senders[WECOM] = WeComSender(wecom, settings.wecom_agent_id or 0, runtime.config)
        smartsheet = _smartsheet(runtime, wecom)
        if smartsheet is not None:
            handled.append(smartsheet.wake)
        if settings.wecom_callback_on:
            crypto = WeChatCrypto(
                secret(settings.wecom_token), secret(settings.wecom_encoding_aes_key), corp_id
            )
            register_wecom(app, runtime, crypto, inbox.wake,
                           fetch_media=lambda media_id: download(wecom, media_id))  # fmt: skip
        else:
            log.warning(
                "WeCom callback off: set WECOM_TOKEN and WECOM_ENCODING_AES_KEY to receive messages"
            )
    dingtalk_stream = None
    if DINGTALK in platforms:
        from bot.adapters.dingtalk.clicks import TOPIC as CARD_TOPIC
        from bot.adapters.dingtalk.clicks import CardClicks
        from bot.adapters.dingtalk.client import DingTalkApi, api_root
        from bot.adapters.dingtalk.sender import DEFAULT_OAPI, DingTalkSender
        from bot.adapters.dingtalk.stream import DingTalkStream, RobotMessages, StreamClient

        client_id = settings.dingtalk_client_id or ""
        client_secret = secret(settings.dingtalk_client_secret)
        root = api_root(settings.dingtalk_api_base_url)
        api = DingTalkApi(client_id, client_secret, root)
        # a private deployment (or a test) serves the older API's media upload under its root
        oapi = root if settings.dingtalk_api_base_url else DEFAULT_OAPI
        robot_code = settings.dingtalk_robot_code or client_id
        template = settings.dingtalk_card_template_id or ""  # unset: ActionCards
        senders[DINGTALK] = DingTalkSender(api, robot_code, runtime.config, oapi,
                                           card_template_id=template)  # fmt: skip
        stream_client = StreamClient(client_id, client_secret, root)
        stream_client.register_callback_handler(
            "/v1.0/im/bot/messages/get", RobotMessages(runtime, inbox.wake)
        )
        # clicks on interactive cards (those sent before the template was unset too)
        stream_client.register_callback_handler(CARD_TOPIC, CardClicks(runtime, inbox.wake))
        # one connection for all processes: DingTalk hands each message to one of them anyway
        dingtalk_stream = DingTalkStream(stream_client, lambda: leader.leading)
    if FEISHU in platforms:
        long_connections.extend(_feishu(app, runtime, senders, inbox.wake, leader))
    if WECOM_ROBOT in platforms:
        long_connections.append(_wecom_robot(runtime, senders, inbox.wake, leader))
    _warn_about_chats_of_platforms_off(runtime, platforms)

    @app.get("/healthz")
    def healthz() -> tuple[Response, int]:
        try:  # a real write: a database that answers reads may still lose every message
            check_writable(runtime.engine, datetime.now(UTC))
        except StoreUnavailable as err:
            log.warning("health check: %s", err)
            return jsonify({"status": "error", "reason": err.reason}), 503
        except Exception as err:  # any other database failure means not healthy either
            log.warning("health check: database did not answer: %s", err.__class__.__name__)
            return jsonify({"status": "error", "reason": "database"}), 503
        return jsonify({"status": "ok"}), 200

    @app.errorhandler(StoreUnavailable)
    def unavailable(err: StoreUnavailable) -> tuple[Response, int, dict[str, str]]:
        # not stored, so not acknowledged: the platform tries again later
        log.error("refused a request: %s", err)
        return jsonify({"status": "error", "reason": err.reason}), 503, {"Retry-After": "30"}

    api_token = secret(settings.vmi_api_token)

    @app.get("/api/status")
    def api_status() -> tuple[Response, int]:
        if not api_token:
            return jsonify({"error": "not found"}), 404
        given = request.headers.get("Authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {api_token}".encode()):
            return jsonify({"error": "unauthorized"}), 401
        # ?agreement=ID: that agreement alone, reading none of the others' rows
        only = request.args.get("agreement")
        if only is not None and runtime.config.agreement(only) is None:
            return jsonify({"error": "unknown agreement"}), 404
        with transaction(runtime.engine, read_only=True) as session:
            ids = None if only is None else [only]
            document = status(session, runtime.config, datetime.now(UTC), ids)
        return jsonify(document), 200

    _register_sheet(app, runtime, sheet_links(settings))
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    return Service(
        app, inbox, delivery, leader, slack, socket_mode, long_connections, platforms,
        dingtalk_stream, smartsheet,
    )  # fmt: skip


def _smartsheet(runtime: Runtime, client: Any) -> Any:
    """The smart sheet mirror, when an agreement sets `wecom_smartsheet = true`."""
    if not any(a.wecom_smartsheet for a in runtime.config.agreements):
        return None
    from bot.adapters.wecom.smartsheet import WeComSmartSheet
    from bot.runtime.smartsheet_mirror import SmartSheetMirror

    return SmartSheetMirror(
        runtime.engine, runtime.config, WeComSmartSheet(client), clock=runtime.clock
    )


def _feishu(
    app: Flask,
    runtime: Runtime,
    senders: dict[str, Sender],
    on_accepted: Callable[[], None],
    leader: SchedulerLeader,
) -> list[Any]:
    """Feishu's sender, and its way in: the long connection (the default), or the HTTP
    callback `POST /feishu/events` (`FEISHU_MODE=http`, with the verification token)."""
    from bot.adapters.feishu.events import build_dispatcher
    from bot.adapters.feishu.sender import DEFAULT_API, FeishuSender, feishu_client

    settings = runtime.settings
    app_id, app_secret = settings.feishu_app_id or "", secret(settings.feishu_app_secret)
    senders[FEISHU] = FeishuSender(feishu_client(app_id, app_secret, settings.feishu_api_base_url))
    encrypt_key = secret(settings.feishu_encrypt_key)
    token = secret(settings.feishu_verification_token)
    dispatcher = build_dispatcher(runtime, encrypt_key, token, on_accepted)
    if settings.feishu_long_connection:
        from bot.adapters.feishu.long_connection import FeishuLongConnection

        domain = (settings.feishu_api_base_url or DEFAULT_API).rstrip("/")
        return [
            FeishuLongConnection(
                app_id,
                app_secret,
                dispatcher,
                domain,
                leading=leader.wait_until_leading,
                still_leading=lambda: leader.leading,  # stepped down: the new leader connects
            )
        ]
    if not token:
        log.warning(
            "Feishu callback off: set FEISHU_VERIFICATION_TOKEN (and FEISHU_ENCRYPT_KEY) to "
            "receive events at POST /feishu/events, or leave FEISHU_MODE unset for the long "
            "connection"
        )
        return []
    from bot.adapters.feishu.http import feishu_events_endpoint

    endpoint = feishu_events_endpoint(dispatcher, encrypt_key, token)

    @app.post("/feishu/events")
    def feishu_events() -> Response:
        return endpoint(request)

    return []


def _wecom_robot(
    runtime: Runtime,
    senders: dict[str, Sender],
    on_accepted: Callable[[], None],
    leader: SchedulerLeader,
) -> Any:
    """The WeCom intelligent robot's long connection, held while this process leads (WeCom
    keeps one per robot: a second would kick the first), and its sender through it."""
    from bot.adapters.wecom_robot.callbacks import RobotCallbacks
    from bot.adapters.wecom_robot.connection import RobotConnection
    from bot.adapters.wecom_robot.sender import WeComRobotSender

    settings = runtime.settings
    connection = RobotConnection(
        settings.wecom_bot_id or "",
        secret(settings.wecom_bot_secret),
        settings.wecom_bot_ws_url,
        RobotCallbacks(runtime, on_accepted),
        lambda: leader.leading,
    )
    senders[WECOM_ROBOT] = WeComRobotSender(connection)
    return connection


# The sheet is read-only and its key is in the address: keep it out of caches, frames and
# the Referer header of any link followed from it; the page runs no script at all.
_PAGE_HEADERS = {
    "Content-Type": "text/html; charset=utf-8",
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'",
}


def _register_sheet(app: Flask, runtime: Runtime, links: SheetLinks | None) -> None:
    """`GET /sheet/<agreement>` and `GET /sheet/overview`, each behind a signed link; 403 and
    nothing of the sheet for a wrong, expired, tampered or foreign one (or when not set up)."""
    config = runtime.config

    def forbidden() -> tuple[str, int, dict[str, str]]:
        return forbidden_page(config.bot.locale), 403, _PAGE_HEADERS

    def granted(agreement_id: str | None) -> tuple[Grant, str] | None:
        key = request.args.get("key", "")
        if links is None or not key:
            return None
        grant = links.grant(key, config, runtime.clock())
        if grant is None or not grant.agreement_ids:
            return None
        if agreement_id is not None and agreement_id not in grant.agreement_ids:
            return None
        member = config.member(grant.member_id)
        return grant, (member.locale if member and member.locale else config.bot.locale)

    @app.get("/sheet/overview")
    def sheet_overview() -> tuple[str, int, dict[str, str]]:
        found = granted(None)
        if found is None or links is None:
            return forbidden()
        grant, locale = found
        key = request.args["key"]
        now = runtime.clock()
        with transaction(runtime.engine, read_only=True) as session:
            lines = overview(session, config, grant.agreement_ids, now)
        for line in lines:
            line["url"] = links.sheet_url(line["agreement"], key)
        first = config.agreement(grant.agreement_ids[0])  # granted ids are the config's own
        zone = first.tz if first is not None else UTC
        as_of = now.astimezone(zone).strftime("%Y-%m-%d %H:%M")
        return overview_page(lines, locale, as_of), 200, _PAGE_HEADERS

    @app.get("/sheet/<agreement_id>")
    def sheet(agreement_id: str) -> tuple[str, int, dict[str, str]]:
        found = granted(agreement_id)
        if found is None or links is None:
            return forbidden()
        _grant, locale = found
        with transaction(runtime.engine, read_only=True) as session:
            figures = agreement_sheet(session, config, agreement_id, runtime.clock())
        page = sheet_page(figures, locale, links.overview_url(request.args["key"]))
        return page, 200, _PAGE_HEADERS


def _warn_about_chats_of_platforms_off(runtime: Runtime, platforms: frozenset[str]) -> None:
    for agreement in runtime.config.agreements:
        if (agreement.wecom_chat or agreement.wecom_webhook_key) and WECOM not in platforms:
            log.warning(
                "agreement %s names a WeCom group, but WeCom is off (set WECOM_CORP_ID, "
                "WECOM_CORP_SECRET and WECOM_AGENT_ID); its posts are skipped",
                agreement.id,
            )
        if (agreement.dingtalk_chat or agreement.dingtalk_webhook) and DINGTALK not in platforms:
            log.warning(
                "agreement %s names a DingTalk group, but DingTalk is off (set "
                "DINGTALK_CLIENT_ID and DINGTALK_CLIENT_SECRET); its posts are skipped",
                agreement.id,
            )
        if agreement.wecom_smartsheet and WECOM not in platforms:
            log.warning(
                "agreement %s sets wecom_smartsheet, but WeCom is off (set WECOM_CORP_ID, "
                "WECOM_CORP_SECRET and WECOM_AGENT_ID); its smart sheet is not kept",
                agreement.id,
            )
        if agreement.feishu_chat and FEISHU not in platforms:
            log.warning(
                "agreement %s names Feishu chat %s, but Feishu is off (set FEISHU_APP_ID and "
                "FEISHU_APP_SECRET); its posts are skipped",
                agreement.id,
                agreement.feishu_chat,
            )
        if agreement.wecom_robot_chat and WECOM_ROBOT not in platforms:
            log.warning(
                "agreement %s names WeCom robot group %s, but the robot is off (set WECOM_BOT_ID "
                "and WECOM_BOT_SECRET); its posts are skipped",
                agreement.id,
                agreement.wecom_robot_chat,
            )
        if agreement.slack_channel and SLACK not in platforms:
            log.warning(
                "agreement %s names Slack channel %s, but Slack is off "
                "(set SLACK_BOT_TOKEN with SLACK_SIGNING_SECRET or SLACK_APP_TOKEN); its posts "
                "are skipped",
                agreement.id,
                agreement.slack_channel,
            )


def _listening_on(server: MultiSocketServer | BaseWSGIServer, host: str) -> str:
    """Where the server listens: `host` and its port, or each address when the name resolved to
    several (waitress listens on all of them, as on 127.0.0.1 and ::1 for some localhosts)."""
    if isinstance(server, MultiSocketServer):
        return ", ".join(
            f"http://[{at}]:{port}" if ":" in at else f"http://{at}:{port}"
            for at, port in server.effective_listen
        )
    # waitress sets effective_port on every single-socket server; typeshed's stubs leave it out
    return f"http://{host}:{server.effective_port}"  # type: ignore[attr-defined]


def serve(runtime: Runtime, host: str, port: int) -> int:
    """Serve until SIGTERM or Ctrl-C; in-flight requests finish, the outbox keeps the rest."""
    service = build_service(runtime)
    try:
        server = create_server(
            service.app, host=host, port=port, threads=8, max_request_body_size=SERVER_BODY_LIMIT
        )
    except OSError as err:  # in use, or an address this machine does not have
        raise StartRefused(
            f"cannot listen on {host}:{port}: {err.strerror or err} (another vmi-bot serve? "
            "choose another with --port, or --host)"
        ) from None
    if not service.platforms & {SLACK, WECOM, FEISHU, DINGTALK, WECOM_ROBOT}:
        log.warning(
            "no platform is configured: only GET /healthz and GET /api/status (with "
            "VMI_API_TOKEN) are served. Slack is on with SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET "
            "(or SLACK_APP_TOKEN), "
            "WeCom with WECOM_CORP_ID, WECOM_CORP_SECRET and WECOM_AGENT_ID, Feishu with "
            "FEISHU_APP_ID and FEISHU_APP_SECRET, DingTalk with DINGTALK_CLIENT_ID and "
            "DINGTALK_CLIENT_SECRET (README: Slack, WeCom, Feishu, DingTalk)"
        )
    service.start_background()

    def stop(signum: int, _frame: object) -> None:
        log.info("signal %s: stopping", signum)
        server.close()  # stop accepting; the request threads finish what they hold

    def hang_up(signum: int, _frame: object) -> None:
        # SIGHUP is a closed terminal or a reload asked of a daemon: the settings and the
        # agreement file are read at start, so keep serving and say how to apply changes
        log.warning("signal %s (hang-up): still serving; restart to read changed settings", signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGHUP, hang_up)
    log.warning("vmi-bot serving on %s", _listening_on(server, host))
    # What start-up made (the agreements, the libraries) lives as long as the process: left
    # out of garbage collection, a full collection looks only at what requests made since,
    # instead of stopping every request for tens of milliseconds.
    gc.collect()
    gc.freeze()
    try:
        server.run()
    except OSError:
        pass  # the listening socket was closed by stop()
    finally:
        server.task_dispatcher.shutdown()
        service.stop_background()
    return 0
