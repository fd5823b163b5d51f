"""What the printing refusals and errors say to people, in zh-CN and English (codes → (中文, English)).

Codes the workflow already explains (``needs_supervisor``, ``reason_required``, ``unknown_order``,
``order_not_packed``, ``label_not_printed``) are not repeated here.
"""

MESSAGES: dict[str, tuple[str, str]] = {
    "label_exists": (
        "该订单已有面单，如需再打请由主管申请补打",
        "This order already has a label; a supervisor can request a reprint",
    ),
    "label_in_progress": ("该订单的面单正在排队或打印中", "A label for this order is already queued or printing"),
    "no_sscc": ("订单没有 SSCC 编码", "The order carries no SSCC"),
    "unknown_job": ("打印任务不存在", "No such print job"),
    "job_not_unknown": ("该打印任务无需人工确认", "This print job is not waiting for a person's decision"),
    "no_printer": ("本工位未配置面单打印机", "No label printer is configured at this station"),
    "label_unavailable": ("无法生成此订单的面单", "No label can be made for this order"),
    "preview_unavailable": (
        "未安装面单预览组件（pip install 'packing-station[render]'）",
        "Label preview needs the optional renderer (pip install 'packing-station[render]')",
    ),
}
