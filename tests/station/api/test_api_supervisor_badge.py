"""A bench token cannot stand in for a supervisor: a supervisor's badge posted over HTTP is refused unless
`[workflow] api_supervisor_badges` allows it; read by the bench's own scanner it works as before."""

from apikit import ADMIN, ORDER, Api

from station.orders.model import Role
from station.orders.operators import add_operator


def _scan(api: Api, code: str) -> dict[str, object]:
    response = api.client.post("/api/v1/benches/B01/scans", json={"code": code, "device": "scanner-1"},
                               headers=api.headers("bench"))  # fmt: skip
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


def test_a_supervisor_badge_posted_over_http_is_refused(api: Api) -> None:
    add_operator(api.station.store, "SV-001", "赵主管", Role.SUPERVISOR, ADMIN)
    refused = _scan(api, "SV-001")
    assert (refused["outcome"], refused["reason"]) == ("refused", "supervisor_badge_needs_scanner")
    assert _scan(api, "OP-001")["outcome"] == "accepted"  # a packer's badge is no authority: still fine
    assert _scan(api, str(ORDER["order_id"]))["outcome"] == "accepted"
    assert _scan(api, "CMD:ABORT:test")["outcome"] == "accepted"
    # The bench's own scanner (the workflow called directly, as the scanner bank does) still takes it.
    read = api.station.writer.submit(api.station.workflow.handle_scan, "B01", "SV-001", "scanner-1").result()
    assert (read.outcome, read.message_key) == ("accepted", "logged_in")


def test_a_site_may_allow_supervisor_badges_over_http(api: Api) -> None:
    add_operator(api.station.store, "SV-001", "赵主管", Role.SUPERVISOR, ADMIN)
    settings = api.station.workflow.settings
    api.station.workflow.settings = settings.model_copy(update={"api_supervisor_badges": True})
    assert _scan(api, "SV-001")["outcome"] == "accepted"
