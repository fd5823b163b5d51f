"""Names and addresses show what they say: NUL and bidirectional controls are refused where text enters."""

import pytest
from benchkit import ADMIN, HUB, order_doc
from hypothesis import given
from hypothesis import strategies as st

from station.orders.intake import intake_order
from station.orders.model import Role
from station.orders.names import text_problem
from station.orders.operators import add_operator
from station.store import Store

TRICKS = ["\u202e", "\u2066", "\x00", "\x1b[31m", "\x07"]


@pytest.mark.parametrize("trick", TRICKS)
def test_an_order_with_a_trick_in_a_name_or_address_is_refused_naming_the_field(store: Store, trick: str) -> None:
    doc = order_doc(customer={"name": f"张{trick}三", "address": {"province": "浙", "city": "杭", "street": "路"}})
    result = intake_order(store, doc, HUB)
    assert (result.result, result.reason) == ("refused", "invalid_order")
    assert any(e.startswith("customer.name") and "must be plain text" in e for e in result.errors), result.errors
    doc = order_doc()
    doc["lines"][0]["name"] = f"喂食器{trick}"
    assert any(e.startswith("lines.0.name") for e in intake_order(store, doc, HUB).errors)


@pytest.mark.parametrize("trick", TRICKS)
def test_an_operator_name_with_a_trick_is_refused(store: Store, trick: str) -> None:
    with pytest.raises(ValueError, match="plain text"):
        add_operator(store, "OP-9", f"李{trick}四", Role.PACKER, ADMIN)


def test_real_names_pass() -> None:
    for name in ("欧阳娜娜", "O'Brien-Smith", "José Ñúñez", "محمد", "👩‍👩‍👧 家", "文三路 90 号 (东门)"):
        assert text_problem(name) is None, name
    assert text_problem("第一行\n第二行", multiline=True) is None


@given(st.text())
def test_a_refusal_always_names_a_character_that_is_in_the_text(value: str) -> None:
    problem = text_problem(value)
    if problem is not None:
        code = int(problem[2:6], 16)
        assert chr(code) in value
