"""The words the bot uses for roles, steps, proposal states and examples, per locale.

Cards are worded in the templates; these are the short words that templates and refusals
fill in, kept in one place so that every platform and the command line say the same.
"""

from __future__ import annotations

ROLE_LABELS = {
    "zh": {"warehouse": "仓管员", "buyer": "采购", "supplier": "供应商", "admin": "管理员"},
    "en": {"warehouse": "warehouse keeper", "buyer": "buyer", "supplier": "supplier",
           "admin": "admin"},
}  # fmt: skip
INTENT_LABELS = {
    "zh": {"count": "盘点", "withdrawal": "领用", "receipt": "入库", "plan": "需求计划",
           "emergency": "紧急需求变更", "confirm": "确认", "adjust": "调整", "reject": "拒绝",
           "ship": "发货", "receive": "入库", "review": "补货检查", "status": "查询",
           "todo": "待办", "history": "补货进度", "help": "帮助", "courtesy": "客气话",
           "undo": "撤销", "confirm_count": "确认盘点", "decline": "无法供货", "cancel": "取消",
           "eta": "改到货日期", "correct_receipt": "更正入库", "statement": "对账",
           "confirm_statement": "确认对账", "dispute_statement": "对账有误",
           "reissue_statement": "重新出账", "overstock_return": "积压退货",
           "overstock_discount": "积压折价", "overstock_keep": "积压继续观察",
           "amend": "修改约定", "amend_agree": "同意修改",
           "amend_reject": "不同意修改", "uncounted": "查谁没盘点",
           "retro": "复盘", "suggest": "建议补货线", "export": "导出表格",
           "import": "导入表格", "confirm_import": "确认导入",
           "sheet": "表格链接",
           "overview": "总览",
           "simulate": "模拟补货线"},
    # English labels are verbs a sentence can take as they are: "Only buyer may confirm",
    # "P1 is shipped now, so you cannot reject it".
    "en": {"count": "post counts", "withdrawal": "post withdrawals", "receipt": "receive",
           "plan": "post plans", "emergency": "post urgent changes", "confirm": "confirm",
           "adjust": "adjust", "reject": "reject", "ship": "ship", "receive": "receive",
           "review": "run the review", "status": "ask status", "todo": "see pending steps",
           "history": "follow a proposal", "help": "ask for help", "courtesy": "say thanks",
           "undo": "undo", "confirm_count": "confirm a count", "decline": "decline",
           "cancel": "cancel", "eta": "change the ETA", "correct_receipt": "correct a receipt",
           "statement": "see the statement", "confirm_statement": "confirm statements",
           "dispute_statement": "dispute statements", "reissue_statement": "re-issue statements",
           "overstock_return": "return overstock", "overstock_discount": "discount overstock",
           "overstock_keep": "keep watching overstock",
           "amend": "change the terms",
           "amend_agree": "agree to an amendment", "amend_reject": "reject an amendment",
           "uncounted": "ask what is not counted",
           "retro": "see the monthly review",
           "suggest": "see suggested min/max", "export": "export the sheet",
           "import": "import a sheet", "confirm_import": "confirm an import",
           "sheet": "get the sheet's link",
           "overview": "see the overview",
           "simulate": "simulate a min/max"},
}  # fmt: skip
STATE_LABELS = {
    "zh": {"proposed": "待确认", "confirmed": "已确认", "shipped": "已发货", "received": "已入库",
           "rejected": "已拒绝", "expired": "已过期", "declined": "供应商无法供货",
           "cancelled": "已取消"},
    "en": {"proposed": "proposed", "confirmed": "confirmed", "shipped": "shipped",
           "received": "received", "rejected": "rejected", "expired": "expired",
           "declined": "declined", "cancelled": "cancelled"},
}  # fmt: skip
EXAMPLES = {
    "zh": {"count": "6205 库存 45", "correction": "更正 6205 45", "withdrawal": "领用 6205 10",
           "receipt": "入库 P1", "correct_receipt": "更正入库 P1 25",
           "plan": "下月 6205 需求 90", "plan_week": "下周 6205 预计领用 20",
           "emergency": "紧急 6205 下月需求改为 120",
           "confirm": "确认 P1", "adjust": "调整 P1 60", "reject": "拒绝 P1 原因",
           "ship": "发货 P1", "status": "6205 库存?", "review": "检查", "help": "帮助",
           "todo": "待办", "history": "P1到哪了", "courtesy": "谢谢", "undo": "撤销",
           "confirm_count": "确认盘点",
           "proposal": "确认 P1 · 入库 P1 · 发货 P1",
           "decline": "无法供货 P1 原材料缺货", "cancel": "取消 P1 产线停了",
           "eta": "P1 预计 12-05", "reject_reason": "拒绝 P1 库存够用，下月减产",
           "statement": "对账", "confirm_statement": "确认对账 S1",
           "dispute_statement": "对账有误 S1 11-24 盘点多记了 10 件",
           "reissue_statement": "重新出账 S1",
           "overstock_return": "退货 O1 20", "overstock_discount": "折价 O1 10.00",
           "overstock_keep": "继续观察 O1",
           "amend": "修改 6205 补货线 55 安全线 110", "amend_agree": "同意 A1",
           "amend_reject": "不同意 A1 原因", "uncounted": "谁没盘点",
           "amend_reminder": "修改 盘点提醒 17:00",
           "retro": "复盘", "suggest": "建议 6205", "export": "导出",
           "import": "（发送 .xlsx / .csv 文件）", "confirm_import": "确认导入",
           "sheet": "表格", "overview": "总览",
           "simulate": "模拟 6205 补货线 40 安全线 90"},
    "en": {"count": "stock 6205 45", "correction": "correction 6205 45",
           "withdrawal": "used 6205 10", "receipt": "received P1",
           "correct_receipt": "correct receipt P1 25",
           "plan": "plan next month 6205 90", "plan_week": "plan next week 6205 20",
           "emergency": "urgent 6205 next month 120",
           "confirm": "confirm P1", "adjust": "adjust P1 60", "reject": "reject P1 reason",
           "ship": "shipped P1", "status": "status", "review": "check", "help": "help",
           "todo": "pending", "history": "P1 status", "courtesy": "thanks", "undo": "undo",
           "confirm_count": "confirm count",
           "proposal": "confirm P1 · received P1 · shipped P1",
           "decline": "decline P1 no raw material", "cancel": "cancel P1 line stopped",
           "eta": "P1 eta 12-05",
           "reject_reason": "reject P1 stock is enough, output cut next month",
           "statement": "statement", "confirm_statement": "confirm statement S1",
           "dispute_statement": "dispute S1 the count of 11-24 is 10 too low",
           "reissue_statement": "reissue S1",
           "overstock_return": "return O1 20", "overstock_discount": "discount O1 10.00",
           "overstock_keep": "keep O1",
           "amend": "change 6205 min 55 max 110", "amend_agree": "agree A1",
           "amend_reject": "reject A1 reason", "uncounted": "who hasn't counted",
           "amend_reminder": "change count reminder 17:00",
           "retro": "review", "suggest": "suggest 6205", "export": "export",
           "import": "(send an .xlsx / .csv file)", "confirm_import": "confirm import",
           "sheet": "sheet",
           "overview": "overview",
           "simulate": "simulate 6205 min 40 max 90"},
}  # fmt: skip


