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
