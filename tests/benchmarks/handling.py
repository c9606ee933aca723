"""A morning's counts handled, and nothing else: what a count costs the inbox worker.

Run on demand (pytest does not collect it), from the repository root, with the project
installed in .venv:

    python tests/benchmarks/handling.py --counts 2000
    python tests/benchmarks/handling.py --instructions
    python tests/benchmarks/handling.py --instructions --db postgresql+psycopg://vmi:vmi@127.0.0.1:5432/vmi_bench

`--agreements` agreements (500), each with its own Slack channel and keeper and one agreed
figure in its history, as in tests/benchmarks/burst.py. `--counts` counts (`6205 库存 45`, the
quantity varying, some below min) are stored in the inbox round-robin over them; then batches
of `--batch` chats' messages are handled (`process_batch`, no platform waiting on it) until
none is left. It prints the CPU milliseconds per count of handling: parsing, the agreed terms,
the ledger, the reply rendered and queued; not storing, not delivering.

CPU time moves with the machine's speed, which on a shared machine swings by half within an
hour. `--instructions` counts machine instructions instead, under valgrind's cachegrind: the
script runs itself twice, with `--counts` and a fifth as many, and prints the difference per
count, so the start (configuration, schema) is left out. It takes a few minutes, and the figure
is the same run after run: compare two versions of the code with it. PostgreSQL's own process
is not counted.

With PostgreSQL the database named by `--db` is emptied first (every table dropped): give it
one of its own.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.config.load import parse_config
from bot.storage.db import make_engine
from bot.storage.migrate import upgrade
from handlers.conversation import accept, process_batch
from handlers.incoming import Incoming

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # tests/ is not an installed package

from tests.benchmarks import cachegrind  # noqa: E402
from tests.benchmarks.burst import (  # noqa: E402
    agree_figures,
    channel,
    config_text,
    empty_database,
    keeper,
)

SLACK = frozenset({"slack"})


def handled_cpu_ms(db: str | None, agreements: int, counts: int, batch: int) -> float:
    """Store `counts` counts, handle them all; CPU milliseconds per count of the handling."""
    with tempfile.TemporaryDirectory() as work:
        url = db or f"sqlite:///{work}/handling.sqlite"
        empty_database(url)
        engine = make_engine(url)
        upgrade(engine)
        agree_figures(url, agreements, 1)
        config = parse_config(config_text(agreements))
        now = datetime.now(UTC)
        for i in range(counts):
            a = i % agreements
            at = now + timedelta(milliseconds=i)
            said = Incoming("slack", channel(a), keeper(a), f"m{i}", at, f"6205 库存 {40 + i % 50}",
                            direct=False, addressed=True, origin_ref=f"{i}.0")  # fmt: skip
            assert accept(engine, said) is not None
        started = time.process_time()
        done = 0
        while handled := process_batch(engine, config, SLACK, None, batch, 60.0):
            done += handled
        spent = time.process_time() - started
        engine.dispose()
    if done != counts:
        raise SystemExit(f"handled {done} of {counts} counts")
    return 1000 * spent / counts


def instructions(args: argparse.Namespace, counts: int) -> int:
    """Machine instructions of a run of this script with `counts` counts, under cachegrind."""
    arguments = [__file__, "--counts", str(counts), "--agreements", str(args.agreements),
                 "--batch", str(args.batch)]  # fmt: skip
    if args.db:
        arguments += ["--db", args.db]
    return cachegrind.instructions(arguments)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--agreements", type=int, default=500, help="agreements (500)")
    parser.add_argument("--counts", type=int, default=2000, help="counts handled (2000)")
    parser.add_argument("--batch", type=int, default=50, help="chats' messages a batch (50)")
    parser.add_argument("--db", help="database URL (default: a new SQLite file)")
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="count instructions per count under valgrind (the same figure every run)",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Print what a count's handling costs."""
    args = parse_args(argv)
    where = "PostgreSQL" if args.db and args.db.startswith("postgresql") else "SQLite"
    if args.instructions:
        if args.counts < 2:  # the figure is a difference of two runs' counts
            raise SystemExit("--instructions needs --counts 2 or more")
        few, many = args.counts // 5 or 1, args.counts
        per_count = (instructions(args, many) - instructions(args, few)) / (many - few)
        print(f"{where}: {per_count / 1e6:.2f} M instructions per count handled ({many} counts "
              f"less {few}, {args.agreements} agreements, batches of {args.batch})")  # fmt: skip
        return 0
    per_count = handled_cpu_ms(args.db, args.agreements, args.counts, args.batch)
    print(f"{where}: {per_count:.3f} ms of CPU per count handled ({args.counts} counts, "
          f"{args.agreements} agreements, batches of {args.batch})")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