# Units as English replies say them; a unit not here (kg, m) is the same in both.
UNIT_WORDS = {"件": "pcs", "个": "pcs", "只": "pcs", "套": "sets", "箱": "boxes", "包": "packs",
              "卷": "rolls", "米": "m", "千克": "kg", "公斤": "kg", "克": "g", "升": "L",
              "台": "units", "片": "pcs", "根": "pcs", "条": "pcs", "张": "sheets"}  # fmt: skip


def unit_word(unit: str, locale: str) -> str:
    """A unit as a reply in `locale` says it (件 is pcs in English)."""
    return UNIT_WORDS.get(unit, unit) if locale == "en" else unit


def _lang(locale: str) -> str:
    return locale if locale in ROLE_LABELS else "zh"


def role_label(role: str, locale: str) -> str:
    """A role as people call it."""
    return ROLE_LABELS[_lang(locale)].get(role, role)


def label(intent: str, locale: str) -> str:
    """An intent as people call it."""
    return INTENT_LABELS[_lang(locale)].get(intent, intent)


def state_labels(locale: str) -> dict[str, str]:
    """Each proposal state as people call it."""
    return STATE_LABELS[_lang(locale)]


def example(hint: str, locale: str, proposal_id: str = "P1") -> str:
    """What to type for an intent (empty when there is no example for it); `proposal_id` (P3,
    or an amendment's A3) replaces the example's own."""
    text = EXAMPLES[_lang(locale)].get(hint, "")
    return text.replace("A1" if proposal_id.startswith("A") else "P1", proposal_id)


WELCOME = {
    "zh": "你好，我是 VMI 补货助手。发「帮助」看能做什么，例如「6205 库存 45」；在群里先 @我。",
    "en": "Hello, I am the VMI replenishment bot. Send 'help' to see what I do, e.g. "
    "'stock 6205 45'; in a group, @mention me first.",
}


def welcome(locale: str) -> str:
    """The line a person hears on opening a chat with the bot (WeCom's robot welcomes them)."""
    return WELCOME[_lang(locale)]
