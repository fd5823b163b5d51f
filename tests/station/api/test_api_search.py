"""Finding any order over HTTP: `GET /api/v1/orders` by each number an order has, in any status, filtered and
paged; bad searches refused with a reason; `/api/v1/queue` for the final statuses; each lookup an index search."""

import sqlite3
from typing import Any
from urllib.parse import urlencode

import pytest
from apikit import ADMIN, ORDER, Api

from station.api.routes_search import search_term
from station.orders.actions import perform_action
from station.orders.intake import cancel_order, intake_order
from station.orders.lifecycle import Action
from station.store.migrations import migrate
from station.store.search import SearchTerm, hits_query

ORDERS = "/api/v1/orders"
FEEDER = {
    "order_id": "SO20260301-0001",
    "version": 1,
    "channel": "douyin",
    "channel_order_no": "6921345500012",
    "carrier": "ZTO",
    "waybill_no": "ZT7788990011",
    "lines": [
        {
            "line_no": 1,
            "sku": "FEEDER-PRO",
            "name": "喂食器",
            "barcodes": ["06901234567892"],
            "qty": 1,
            "serialized": True,
        },
        {"line_no": 2, "sku": "BOWL", "name": "碗", "barcodes": ["BOWL-SN*"], "qty": 1, "serialized": True},
    ],
}


def _scan(api: Api, code: str, device: str = "s1") -> dict[str, Any]:
    response = api.client.post(
        "/api/v1/benches/B01/scans", json={"code": code, "device": device}, headers=api.headers("bench")
    )
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def _find(api: Api, query: str = "", who: str = "supervisor", **headers: str) -> Any:
    response = api.client.get(ORDERS + query, headers=api.headers(who, **headers))
    assert response.status_code == 200, response.text
    return response.json()


def _ids(page: dict[str, Any]) -> list[str]:
    return [o["order_id"] for o in page["orders"]]


def _intake(api: Api, doc: dict[str, Any]) -> None:
    assert intake_order(api.station.store, doc, ADMIN, api.station.settings.priority).ok


@pytest.fixture
def packed_feeder(api: Api) -> Api:
    """FEEDER packed at B01: both of its units verified (a GS1 serial and a per-unit code), so it is `packed`."""
    _intake(api, FEEDER)
    assert _scan(api, "OP-001")["outcome"] == "accepted"
    assert _scan(api, FEEDER["order_id"])["status"] == "packing"
    assert _scan(api, "]C1010690123456789221SN01")["outcome"] == "accepted"
    assert _scan(api, "BOWL-SN-0042")["status"] == "packed"
    return api


@pytest.mark.parametrize(
    ("query", "by", "value"),
    [
        ("SO20260301-0001", "order_id", "SO20260301-0001"),
        ("6921345500012", "channel_order_no", "6921345500012"),
        ("ZT7788990011", "waybill_no", "ZT7788990011"),
        ("FEEDER-PRO", "sku", "FEEDER-PRO"),
        ("BOWL-SN-0042", "unit", "BOWL-SN-0042"),  # a per-unit code, as scanned
        ("06901234567892/SN01", "unit", "06901234567892/SN01"),  # a unit key, as the bench records it
        ("(01)06901234567892(21)SN01", "unit", "06901234567892/SN01"),  # the unit's GS1 code, as printed
    ],
)
def test_every_number_of_an_order_finds_it(packed_feeder: Api, query: str, by: str, value: str) -> None:
    page = _find(packed_feeder, "?" + _q(query))
    assert _ids(page) == [FEEDER["order_id"]]
    found = page["orders"][0]
    assert found["matches"] == [{"by": by, "value": value}]
    assert (found["status"], found["status_label"]) == ("packed", {"zh-CN": "已打包", "en": "Packed"})
    assert (found["channel_order_no"], found["waybill_no"], found["bench_id"]) == (
        "6921345500012",
        "ZT7788990011",
        "B01",
    )
    assert page["next_cursor"] is None


def _q(text: str) -> str:
    return urlencode({"q": text})


def test_a_number_two_orders_share_finds_both_and_says_how(api: Api) -> None:
    _intake(api, FEEDER)
    # another order whose channel number is the first one's waybill, and which has a FEEDER-PRO line too
    _intake(
        api,
        {
            **FEEDER,
            "order_id": "SO20260301-0002",
            "channel_order_no": "ZT7788990011",
            "waybill_no": "ZT0000000002",
            "lines": [FEEDER["lines"][0], {**FEEDER["lines"][0], "line_no": 2}],  # the SKU on two lines: one match
        },
    )
    page = _find(api, "?q=ZT7788990011")
    assert _ids(page) == ["SO20260301-0002", "SO20260301-0001"]  # newest first
    assert [o["matches"] for o in page["orders"]] == [
        [{"by": "channel_order_no", "value": "ZT7788990011"}],
        [{"by": "waybill_no", "value": "ZT7788990011"}],
    ]
    by_sku = _find(api, "?q=FEEDER-PRO")
    assert _ids(by_sku) == ["SO20260301-0002", "SO20260301-0001"]
    assert by_sku["orders"][0]["matches"] == [{"by": "sku", "value": "FEEDER-PRO"}]
    assert _find(api, "?q=feeder-pro")["orders"] == []  # exact: a SKU's case is part of it


