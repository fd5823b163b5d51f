"""The station's web pages: for supervisors login, the dashboard and an order's review page; for the packer the
bench screen (docs/architecture.md, "Interfaces").

The pages are static HTML and JavaScript; everything they show comes from the `/api/v1` routes with the
supervisor's session cookie (the bench screen: the bench's token), so the pages carry no data and no authority
of their own. Text is in zh-CN and
English (the browser's language first, a toggle on every page).
"""

from station.web.pages import STATIC_DIR, router

__all__ = ["STATIC_DIR", "router"]
