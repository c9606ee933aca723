"""The fault suite: probes of `vmi-bot serve`'s edge (outages, floods, bad bodies, crashes),
each a test marked `@pytest.mark.probe("what was tried")`. After the run it prints one table
row per probe, held or failed, so the suite reads as the report of a fault-finding session.

Run it alone with `tests/faults/run` (or `pytest tests/faults`); README's test command and CI
run it with everything else.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pytest

from tests.faults.edge import edge  # noqa: F401  (the served app every probe starts from)

_OUTCOMES: dict[str, tuple[str, str]] = {}  # nodeid -> (probe, held | failed)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Generator[None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    marker = item.get_closest_marker("probe")
    if marker is None or report.skipped:
        return
    probe = str(marker.args[0])
    if report.when == "call" or report.failed:
        held = report.passed and _OUTCOMES.get(item.nodeid, ("", "held"))[1] == "held"
        _OUTCOMES[item.nodeid] = (probe, "held" if held else "failed")


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _OUTCOMES:
        return
    rows = sorted(_OUTCOMES.items())
    width = min(90, max(len(probe) for _, (probe, _) in rows))
    terminalreporter.write_sep("=", "fault suite")
    for nodeid, (probe, verdict) in rows:
        where = nodeid.split("::")[0].rsplit("/", 1)[-1].removesuffix(".py")
        if "[" in nodeid:  # a parametrized probe: which case
            where += "[" + nodeid.split("[", 1)[1]
        terminalreporter.write_line(f"{verdict:6}  {probe:{width}}  {where}")
    failed = sum(1 for _, (_, verdict) in rows if verdict == "failed")
    terminalreporter.write_line(f"{len(rows) - failed} held, {failed} failed")
