"""Which jurisdiction's rules apply to a contact, from the country a CRM records for it.

CRMs hold a country as a code ("FR", "FRA") or a name in English ("France", "Germany"); pycountry reads both. A
country Consentry has no rules for gives None, and the connector's configured jurisdiction applies instead. The
United Kingdom is "UK" in Consentry's vocabulary (ISO's "GB"). The five French overseas departments and regions are
France, where the CPCE applies (an interpretation: no text settles it).
"""

from functools import lru_cache

import pycountry

from .vocabulary import JURISDICTIONS

_ALIASES = {"GB": "UK", "GP": "FR", "MQ": "FR", "GF": "FR", "RE": "FR", "YT": "FR"}


@lru_cache(maxsize=1024)  # a sync reads the same few countries on every record
def jurisdiction_of_country(country: str | None) -> str | None:
    text = (country or "").strip()
    if not text:
        return None
    if text.upper() == "UK":
        return "UK"
    try:
        code = pycountry.countries.lookup(text).alpha_2
    except LookupError:
        return None
    code = _ALIASES.get(code, code)
    return code if code in JURISDICTIONS else None
