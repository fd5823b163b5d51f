"""What goes on a shipping label: :class:`LabelData`, the privacy masks for the recipient, and SSCC check
digits. This package's own plain types, so the station maps its order to them at its edge.
"""

import re
from dataclasses import dataclass

from drivers.printers.errors import PrinterConfigError

#: Values printed as Code 128 barcodes and Latin text (waybill, order id): printable ASCII without spaces,
#: except ZPL's command characters ``^`` ``~`` and the ``\`` escape.
_BARCODE_SAFE = re.compile(r"[\x21-\x5b\x5d\x5f-\x7d]+")
PRIORITIES = ("S", "A", "B", "C")
_SSCC_DATA_DIGITS = 17


@dataclass(frozen=True)
class LabelData:
    """One shipping label's content.

    ``waybill_no`` and ``order_id`` become Code 128 barcodes: printable ASCII without spaces and without
    ZPL's ``^``, ``~`` and backslash, so shops' ids such as ``#1001`` print. ``carrier`` is the carrier's
    display name (``顺丰速运`` or ``SF Express``). The address parts are printed in order (province, city,
    district, street). ``priority`` is the order level S/A/B/C (None: no mark). ``sscc`` is the 18-digit
    SSCC, or its 17 digits without the check digit, for the SSCC template.
    """

    order_id: str
    carrier: str
    waybill_no: str
    recipient_name: str
    recipient_phone: str
    province: str = ""
    city: str = ""
    district: str = ""
    street: str = ""
    gift: bool = False
    priority: str | None = None
    sscc: str | None = None
    remark: str = ""

    def __post_init__(self) -> None:
        """Refuse values a label cannot carry, naming the field."""
        for name in ("order_id", "waybill_no"):
            value = getattr(self, name)
            if not _BARCODE_SAFE.fullmatch(value or ""):
                raise PrinterConfigError(f"{name} {value!r}: use printable ASCII without spaces or ^ ~ \\")
        if self.priority is not None and self.priority not in PRIORITIES:
            raise PrinterConfigError(f"priority {self.priority!r}: use one of S, A, B, C or None")
        if self.sscc is not None:
            sscc_with_check_digit(self.sscc)  # raises on a bad SSCC

    @property
    def address(self) -> str:
        """The address parts joined the way Chinese addresses are written (no separators)."""
        return "".join(part.strip() for part in (self.province, self.city, self.district, self.street))


def mask_phone(phone: str) -> str:
    """Hide the middle of a phone number: ``13800138000`` → ``138****8000``.

    The last four digits stay (couriers ask for them); the first three stay when at least four digits
    would still be hidden. Non-digits (``+86``, spaces, dashes) are kept in place.
    """
    digit_positions = [i for i, ch in enumerate(phone) if ch.isdigit()]
    count = len(digit_positions)
    if count <= 4:
        return phone
    keep_head = 3 if count - 7 >= 4 else 0
    hidden = set(digit_positions[keep_head : count - 4])
    return "".join("*" if i in hidden else ch for i, ch in enumerate(phone))


def mask_name(name: str) -> str:
    """Hide all but the first character of a name: ``张三`` → ``张*``, ``欧阳娜娜`` → ``欧***``."""
    stripped = name.strip()
    return stripped[:1] + "*" * (len(stripped) - 1) if len(stripped) > 1 else stripped


def sscc_check_digit(digits17: str) -> str:
    """The GS1 mod-10 check digit of the first 17 digits of an SSCC."""
    if len(digits17) != _SSCC_DATA_DIGITS or not digits17.isdigit():
        raise PrinterConfigError(f"SSCC {digits17!r}: need 17 digits before the check digit")
    # GS1: weights 3 and 1 alternate from the rightmost data digit.
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(digits17)))
    return str((10 - total % 10) % 10)


def sscc_with_check_digit(sscc: str) -> str:
    """The full 18-digit SSCC: appends the check digit to 17 digits, or verifies the one given."""
    digits = sscc.strip()
    if len(digits) == _SSCC_DATA_DIGITS:
        return digits + sscc_check_digit(digits)
    if len(digits) == _SSCC_DATA_DIGITS + 1 and digits.isdigit():
        expected = sscc_check_digit(digits[:-1])
        if digits[-1] != expected:
            raise PrinterConfigError(f"SSCC {digits}: check digit should be {expected}")
        return digits
    raise PrinterConfigError(f"SSCC {sscc!r}: need 17 or 18 digits")


def sscc_human_readable(sscc: str) -> str:
    """The SSCC as printed under a GS1-128: ``(00) 1 2345678 901234567 5`` (extension, prefix+serial, check)."""
    full = sscc_with_check_digit(sscc)
    return f"(00) {full[0]} {full[1:8]} {full[8:17]} {full[17]}"
