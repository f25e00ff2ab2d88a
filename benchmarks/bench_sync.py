"""A sync over the three sandboxes: wall time, API calls per system against the minimum the vendors' batch limits
allow, and the sync process's peak memory, at two sizes (memory should not grow with the number of contacts).

    python benchmarks/bench_sync.py [--people 5800 58000]

Each person is in one, two or three systems (the demo's mix: 58,000 people make about 100,000 records), some have
opted out in one system only. The sync runs in a child process (`--child`), so its peak memory is its own, not the
sandboxes'. The first run does everything; the second reads only what changed and writes nothing.
"""

import argparse
import json
import math
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1]))

from consentry.connectors.hubspot.connector import SEARCH_PAGE
from consentry.connectors.mailchimp.connector import BATCH_SIZE as MAILCHIMP_BATCH
from consentry.connectors.mailchimp.connector import PAGE_SIZE as MAILCHIMP_PAGE
from consentry.webhook_server.demo import seed_mix
from consentry.webhook_server.stack import Stack

HUBSPOT_PAGE = HUBSPOT_BATCH = 100
SALESFORCE_PAGE, SALESFORCE_BATCH, SALESFORCE_BULK = 2000, 200, 2000
SALESFORCE_OBJECTS = ("Contact", "Lead")


def child() -> None:
    from consentry.webhook_server.runtime import build_runtime
    from consentry.webhook_server.sync import run_sync

    runtime = build_runtime()
    before_mb = memory_mb("VmRSS")
    started = time.monotonic()
    summary = run_sync(runtime)
    seconds = time.monotonic() - started
    figures = {
        "seconds": seconds,
        "peak_mb": memory_mb("VmHWM"),
        "before_mb": before_mb,
        "systems": {name: vars(counts) for name, counts in summary.systems.items()},
        "calls": {name: dict(c.transport.calls.by_kind) for name, c in runtime.connectors.items()},
        "people": summary.people,
    }
    runtime.close()
    print(json.dumps(figures))


def memory_mb(field: str) -> float:
    """This process's resident memory now (VmRSS) or at its peak (VmHWM), from Linux's /proc.

    Not `ru_maxrss`: Linux carries the parent's resident size across fork and exec into it, so a child started by
    a parent that seeded a large sandbox would report the parent's size as its own peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_child(stack: Stack) -> dict:
    output = subprocess.run(
        [sys.executable, __file__, "--child"], env=stack.env, capture_output=True, text=True, check=True
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


def minimum(system: str, read: int, tags: int, pushes: int, *, incremental: bool) -> int:
    """Reads in the largest pages and writes in the largest batches the vendor allows."""
    if system == "mailchimp":
        return ceil(read, MAILCHIMP_PAGE) + ceil(tags, MAILCHIMP_BATCH) + ceil(pushes, MAILCHIMP_BATCH)
    if system == "hubspot":
        reads = ceil(read, SEARCH_PAGE if incremental else HUBSPOT_PAGE)
        return reads + ceil(tags, HUBSPOT_BATCH) + ceil(pushes, HUBSPOT_BATCH)
    # Salesforce: one query per object at least; writes by 200, or above the threshold one Bulk API 2.0 job per
    # object (create, upload, close, one status check: waiting for the job costs more checks); an unsubscribe by
    # address first finds the records, one query per object.
    reads = max(ceil(read, SALESFORCE_PAGE), len(SALESFORCE_OBJECTS)) if read else 0
    writes = ceil(tags, SALESFORCE_BATCH) if tags <= SALESFORCE_BULK else 4 * len(SALESFORCE_OBJECTS)
    return reads + writes + ceil(pushes, SALESFORCE_BATCH) * (1 + len(SALESFORCE_OBJECTS))


def ceil(count: int, size: int) -> int:
    return math.ceil(count / size)


def measure(people: int) -> None:
    home = Path(tempfile.mkdtemp(prefix="consentry-bench-sync-"))
    try:
        measure_in(home, people)
    finally:
        shutil.rmtree(home, ignore_errors=True)


def measure_in(home: Path, people: int) -> None:
    with Stack(home=home, database_url=f"sqlite:///{home / 'consentry.db'}") as stack:
        stack.kill_worker()
        seed_mix(stack, people)
        for run in ("first", "second"):
            figures = run_child(stack)
            records = sum(s["read"] for s in figures["systems"].values())
            print(
                f"{people} people, {run} run: {records} records read in {figures['seconds']:.1f} s, "
                f"peak {figures['peak_mb']:.0f} MB ({figures['before_mb']:.0f} MB before the sync began)"
            )
            for name, counts in figures["systems"].items():
                calls = sum(figures["calls"][name].values())
                floor = minimum(
                    name,
                    counts["read"],
                    counts["tags_written"],
                    counts["unsubscribes_pushed"],
                    incremental=run == "second",
                )
                print(
                    f"  {name:<11} read {counts['read']:>6}  tags {counts['tags_written']:>6}  "
                    f"pushes {counts['unsubscribes_pushed']:>5}  calls {calls:>5} (minimum {floor})  "
                    f"{figures['calls'][name]}"
                )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--people", type=int, nargs="+", default=[5800, 58000])
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.child:
        child()
        return
    print(f"machine: {os.cpu_count()} CPUs; SQLite; sandboxes on 127.0.0.1")
    for people in arguments.people:
        measure(people)


if __name__ == "__main__":
    main()
