import { STATUSES, api, el, formatTime, language, setUpHeader, showError, t } from "/static/common.js";

const REFRESH_MS = 5000;
const PAGE = 50;
let last = { alerts: [], queue: { orders: [] } };
// The last search: what was asked, the orders found so far (pages appended), and the cursor of the next page.
let search = null;

function orderLink(orderId) {
  const cell = el("td");
  cell.append(el("a", orderId, { href: "/orders/" + encodeURIComponent(orderId) }));
  return cell;
}

function renderQueue() {
  const alerts = document.getElementById("alerts");
  alerts.replaceChildren(
    ...(last.alerts.length
      ? last.alerts.map((a) => {
          const item = el("li", `${formatTime(a.at.ms)} · ${a.alert}${a.subject ? " · " + a.subject : ""}`);
          item.className = a.alert === "device_down" ? "alert fault" : "alert";
          return item;
        })
      : [el("li", t("no_alerts"), { class: "muted" })]),
  );
  const rows = last.queue.orders.map((o) => {
    const row = el("tr");
    row.append(orderLink(o.order_id), el("td", o.level), el("td", o.deadline ? formatTime(Date.parse(o.deadline)) : "—"));
    row.append(el("td", o.sla, { class: "sla " + o.sla }), el("td", o.why.join("; ")));
    return row;
  });
  if (!rows.length) {
    const empty = el("tr");
    empty.append(el("td", t("queue_empty"), { colspan: "5", class: "muted" }));
    rows.push(empty);
  }
  document.querySelector("#queue tbody").replaceChildren(...rows);
}

function renderResults() {
  const section = document.getElementById("results");
  section.hidden = !search;
  if (!search) return;
  document.getElementById("no-results").hidden = search.orders.length > 0;
  document.getElementById("found").hidden = search.orders.length === 0;
  document.getElementById("more").hidden = !search.next;
  document.querySelector("#found tbody").replaceChildren(
    ...search.orders.map((o) => {
      const row = el("tr");
      const how = o.matches.map((m) => `${t("by_" + m.by)} ${m.value}`).join("; ");
      row.append(orderLink(o.order_id), el("td", o.status_label[language()] ?? o.status), el("td", how));
      row.append(el("td", o.carrier ?? "—"), el("td", o.waybill_no ?? "—"), el("td", o.bench_id ?? "—"));
      row.append(el("td", formatTime(Date.parse(o.received_at))));
      return row;
    }),
  );
}

function renderStatuses() {
  const select = document.getElementById("queue-status");
  const chosen = select.value || "pending";
  select.replaceChildren(...STATUSES.map((s) => el("option", t("status_" + s), { value: s })));
  select.value = chosen;
}

function render() {
  renderStatuses();
  renderQueue();
  renderResults();
}

async function refresh() {
  const status = document.getElementById("queue-status").value || "pending";
  try {
    const [alerts, queue] = await Promise.all([
      api("/api/v1/alerts"),
      api(`/api/v1/queue?limit=${PAGE}&status=${encodeURIComponent(status)}`),
    ]);
    last = { alerts, queue };
    renderQueue();
    document.getElementById("updated").textContent = formatTime(Date.now());
    showError(null);
  } catch (error) {
    showError(error);
  }
}

/** One page of the search: the first (`cursor` null) replaces what was shown, a later one is appended. */
async function find(q, cursor) {
  const query = new URLSearchParams({ q, limit: String(PAGE) });
  if (cursor) query.set("cursor", cursor);
  try {
    const page = await api("/api/v1/orders?" + query);
    search = { q, orders: [...(cursor && search ? search.orders : []), ...page.orders], next: page.next_cursor };
    showError(null);
  } catch (error) {
    search = null; // the refusal says why (control characters, too long, …), in the page's language
    showError(error);
  }
  renderResults();
}

document.getElementById("search").addEventListener("submit", (event) => {
  event.preventDefault();
  const q = document.getElementById("q").value;
  if (q.trim()) find(q, null);
});
document.getElementById("more").addEventListener("click", () => {
  if (search?.next) find(search.q, search.next);
});
document.getElementById("queue-status").addEventListener("change", refresh);

setUpHeader(render);
render();
refresh();
setInterval(refresh, REFRESH_MS);
