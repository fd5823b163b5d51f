"""Test helpers for the printer drivers: recorded replies, a replaying fake transport, sample label data,
barcode decoding of rendered labels, and a pty that behaves like a USB printer class device.

Decoding uses zxing-cpp, an implementation independent of the renderer, so a label whose bars or QR
modules are wrong fails to decode rather than passing by construction.
"""

import io
import os
import select
import threading
import tty
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import zxingcpp
from PIL import Image

from drivers.printers import LabelData, VirtualPrinterEngine
from drivers.printers.errors import PrinterConnectError
from drivers.printers.transport import ReplyComplete

FIXTURES = Path(__file__).with_name("fixtures")


def recorded(name: str) -> bytes:
    """A recorded printer reply from ``fixtures/``."""
    return (FIXTURES / name).read_bytes()


def sample_data(**changes: object) -> LabelData:
    """The design document's sample order as label data; keyword arguments replace fields."""
    values: dict[str, object] = {
        "order_id": "SO20260205-8821",
        "carrier": "顺丰速运",
        "waybill_no": "SF1234567890123",
        "recipient_name": "张三",
        "recipient_phone": "13800138000",
        "province": "浙江省",
        "city": "杭州市",
        "district": "西湖区",
        "street": "文三路 90 号",
        "gift": True,
        "priority": "S",
    }
    values.update(changes)
    return LabelData(**values)  # type: ignore[arg-type]


@dataclass
class Decoded:
    """One barcode found in a picture."""

    format: str  # "Code128", "QRCode", ...
    text: str
    symbology: str
    left: int
    top: int


def decode(png: bytes) -> list[Decoded]:
    """Every barcode zxing-cpp finds in a PNG."""
    image = Image.open(io.BytesIO(png))
    found = []
    for result in zxingcpp.read_barcodes(image):
        corners = [result.position.top_left, result.position.bottom_left]
        found.append(
            Decoded(
                str(result.format).split(".")[-1].replace(" ", ""),
                result.text,
                result.symbology_identifier,
                min(p.x for p in corners),
                min(p.y for p in corners),
            )
        )
    return found


def ink(png: bytes, box: tuple[int, int, int, int]) -> float:
    """The share of black pixels inside ``box`` (left, top, right, bottom) of a rendered label."""
    image = Image.open(io.BytesIO(png)).convert("L").crop(box)
    pixels = image.tobytes()
    return sum(1 for value in pixels if value < 128) / len(pixels)


@dataclass
class ReplayTransport:
    """A fake printer link answering each query with a recorded reply, recording everything sent."""

    replies: dict[bytes, bytes | Callable[[], bytes]]
    description: str = "replay://printer"
    sent: list[bytes] = field(default_factory=list)
    queries: list[bytes] = field(default_factory=list)
    unreachable: bool = False

    def query(self, request: bytes, complete: ReplyComplete, timeout_s: float) -> bytes:
        if self.unreachable:
            raise PrinterConnectError("replay: unreachable")
        self.queries.append(request)
        reply = self.replies.get(request, b"")
        return reply() if callable(reply) else reply

    def send(self, payload: bytes, timeout_s: float) -> None:
        if self.unreachable:
            raise PrinterConnectError("replay: unreachable")
        self.sent.append(payload)

    def close(self) -> None:
        pass


class PtyPrinter:
    """A pty whose slave end plays a ``/dev/usb/lp*`` node, with a virtual printer on the master end."""

    def __init__(self, engine: VirtualPrinterEngine) -> None:
        self.engine = engine
        self.master, self._slave = os.openpty()
        # Raw mode on the slave: no echo, no line editing, bytes pass as they are (like a printer node).
        tty.setraw(self._slave)
        self.path = os.ttyname(self._slave)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> "PtyPrinter":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        os.close(self.master)
        os.close(self._slave)

    def _serve(self) -> None:
        # One stream for the device's lifetime, as the printer sees its USB port.
        link = self.engine.open_link()
        while not self._stop.is_set():
            if not select.select([self.master], [], [], 0.05)[0]:
                continue
            try:
                data = os.read(self.master, 65536)
            except OSError:
                return
            output = link.feed(data)
            for reply in output.replies:
                os.write(self.master, reply)
