"""How Feishu (飞书) hears announcements: one interactive card in the agreement's group
(`feishu_chat`, its chat_id), its buttons for everyone there (the roles decide who may press),
patched in place when the proposal is resized or withdrawn (im.v1.message.patch)."""

from __future__ import annotations

from bot.config import AgreementConfig, Member
from bot.settings import FEISHU


class FeishuAudience:
    """The agreement's group chat; the group's card is everyone's."""

    platform = FEISHU
    updates_in_place = True

    def group_chat(self, agreement: AgreementConfig) -> str | None:
        """The agreement's `feishu_chat` (oc_…), when it has one."""
        return agreement.feishu_chat or None

    def private_chat(self, member: Member) -> str | None:
        """None: the group's card carries the buttons."""
        return None


AUDIENCE = FeishuAudience()
