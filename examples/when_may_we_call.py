"""Shows the French consumer phone rules changing on 2026-08-11, and when a refused call becomes lawful again.

Run: python examples/when_may_we_call.py
"""

from consentry.sdk import evaluate, next_lawful_call, request_from_fields


def ask(at: str, **facts) -> None:
    request = request_from_fields(
        {
            "jurisdiction": "FR",
            "channel": "phone_human",
            "audience": "b2c",
            "evaluated_at": at,
            "facts": {"callee_timezone": "Europe/Paris", **facts},
        }
    )
    decision = evaluate(request)
    print(f"{at}: {decision.verdict.value:<24} {', '.join(decision.reason_codes)}")
    if not decision.allowed:
        print(f"{'':27}next lawful call: {next_lawful_call(request)}")


if __name__ == "__main__":
    ask("2026-08-10T11:00:00+02:00", bloctel_registered=False)  # Bloctel era: opt-out
    ask("2026-08-11T11:00:00+02:00", bloctel_registered=False)  # opt-in era: consent needed
    ask("2026-08-11T13:30:00+02:00", consent_state="opt_in", consent_date="2026-06-01")  # lunch break
