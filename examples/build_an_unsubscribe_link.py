"""Build a one-click unsubscribe link and its RFC 8058 headers for a recipient, in a throwaway SQLite database.

Run: python examples/build_an_unsubscribe_link.py
"""

import tempfile
from pathlib import Path

from consentry.sdk.store import make_engine, upgrade
from consentry.sdk.unsubscribe import UnsubscribeTokens, build_link

if __name__ == "__main__":
    url = f"sqlite:///{Path(tempfile.mkdtemp()) / 'consentry.db'}"
    upgrade(url)
    tokens = UnsubscribeTokens("use-CONSENTRY_UNSUBSCRIBE_SECRET-in-production")
    link = build_link(
        make_engine(url),
        tokens,
        base_url="https://consent.example.com",
        email="jeanne@example.com",
        channels=("email", "sms"),
        advertiser="acme",
    )
    print(link.url)
    for name, value in link.headers.items():
        print(f"{name}: {value}")
