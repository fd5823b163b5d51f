"""GTIN check digits and the 14-digit normal form.

GTIN-8, -12 (UPC-A), -13 (EAN-13) and -14 share one mod-10 check digit (weights 3,1,3,... from the right,
excluding the check digit), so padding with leading zeros to 14 digits changes nothing and gives one form to
compare an item scan with the barcodes listed on an order line. UPC-E (8 digits that must be expanded before
checking) is not supported: at Chinese benches EAN-13 is the norm.
"""

GTIN_LENGTHS = frozenset({8, 12, 13, 14})


def _is_ascii_digits(text: str) -> bool:
    # str.isdigit() also accepts other scripts' digits (e.g. "٣"), which are not GTIN digits.
    return text.isascii() and text.isdigit()


def looks_like_gtin(text: str) -> bool:
    """Whether the text has the shape of a GTIN (8, 12, 13 or 14 ASCII digits), whatever its check digit."""
    return len(text) in GTIN_LENGTHS and _is_ascii_digits(text)


def check_digit(payload: str) -> int:
    """The GS1 mod-10 check digit for a string of ASCII digits without its check digit."""
    total = sum(int(digit) * (3 if position % 2 == 0 else 1) for position, digit in enumerate(reversed(payload)))
    return (10 - total % 10) % 10


def is_valid_gtin(text: str) -> bool:
    """Whether the text is a GTIN-8/12/13/14 with a correct check digit."""
    return looks_like_gtin(text) and check_digit(text[:-1]) == int(text[-1])


def to_gtin14(text: str) -> str | None:
    """The 14-digit form of a valid GTIN, or None when the text is not one.

    Use it to normalise the barcodes on order lines before comparing them with `ItemCode.gtin14`.
    """
    return text.zfill(14) if is_valid_gtin(text) else None