def test_a_prefix_search_ends_with_a_star(api: Api) -> None:
    _intake(api, FEEDER)
    page = _find(api, "?q=ZT77889*")
    assert _ids(page) == [FEEDER["order_id"]]
    assert page["orders"][0]["matches"] == [{"by": "waybill_no", "value": "ZT7788990011"}]
    assert _ids(_find(api, "?q=SO2026*")) == [FEEDER["order_id"], ORDER["order_id"]]
    assert _find(api, "?q=ZT77889")["orders"] == []  # without the star, only the whole number


def test_unknown_number_finds_nothing(api: Api) -> None:
    assert _find(api, "?q=SF0000000000000") == {"orders": [], "next_cursor": None}


@pytest.mark.parametrize(
    ("query", "code", "zh", "en"),
    [
        ("SF123\x07", "search_control_characters", "搜索内容含控制字符", "The search contains control characters"),
        ("SF123\n", "search_control_characters", "搜索内容含控制字符", "The search contains control characters"),
        ("SF\u200b123", "search_control_characters", "搜索内容含控制字符", "The search contains control characters"),
        (
            "S" * 129,
            "search_too_long",
            "搜索内容过长（最多 128 个字符）",
            "The search is too long (128 characters at most)",
        ),
        (" \u3000 ", "search_empty", "请输入要查找的号码", "Type a number to search for"),
        (
            "SF*",
            "search_prefix_too_short",
            "前缀搜索需在 * 前至少输入 3 个字符",
            "A prefix search needs 3 characters before the *",
        ),
    ],
)
def test_a_bad_search_is_refused_with_a_reason(api: Api, query: str, code: str, zh: str, en: str) -> None:
    for language, detail in (("zh-CN,zh;q=0.9", zh), ("en-US", en)):
        response = api.client.get(
            ORDERS + "?" + _q(query), headers=api.headers("supervisor", **{"Accept-Language": language})
        )
        assert response.status_code == 422, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        problem = response.json()
        assert (problem["code"], problem["detail"]) == (code, detail)
        assert problem["errors"]
        assert problem["errors"][0].startswith("query.q: ")


def test_a_search_of_128_characters_is_a_search() -> None:
    assert search_term("S" * 128) == SearchTerm("S" * 128)
    assert search_term("\u3000SF123 ") == SearchTerm("SF123")  # blanks around a pasted number go
    assert search_term("SO2*") == SearchTerm("SO2", prefix=True)


def _hand_over(api: Api) -> None:
    """The sample order packed, labeled and handed over at a dock, all by scans."""
    for code, device in [
        ("OP-001", "s1"),
        (ORDER["order_id"], "s1"),
        ("CMD:QTY:2", "s1"),
        ("FOOD-2KG-BAG", "s1"),
        ("SF1234567890123", "s1"),
        ("CMD:BATCH:SF", "s1"),
        ("SF1234567890123", "s2"),
        ("CMD:BATCH:CLOSE", "s1"),
    ]:
        assert _scan(api, code, device)["outcome"] == "accepted", code


def test_orders_in_every_status_are_listed_and_found(api: Api) -> None:
    _hand_over(api)
    _intake(api, FEEDER)
    _intake(api, {**FEEDER, "order_id": "SO20260301-0003", "channel_order_no": None, "waybill_no": "ZT3"})
    cancel_order(api.station.store, "SO20260301-0003", "customer", ADMIN)
    handed = _find(api, "?status=handed_over")
    assert _ids(handed) == [ORDER["order_id"]]
    assert handed["orders"][0]["status_label"] == {"zh-CN": "已揽收", "en": "Handed over"}
    assert _ids(_find(api, "?q=SF1234567890123")) == [ORDER["order_id"]]  # a handed-over order by its waybill
    assert _ids(_find(api, "?status=cancelled")) == ["SO20260301-0003"]
    assert _ids(_find(api, "?status=pending")) == [FEEDER["order_id"]]
    assert _ids(_find(api)) == ["SO20260301-0003", FEEDER["order_id"], ORDER["order_id"]]
    assert _find(api, "?q=ZT3&status=pending")["orders"] == []
    queue = api.client.get("/api/v1/queue?status=handed_over", headers=api.headers("supervisor")).json()
    assert ([o["order_id"] for o in queue["orders"]], queue["total"]) == ([ORDER["order_id"]], 1)
    cancelled = api.client.get("/api/v1/queue?status=cancelled", headers=api.headers("pda")).json()
    assert [o["order_id"] for o in cancelled["orders"]] == ["SO20260301-0003"]


