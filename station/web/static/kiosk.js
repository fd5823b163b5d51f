// The bench screen: what the packer was just told, in big type, and the open order's lines with their counts.
// It long-polls the station (the request waits until a commit changes the screen, up to WAIT_S) with the bench's
// token, which is handed over once in the URL fragment (never sent to a server or written to a log) and kept on
// this computer.

import { el, language, setUpHeader, t } from "/static/common.js";

const WAIT_S = 25;
const RETRY_MS = 1000;
const bench = decodeURIComponent(location.pathname.split("/").pop());
const tokenKey = "bench-token:" + bench;
let screen = null;
let etag = null;

const handedOver = new URLSearchParams(location.hash.slice(1)).get("token");
if (handedOver) {
  localStorage.setItem(tokenKey, handedOver);
  history.replaceState(null, "", location.pathname); // the token does not stay in the address bar
}

function render() {
  document.getElementById("bench-id").textContent = bench;
  if (!screen) return;
  const who = screen.operator;
  document.getElementById("operator").textContent = who ? `${who.name ?? ""} ${who.badge}`.trim() : "";
  const answer = document.getElementById("answer");
  answer.className = "answer " + (screen.last ? "fb-" + screen.last.feedback : "");
  document.getElementById("answer-zh").textContent = screen.last?.message["zh-CN"] ?? "";
  document.getElementById("answer-en").textContent = screen.last?.message.en ?? "";
  const order = screen.order;
  document.getElementById("order-id").textContent = order ? order.order_id : "";
  document.getElementById("order-status").textContent = order ? order.status_label?.[language()] ?? order.status : "";
  document.getElementById("prompt").textContent = !who ? t("scan_badge") : order ? "" : t("scan_order");
  document.querySelector("#lines tbody").replaceChildren(
    ...(order ? order.lines : []).map((line) => {
      const row = el("tr", "", { class: line.verified >= line.qty ? "done" : "" });
      row.append(el("td", line.name), el("td", line.sku, { class: "muted" }));
      row.append(el("td", `${line.verified} / ${line.qty}`, { class: "count" }));
      return row;
    }),
  );
  renderPutBack(screen.put_back ?? []);
  renderChanges(screen.last?.outcome === "notice" ? screen.last : null);
}

// Units the changed order no longer wants, still in the box: each is scanned out, one by one.
function renderPutBack(rows) {
  const section = document.getElementById("put-back");
  section.hidden = rows.length === 0;
  section.querySelector("tbody").replaceChildren(
    ...rows.map((p) => {
      const row = el("tr");
      row.append(el("td", p.name), el("td", p.sku, { class: "muted" }));
      row.append(el("td", `${p.returned} / ${p.qty}`, { class: "count" }));
      return row;
    }),
  );
}

// The difference the hub sent, shown with the notice until the next answer replaces it. It names the order: a
// labelled box the bench has moved on from can be the one that changed.
function renderChanges(notice) {
  const section = document.getElementById("changes");
  const detail = notice?.detail;
  const items = [];
  section.querySelector("h3").textContent = notice ? `${t("changes")}: ${notice.order_id}` : t("changes");
  if (detail) {
    for (const a of detail.added ?? []) items.push(`${t("change_added")}: ${a.name} (${a.sku}) × ${a.qty}`);
    for (const r of detail.removed ?? []) items.push(`${t("change_removed")}: ${r.name} (${r.sku})`);
    for (const q of detail.qty_changed ?? []) items.push(`${t("change_qty")}: ${q.sku} ${q.from} → ${q.to}`);
    if (detail.address_changed) items.push(t("change_address"));
    if (detail.carrier_changed) items.push(t("change_carrier"));
    if (detail.waybill_changed) items.push(t("change_waybill"));
  }
  section.hidden = items.length === 0;
  section.querySelector("ul").replaceChildren(...items.map((text) => el("li", text)));
}

async function poll() {
  const token = localStorage.getItem(tokenKey);
  document.getElementById("needs-token").hidden = !!token;
  if (!token) return;
  try {
    const headers = { Authorization: "Bearer " + token };
    if (etag) headers["If-None-Match"] = etag;
    const url = `/api/v1/benches/${encodeURIComponent(bench)}/screen?wait=${etag ? WAIT_S : 0}`;
    const response = await fetch(url, { headers, cache: "no-store" });
    document.getElementById("offline").hidden = true;
    if (response.status === 401 || response.status === 403) {
      localStorage.removeItem(tokenKey); // revoked, or another bench's: someone must hand over the right one
      document.getElementById("needs-token").hidden = false;
      return;
    }
    if (response.status === 200) {
      etag = response.headers.get("ETag");
      screen = await response.json();
      render();
    }
    if (response.ok || response.status === 304) {
      setTimeout(poll, 0); // the next long-poll at once: the station answers when something changes
      return;
    }
  } catch {
    document.getElementById("offline").hidden = false; // the service restarting: keep trying
  }
  setTimeout(poll, RETRY_MS);
}

setUpHeader(render);
render();
poll();
