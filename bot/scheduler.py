"""Where jobs stored by version 0.1 are found.

The job store of 0.1 names its jobs `bot.scheduler:run_scheduled_*` and pickled the review
trigger as `bot.scheduler.EveryNDays`; apscheduler drops a job whose reference no longer
resolves. They resolve here, and the scheduler rewrites each one under `bot.runtime.jobs` at its
first start, keeping its next run. Nothing else should import this module.
"""

from bot.runtime.jobs import (  # noqa: F401  (names the 0.1 job store refers to)
    EveryNDays,
    run_scheduled_reminders,
    run_scheduled_review,
    run_scheduled_settlement,
)
