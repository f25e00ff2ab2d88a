"""Write N synthetic contacts (default 1,000,000) as a `consentry check` CSV.

python benchmarks/generate_contacts.py [--count N] [--output PATH]
"""

import argparse
import csv
from pathlib import Path

from consentry.sdk.synthetic import COLUMNS, contact_rows

DEFAULT_PATH = Path(__file__).parent / "out" / "contacts_1m.csv"


def generate(path: Path, count: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as stream:
        writer = csv.DictWriter(stream, COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(contact_rows(count))
    return path


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--output", type=Path, default=DEFAULT_PATH)
    arguments = parser.parse_args()
    print(generate(arguments.output, arguments.count))
