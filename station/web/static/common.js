// Shared by every page: the two languages, calls to the API with the session cookie, small DOM helpers.

const TEXT = {
  en: {
    title_dashboard: "Packing Station — supervisor",
    title_order: "Order review",
    title_login: "Supervisor login",
    language: "中文",
    logout: "Log out",
    login: "Log in",
    username: "User name",
    password: "Password",
    login_failed: "Wrong user name or password.",
    too_many_attempts: "Too many attempts. Try again later.",
    alerts: "Alerts",
    no_alerts: "No alerts.",
    queue: "Queue",
    queue_empty: "No order in this status.",
    search: "Find an order",
    search_placeholder: "Order, channel order, waybill, SKU or serial number",
    find: "Find",
    results: "Found",
    no_results: "No order has this number.",
    found_by: "Found by",
    received: "Received",
    more: "More",
    by_order_id: "order number",
    by_channel_order_no: "channel order number",
    by_waybill_no: "waybill",
    by_sku: "SKU",
    by_unit: "unit / serial",
    status_pending: "Pending",
    status_packing: "Packing",
    status_packed: "Packed",
    status_labeled: "Labeled",
    status_handed_over: "Handed over",
    status_on_hold: "On hold",
    status_cancelled: "Cancelled",
    actions: "Actions",
    hold: "Hold",
    release: "Release",
    cancel: "Cancel order",
    reprint: "Reprint label",
    title_hold: "Hold this order",
    title_release: "Release this order",
    title_cancel: "Cancel this order",
    title_reprint: "Reprint the shipping label",
    reason_needed: "Reason (required)",
    reason_optional: "Reason (optional)",
    confirm: "Confirm",
    back: "Back",
    done_hold: "The order is on hold.",
    done_release: "The order is released.",
    done_cancel: "The order is cancelled.",
    done_reprint: "The label is queued to print again.",
    conflict: "Someone else changed this order meanwhile. It has been reloaded: check it and try again.",
    reason_required: "A reason is required",
    order: "Order",
    level: "Level",
    deadline: "Deadline",
    sla: "SLA",
    why: "Why",
    status: "Status",
    bench: "Bench",
    carrier: "Carrier",
    waybill: "Waybill",
    weight: "Weight",
    lines: "Lines",
    sku: "SKU",
    name: "Name",
    verified: "Verified",
    clip: "Packing clip",
    no_clip: "No clip for this order yet.",
    recording_gap: "The recording has a gap: {s} s of this order's packing are missing from the clip.",
    make_clip: "Make the clip now",
    making_clip: "Making the clip…",
    markers: "Moments (click to jump)",
    photos: "Packing photos",
    no_photos: "No packing photo.",
    timeline: "Timeline",
    time: "Time",
    event: "Event",
    who: "Who",
    details: "Details",
    evidence: "Download the evidence bundle (zip, signed)",
    disputed: "Disputed: clip and photos are kept",
    not_disputed: "Not disputed",
    flag_dispute: "Flag as disputed",
    clear_dispute: "Clear the dispute",
    dispute_reason: "Reason (required)",
    not_found: "No such order at this station.",
    no_camera: "This station has no camera.",
    error: "Something went wrong: ",
    updated: "Updated",
    kiosk_title: "Bench",
    scan_badge: "Scan your badge to log in",
    scan_order: "Scan an order",
    needs_token: "This screen needs its bench token: open /bench/<bench>#token=<the bench token> once on this computer.",
    offline: "No answer from the station — retrying…",
    changes: "What changed",
    change_added: "New line: scan it in",
    change_removed: "Line removed",
    change_qty: "Quantity changed",
    change_address: "The address changed: the box needs a new label",
    change_carrier: "The carrier changed: the box needs a new label",
    change_waybill: "The waybill changed: the old label is void",
    put_back: "Take out of the box and put back on the shelf",
  },
  "zh-CN": {
    title_dashboard: "打包工作站 — 主管",
    title_order: "订单复核",
    title_login: "主管登录",
    language: "English",
    logout: "退出登录",
    login: "登录",
    username: "用户名",
    password: "密码",
    login_failed: "用户名或密码错误。",
    too_many_attempts: "尝试次数过多，请稍后再试。",
    alerts: "告警",
    no_alerts: "没有告警。",
    queue: "队列",
    queue_empty: "没有此状态的订单。",
    search: "查找订单",
    search_placeholder: "订单号、平台订单号、运单号、SKU 或序列号",
    find: "查找",
    results: "查找结果",
    no_results: "没有订单使用此号码。",
    found_by: "匹配",
    received: "接单时间",
    more: "更多",
    by_order_id: "订单号",
    by_channel_order_no: "平台订单号",
    by_waybill_no: "运单号",
    by_sku: "SKU",
    by_unit: "单品码 / 序列号",
    status_pending: "待打包",
    status_packing: "打包中",
    status_packed: "已打包",
    status_labeled: "已打单",
    status_handed_over: "已揽收",
    status_on_hold: "已挂起",
    status_cancelled: "已取消",
    actions: "操作",
    hold: "挂起",
    release: "解除挂起",
    cancel: "取消订单",
    reprint: "补打面单",
    title_hold: "挂起此订单",
    title_release: "解除挂起此订单",
    title_cancel: "取消此订单",
    title_reprint: "补打快递面单",
    reason_needed: "原因（必填）",
    reason_optional: "原因（选填）",
    confirm: "确定",
    back: "返回",
    done_hold: "订单已挂起。",
    done_release: "订单已解除挂起。",
    done_cancel: "订单已取消。",
    done_reprint: "面单已重新排队打印。",
    conflict: "订单已被他人修改，已重新加载，请核对后再操作。",
    reason_required: "需要原因",
    order: "订单",
    level: "级别",
    deadline: "截止时间",
    sla: "时效",
    why: "原因",
    status: "状态",
    bench: "工位",
    carrier: "快递",
    waybill: "运单号",
    weight: "重量",
    lines: "商品明细",
    sku: "SKU",
    name: "名称",
    verified: "已核验",
    clip: "打包视频",
    no_clip: "该订单暂无视频。",
    recording_gap: "录像有中断：本订单打包过程中有 {s} 秒未被录下。",
    make_clip: "立即生成视频",
    making_clip: "正在生成视频…",
    markers: "关键时刻（点击跳转）",
    photos: "打包照片",
    no_photos: "没有打包照片。",
    timeline: "时间线",
    time: "时间",
    event: "事件",
    who: "操作人",
    details: "详情",
    evidence: "下载证据包（zip，已签名）",
    disputed: "争议中：视频和照片将被保留",
    not_disputed: "无争议",
    flag_dispute: "标记为争议",
    clear_dispute: "解除争议",
    dispute_reason: "原因（必填）",
    not_found: "本工作站没有该订单。",
    no_camera: "本工作站没有摄像头。",
    error: "出错了：",
    updated: "更新于",
    kiosk_title: "工位",
    scan_badge: "请扫描工牌登录",
    scan_order: "请扫描订单",
    needs_token: "此屏幕需要工位令牌：在本机打开一次 /bench/<工位>#token=<工位令牌>。",
    offline: "工作站无响应，正在重试…",
    changes: "订单变更内容",
    change_added: "新增商品：请扫描装箱",
    change_removed: "商品已删除",
    change_qty: "数量已变更",
    change_address: "收件地址已变更：须换新面单",
    change_carrier: "承运商已变更：须换新面单",
    change_waybill: "运单号已变更：旧面单作废",
    put_back: "请从箱中取出并放回货架",
  },
};

