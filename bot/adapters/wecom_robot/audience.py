"""How the WeCom intelligent robot hears announcements. Its group posts carry template cards
with buttons that come back over the connection, so the group's card is everyone's: nobody
gets a private copy (the robot may only write to a person who has written to it first). A
card once sent is changed only in answer to its click: a resized proposal is sent anew.

The chat ids say to the sender which way a message goes: `group:<chatid>` the agreement's
group (`wecom_robot_chat`), anything else a person's WeCom userid, one to one."""

from __future__ import annotations

from bot.config import AgreementConfig, Member
from bot.settings import WECOM_ROBOT

GROUP = "group:"


class WeComRobotAudience:
    """The agreement's group, where the robot is a member."""

    platform = WECOM_ROBOT
    updates_in_place = False

    def group_chat(self, agreement: AgreementConfig) -> str | None:
        """The group the robot is in (`wecom_robot_chat`)."""
        return f"{GROUP}{agreement.wecom_robot_chat}" if agreement.wecom_robot_chat else None

    def private_chat(self, member: Member) -> str | None:
        """None: the group's card, with its buttons, is the deciders' too."""
        return None


AUDIENCE = WeComRobotAudience()
