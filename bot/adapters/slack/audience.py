"""How Slack hears announcements: one card in the agreement's channel, its buttons for everyone
there (the roles decide who may press), changed in place when the proposal is resized or
withdrawn (chat.update on the message posted)."""

from __future__ import annotations

from bot.config import AgreementConfig, Member
from bot.settings import SLACK


class SlackAudience:
    """The agreement's channel; no private cards."""

    platform = SLACK
    updates_in_place = True

    def group_chat(self, agreement: AgreementConfig) -> str | None:
        """The agreement's `slack_channel`, when it has one."""
        return agreement.slack_channel or None

    def private_chat(self, member: Member) -> str | None:
        """None: the channel's card carries the buttons."""
        return None


AUDIENCE = SlackAudience()
