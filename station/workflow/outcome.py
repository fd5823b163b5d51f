"""What a scan did, as the API, the bench screen and the indicator see it, with messages in zh-CN and English."""

from dataclasses import dataclass, field
from typing import Any

from station.orders.model import Feedback, Status

# Reason → the feedback pattern the bench shows. Anything not listed is a plain error.
_FEEDBACK: dict[str, Feedback] = {
    "wrong_item": Feedback.WRONG_ITEM,
    "over_quantity": Feedback.OVER_QUANTITY,
    "same_unit_twice": Feedback.OVER_QUANTITY,
    "order_cancelled": Feedback.BLOCKED,
    "order_on_hold": Feedback.BLOCKED,
    "open_at_other_bench": Feedback.BLOCKED,
    "waybill_mismatch": Feedback.BLOCKED,
    "label_voided": Feedback.BLOCKED,
    "unit_not_in_box": Feedback.WRONG_ITEM,
    "order_changed": Feedback.ORDER_CHANGED,
    "carrier_mismatch": Feedback.BLOCKED,
    "order_not_labeled": Feedback.BLOCKED,
    "needs_supervisor": Feedback.NEEDS_SUPERVISOR,
    "bench_not_configured": Feedback.BLOCKED,
    "supervisor_badge_needs_scanner": Feedback.NEEDS_SUPERVISOR,
    "order_already_packed": Feedback.NEEDS_SUPERVISOR,
}

MESSAGES: dict[str, tuple[str, str]] = {
    # reason: (zh-CN, en)
    "wrong_item": ("商品不属于此订单", "Item is not on this order"),
    "over_quantity": ("数量超出订单", "More than ordered"),
    "same_unit_twice": ("同一件商品重复扫描", "Same unit scanned twice"),
    "serial_required": ("此商品须扫描序列号条码", "Scan the unit's serial barcode"),
    "qty_not_allowed_for_serialized": ("序列号商品须逐件扫描", "Serialised items are scanned one by one"),
    "order_cancelled": ("订单已取消，停止打包！", "Order CANCELLED - stop packing!"),
    "order_on_hold": ("订单已挂起", "Order is on hold"),
    "order_handed_over": ("订单已揽收", "Order already handed over"),
    "open_at_other_bench": ("订单正在其他工位打包", "Order is open at another bench"),
    "order_already_packed": ("订单已打包，需主管重开", "Order already packed; a supervisor must reopen it"),
    "order_not_pending": ("订单当前状态不可开始打包", "Order cannot be opened in its current status"),
    "order_not_packed": ("订单尚未打包完成", "Order is not packed yet"),
    "order_not_packing": (
        "订单不在打包中，请扫描面单或下一单",
        "The order is not being packed; scan its label or the next order",
    ),
    "order_not_labeled": ("订单未打单，不可交接", "Order is not labeled; cannot hand over"),
    "not_logged_in": ("请先扫描工牌登录", "Scan your badge to log in first"),
    "unknown_badge": ("工牌未登记", "Badge not registered"),
    "bench_not_configured": (
        "本工作站没有为此工位配置设备（摄像头、秤、打印机），不能在此打包",
        "This station has no devices (camera, scale, printer) for this bench: packing here is refused",
    ),
    "supervisor_badge_needs_scanner": (
        "主管工牌须由工位扫描枪读取",
        "A supervisor's badge must be read by the bench's scanner",
    ),
    "unknown_order": ("系统中无此订单", "Order not known at this station"),
    "unknown_waybill": ("运单号不属于任何订单", "Waybill belongs to no order"),
    "unknown_code": ("无法识别的条码", "Barcode not recognised"),
    "unknown_command": ("未知指令", "Unknown command"),
    "unknown_carrier": ("未知承运商", "Unknown carrier"),
    "bad_command_argument": ("指令参数无效", "Invalid command argument"),
    "bad_check_digit": ("条码校验位错误，请重扫", "Check digit wrong; rescan"),
    "gs1_separator_missing": ("条码分隔符缺失，请重扫", "GS1 separator missing; rescan"),
    "gs1_invalid": ("GS1 条码无效", "Invalid GS1 barcode"),
    "invalid_utf8": ("条码数据无效", "Unreadable barcode data"),
    "control_characters": ("条码含控制字符", "Barcode contains control characters"),
    "too_long": ("条码过长", "Barcode too long"),
    "empty": ("空条码", "Empty scan"),
    "no_open_order": ("请先扫描订单", "Scan an order first"),
    "other_order_open": (
        "另一订单正在打包，请先完成或中止",
        "Another order is open; complete or abort it first",
    ),
    "label_pending": ("请先扫描已贴运单完成上一单", "Scan the previous order's label first"),
    "lines_incomplete": ("还有商品未扫描", "Items still missing"),
    "gift_missing": ("赠品未扫描", "Gift not scanned"),
    "weight_missing": ("秤未稳定，请稍候", "Scale has no stable weight yet"),
    "weight_out_of_tolerance": ("重量不符，请检查包裹", "Weight out of tolerance; check the box"),
    "photo_missing": ("打包照片未保存", "Packing photo not stored"),
    "label_not_printed": ("面单未打印成功", "Label not confirmed printed"),
    "waybill_mismatch": ("运单不属于此订单，面单贴错！", "Waybill belongs to another order - label swap!"),
    "carrier_mismatch": ("承运商与交接批次不符", "Carrier does not match the batch"),
    "label_voided": (
        "此面单已作废（订单已变更），请贴新面单",
        "This label is VOID (the order changed): use the new label",
    ),
    "put_back_pending": ("请先取出订单已删除的商品", "First take out the items the order no longer has"),
    "unit_not_in_box": ("此件不在本订单箱内", "This unit is not in this order's box"),
    "order_changed": ("订单已变更，请按屏幕核对", "Order CHANGED - check the screen"),
    "order_changed_repack": ("订单已变更，须重新核对并换面单", "Order CHANGED - check the box and relabel it"),
    "dock_expects_waybill": ("交接台请扫描运单", "At the dock, scan waybills"),
    "no_open_batch": ("没有打开的交接批次", "No carrier batch open"),
    "batch_already_open": ("已有打开的交接批次", "A carrier batch is already open"),
    "nothing_to_reopen": ("没有可重开的订单", "No packed order to reopen"),
    "nothing_to_reprint": ("工位上没有待贴面单的订单", "No packed order on the bench to reprint for"),
    "nothing_to_override": ("工位上没有正在打包的订单", "No order being packed on the bench"),
    "no_printer": ("此工位未配置打印机", "No label printer at this bench"),
    "label_in_progress": ("面单正在打印中", "A label for this order is already printing"),
    "needs_supervisor": ("需要主管工牌", "Supervisor badge needed"),
    "reason_required": ("需要原因", "A reason is required"),
    "invalid_transition": ("当前状态不允许此操作", "Not allowed in the current status"),
    "internal_error": ("系统错误，请联系主管", "Station error; call a supervisor"),
    # accepted outcomes
    "logged_in": ("已登录", "Logged in"),
    "logged_out": ("已退出", "Logged out"),
    "order_opened": ("开始打包", "Order opened"),
    "order_resumed": ("继续打包", "Order resumed"),
    "item_verified": ("商品已核对", "Item verified"),
    "item_put_back": ("已取出，请放回货架", "Taken out: put it back on the shelf"),
    "order_packed": ("打包完成，请贴面单", "Packed; apply the label"),
    "order_labeled": ("面单已核对", "Label verified"),
    "handed_over": ("已交接", "Handed over"),
    "order_aborted": ("已中止，商品退回", "Aborted; items returned"),
    "order_held": ("订单已挂起", "Order put on hold"),
    "order_reopened": ("订单已重开", "Order reopened"),
    "qty_armed": ("下一件按数量计", "Next scan counts as a quantity"),
    "reopen_requested": ("请主管扫描工牌确认重开", "Supervisor: scan badge to reopen"),
    "reprint_requested": ("请主管扫描工牌确认补打面单", "Supervisor: scan badge to reprint the label"),
    "override_requested": (
        "请主管扫描工牌确认：无打包照片完成",
        "Supervisor: scan badge to complete without the packing photo",
    ),
    "reprint_queued": ("面单已重新加入打印队列", "Label reprint queued"),
    "batch_opened": ("交接批次已打开", "Carrier batch opened"),
    "batch_closed": ("交接批次已关闭", "Carrier batch closed"),
    "bounce": ("重复读码已忽略", "Double read ignored"),
}


