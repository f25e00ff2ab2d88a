"""Time `consentry check` against reading and parsing the same CSV without deciding, in one run.

    python benchmarks/bench_check.py [--count 1000000]

Each measurement runs in a fresh subprocess so that peak memory (ru_maxrss) belongs to that step alone.
Target (issue 2): check <= 2 x parse-only time, peak memory < 200 MB.
"""

import argparse
import json
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

from generate_contacts import DEFAULT_PATH, generate

AT = "2026-09-15T10:30:00+02:00"
STEPS = {
    "parse_only": ("parse", 1),
    "check_email": ("email", 1),
    "check_phone_human": ("phone_human", 1),
    "check_email --jobs 2": ("email", 2),
    "check_phone_human --jobs 2": ("phone_human", 2),
}


def _child(step: str, jobs: int, path: str) -> None:
    """Run one step in this process and print its wall time and peak memory as JSON."""
    from datetime import datetime

    from consentry.sdk.contacts_csv import check_stream, read_requests
    from consentry.sdk.vocabulary import Channel

    at = datetime.fromisoformat(AT)
    started = time.perf_counter()
    with open(path, newline="", encoding="utf-8") as source, open("/dev/null", "w") as sink:
        if step == "parse":
            rows = sum(1 for _ in read_requests(source, channel=Channel.EMAIL, at=at))
        else:
            rows, _errors = check_stream(source, sink, channel=Channel(step), at=at, jobs=jobs)
    seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if jobs > 1:  # each worker's peak, added: the memory the whole check needs at most
        peak_mb += jobs * resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(json.dumps({"rows": rows, "seconds": round(seconds, 2), "peak_mb": round(peak_mb, 1)}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--input", type=Path, default=None)
    arguments = parser.parse_args()
    path = arguments.input or DEFAULT_PATH.with_name(f"contacts_{arguments.count}.csv")
    if not path.exists():
        generate(path, arguments.count)
    print(f"machine: {platform.processor() or platform.machine()}, Python {platform.python_version()}")
    results = {}
    for name, (step, jobs) in STEPS.items():
        output = subprocess.run(
            [sys.executable, __file__, "--child", step, str(jobs), str(path)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        results[name] = json.loads(output)
    base = results["parse_only"]["seconds"]
    for name, result in results.items():
        ratio = result["seconds"] / base if base else float("nan")
        print(
            f"{name:<20}{result['rows']:>10} rows {result['seconds']:>8.2f} s  x{ratio:4.2f}"
            f"  {result['peak_mb']:>7.1f} MB"
        )


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--child":
        _child(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    else:
        main()
