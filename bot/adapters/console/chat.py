"""The console adapter: a chat in the terminal (or a pipe) through the same conversation as
Slack and WeCom. `/as MEMBER` switches who speaks; buttons print with a number, and typing the
number presses it.

One line is one message, except for a paste: in a terminal, lines that arrive together (a sheet
pasted from Excel) are one message; anywhere, lines between `/paste` and `/end` are one message
(for pipes, which keep one message per line so that scripts stay as they are)."""

from __future__ import annotations

import base64
import sys
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO
from zoneinfo import ZoneInfo

from sqlalchemy import update
from sqlmodel import col

from bot.runtime.context import Runtime
from bot.services.sheet_links import sheet_links
from bot.settings import CONSOLE
from bot.storage.db import transaction
from bot.storage.outbox import pending
from bot.storage.tables import OutboxRow
from handlers.conversation import handle
from handlers.incoming import ButtonPress, Incoming
from messages.cards import Button, Card
from messages.words import role_label

Clock = Callable[[], datetime]

PASTE, END = "/paste", "/end"
FILE = "/file"


def pasted_together(
    read_line: Callable[[], str | None], more_waiting: Callable[[], bool]
) -> Iterator[str]:
    """Lines from a terminal as messages: the lines already waiting when one is read came in
    the same paste, so they join it as one message.

    `read_line` gives the next line (None at the end); `more_waiting` tells whether another
    line has already arrived. A person typing presses Enter once per message; a paste delivers
    its lines at once, faster than anyone types.
    """
    while (line := read_line()) is not None:
        lines = [line.rstrip("\n")]
        while more_waiting() and (following := read_line()) is not None:
            lines.append(following.rstrip("\n"))
        yield "\n".join(lines)


def grouped(lines: Iterable[str]) -> Iterator[str]:
    """Messages from lines: one per line, and the lines between /paste and /end as one."""
    block: list[str] | None = None
    for line in lines:
        word = line.strip()
        if block is None and word == PASTE:
            block = []
        elif block is not None and word == END:
            yield "\n".join(block)
            block = None
        elif block is not None:
            block.append(line.rstrip("\n"))
        else:
            yield line
    if block:  # the input ended inside a paste: what came is still the message
        yield "\n".join(block)