def feedback_for(reason: str) -> Feedback:
    """The feedback pattern for a refusal reason."""
    return _FEEDBACK.get(reason, Feedback.ERROR)


def message(key: str) -> dict[str, str]:
    """A message for people, in both languages."""
    zh, en = MESSAGES.get(key, (key, key))
    return {"zh-CN": zh, "en": en}


@dataclass(frozen=True, slots=True)
class ScanOutcome:
    """The answer to one scan (docs/orders.md, "The scan answer")."""

    outcome: str  # "accepted" | "refused" | "ignored" | "notice" (no scan: the order changed on the bench)
    kind: str
    feedback: Feedback
    reason: str | None = None
    order_id: str | None = None
    status: Status | None = None
    seq: int | None = None
    message_key: str = ""
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def accepted(self) -> bool:
        """True when the scan did what the packer meant."""
        return self.outcome == "accepted"

    @property
    def message(self) -> dict[str, str]:
        """What the bench screen shows."""
        return message(self.message_key or self.reason or self.outcome)

    def as_dict(self) -> dict[str, Any]:
        """The wire form (docs/orders.md, "The scan answer"), plus the people-facing message."""
        return {
            "outcome": self.outcome,
            "kind": self.kind,
            "reason": self.reason,
            "feedback": self.feedback.value,
            "order_id": self.order_id,
            "status": self.status.value if self.status else None,
            "seq": self.seq,
            "message": self.message,
            "detail": self.detail,
        }