def test_filters_by_carrier_bench_and_level(packed_feeder: Api) -> None:
    api = packed_feeder
    _intake(
        api, {**FEEDER, "order_id": "SO20260301-0004", "channel_order_no": None, "waybill_no": None, "notes": "加急"}
    )
    assert _ids(_find(api, "?carrier=sf")) == [ORDER["order_id"]]  # carriers are kept upper-cased
    assert _ids(_find(api, "?carrier=ZTO")) == ["SO20260301-0004", FEEDER["order_id"]]
    assert _ids(_find(api, "?bench=B01")) == [FEEDER["order_id"]]
    assert _ids(_find(api, "?level=A")) == ["SO20260301-0004"]
    assert _ids(_find(api, "?q=FEEDER-PRO&status=packed&bench=B01")) == [FEEDER["order_id"]]


def test_pages_follow_the_cursor_newest_first_and_in_queue_order(api: Api) -> None:
    for i in range(5):
        _intake(
            api,
            {
                "order_id": f"SO20260302-000{i}",
                "version": 1,
                "ship_by": f"2030-01-0{5 - i}T10:00:00+08:00",  # the newest has the earliest deadline
                "lines": [{"line_no": 1, "sku": "X", "name": "x", "barcodes": ["X-1"], "qty": 1}],
            },
        )
    perform_action(api.station.store, "SO20260302-0002", Action.HOLD, ADMIN, reason="damaged")

    def walk(query: str) -> list[list[str]]:
        pages, cursor = [], None
        while True:
            page = _find(api, query + (f"&cursor={cursor}" if cursor else ""))
            pages.append(_ids(page))
            cursor = page["next_cursor"]
            if cursor is None:
                return pages

    newest = [f"SO20260302-000{i}" for i in (4, 3, 2, 1, 0)] + [ORDER["order_id"]]
    assert walk("?limit=2") == [newest[0:2], newest[2:4], newest[4:6]]
    assert walk("?q=X&limit=3") == [newest[0:3], newest[3:5]]
    assert walk("?status=pending&sort=queue&limit=2") == [
        ["SO20260302-0004", "SO20260302-0003"],
        ["SO20260302-0001", "SO20260302-0000"],
        [ORDER["order_id"]],  # no deadline: last
    ]
    assert walk("?limit=6") == [newest]


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("?sort=queue", "queue_order_needs_status"),
        ("?cursor=n.x", "bad_cursor"),
        ("?cursor=n.99999999999999999999", "bad_cursor"),
        ("?status=pending&sort=queue&cursor=n.3", "bad_cursor"),  # a cursor of the newest-first listing
        ("?status=shipped", "invalid_request"),
        ("?limit=0", "invalid_request"),
    ],
)
def test_bad_listing_parameters_are_refused(api: Api, query: str, code: str) -> None:
    response = api.client.get(ORDERS + query, headers=api.headers("supervisor"))
    assert response.status_code == 422, response.text
    assert response.json()["code"] == code


def test_only_supervisors_and_the_hub_search(api: Api) -> None:
    assert _find(api, "?q=SF1234567890123", who="hub")["orders"][0]["order_id"] == ORDER["order_id"]
    for who in ("bench", "pda"):
        assert api.client.get(ORDERS + "?q=SF1", headers=api.headers(who)).status_code == 403


@pytest.mark.parametrize("term", [SearchTerm("SF1234567890123"), SearchTerm("SF12345", prefix=True)])
def test_each_number_is_an_index_search(term: SearchTerm) -> None:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    migrate(conn)
    sql, params = hits_query(term, ["06901234567892/SN01"])
    plan = [row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + sql, params)]
    searches = [step for step in plan if step.startswith(("SEARCH", "SCAN"))]
    assert searches == [
        f"SEARCH orders USING COVERING INDEX sqlite_autoindex_orders_1 ({_range('order_id', term)})",
        f"SEARCH orders USING INDEX orders_by_channel_order_no ({_range('channel_order_no', term)})",
        f"SEARCH orders USING INDEX orders_by_waybill ({_range('waybill_no', term)})",
        f"SEARCH order_lines USING INDEX order_lines_by_sku ({_range('sku', term)})",
        f"SEARCH verified_units USING INDEX verified_units_by_unit ({_range('unit_key', term)})",
        "SEARCH verified_units USING INDEX verified_units_by_unit (unit_key=?)",
    ]


def _range(column: str, term: SearchTerm) -> str:
    return f"{column}>? AND {column}<?" if term.prefix else f"{column}=?"
