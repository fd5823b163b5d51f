"""The `[printing]` section: auto-print, the label template, Chinese text, privacy masks and the queue's timings."""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

DEFAULT_CARRIER_NAMES: dict[str, str] = {
    "SF": "顺丰速运",
    "JD": "京东物流",
    "EMS": "中国邮政EMS",
    "YTO": "圆通速递",
    "ZTO": "中通快递",
    "STO": "申通快递",
    "YD": "韵达速递",
    "JT": "极兔速递",
}


class PrintingSettings(BaseModel):
    """Label printing: what goes on the label, how Chinese text prints, and how the print queue behaves."""

    model_config = ConfigDict(extra="forbid")

    auto_print: bool = Field(
        True, description="Queue the shipping label as soon as an order becomes packed (false: print on request)."
    )
    template: str = Field(
        "shipping_100x150",
        min_length=1,
        description="Shipping label template: a built-in name (shipping_100x150) or the path of a site's .zpl file.",
    )
    sscc_template: str = Field(
        "sscc_100x150", min_length=1, description="Template for SSCC (GS1-128, AI 00) labels: built-in name or path."
    )
    cjk: Literal["raster", "ci28"] = Field(
        "raster",
        description="How Chinese prints: 'raster' (drawn here with a CJK font, works on every printer) or "
        "'ci28' (the printer's own Unicode font with ^CI28).",
    )
    printer_font: str = Field(
        "E:ANMDS.TTF", min_length=1, description="The printer's Unicode font file, used with cjk = 'ci28'."
    )
    cjk_font: str | None = Field(
        None, description="CJK font file for cjk = 'raster'; unset = found among the installed fonts (Noto CJK, WQY)."
    )
    mask_phone: bool = Field(True, description="Print the recipient's phone masked (138****8000).")
    mask_name: bool = Field(False, description="Print the recipient's name masked (张*).")
    priority_marks: list[Literal["S", "A", "B", "C"]] = Field(
        default_factory=lambda: list[Literal["S", "A", "B", "C"]](["S", "A"]),
        description="Order levels that get a priority mark on the label.",
    )
    carrier_names: dict[str, str] = Field(
        default_factory=lambda: dict(DEFAULT_CARRIER_NAMES),
        description="Carrier code -> name printed on the label; an unlisted code prints as it is.",
    )
    status_poll_s: float = Field(
        30.0, gt=0, le=3600, description="While idle, ask the printer for its status this often (seconds)."
    )
    retry_backoff_min_s: float = Field(
        1.0, gt=0, le=600, description="First wait before asking a printer that is not ready again (seconds)."
    )
    retry_backoff_max_s: float = Field(
        30.0, gt=0, le=3600, description="Longest wait between asks while the printer stays not ready (seconds)."
    )
    recovery_settle_s: float = Field(
        2.0,
        ge=0,
        le=60,
        description="After a restart found a job mid-send: how long to watch the label counter after "
        "cancelling what the printer still held, before deciding the label did not print (seconds).",
    )

    keep_zpl_days: float = Field(
        30.0,
        gt=0,
        description="Keep each printed label's ZPL this long (days), for identical reprints and previews; "
        "older ones are made again from the order when needed (a label is 1-15 KB).",
    )

    @model_validator(mode="after")
    def _backoff_in_order(self) -> "PrintingSettings":
        if self.retry_backoff_max_s < self.retry_backoff_min_s:
            raise ValueError("retry_backoff_max_s must be at least retry_backoff_min_s")
        return self
