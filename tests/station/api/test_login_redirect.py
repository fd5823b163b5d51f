"""The login page's `next` only ever leads to a page of this station, in a real browser (Debian's chromium through
Playwright, as tests/station/api/test_pages.py): the URL parser reads `/\\host` and `/<tab>/host` as `//host`, so
a prefix test on the text lets them through. The rule lives in station/web/static/login.js alone (the server
redirects nowhere), so only a browser can check it."""

import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from apikit import PASSWORD
from playwright.sync_api import Browser, Page
from videokit import VideoStation, served_video_station

ELSEWHERE = [
    "/\\evil.invalid/",
    "/\t/evil.invalid/",
    "/\\/evil.invalid/",
    "//evil.invalid/",
    "https://evil.invalid/",
    "/\n/evil.invalid/",
    "javascript:alert(1)",
]


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[VideoStation, str]]:
    yield from served_video_station(tmp_path, "")


@pytest.fixture
def page(browser: Browser, served: tuple[VideoStation, str]) -> Iterator[Page]:
    _, base_url = served
    context = browser.new_context(locale="en-US")
    page = context.new_page()
    # Nothing may leave the station: a request elsewhere fails at once instead of waiting on the network.
    page.route(re.compile("^(?!" + re.escape(base_url) + "/)"), lambda route: route.abort())
    yield page
    context.close()


def _log_in_with_next(page: Page, base_url: str, next_value: str) -> None:
    page.goto(f"{base_url}/login?next={quote(next_value, safe='')}")
    page.fill("#username", "zhao")
    page.fill("#password", PASSWORD)
    page.click("#submit")


@pytest.mark.parametrize("next_value", ELSEWHERE, ids=[repr(n) for n in ELSEWHERE])
def test_a_next_elsewhere_leads_to_the_dashboard(served: tuple[VideoStation, str], page: Page, next_value: str) -> None:
    _, base_url = served
    _log_in_with_next(page, base_url, next_value)
    page.wait_for_url(base_url + "/", timeout=10_000)


def test_a_next_of_this_station_is_followed(served: tuple[VideoStation, str], page: Page) -> None:
    _, base_url = served
    _log_in_with_next(page, base_url, "/orders/SO20260205-8821?tab=clip#timeline")
    page.wait_for_url(base_url + "/orders/SO20260205-8821?tab=clip#timeline", timeout=10_000)


def test_a_next_that_resolves_to_two_slashes_stays_on_this_station(
    served: tuple[VideoStation, str], page: Page
) -> None:
    _, base_url = served
    _log_in_with_next(page, base_url, "/.//evil.invalid/")
    page.wait_for_url(lambda url: url.startswith(base_url + "/") and "login" not in url, timeout=10_000)
    assert page.url.startswith(base_url + "/")
