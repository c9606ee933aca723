"""Loaded (through PYTHONPATH) only for the suite's run under Debian's `faketime`.

libfaketime 0.9.10 (Debian 12) fakes the wall clock fine, but with
FAKETIME_DONT_FAKE_MONOTONIC=1 its clock_nanosleep() still shifts an absolute CLOCK_MONOTONIC
deadline by the fake offset, so Python's time.sleep() fails with EINVAL; without that setting,
lock and condition waits (sem_clockwait, not intercepted) block for the offset. Upstream fixed
both after 0.9.10. This sleeps on an event instead, which waits on the real monotonic clock.
"""

import os
import threading
import time

if os.environ.get("FAKETIME"):
    _never_set = threading.Event()

    def _sleep(seconds: float) -> None:
        if seconds < 0:
            raise ValueError("sleep length must be non-negative")
        _never_set.wait(seconds)

    time.sleep = _sleep
