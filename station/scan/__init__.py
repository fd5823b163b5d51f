"""Scan interpreter: classify one raw scanner read as a command, badge, order, waybill, item or unknown code.

A pure function of the read and the `[scan]` rules (`ScanRules`); see `station.scan.interpreter` for the
classification order and `station.scan.gs1` for GS1 parsing and its separator checks.
"""

from station.scan.cache import ReadingCache
from station.scan.gtin import to_gtin14
from station.scan.interpreter import interpret
from station.scan.model import CodeKind, Command, ItemCode, Problem, Reading, Waybill
from station.scan.rules import ScanRules

__all__ = [
    "CodeKind",
    "Command",
    "ItemCode",
    "Problem",
    "Reading",
    "ReadingCache",
    "ScanRules",
    "Waybill",
    "interpret",
    "to_gtin14",
]
