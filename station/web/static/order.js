import { api, apiWithTag, el, formatTime, language, setUpHeader, showError, t } from "/static/common.js";

const orderId = decodeURIComponent(location.pathname.split("/").pop());
const base = "/api/v1/orders/" + encodeURIComponent(orderId);
const MAX_PHOTOS = 20;
// `etag` is the order version the page shows: every action names it in If-Match, so that an action on an order
// someone else changed meanwhile is refused instead of applied to a state the supervisor did not see.
let state = { order: null, etag: null, timeline: [], clip: null, clipProblem: null, photos: [] };

// The order actions: where each is sent, from which statuses it applies (what the lifecycle table allows; the
// station decides), and whether a reason is required (the station refuses hold and cancel without one).
const ACTIONS = {
  hold: { path: "/actions/hold", from: ["pending", "packing", "packed", "labeled"], reason: true },
  release: { path: "/actions/release", from: ["on_hold"], reason: false },
  cancel: { path: "/actions/cancel", from: ["pending", "packing", "packed", "labeled", "on_hold"], reason: true },
  reprint: { path: "/label/reprint", from: ["packed", "labeled"], reason: true },
};
let chosen = null; // the action whose dialog is open

function clock(seconds) {
  const whole = Math.max(0, Math.floor(seconds));
  return `${String(Math.floor(whole / 60)).padStart(2, "0")}:${String(whole % 60).padStart(2, "0")}`;
}

function disputed() {
  const flags = state.timeline.filter((e) => e.type === "order.dispute_flagged" || e.type === "order.dispute_cleared");
  return flags.length > 0 && flags[flags.length - 1].type === "order.dispute_flagged";
}

function renderSummary() {
  const o = state.order;
  const facts = document.getElementById("facts");
  if (!o) {
    facts.replaceChildren();
    return;
  }
  const rows = [
    ["status", o.status_label?.[language()] ?? o.status],
    ["bench", o.bench_id ?? "—"],
    ["carrier", o.carrier ?? "—"],
    ["waybill", o.waybill_no ?? "—"],
    ["weight", o.weight_g == null ? "—" : `${o.measured_weight_g ?? "—"} / ${o.weight_g} g`],
  ];
  facts.replaceChildren(...rows.flatMap(([key, value]) => [el("dt", t(key)), el("dd", String(value))]));
  document.querySelector("#lines tbody").replaceChildren(
    ...o.lines.map((line) => {
      const row = el("tr", "", line.verified < line.qty ? { class: "short" } : {});
      row.append(el("td", String(line.line_no)), el("td", line.sku), el("td", line.name));
      row.append(el("td", `${line.verified} / ${line.qty}`));
      return row;
    }),
  );
}

function renderClip() {
  const player = document.getElementById("player");
  const noClip = document.getElementById("no-clip");
  player.hidden = !state.clip;
  noClip.hidden = !!state.clip;
  if (!state.clip) {
    noClip.querySelector("span").textContent = t(state.clipProblem === "no_camera" ? "no_camera" : "no_clip");
    document.getElementById("make-clip").hidden = state.clipProblem === "no_camera";
    return;
  }
  // A clip cut short (a camera unplugged, a full disk) says so: the footage does not cover the whole packing.
  const missingS = (state.clip.recording_gaps ?? []).reduce((sum, [start, end]) => sum + (end - start) / 1000, 0);
  const gap = document.getElementById("recording-gap");
  gap.hidden = missingS === 0;
  gap.textContent = missingS ? t("recording_gap").replace("{s}", String(Math.round(missingS))) : "";
  const video = document.getElementById("clip");
  const source = base + "/clip"; // the browser fetches it in ranges and can seek anywhere
  if (video.getAttribute("src") !== source) video.src = source; // a language switch must not restart the clip
  document.getElementById("markers").replaceChildren(
    ...state.clip.markers.map(([offset, label]) => {
      const jump = el("button", `${clock(offset)}  ${label}`, { type: "button", "data-offset": String(offset) });
      jump.className = "marker";
      jump.addEventListener("click", () => {
        video.currentTime = offset;
        video.play().catch(() => {}); // autoplay policies may refuse; the frame is shown anyway
      });
      const item = el("li");
      item.append(jump);
      return item;
    }),
  );
}

function renderDispute() {
  const on = disputed();
  document.getElementById("dispute-state").textContent = t(on ? "disputed" : "not_disputed");
  document.getElementById("dispute-state").className = on ? "flag on" : "flag";
  document.getElementById("dispute-toggle").textContent = t(on ? "clear_dispute" : "flag_dispute");
}

function renderPhotos() {
  const box = document.getElementById("photos");
  box.replaceChildren(
    ...(state.photos.length
      ? state.photos.map((n) => el("img", "", { src: `${base}/photos/${n}`, alt: `photo ${n}`, class: "photo" }))
      : [el("p", t("no_photos"), { class: "muted" })]),
  );
}

function renderTimeline() {
  document.querySelector("#timeline tbody").replaceChildren(
    ...state.timeline.map((e) => {
      const row = el("tr", "", e.type === "scan.rejected" ? { class: "refused" } : {});
      const who = [e.actor.role, e.actor.id].filter(Boolean).join(" ");
      row.append(el("td", String(e.seq)), el("td", formatTime(e.at.ms)), el("td", e.type), el("td", who));
      row.append(el("td", JSON.stringify(e.data).slice(0, 300)));
      return row;
    }),
  );
}

