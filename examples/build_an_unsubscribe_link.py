"""Build a one-click unsubscribe link and its RFC 8058 headers for a recipient, in a throwaway SQLite database.

Run: python examples/build_an_unsubscribe_link.py
"""

import tempfile
from pathlib import Path

from consentry.sdk.store import make_engine, upgrade
from consentry.sdk.unsubscribe import UnsubscribeTokens, build_link

if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as home:  # removed at the end, database and all
        url = f"sqlite:///{Path(home) / 'consentry.db'}"
        upgrade(url)
        engine = make_engine(url)
        tokens = UnsubscribeTokens("use-CONSENTRY_UNSUBSCRIBE_SECRET-in-production")
        link = build_link(
            engine,
            tokens,
            base_url="https://consent.example.com",
            email="jeanne@example.com",
            channels=("email", "sms"),
            advertiser="acme",
        )
        engine.dispose()
    print(link.url)
    for name, value in link.headers.items():
        print(f"{name}: {value}")
