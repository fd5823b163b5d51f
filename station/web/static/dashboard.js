import { api, el, formatTime, setUpHeader, showError, t } from "/static/common.js";

const REFRESH_MS = 5000;
let last = { alerts: [], queue: { orders: [] } };

function render() {
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
    const cell = el("td");
    cell.append(el("a", o.order_id, { href: "/orders/" + encodeURIComponent(o.order_id) }));
    row.append(cell, el("td", o.level), el("td", o.deadline ? formatTime(Date.parse(o.deadline)) : "—"));
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

async function refresh() {
  try {
    const [alerts, queue] = await Promise.all([api("/api/v1/alerts"), api("/api/v1/queue?limit=50")]);
    last = { alerts, queue };
    render();
    document.getElementById("updated").textContent = formatTime(Date.now());
    showError(null);
  } catch (error) {
    showError(error);
  }
}

document.getElementById("open-order").addEventListener("submit", (event) => {
  event.preventDefault();
  const id = document.getElementById("order-id").value.trim();
  if (id) location.href = "/orders/" + encodeURIComponent(id);
});

setUpHeader(render);
refresh();
setInterval(refresh, REFRESH_MS);
