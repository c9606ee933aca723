"""Amendments (DESIGN §7) with the seed's bearing 6205 (min 50, max 100): what may be agreed,
who may agree, the effective terms, and the file winning; reminder times as terms."""

from dataclasses import replace
from datetime import datetime, time
from zoneinfo import ZoneInfo

from vmi_rules.amendments import (
    AppliedChange,
    Change,
    Source,
    effective_item,
    effective_reminders,
    file_wins,
    invalid,
    may_agree,
    minutes,
    why_not,
)
from vmi_rules.reminders import due_reminders, uncounted
from vmi_rules.terms import AgreementTerms, Item, ReminderTimes

SH = ZoneInfo("Asia/Shanghai")
BEARING = Item(sku="6205", name="6205 深沟球轴承", min=50, max=100)
AGREED = datetime(2026, 12, 1, 10, tzinfo=SH)


def agreed(field: str, old: int, new: int, file_value: int, aid: str = "A1") -> AppliedChange:
    change = Change(field, old, new, file_value)  # type: ignore[arg-type]
    return AppliedChange(aid, "" if field.endswith("_at") else "6205", change, "王采购", "李供应",
                         AGREED)  # fmt: skip


def test_what_may_be_agreed() -> None:
    assert invalid(BEARING, {"min": 55, "max": 110}) == ""
    assert invalid(BEARING, {"min": 120}) == "min_not_below_max"
    assert invalid(BEARING, {"min": 100}) == "min_not_below_max"  # min equal to max
    assert invalid(BEARING, {"max": 0}) == "not_positive"
    assert invalid(BEARING, {"pack_size": 0}) == "not_positive"
    assert invalid(BEARING, {"moq": 0}) == "no_change"  # an MOQ of 0 is "none", as now
    assert invalid(BEARING, {"min": 50}) == "no_change"
    down = replace(BEARING, rounding="down")
    assert invalid(down, {"moq": 120}) == "moq_above_max"
    assert why_not(None, ReminderTimes(), {"count_at": 17 * 60}) == ""
    assert why_not(None, ReminderTimes(), {"count_at": -1}) == "bad_time"
    assert why_not(None, ReminderTimes(), {"count_at": 10 * 60}) == "no_change"


def test_the_other_party_agrees_never_the_proposer_or_their_side() -> None:
    assert may_agree("customer", "buyer", "supplier", "supplier") == ""
    assert may_agree("customer", "buyer", "buyer", "customer") == "own_amendment"
    assert may_agree("customer", "buyer", "buyer2", "customer") == "same_side"
    assert may_agree("supplier", "supplier", "admin", None) == ""  # an admin of no party


def test_the_effective_item_takes_the_latest_agreed_change_the_file_has_not_overtaken() -> None:
    changes = [agreed("min", 50, 55, 50), agreed("max", 100, 110, 100),
               agreed("min", 55, 60, 50, "A2")]  # fmt: skip
    item, sources = effective_item(BEARING, changes)
    assert (item.min, item.max, item.pack_size) == (60, 110, 1)
    assert sources[0] == Source("min", "A2", "王采购", "李供应", AGREED)
    assert sources[2] == Source("pack_size")  # from the file
    # the file now says max 120: the file wins for max, the amendment still holds for min
    moved = replace(BEARING, max=120)
    assert file_wins(moved, ReminderTimes(), changes[1])
    assert not file_wins(moved, ReminderTimes(), changes[0])
    item, _ = effective_item(moved, changes)
    assert (item.min, item.max) == (60, 120)


def test_reminder_times_as_agreed() -> None:
    times, sources = effective_reminders(ReminderTimes(), [agreed("count_at", 600, 1020, 600)])
    assert times.count_at == time(17, 0) and times.weekly_plan_at == time(16, 0)
    assert sources[0].amendment_id == "A1" and sources[1] == Source("weekly_plan_at")
    later_in_file = ReminderTimes(count_at=time(11, 0))
    times, _ = effective_reminders(later_in_file, [agreed("count_at", 600, 1020, 600)])
    assert times.count_at == time(11, 0)  # the file moved it since: the file wins
    assert minutes(time(17, 30)) == 1050


def test_the_count_reminder_follows_the_agreed_time_and_names_the_uncounted() -> None:
    terms = AgreementTerms(reminders=ReminderTimes(count_at=time(17, 0), monthly_plan=False))
    counts = {"6205": datetime(2026, 12, 1, 9, tzinfo=SH), "6206": None}
    noon = datetime(2026, 12, 1, 12, tzinfo=SH)
    evening = datetime(2026, 12, 1, 17, 5, tzinfo=SH)
    assert due_reminders(noon, terms, None, {"2027-01"}, [], counts) == []
    [reminder] = due_reminders(evening, terms, None, {"2027-01"}, [], counts)
    assert (reminder.kind, reminder.skus) == ("count_missing", ("6206",))
    assert uncounted(evening, counts) == ["6206"]
    off = AgreementTerms(reminders=ReminderTimes(count=False))
    assert due_reminders(evening, off, None, {"2027-01"}, [], counts) == []
