"""The supervisor pages in a real browser (Debian's chromium through Playwright) against a served station with a
simulated camera: login, the order review page (clip playing and seeking to each scan, photos, timeline, dispute,
evidence link), the dashboard, and the language toggle."""

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from apikit import ORDER, PASSWORD
from playwright.sync_api import Browser, ConsoleMessage, Page, sync_playwright
from videokit import CAMERA, VideoStation, pack_and_label, served_video_station, wait

ORDER_ID = str(ORDER["order_id"])


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[VideoStation, str]]:
    yield from served_video_station(tmp_path, CAMERA)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    chromium = shutil.which("chromium")
    assert chromium, "Debian's chromium is missing: run scripts/bootstrap --dev"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        yield browser
        browser.close()


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
# past the last photo or for an order the station does not have.
_EXPECTED = ("status of 401", "status of 404")


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
    page.fill("#order-id", "SO20990101-404")
    page.press("#order-id", "Enter")
    page.wait_for_url(base_url + "/orders/SO20990101-404")
    page.wait_for_selector("#error:not([hidden])")
    assert "No such order at this station." in (page.text_content("#error") or "")
    assert station.client.get("/").headers["content-security-policy"].startswith("default-src 'self'")


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
