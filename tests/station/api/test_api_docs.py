"""`/docs` works on a station without internet: the page and every file it loads come from the station."""

import re

from apikit import Api


def test_the_docs_page_loads_only_the_stations_own_files(api: Api) -> None:
    page = api.client.get("/docs")
    assert page.status_code == 200
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources, page.text
    assert all(source.startswith("/") for source in sources), sources  # no CDN, no other site
    for source in sources:
        asset = api.client.get(source)
        assert asset.status_code == 200, source
        assert asset.content, source
    assert "/api/v1/openapi.json" in page.text
