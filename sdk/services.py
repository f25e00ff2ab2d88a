"""Wires the settings to the store, the suppression list and the ledger: what commands and services share."""

from dataclasses import dataclass

from sqlalchemy import Engine

from .ledger import Ledger
from .settings import Settings, load_settings
from .store import make_engine
from .suppression import Keyring, SuppressionList


@dataclass
class Services:
    settings: Settings
    engine: Engine
    suppression: SuppressionList
    ledger: Ledger

    def close(self) -> None:
        self.engine.dispose()


def open_services(settings: Settings | None = None) -> Services:
    settings = settings or load_settings()
    engine = make_engine(settings.database_url)
    suppression = SuppressionList(engine, Keyring.from_settings(settings))
    return Services(settings, engine, suppression, Ledger(engine, suppression))
