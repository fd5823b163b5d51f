"""The station's durable store: one SQLite file, one writer, every change committed with its event."""

from station.store.database import CorruptDatabaseError, RecoveryReport, StoreError
from station.store.repository import Repository
from station.store.store import Store, Tx

__all__ = ["CorruptDatabaseError", "RecoveryReport", "Repository", "Store", "StoreError", "Tx"]
