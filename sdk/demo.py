"""The engine part of `consentry demo`: decide a bundled sample of contacts on every channel and summarise."""

from collections import Counter
from datetime import datetime
from pathlib import Path

from .contacts_csv import read_requests
from .rules import evaluate
from .vocabulary import Channel

DEMO_CHANNELS = (Channel.EMAIL, Channel.SMS, Channel.PHONE_HUMAN, Channel.AUTOMATED_CALL, Channel.FAX, Channel.POSTAL)


def summarise(contacts: Path, *, at: datetime) -> dict[Channel, tuple[Counter[str], Counter[str]]]:
    """Per channel: how many contacts get each verdict, and the most frequent blocking reasons."""
    summary: dict[Channel, tuple[Counter[str], Counter[str]]] = {}
    for channel in DEMO_CHANNELS:
        verdicts: Counter[str] = Counter()
        blockers: Counter[str] = Counter()
        with contacts.open(newline="", encoding="utf-8") as source:
            for row in read_requests(source, channel=channel, at=at):
                if row.request is None:
                    verdicts["invalid row"] += 1
                    continue
                decision = evaluate(row.request)
                verdicts[decision.verdict.value] += 1
                if not decision.allowed:
                    blockers.update(reason.code for reason in decision.reasons if reason.effect == "blocks")
        summary[channel] = (verdicts, blockers)
    return summary


def run_engine_demo(contacts: Path, *, at: datetime) -> int:
    print(f"Consentry rules engine on {contacts.name}, as of {at.isoformat()}\n")
    header = f"{'channel':<16}{'allowed':>9}{'with conditions':>17}{'forbidden':>11}  main reasons for forbidding"
    print(header)
    print("-" * len(header))
    for channel, (verdicts, blockers) in summarise(contacts, at=at).items():
        reasons = ", ".join(f"{code} ({count})" for code, count in blockers.most_common(3))
        print(
            f"{channel.value:<16}{verdicts['allowed']:>9}{verdicts['allowed_with_conditions']:>17}"
            f"{verdicts['forbidden']:>11}  {reasons}"
        )
    print("\nExplain any single case with `consentry explain --help`; check your own file with `consentry check`.")
    return 0
