"""How the console hears announcements: the agreement's chat is the terminal, named after the
agreement, and its cards carry numbered buttons for everyone at the keyboard."""

from __future__ import annotations

from bot.config import AgreementConfig, Member
from bot.settings import CONSOLE


class ConsoleAudience:
    """One card in the agreement's console chat; nobody gets one of their own."""

    platform = CONSOLE
    updates_in_place = False  # a terminal prints on; nothing printed changes

    def group_chat(self, agreement: AgreementConfig) -> str | None:
        """The console chat of an agreement is its id."""
        return agreement.id

    def private_chat(self, member: Member) -> str | None:
        """None: whoever types presses the group card's buttons."""
        return None


AUDIENCE = ConsoleAudience()
