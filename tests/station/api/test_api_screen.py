"""`GET /benches/{bench}/screen`: who is logged in, the order with its counts, the last answer; ETag and 304."""

import asyncio
import threading
import time

from apikit import ORDER, Api

from station.api.queue_watch import ChangeSignal
from station.events import Actor
from station.orders.intake import intake_order

HUB = Actor(role="hub", id="hub-test")


def _scan(api: Api, code: str, device: str = "api") -> None:
    body = {"code": code, "device": device}
    response = api.client.post("/api/v1/benches/B01/scans", json=body, headers=api.headers("bench"))
    assert response.status_code == 200, response.text


def test_the_screen_follows_the_bench(api: Api) -> None:
    url = "/api/v1/benches/B01/screen"
    empty = api.client.get(url, headers=api.headers("bench"))
    assert empty.status_code == 200
    assert empty.json() == {
        "bench_id": "B01",
        "operator": None,
        "order": None,
        "answer_no": 0,
        "last": None,
        "put_back": [],
    }
    etag = empty.headers["etag"]
    unchanged = api.client.get(url, headers=api.headers("bench", **{"If-None-Match": etag}))
    assert unchanged.status_code == 304

    _scan(api, "OP-001")
    _scan(api, str(ORDER["order_id"]))
    _scan(api, "FOOD-2KG-BAG")
    _scan(api, "6901234567892")  # a valid GTIN that is not on the order
    screen = api.client.get(url, headers=api.headers("bench", **{"If-None-Match": etag}))
    assert screen.status_code == 200
    body = screen.json()
    assert body["operator"] == {"badge": "OP-001", "name": "李四", "role": "packer"}
    assert body["order"]["order_id"] == ORDER["order_id"]
    assert [(line["verified"], line["qty"]) for line in body["order"]["lines"]] == [(1, 2)]
    assert body["answer_no"] == 4
    assert body["last"]["feedback"] == "wrong_item"
    assert body["last"]["message"] == {"zh-CN": "商品不属于此订单", "en": "Item is not on this order"}
    assert screen.headers["etag"] != etag
    supervisor = api.client.get(url, headers=api.headers("supervisor"))
    assert supervisor.json() == body


def test_an_order_changed_on_the_bench_shows_what_changed_and_what_to_put_back(api: Api) -> None:
    _scan(api, "OP-001")
    _scan(api, str(ORDER["order_id"]))
    _scan(api, "CMD:QTY:2")
    _scan(api, "FOOD-2KG-BAG")  # both bags in the box: packed
    fewer = dict(ORDER, version=4, lines=[dict(ORDER["lines"][0], qty=1)])  # type: ignore[call-overload]
    assert intake_order(api.station.store, fewer, HUB).reason == "revised_on_bench"
    body = api.client.get("/api/v1/benches/B01/screen", headers=api.headers("bench")).json()
    assert (body["last"]["outcome"], body["last"]["feedback"]) == ("notice", "order_changed")
    assert body["last"]["message"]["en"] == "Order CHANGED - check the box and relabel it"
    assert body["last"]["detail"]["qty_changed"] == [{"line_no": 1, "sku": "FOOD", "from": 2, "to": 1}]
    assert body["order"]["status"] == "packing"
    assert body["put_back"] == [{"line_no": 1, "sku": "FOOD", "name": "猫粮", "qty": 1, "returned": 0}]
    _scan(api, "FOOD-2KG-BAG", device="scanner-2")  # one bag out (another scanner: not a double read)
    after = api.client.get("/api/v1/benches/B01/screen", headers=api.headers("bench")).json()
    assert (after["put_back"], after["order"]["status"]) == ([], "packed")


def test_a_bench_token_reads_its_own_screen_only(api: Api) -> None:
    response = api.client.get("/api/v1/benches/B01/screen", headers=api.headers("other_bench"))
    assert response.status_code == 403
    assert response.json()["code"] == "wrong_bench"


def test_a_long_poll_answers_with_the_screen_a_scan_changed(api: Api) -> None:
    url = "/api/v1/benches/B01/screen"
    etag = api.client.get(url, headers=api.headers("bench")).headers["etag"]

    def scan_soon() -> None:
        time.sleep(0.5)  # while the long-poll below waits
        _scan(api, "OP-001")

    scanner = threading.Thread(target=scan_soon)
    scanner.start()
    waited = api.client.get(url + "?wait=20", headers=api.headers("bench", **{"If-None-Match": etag}))
    scanner.join()
    assert waited.status_code == 200
    assert waited.json()["operator"]["badge"] == "OP-001"
    still = api.headers("bench", **{"If-None-Match": waited.headers["etag"]})
    assert api.client.get(url + "?wait=1", headers=still).status_code == 304


def test_the_screen_signal_wakes_the_loop_only_while_a_long_poll_is_in_progress() -> None:
    async def run() -> tuple[int, int, str]:
        signal = ChangeSignal(only_while_watched=True)
        signal.bind(asyncio.get_running_loop())
        signal.bump()  # a commit with no screen waiting
        await asyncio.sleep(0.05)
        quiet = signal.generation
        etags = iter(["a", "b"])

        async def answer() -> tuple[str, None]:
            if signal.generation == quiet:
                bumper = threading.Thread(target=signal.bump)  # a commit while this answer is computed
                bumper.start()
                bumper.join()
            return next(etags), None

        etag, _ = await signal.until_changed(30, "a", answer)
        return quiet, signal.generation, etag

    quiet, after, etag = asyncio.run(run())
    assert quiet == 0
    assert after == 1
    assert etag == "b"