export function language() {
  const chosen = localStorage.getItem("lang");
  if (chosen === "en" || chosen === "zh-CN") return chosen;
  return (navigator.language || "").toLowerCase().startsWith("zh") ? "zh-CN" : "en";
}

export function t(key) {
  return TEXT[language()][key] ?? TEXT.en[key] ?? key;
}

/** Fill every [data-i18n] element (and [data-i18n-placeholder] input) in the current language. */
export function translate(root = document) {
  document.documentElement.lang = language();
  root.querySelectorAll("[data-i18n]").forEach((el) => (el.textContent = t(el.dataset.i18n)));
  root.querySelectorAll("[data-i18n-placeholder]").forEach((el) => (el.placeholder = t(el.dataset.i18nPlaceholder)));
}

/** The language toggle and logout button every page has; `rerender` redraws what the page built itself. */
export function setUpHeader(rerender) {
  const toggle = document.getElementById("language");
  if (toggle) {
    toggle.addEventListener("click", () => {
      localStorage.setItem("lang", language() === "en" ? "zh-CN" : "en");
      translate();
      rerender();
    });
  }
  const logout = document.getElementById("logout");
  if (logout) {
    logout.addEventListener("click", async () => {
      await fetch("/api/v1/auth/logout", { method: "POST", credentials: "same-origin" });
      location.href = "/login";
    });
  }
  translate();
}

export const STATUSES = ["pending", "packing", "packed", "labeled", "handed_over", "on_hold", "cancelled"];

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || String(status));
    this.status = status;
    this.code = problem.code;
    this.errors = problem.errors || [];
  }
}

/** `api` that also hands back the answer's ETag (the order version an action must name in If-Match). */
export async function apiWithTag(path, options = {}) {
  const response = await call(path, options);
  return { body: await response.json(), etag: response.headers.get("ETag") };
}

/** Call the API with the session cookie; a missing or expired session goes to the login page. */
export async function api(path, options = {}) {
  const response = await call(path, options);
  return response.status === 204 ? null : response.json();
}

// The request itself: a 401 goes to the login page, any other refusal becomes an ApiError with its problem.
// X-Requested-With shows the station the request comes from its own pages: another origin cannot send that
// header without a CORS preflight, so a body-less POST with the session cookie is accepted only with it.
async function call(path, options) {
  const headers = { "Accept-Language": language(), "X-Requested-With": "fetch", ...(options.headers || {}) };
  const response = await fetch(path, { credentials: "same-origin", ...options, headers });
  if (response.status === 401) {
    location.href = "/login?next=" + encodeURIComponent(location.pathname);
    throw new ApiError(401, {});
  }
  if (!response.ok) {
    let problem = {};
    try {
      problem = await response.json();
    } catch {
      // not a problem document: the status says enough
    }
    throw new ApiError(response.status, problem);
  }
  return response;
}

/** A new element with text and attributes (text is set as text, never as HTML). */
export function el(tag, text = "", attrs = {}) {
  const node = document.createElement(tag);
  if (text !== "") node.textContent = text;
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
  return node;
}

export function formatTime(ms) {
  return new Date(ms).toLocaleString(language(), { hour12: false });
}

export function showError(error) {
  const box = document.getElementById("error");
  if (!box) return;
  box.textContent = error ? t("error") + error.message : "";
  box.hidden = !error;
}
