"""The supervisor pages in a real browser (Debian's chromium through Playwright) against a served station with a
simulated camera: login, the order review page (clip playing and seeking to each scan, photos, timeline, dispute,
evidence link; hold, release and cancel through the reason dialog, and a version conflict), the dashboard (the
queue in any status, finding an order by any of its numbers), and the language toggle."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from apikit import ADMIN, ORDER, PASSWORD
from playwright.sync_api import Browser, ConsoleMessage, Page, expect
from videokit import CAMERA, VideoStation, pack_and_label, served_video_station, wait

from station.orders.intake import intake_order

ORDER_ID = str(ORDER["order_id"])


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[VideoStation, str]]:
    yield from served_video_station(tmp_path, CAMERA)


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(locale="en-US")
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda message: _keep_errors(message, problems))
    page.on("pageerror", lambda error: problems.append(str(error)))
    yield page
    context.close()
    assert problems == [], problems  # no script error and no policy violation on any page


# Answers the pages expect and handle: 401 before logging in (and for a wrong password), 404 when the page looks
# past the last photo or for an order the station does not have, 409 for an action the station refused (no
# reason, a stale version) and 422 for a search it refused.
_EXPECTED = ("status of 401", "status of 404", "status of 409", "status of 422")


def _keep_errors(message: ConsoleMessage, problems: list[str]) -> None:
    if message.type == "error" and not any(expected in message.text for expected in _EXPECTED):
        problems.append(message.text)


def _log_in(page: Page, base_url: str, next_path: str) -> None:
    page.goto(base_url + next_path)
    page.wait_for_url(f"**/login?next={next_path.replace('/', '%2F')}")
    page.fill("#username", "zhao")
    page.fill("#password", "wrong password")
    page.click("#submit")
    page.wait_for_selector("#error:not([hidden])")
    assert page.text_content("#error") == "Wrong user name or password."
    page.fill("#password", PASSWORD)
    page.click("#submit")
    page.wait_for_url(base_url + next_path)


def test_the_order_page_plays_the_clip_and_jumps_to_each_scan(served: tuple[VideoStation, str], page: Page) -> None:
    station, base_url = served
    pack_and_label(station)
    service = station.station.video
    assert service is not None
    clip = wait(lambda: station.db(service.clip_row, ORDER_ID))
    events = station.db(station.station.store.events_for_order, ORDER_ID)

    _log_in(page, base_url, f"/orders/{ORDER_ID}")
    page.wait_for_selector("#player:not([hidden])")
    assert page.text_content("#order-id") == ORDER_ID
    assert "Labeled" in (page.text_content("#facts") or "")
    assert page.text_content("#lines tbody tr td:last-child") == "2 / 2"
    wait(lambda: page.evaluate("document.getElementById('clip').readyState >= 1"))
    duration = page.evaluate("document.getElementById('clip').duration")
    assert duration == pytest.approx(clip["duration_s"], abs=0.5)

    markers = page.locator("button.marker")
    assert markers.count() == len(clip["markers"])
    labeled = page.locator("button.marker", has_text="order.status_changed:labeled")
    offset = float(labeled.get_attribute("data-offset") or "nan")
    labeled.click()
    wait(lambda: abs(page.evaluate("document.getElementById('clip').currentTime") - offset) < 0.5)

    assert page.locator("#timeline tbody tr").count() == len(events)
    page.wait_for_function(
        "document.querySelector('img.photo') && document.querySelector('img.photo').naturalWidth > 0"
    )
    assert page.get_attribute("#evidence", "href") == f"/api/v1/orders/{ORDER_ID}/evidence"

    page.click("#dispute-toggle")  # no reason yet: refused on the page
    assert page.is_visible("#error")
    page.evaluate("document.getElementById('clip').pause()")
    position = page.evaluate("document.getElementById('clip').currentTime")
    assert position > 0
    page.click("#language")  # switching the language keeps the clip where it is
    assert page.text_content("#dispute-toggle") == "标记为争议"
    assert page.evaluate("document.getElementById('clip').currentTime") == pytest.approx(position, abs=0.05)
    page.click("#language")
    page.fill("#dispute-reason", "customer reports an empty box")
    page.click("#dispute-toggle")
    page.wait_for_selector("#dispute-state.on")
    assert page.text_content("#dispute-state") == "Disputed: clip and photos are kept"
    after = station.db(station.station.store.events_for_order, ORDER_ID)
    assert after[-1]["type"] == "order.dispute_flagged"
    assert after[-1]["data"]["reason"] == "customer reports an empty box"


def test_the_language_toggle_switches_and_is_remembered(served: tuple[VideoStation, str], page: Page) -> None:
    _station, base_url = served
    _log_in(page, base_url, f"/orders/{ORDER_ID}")
    page.wait_for_selector("#facts dt")
    assert page.text_content("h1 [data-i18n=title_order]") == "Order review"
    page.click("#language")
    assert page.text_content("h1 [data-i18n=title_order]") == "订单复核"
    assert "待打包" in (page.text_content("#facts") or "")  # the status label in Chinese, from the API
    page.reload()
    page.wait_for_selector("#facts dt")
    assert page.text_content("h1 [data-i18n=title_order]") == "订单复核"


def test_the_dashboard_lists_the_queue_and_opens_an_order(served: tuple[VideoStation, str], page: Page) -> None:
    station, base_url = served
    assert station.station.alerts is not None
    station.db(station.station.alerts.device_state, "printer:B01", False, "paper out")
    _log_in(page, base_url, "/")
    page.wait_for_selector(f"#queue a:has-text('{ORDER_ID}')")
    assert "device_down · printer:B01" in (page.text_content("#alerts li.fault") or "")
    page.fill("#q", "SO20990101-404")
    page.press("#q", "Enter")
    page.wait_for_selector("#no-results:not([hidden])")
    assert page.text_content("#no-results") == "No order has this number."
    page.goto(base_url + "/orders/SO20990101-404")
    page.wait_for_selector("#error:not([hidden])")
    assert "No such order at this station." in (page.text_content("#error") or "")
    assert station.client.get("/").headers["content-security-policy"].startswith("default-src 'self'")


CHANNEL_ORDER = {
    "order_id": "SO20260206-0001",
    "version": 1,
    "channel": "douyin",
    "channel_order_no": "6921345500012",
    "carrier": "ZTO",
    "waybill_no": "ZT7788990011",
    "lines": [{"line_no": 1, "sku": "BOWL", "name": "碗", "barcodes": ["BOWL-1"], "qty": 1}],
}


def _hold(station: VideoStation, order_id: str, reason: str) -> None:
    """Someone else holds the order, through the API, with the version they read."""
    url = f"/api/v1/orders/{order_id}"
    etag = station.client.get(url, headers=station.sv).headers["etag"]
    response = station.client.post(
        url + "/actions/hold", json={"reason": reason}, headers={**station.sv, "If-Match": etag}
    )
    assert response.status_code == 200, response.text


def test_the_dashboard_finds_an_order_by_its_waybill_and_its_channel_number(
    served: tuple[VideoStation, str], page: Page
) -> None:
    station, base_url = served
    assert station.db(intake_order, station.station.store, CHANNEL_ORDER, ADMIN).ok
    _log_in(page, base_url, "/")
    page.wait_for_selector(f"#queue a:has-text('{ORDER_ID}')")

    page.fill("#q", "SF1234567890123")  # the sample order's waybill
    page.click("#search button[type=submit]")
    page.wait_for_selector(f"#found a:has-text('{ORDER_ID}')")
    rows = page.locator("#found tbody tr")
    assert rows.count() == 1
    assert rows.locator("td").nth(2).text_content() == "waybill SF1234567890123"
    assert rows.locator("td").nth(1).text_content() == "Pending"

    page.fill("#q", "6921345500012")  # the other order's channel order number
    page.press("#q", "Enter")
    page.wait_for_selector("#found a:has-text('SO20260206-0001')")
    assert page.locator("#found tbody tr").count() == 1
    assert page.text_content("#found tbody td:nth-child(3)") == "channel order number 6921345500012"
    page.click("#language")  # the results in Chinese too
    assert page.text_content("#found tbody td:nth-child(3)") == "平台订单号 6921345500012"
    page.click("#language")

    page.fill("#q", "SF*")  # refused by the station, which says why
    page.press("#q", "Enter")
    page.wait_for_selector("#error:not([hidden])")
    assert "A prefix search needs 3 characters before the *" in (page.text_content("#error") or "")

    _hold(station, ORDER_ID, "address check")  # the queue's status filter shows the held order
    page.select_option("#queue-status", "on_hold")
    # The pending list (both orders) shows until the held one replaces it: wait for that, not for a row.
    expect(page.locator("#queue tbody tr")).to_have_count(1)
    expect(page.locator("#queue tbody tr a")).to_have_text(ORDER_ID)

    page.fill("#q", "6921345500012")
    page.press("#q", "Enter")
    page.click("#found a:has-text('SO20260206-0001')")
    page.wait_for_url(base_url + "/orders/SO20260206-0001")
    page.wait_for_selector("#facts dt")
    assert "ZT7788990011" in (page.text_content("#facts") or "")


def _act(page: Page, button: str, reason: str | None) -> None:
    page.click(button)
    page.wait_for_selector("#action-dialog[open]")
    if reason is not None:
        page.fill("#action-reason", reason)
    page.click("#action-confirm")


def test_the_order_page_holds_releases_and_cancels_with_a_reason(served: tuple[VideoStation, str], page: Page) -> None:
    station, base_url = served
    _log_in(page, base_url, f"/orders/{ORDER_ID}")
    page.wait_for_selector("#facts dt")
    assert (page.is_enabled("#do-hold"), page.is_enabled("#do-release")) == (True, False)

    _act(page, "#do-hold", None)  # no reason: refused by the station, the dialog says so and stays open
    page.wait_for_selector("#action-error:not([hidden])")
    assert page.text_content("#action-error") == "A reason is required"
    assert page.is_visible("#action-dialog")
    page.fill("#action-reason", "address check")
    page.click("#action-confirm")
    page.wait_for_selector("#action-message:has-text('The order is on hold.')")
    assert not page.is_visible("#action-dialog")
    assert "On hold" in (page.text_content("#facts") or "")
    assert (page.is_enabled("#do-hold"), page.is_enabled("#do-release")) == (False, True)
    events = station.db(station.station.store.events_for_order, ORDER_ID)
    assert (events[-1]["data"]["to"], events[-1]["data"]["reason_text"]) == ("on_hold", "address check")
    assert events[-1]["actor"] == {"id": "zhao", "role": "supervisor", "device": "web", "bench": None}

    _act(page, "#do-release", "")  # a release needs no reason
    page.wait_for_selector("#action-message:has-text('The order is released.')")
    assert "Pending" in (page.text_content("#facts") or "")

    page.click("#language")  # the dialog in Chinese
    page.click("#do-cancel")
    page.wait_for_selector("#action-dialog[open]")
    assert page.text_content("#action-title") == "取消此订单"
    assert page.text_content("#action-hint") == "原因（必填）"
    page.click("#action-confirm")
    page.wait_for_selector("#action-error:not([hidden])")
    assert page.text_content("#action-error") == "需要原因"
    page.fill("#action-reason", "客户取消")
    page.click("#action-confirm")
    page.wait_for_selector("#action-message:has-text('订单已取消。')")
    assert "已取消" in (page.text_content("#facts") or "")
    assert [page.is_enabled(f"#do-{a}") for a in ("hold", "release", "cancel", "reprint")] == [False] * 4
    events = station.db(station.station.store.events_for_order, ORDER_ID)
    assert (events[-1]["data"]["to"], events[-1]["data"]["reason_text"]) == ("cancelled", "客户取消")


def test_a_stale_order_page_says_so_and_shows_the_order_as_it_is(served: tuple[VideoStation, str], page: Page) -> None:
    station, base_url = served
    _log_in(page, base_url, f"/orders/{ORDER_ID}")
    page.wait_for_selector("#facts dt")
    assert "Pending" in (page.text_content("#facts") or "")
    _hold(station, ORDER_ID, "held from the office")  # meanwhile, someone else

    _act(page, "#do-hold", "customer asked to wait")  # with the version the page read
    page.wait_for_selector("#action-message.conflict")
    assert page.text_content("#action-message") == (
        "Someone else changed this order meanwhile. It has been reloaded: check it and try again."
    )
    assert not page.is_visible("#action-dialog")
    page.wait_for_selector("#facts dd:has-text('On hold')")  # reloaded: the other supervisor's hold
    events = station.db(station.station.store.events_for_order, ORDER_ID)
    assert (events[-1]["type"], events[-1]["data"]["reason"]) == ("action.refused", "version_conflict")
    assert page.locator("#timeline tbody tr").count() == len(events)
    held = [e for e in events if e["type"] == "order.status_changed"]
    assert [e["data"]["reason_text"] for e in held] == ["held from the office"]  # nothing of ours was applied

    _act(page, "#do-release", "")  # with the version reloaded, the next action goes through
    page.wait_for_selector("#action-message:has-text('The order is released.')")
    assert "Pending" in (page.text_content("#facts") or "")


def test_pages_carry_no_data_and_the_api_still_asks_for_credentials(served: tuple[VideoStation, str]) -> None:
    station, _base_url = served
    shell = station.client.get(f"/orders/{ORDER_ID}")
    assert shell.status_code == 200
    assert ORDER_ID not in shell.text
    assert station.client.get(f"/api/v1/orders/{ORDER_ID}").status_code == 401


def test_login_never_sends_the_supervisor_to_another_site(served: tuple[VideoStation, str], page: Page) -> None:
    _station, base_url = served
    page.goto(base_url + "/login?next=//example.com/phish")
    page.fill("#username", "zhao")
    page.fill("#password", PASSWORD)
    page.click("#submit")
    page.wait_for_url(base_url + "/")


def test_the_bench_screen_shows_each_answer_and_the_order(served: tuple[VideoStation, str], page: Page) -> None:
    station, base_url = served
    token = station.bench["Authorization"].removeprefix("Bearer ")
    page.goto(f"{base_url}/bench/B01#token={token}")
    page.wait_for_selector("#prompt:has-text('Scan your badge to log in')")
    assert "token" not in page.url  # handed over once, kept on this computer, not left in the address bar
    station.scan("OP-001")
    page.wait_for_selector("#operator:has-text('李四 OP-001')")
    station.scan(ORDER_ID)
    page.wait_for_selector(f"#order-id:has-text('{ORDER_ID}')")
    station.scan("FOOD-2KG-BAG")
    page.wait_for_selector("#lines td.count:has-text('1 / 2')")
    assert page.get_attribute("#answer", "class") == "answer fb-ok"
    station.scan("6901234567892")  # a real GTIN, not on this order
    page.wait_for_selector("#answer.fb-wrong_item")
    assert page.text_content("#answer-zh") == "商品不属于此订单"
    assert page.text_content("#answer-en") == "Item is not on this order"
    page.reload()
    page.wait_for_selector("#answer.fb-wrong_item")


def test_the_bench_screen_asks_for_its_token(served: tuple[VideoStation, str], page: Page) -> None:
    _station, base_url = served
    page.goto(f"{base_url}/bench/B01#token=pst_not-a-token")
    page.wait_for_selector("#needs-token:not([hidden])")
    assert "/bench/<bench>#token=" in (page.text_content("#needs-token") or "")


def test_the_bench_screen_shows_an_order_the_hub_changed_and_what_to_put_back(
    served: tuple[VideoStation, str], page: Page
) -> None:
    station, base_url = served
    token = station.bench["Authorization"].removeprefix("Bearer ")
    page.goto(f"{base_url}/bench/B01#token={token}")
    station.scan("OP-001")
    station.scan(ORDER_ID)
    station.scan("FOOD-2KG-BAG")
    station.scan("FOOD-2KG-BAG", device="scanner-2")  # both bags in the box
    page.wait_for_selector("#lines td.count:has-text('2 / 2')")
    one_bag = dict(ORDER, version=int(str(ORDER["version"])) + 1, lines=[dict(ORDER["lines"][0], qty=1)])  # type: ignore[call-overload]
    assert station.db(intake_order, station.station.store, one_bag, ADMIN).reason == "revised_on_bench"
    page.wait_for_selector("#answer.fb-order_changed")
    assert "Order CHANGED" in (page.text_content("#answer-en") or "")
    assert "Quantity changed: FOOD 2 → 1" in (page.text_content("#changes") or "")
    page.wait_for_selector("#put-back:not([hidden]) td.count:has-text('0 / 1')")
    page.click("#language")
    page.wait_for_selector("#put-back h3:has-text('请从箱中取出并放回货架')")
    out = station.scan("FOOD-2KG-BAG", device="scanner-3")  # one bag out: nothing else to do, packed again
    assert out["outcome"] == "accepted", out
    page.wait_for_selector("#put-back[hidden]", state="attached")
    page.wait_for_selector("#answer.fb-ok")
    assert page.text_content("#changes") is not None
    assert page.is_hidden("#changes")  # the list goes with the notice


def test_the_order_page_says_when_the_recording_has_a_gap(served: tuple[VideoStation, str], page: Page) -> None:
    station, base_url = served
    pack_and_label(station)
    service = station.station.video
    assert service is not None
    wait(lambda: station.db(service.clip_row, ORDER_ID))
    window = station.db(service.window, ORDER_ID)
    lost = station.db(service.segments_between, window.start_ms, window.end_ms)[0]
    station.db(lambda: service.store.db.execute("DELETE FROM video_segments WHERE path = ?", [lost.path]))
    _log_in(page, base_url, f"/orders/{ORDER_ID}")
    page.wait_for_selector("#recording-gap:not([hidden])")
    assert "The recording has a gap" in (page.text_content("#recording-gap") or "")
    page.click("#language")
    page.wait_for_selector("#recording-gap:has-text('录像有中断')")