function renderActions() {
  const status = state.order?.status;
  for (const [name, action] of Object.entries(ACTIONS)) {
    document.getElementById("do-" + name).disabled = !action.from.includes(status);
  }
}

function say(text, conflict = false) {
  const box = document.getElementById("action-message");
  box.textContent = text;
  box.className = conflict ? "conflict" : "";
  box.hidden = !text;
}

function render() {
  document.getElementById("order-id").textContent = orderId;
  document.title = `${orderId} — ${t("title_order")}`;
  document.getElementById("evidence").href = base + "/evidence";
  renderSummary();
  renderActions();
  renderDispute();
  renderPhotos();
  renderTimeline();
}

async function photoNumbers() {
  const found = [];
  for (let n = 1; n <= MAX_PHOTOS; n++) {
    const response = await fetch(`${base}/photos/${n}`, { credentials: "same-origin", method: "GET" });
    if (!response.ok) break;
    found.push(n);
  }
  return found;
}

/** The order (with its ETag) and its timeline, read again. */
async function readOrder() {
  const [order, timeline] = await Promise.all([apiWithTag(base), api(base + "/timeline")]);
  state.order = order.body;
  state.etag = order.etag;
  state.timeline = timeline.events;
}

async function load() {
  try {
    await readOrder();
  } catch (error) {
    showError(error.status === 404 ? new Error(t("not_found")) : error);
    render();
    return;
  }
  try {
    state.clip = await api(base + "/clip/markers");
    state.clipProblem = null;
  } catch (error) {
    state.clip = null;
    state.clipProblem = error.code ?? null;
  }
  state.photos = state.clipProblem === "no_camera" ? [] : await photoNumbers();
  showError(null);
  render();
  renderClip();
}

document.getElementById("make-clip").addEventListener("click", async (event) => {
  event.target.disabled = true;
  event.target.textContent = t("making_clip");
  try {
    await api(base + "/clip", { method: "POST" });
    await load();
  } catch (error) {
    showError(error);
  } finally {
    event.target.disabled = false;
    event.target.textContent = t("make_clip");
  }
});

document.getElementById("dispute-toggle").addEventListener("click", async () => {
  const reason = document.getElementById("dispute-reason");
  if (!reason.value.trim()) {
    reason.focus();
    showError(new Error(t("dispute_reason")));
    return;
  }
  try {
    await api(base + "/dispute", {
      method: "PUT",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ disputed: !disputed(), reason: reason.value.trim() }),
    });
    reason.value = "";
    const timeline = await api(base + "/timeline");
    state.timeline = timeline.events;
    showError(null);
    render();
  } catch (error) {
    showError(error);
  }
});

function openDialog(name) {
  chosen = name;
  document.getElementById("action-title").textContent = t("title_" + name);
  document.getElementById("action-hint").textContent = t(ACTIONS[name].reason ? "reason_needed" : "reason_optional");
  document.getElementById("action-reason").value = "";
  document.getElementById("action-error").hidden = true;
  document.getElementById("action-confirm").disabled = false;
  document.getElementById("action-dialog").showModal();
  document.getElementById("action-reason").focus();
}

function refusal(error) {
  // A reprint's reason is checked by the request's schema (422), hold and cancel by the lifecycle (409
  // reason_required): the same words on screen either way.
  if (error.status === 422 && error.errors.some((e) => e.startsWith("body.reason"))) return t("reason_required");
  return error.message;
}

/** Send the action with the version the page shows; the answer decides what the supervisor reads. */
async function perform(name, reason) {
  const body = name === "reprint" ? { reason, rerender: false } : { reason };
  const confirm = document.getElementById("action-confirm");
  confirm.disabled = true; // one click, one request
  try {
    await api(base + ACTIONS[name].path, {
      method: "POST",
      headers: { "Content-Type": "application/json", "If-Match": state.etag },
      body: JSON.stringify(body),
    });
  } catch (error) {
    if (error.code !== "version_conflict") {
      const box = document.getElementById("action-error");
      box.textContent = refusal(error);
      box.hidden = false;
      confirm.disabled = false;
      return; // the dialog stays open: the supervisor can give the reason and confirm again
    }
    document.getElementById("action-dialog").close();
    say(t("conflict"), true); // the station's word is that the page was out of date: show the order as it is now
    await reload();
    return;
  }
  document.getElementById("action-dialog").close();
  say(t("done_" + name));
  await reload();
}

async function reload() {
  try {
    await readOrder();
    showError(null);
  } catch (error) {
    showError(error);
  }
  render();
}

document.getElementById("actions").addEventListener("click", (event) => {
  const name = event.target.dataset?.action;
  if (name && !event.target.disabled) openDialog(name);
});
document.getElementById("action-form").addEventListener("submit", (event) => {
  event.preventDefault();
  if (chosen) perform(chosen, document.getElementById("action-reason").value.trim());
});
document.getElementById("action-back").addEventListener("click", () => document.getElementById("action-dialog").close());

setUpHeader(() => {
  render();
  if (state.clip) renderClip();
});
load();
