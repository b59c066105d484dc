"""Time prompt filters on hostile text: RE2 keeps a catastrophic regex linear in the text.

For ``(a+)+$`` over ``"a" * n + "!"`` (exponential for a backtracking engine), prints the time
per check at growing lengths and the ratio to the shortest, measured side by side in one run::

    python benchmarks/filters.py [--rounds 5]

Linear time shows as a ratio close to the length ratio; the test suite only checks that the
pattern is compiled by RE2 and matches correctly.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.moderation.filters import Filter, check

LENGTHS = (500, 1_500, 4_500)  # prompts are cut at 6000 characters before matching


def time_check(text: str, filters: list[Filter], rounds: int) -> float:
    """Return the median seconds one check of ``text`` takes."""
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        check([text], filters)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    """Print the time per check at each length and its ratio to the shortest."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    arguments = parser.parse_args()
    filters = [Filter(1, r"(a+)+$", "regex", "block", "0", 0.0)]
    check(["warm up"], filters)
    first = None
    for length in LENGTHS:
        seconds = time_check("a" * length + "!", filters, arguments.rounds)
        first = first or seconds
        print(
            f"(a+)+$ over {length:>7} characters: {seconds * 1000:8.2f} ms "
            f"({seconds / first:5.1f}x the {LENGTHS[0]}-character text, "
            f"{length // LENGTHS[0]}x the length)"
        )


if __name__ == "__main__":
    main()
