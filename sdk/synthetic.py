"""Synthetic contacts for demos and benchmarks: a realistic, reproducible mix of French and European prospects.

Nothing here is personal data: addresses use the reserved `example.*` domains and phone numbers are drawn from
ranges no operator assigns to a person (ARCEP reserves 01 99 00, 02 61 91 ... for fiction; we keep to +33 1 99 00).
"""

import random
from collections.abc import Iterable, Iterator
from datetime import date, timedelta

COLUMNS = (
    "contact_id",
    "email",
    "phone",
    "audience",
    "jurisdiction",
    "time_zone",
    "consent_state",
    "consent_date",
    "existing_customer",
    "purchase_made",
    "similar_product",
    "objection_offered_at_collection",
    "data_source",
    "bloctel_registered",
    "calls_in_last_30_days",
)
_JURISDICTIONS = (("FR", 70), ("DE", 8), ("IT", 6), ("ES", 6), ("BE", 5), ("NL", 5))
_AUDIENCES = (("b2c", 60), ("b2b_nominative", 30), ("b2b_generic", 10))
_ZONES = {"FR": "Europe/Paris", "DE": "Europe/Berlin", "IT": "Europe/Rome", "ES": "Europe/Madrid"}
_ZONES |= {"BE": "Europe/Brussels", "NL": "Europe/Amsterdam"}
_OVERSEAS = ("Indian/Reunion", "America/Martinique", "America/Guadeloupe")
_SOURCES = (("collected_directly", 80), ("partner_transfer", 10), ("purchased_list", 5), ("public_web", 5))


def _pick(rng: random.Random, weighted: Iterable[tuple[str, int]]) -> str:
    values, weights = zip(*weighted, strict=True)
    return str(rng.choices(values, weights)[0])


def contact_rows(count: int, *, seed: int = 2026, start: int = 1) -> Iterator[dict[str, str]]:
    """`count` contacts as CSV-ready dicts (all values strings), identical for the same seed."""
    rng = random.Random(seed)
    base_day = date(2026, 1, 1)
    for number in range(start, start + count):
        jurisdiction = _pick(rng, _JURISDICTIONS)
        audience = _pick(rng, _AUDIENCES)
        customer = rng.random() < 0.35
        consent = rng.choices(("opt_in", "none", "withdrawn"), (45, 45, 10))[0]
        zone = _ZONES[jurisdiction]
        if jurisdiction == "FR" and rng.random() < 0.04:
            zone = rng.choice(_OVERSEAS)
        local = "info" if audience == "b2b_generic" else f"person{number}"
        yield {
            "contact_id": f"C{number:07d}",
            "email": f"{local}@company{number % 5000}.example.{'com' if audience != 'b2c' else 'org'}",
            "phone": f"+3319900{number % 10000:04d}",
            "audience": audience,
            "jurisdiction": jurisdiction,
            "time_zone": zone,
            "consent_state": consent,
            "consent_date": (base_day - timedelta(days=rng.randrange(30, 1500))).isoformat()
            if consent != "none"
            else "",
            "existing_customer": str(customer).lower(),
            "purchase_made": str(customer).lower(),
            "similar_product": str(customer and rng.random() < 0.8).lower(),
            "objection_offered_at_collection": str(rng.random() < 0.9).lower(),
            "data_source": _pick(rng, _SOURCES),
            "bloctel_registered": str(rng.random() < 0.2).lower(),
            "calls_in_last_30_days": str(rng.choice((0, 0, 0, 1, 2, 4))),
        }
