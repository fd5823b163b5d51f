"""The demo's script: a packer's shift at bench B01, mistakes included, and what the station must say to each.

Each step is a scan (with the outcome the station must give), a hub action, or a line of narration. The
expected outcomes make the demo a check as well as a show: `station demo` exits 1 if the station answers
differently.
"""

from dataclasses import dataclass

ORDER_DOUYIN = "SO20261122-0001"  # 抖音, VIP A, 加急, SF, serialised feeder + gift bowl + 2 bags of cat food
ORDER_TMALL = "SO20261122-0002"  # 天猫, ZTO, shampoo x2 + conditioner + gift travel kit
ORDER_PDD = "SO20261122-0003"  # 拼多多, ZTO, tea box + 2 glasses — cancelled by the hub while on the bench
ORDER_WX = "SO20261122-0004"  # 小程序, VIP S, SF, desk lamp + 3 cables
ORDER_SHOPIFY = "#1001"  # a shop's own order number, as Shopify writes it: SF, a desk lamp
ORDER_ERP = "ERP-2026-000123"  # from the shop's ERP, sold on JD: tea box + 3 glasses, changed mid-pack
JD_SLIP = "301234567896"  # the JD order number on its packing slip (12 digits, shaped like a UPC-A)

FEEDER_UNIT = "]C1010690123456789221FP2611220007"  # GS1-128: GTIN + serial (AI 21)
BOWL_GIFT = "6901234567809"
CATFOOD = "6925123456715"
LITTER = "6925123456883"  # a product that is on no order here
SHAMPOO = "6931002003017"
CONDITIONER = "6931002003185"
TRAVEL_GIFT = "6931002003253"
TEA = "6948000111224"
MUG = "6948000111392"
LAMP = "6955667788010"
CABLE = "6955667788188"
CABLE_INTERNAL = "CABLE-USBC-1M"
SF_DOUYIN = "SF1400123456781"
ZTO_TMALL = "75312345678901"
ZTO_PDD = "75312345678918"
SF_WX = "SF1400123456798"
SF_SHOPIFY = "SF1400123456812"
JD_ERP = "JDVA00012345678"
COASTER_GIFT = "6948000111453"


@dataclass(frozen=True, slots=True)
class Step:
    """One step: `scan` a code (expecting `expect` = outcome or refusal reason), `cancel` an order, `revise` one
    (the hub sends its next version, from `changes.jsonl`), or `say`."""

    kind: str
    value: str
    expect: str = "accepted"
    note: str = ""
    gap_s: float = 1.5  # simulated seconds since the previous scan (a double read comes 0.1 s later)


def scan(code: str, expect: str = "accepted", note: str = "", gap_s: float = 1.5) -> Step:
    """A scan step."""
    return Step("scan", code, expect, note, gap_s)


def say(text: str) -> Step:
    """Narration."""
    return Step("say", text)


SCRIPT: tuple[Step, ...] = (
    say("李四 (packer) arrives at bench B01 and scans the first pick ticket before badging in."),
    scan(ORDER_DOUYIN, "not_logged_in"),
    scan("OP-1001"),
    scan(ORDER_DOUYIN, note="抖音 order, VIP A, 加急"),
    scan(FEEDER_UNIT, note="the feeder's GS1 label: GTIN + serial number"),
    scan(LITTER, "wrong_item", note="cat litter grabbed from the wrong tote"),
    scan(CATFOOD),
    scan(CATFOOD),
    scan(CATFOOD, "over_quantity", note="a third bag"),
    scan(BOWL_GIFT, note="the gift: last line, so the order is packed"),
    scan(SF_DOUYIN, note="the printed SF waybill scanned back"),
    say("Next: a 天猫 order. 李四 scans the shampoo once with a quantity of 2, and forgets the gift."),
    scan(ORDER_TMALL),
    scan("CMD:QTY:2"),
    scan(SHAMPOO),
    scan(CONDITIONER),
    scan("CMD:COMPLETE", "gift_missing"),
    scan(TRAVEL_GIFT),
    scan(ZTO_PDD, "waybill_mismatch", note="the label of another order lands on this box"),
    scan(ZTO_TMALL),
    say("A 拼多多 order; halfway through, the customer cancels it on the platform."),
    scan(ORDER_PDD),
    scan(TEA),
    Step("cancel", ORDER_PDD, note="customer cancelled in the app"),
    scan(MUG, "order_cancelled", note="李四 had not looked up yet: the bench still shows the cancelled order"),
    scan(ORDER_PDD, "order_cancelled", note="scanning the ticket again"),
    say("李四 puts the tea box back. Now an urgent 小程序 order for a VIP S customer."),
    scan(ORDER_WX),
    scan(LAMP),
    scan(CABLE_INTERNAL, note="the cable's internal label"),
    scan(CABLE_INTERNAL, "bounce", note="the scanner read the same label twice", gap_s=0.1),
    scan("CMD:QTY:2"),
    scan(CABLE),
    scan(SF_WX),
    say("A Shopify order: its pick ticket carries the shop's own number, #1001."),
    scan(ORDER_SHOPIFY, note="no pattern needed: the station knows the order by its number"),
    scan(LAMP),
    scan(SF_SHOPIFY),
    say("A JD order from the ERP. 李四 scans the JD number on the packing slip; halfway, the customer changes it."),
    scan(JD_SLIP, note="the channel's number opens the order, though it looks like a product code"),
    scan(TEA),
    scan(MUG),
    scan(MUG),
    Step("revise", ORDER_ERP, note="one glass instead of three, and a gift coaster"),
    scan("CMD:COMPLETE", "put_back_pending", note="a glass too many is still in the box"),
    scan(MUG, note="one glass out, back to the shelf"),
    scan(COASTER_GIFT, note="the new gift: the order is packed"),
    scan(JD_ERP),
    say("Pickup: the SF courier arrives at the dock; 李四 scans the boxes into a carrier batch."),
    scan("CMD:BATCH:SF"),
    scan(SF_DOUYIN),
    scan(ZTO_TMALL, "carrier_mismatch", note="a ZTO box in the SF pile"),
    scan(SF_WX),
    scan(ORDER_SHOPIFY, note="any number of the order hands it over at the dock"),
    scan("CMD:BATCH:CLOSE"),
    scan("CMD:LOGOUT"),
)