class ConsoleChat:
    """Reads lines as a member's messages; prints what the bot says, buttons numbered."""

    def __init__(
        self,
        runtime: Runtime,
        speaker: str,
        out: TextIO = sys.stdout,
        clock: Clock = lambda: datetime.now(UTC),
        platforms: frozenset[str] = frozenset({CONSOLE}),
        pictures: Path | None = None,
    ) -> None:
        self.runtime = runtime
        # where a card's picture (the review's chart) is written, since a terminal shows none
        self.pictures = pictures or Path(tempfile.gettempdir()) / "vmi-bot"
        self.speaker = speaker
        self.out = out
        self.clock = clock
        self.platforms = platforms
        self.buttons: dict[str, Button] = {}
        self._printing = threading.Lock()
        self._stop = threading.Event()

    @property
    def chat(self) -> str:
        """The console chat is the agreement's group: the speaker's first agreement."""
        member = self.runtime.config.member_by_platform(CONSOLE, self.speaker)
        agreements = self.runtime.config.agreements_of(member) if member else ()
        first = agreements[0] if agreements else self.runtime.config.agreements[0]
        return first.id

    def say(self, text: str, echo: bool = False) -> None:
        """One line from the person at the keyboard (`echo` prints it, as in a transcript)."""
        line = text.strip()
        if not line:
            return
        if line.startswith("/as"):
            self._switch(line[3:].strip())
            return
        if line.startswith(FILE):  # "/file PATH": send a sheet, as a file sent in a chat
            self.send_file(Path(line[len(FILE) :].strip()))
            return
        if echo:
            member = self.runtime.config.member_by_platform(CONSOLE, self.speaker)
            stamp = self.clock().astimezone(self._timezone()).strftime("%m-%d %H:%M")
            self.out.write(f"\n[{stamp}] {member.name if member else self.speaker}: {line}\n")
        button = self.buttons.get(line)
        if button is None and line.isdecimal():  # a number alone is a button press
            self.out.write(f"  ({self._say('no_button')} {line})\n")
            return
        incoming = Incoming(
            platform=CONSOLE,
            chat=self.chat,
            sender=self.speaker,
            message_id=f"console-{uuid.uuid4().hex}",
            at=self.clock(),
            text="" if button else line,
            button=ButtonPress(button.action, button.value) if button else None,
            direct=True,
        )
        handle(self.runtime.engine, self.runtime.config, incoming, self.platforms,
               sheet_links(self.runtime.settings))  # fmt: skip
        self.deliver()

    def send_file(self, path: Path) -> None:
        """Send a file (a keeper's .xlsx or .csv) as the speaker, as attaching it in a chat."""
        try:
            data = path.read_bytes()
        except OSError as err:
            self.out.write(f"  ({path}: {err.strerror or err})\n")
            return
        incoming = Incoming(
            platform=CONSOLE,
            chat=self.chat,
            sender=self.speaker,
            message_id=f"console-{uuid.uuid4().hex}",
            at=self.clock(),
            direct=True,
            file_name=path.name,
            file_data=base64.b64encode(data).decode("ascii"),
        )
        handle(self.runtime.engine, self.runtime.config, incoming, self.platforms)
        self.deliver()

    def press(self, action: str, value: str, echo: bool = False) -> None:
        """Press the latest printed button for `action` on `value`, as typing its number does;
        `value` may name the button's label too ("S1~buyer": the buyer's of two confirms), or
        the item alone for a suggestion's ("6205")."""

        def names(b: Button) -> tuple[str, str, str]:
            target = b.value.partition("@")[0]
            # a suggestion's button ("6205:60:120") is named by its item too
            return target, f"{target}~{b.value.partition('~')[2]}", target.partition(":")[0]

        number = max(
            (n for n, b in self.buttons.items() if b.action == action and value in names(b)),
            key=int,
        )
        self.say(number, echo=echo)

    def _timezone(self) -> ZoneInfo:
        agreement = self.runtime.config.agreement(self.chat)
        return agreement.tz if agreement else ZoneInfo(self.runtime.config.bot.timezone)

    def run(self, lines: Iterable[str], echo: bool = False) -> None:
        """Take lines until they end (end of input, or /quit); `echo` writes a transcript."""
        for line in grouped(lines):
            if line.strip() in ("/quit", "/exit"):
                break
            self.say(line, echo=echo)
        self.deliver()

    def deliver(self) -> None:
        """Print every console message waiting in the outbox, once, in order."""
        with self._printing, transaction(self.runtime.engine) as session:
            rows = pending(session, CONSOLE)
            for row in rows:
                if row.mode != "react":  # a terminal has no reactions; the reply says it all
                    self._print(Card.from_json(row.card), row.id)
            if rows:
                session.execute(
                    update(OutboxRow)
                    .where(col(OutboxRow.id).in_([r.id for r in rows]))
                    .values(
                        state="sent",
                        sent_at=datetime.now(UTC),
                        attempts=col(OutboxRow.attempts) + 1,
                    )
                )

    def switch(self, who: str) -> None:
        """Speak as another member from now on."""
        self._switch(who, quiet=True)

    def deliver_in_background(self, every_seconds: float = 2.0) -> None:
        """Print what the scheduler posts while the person is not typing (a terminal chat)."""

        def loop() -> None:
            while not self._stop.wait(every_seconds):
                self.deliver()

        threading.Thread(target=loop, name="console-delivery", daemon=True).start()

    def stop(self) -> None:
        """Stop background delivery."""
        self._stop.set()

    def _switch(self, who: str, quiet: bool = False) -> None:
        member = self.runtime.config.member_by_platform(CONSOLE, who)
        if member is None:
            known = ", ".join(m.console for m in self.runtime.config.members if m.console)
            self.out.write(f"  ({self._say('no_member')} {who!r}; {self._say('known')}: {known})\n")
            return
        self.speaker = who
        if not quiet:
            role = role_label(member.role, self.runtime.config.bot.locale)
            self.out.write(f"  ({self._say('speaking')} {member.name}（{role}）)\n")

    def _say(self, what: str) -> str:
        zh = self.runtime.config.bot.locale == "zh"
        return {
            "no_member": ("没有这个控制台成员", "no console member"),
            "known": ("可用", "known"),
            "speaking": ("现在是", "now speaking as"),
            "no_button": ("没有按钮", "no button"),
        }[what][0 if zh else 1]

    def _print(self, card: Card, row_id: int | None = None) -> None:
        mark = "‼ " if card.urgent else ""
        self.out.write(f"\n{mark}{card.title}\n")
        for line in card.lines:
            self.out.write(f"  {line}\n")
        for label, value in card.fields:
            self.out.write(f"  {label}: {value}\n")
        for button in card.buttons:
            number = str(len(self.buttons) + 1)
            self.buttons[number] = button
            self.out.write(f"  [{number}] {button.label}  (= {button.text_equivalent})\n")
        if card.image:
            self.out.write(f"  {'🖼' if card.is_picture else '📎'} {self._picture(card, row_id)}\n")
        self.out.flush()

    def _picture(self, card: Card, row_id: int | None) -> Path:
        """Write the card's picture to a file of its own (the outbox row's id keeps it apart)."""
        self.pictures.mkdir(parents=True, exist_ok=True)
        path = self.pictures / f"{row_id or 0}-{card.image_name or 'picture.png'}"
        path.write_bytes(card.image_bytes())
        return path


def banner(runtime: Runtime, speaker: str) -> str:
    """The first lines: who you are, how to switch, how to get help."""
    member = runtime.config.member_by_platform(CONSOLE, speaker)
    who = f"{member.name} ({member.role})" if member else speaker
    others = ", ".join(m.console for m in runtime.config.members if m.console)
    return (
        f"VMI 控制台 / console — 你是 {who}。输入「帮助」或 help；"
        f"/as 名字 切换身份（{others}）；/quit 退出。"
        "粘贴多行（Excel 表格）算一条消息；也可以写在 /paste 和 /end 之间。\n"
    )
