// The supervisor's page: live calls and who waits in the queue (from hello's `calls` and
// each `call`), beside them the virtual callers who pressed 1 to keep their place (polled
// from GET /api/keep-place), tickets near or past a deadline, warnings and escalations as
// they come, extension requests to approve or reject, and the SLA report (sla.js).

import {
  api, connectLive, countup, debounce, fill, h, label, notify, say, span, t, tierBadge, when,
} from "./console.js";
import { TicketPanel, act, ticketItem } from "./tickets.js";
import { startSla } from "./sla.js";

const FEED_LENGTH = 100;
const RANK = { queued: 0, ringing: 1, arriving: 2, talking: 3 };
const part = (id) => document.getElementById(id);
const live = part("live-calls");
const summary = part("queue-summary");
const attention = part("attention");
const escalations = part("escalations");
const requests = part("extension-requests");
const kept = part("kept-places");
const keptSummary = part("kept-summary");
const panel = new TicketPanel(part("ticket-detail"), { prefix: "detail-", closable: true, onChanged: () => refreshSoon() });
const calls = new Map();

// --- live calls ------------------------------------------------------------------------

function callOrder(a, b) {
  return (RANK[a.state] ?? 9) - (RANK[b.state] ?? 9)
    || Date.parse(a.queued_at || a.arrived_at || 0) - Date.parse(b.queued_at || b.arrived_at || 0);
}

function clockFor(call) {
  if (call.state === "talking" && call.answered_at) return countup(call.answered_at);
  return countup(call.queued_at || call.arrived_at);
}

function renderCalls() {
  const list = [...calls.values()].filter((call) => call.state !== "ended").sort(callOrder);
  // Waiting: every caller not yet answered, in the queue or ringing an agent.
  const waiting = list.filter((call) => call.state === "queued" || call.state === "ringing");
  fill(summary, t("supervisor.waiting", { count: waiting.length }),
    waiting.length ? [" · ", t("supervisor.longest"), " ", countup(waiting[0].queued_at || waiting[0].arrived_at, { id: "longest-wait" })] : null);
  if (!list.length) {
    fill(live, h("p", { class: "muted" }, t("supervisor.no_calls")));
    return;
  }
  const rows = list.map((call) => h("tr", { class: "call state-" + call.state, dataset: { callId: call.id, state: call.state } },
    h("td", {}, h("span", { class: "call-state" }, label("call_state", call.state))),
    h("td", {}, h("span", { class: "caller-name" }, call.caller_name || ""), " ", h("span", { class: "muted" }, call.caller_number || t("pop.withheld"))),
    h("td", {}, tierBadge(call.tier)),
    h("td", {}, call.queue || "—"),
    h("td", {}, call.agent || "—"),
    h("td", {}, when(call.arrived_at)),
    h("td", { class: "num" }, clockFor(call))));
  fill(live, h("table", { class: "table compact" },
    h("thead", {}, h("tr", {},
      ["call.state", "call.caller", "call.tier", "call.queue", "call.agent", "call.arrived", "call.clock"].map((key) => h("th", { scope: "col" }, t(key))))),
    h("tbody", {}, rows)));
}

// --- kept places: the virtual callers beside the live ones ---------------------------------
// Polled: the feed sends no message for a kept place. A poll that finds nothing changed leaves
// the table alone (its count-ups tick by themselves). Numbers are shown in full, as the live
// rows show them (docs/console.md: masked only in logs).

const KEPT_POLL_MS = 10000;
let keptShown = null; // the list last shown, as JSON

function keptWhen(item) {
  if (!item.carried && !item.not_before) return "—";
  return [
    item.carried ? h("span", { class: "badge carried" }, t("kept.carried")) : null,
    item.carried && item.not_before ? " " : null,
    item.not_before ? h("span", { class: "muted" }, t("kept.not_before", { when: when(item.not_before) })) : null,
  ];
}

function keptRow(item) {
  const called = item.caller_number && item.caller_number !== item.number;
  return h("tr", { class: "kept kept-" + item.state, dataset: { keptId: item.id, state: item.state } },
    h("td", {}, h("span", { class: "badge kept" }, t("kept.badge")), " ", h("span", { class: "call-state" }, label("keep_place_state", item.state))),
    h("td", {}, item.number, called ? [" ", h("span", { class: "muted" }, t("kept.caller", { number: item.caller_number }))] : null),
    h("td", {}, tierBadge(item.tier)),
    h("td", {}, item.queue),
    h("td", {}, when(item.joined_at), item.position ? [" ", h("span", { class: "muted" }, t("kept.position", { position: item.position }))] : null),
    h("td", {}, when(item.requested_at)),
    h("td", { class: "num" }, countup(item.requested_at)),
    h("td", {}, keptWhen(item)));
}

function keptTable(items) {
  if (!items.length) return h("p", { class: "muted" }, t("kept.none"));
  return h("table", { class: "table compact kept-table" },
    h("thead", {}, h("tr", {},
      h("th", { scope: "col" }, t("kept.col.state")),
      h("th", { scope: "col" }, t("kept.col.number")),
      h("th", { scope: "col" }, t("kept.col.tier")),
      h("th", { scope: "col" }, t("kept.col.queue")),
      h("th", { scope: "col" }, t("kept.col.joined")),
      h("th", { scope: "col" }, t("kept.col.requested")),
      h("th", { scope: "col" }, t("kept.col.waited")),
      h("th", { scope: "col" }, t("kept.col.when")))),
    h("tbody", {}, items.map(keptRow)));
}

async function loadKept(force) {
  try {
    const body = await api("GET", "/api/keep-place");
    const key = JSON.stringify(body.waiting);
    if (!force && key === keptShown) return;
    keptShown = key;
    fill(keptSummary, body.waiting.length ? t("kept.summary", { count: body.waiting.length }) : null);
    fill(kept, keptTable(body.waiting));
  } catch (error) {
    keptShown = null;
    fill(kept, h("p", { class: "error" }, t("common.failed", { message: error.message })));
  }
}

// --- tickets that need a look --------------------------------------------------------------

// A ticket without a pending deadline sorts last.
const due = (item) => (item.next_due_at ? Date.parse(item.next_due_at) : Number.POSITIVE_INFINITY);

async function loadAttention() {
  try {
    const body = await api("GET", "/api/tickets?attention=true&limit=100");
    const items = body.tickets.slice().sort((a, b) => Number(b.overdue) - Number(a.overdue)
      || due(a) - due(b));
    fill(attention, items.length ? items.map((item) => {
      const node = ticketItem(item, (id) => panel.show(id));
      node.classList.toggle("overdue", Boolean(item.overdue));
      return node;
    }) : h("li", { class: "muted" }, t("supervisor.no_attention")));
  } catch (error) {
    fill(attention, h("li", { class: "error" }, t("common.failed", { message: error.message })));
  }
}

function escalated(message) {
  const late = message.late_seconds ? t("deadline.late", { late: span(message.late_seconds) }) : null;
  const entry = h("li", { class: "feed-item " + message.event },
    h("span", { class: "when" }, when(message.at)),
    h("button", { type: "button", class: "link number", onclick: () => panel.show(message.ticket_id) }, message.number),
    h("span", {}, label("deadline", message.deadline)),
    h("span", { class: "event event-" + message.event }, label("deadline_event", message.event)),
    message.level ? h("span", { class: "level" }, t("deadline.level", { level: message.level })) : null,
    late ? h("span", { class: "muted" }, late) : null);
  const placeholder = escalations.querySelector(".placeholder");
  if (placeholder) placeholder.remove();
  escalations.prepend(entry);
  while (escalations.children.length > FEED_LENGTH) escalations.lastElementChild.remove();
}

// --- extension requests ----------------------------------------------------------------------

function decide(request, decision, reasonInput, message) {
  return async (event) => {
    const button = event.currentTarget;
    button.disabled = true;
    const reason = reasonInput.value.trim();
    try {
      await act(request.ticket_id, decision, reason ? { request_id: request.id, reason } : { request_id: request.id });
      notify(`${request.ticket_number} ${label("action", decision)}`, "ok");
      await loadRequests();
      if (panel.id === request.ticket_id) panel.refresh();
    } catch (error) {
      say(message, t("common.failed", { message: error.message }), "error");
      button.disabled = false;
    }
  };
}

async function loadRequests() {
  try {
    const body = await api("GET", "/api/extension-requests?state=pending");
    if (!body.requests.length) {
      fill(requests, h("p", { class: "muted" }, t("supervisor.no_extensions")));
      return;
    }
    const rows = body.requests.map((request) => {
      const reason = h("input", { name: "reason", placeholder: t("common.reason_optional"), "aria-label": t("common.reason_optional"), maxlength: 4000 });
      const message = h("span", { class: "form-msg", role: "status" });
      return h("tr", { dataset: { requestId: String(request.id) } },
        h("td", {}, h("button", { type: "button", class: "link number", onclick: () => panel.show(request.ticket_id) }, request.ticket_number)),
        h("td", {}, label("deadline", request.deadline)),
        h("td", {}, when(request.due_at)),
        h("td", {}, when(request.new_due_at)),
        h("td", { class: "reason" }, request.reason || ""),
        h("td", {}, request.requested_by_name || "—", h("br"), h("span", { class: "muted" }, when(request.requested_at))),
        h("td", { class: "decide" }, reason,
          h("button", { type: "button", class: "primary", "data-testid": "approve-" + request.id, onclick: decide(request, "approve_extension", reason, message) }, t("supervisor.approve")),
          h("button", { type: "button", "data-testid": "reject-" + request.id, onclick: decide(request, "reject_extension", reason, message) }, t("supervisor.reject")),
          message));
    });
    fill(requests, h("table", { class: "table compact" },
      h("thead", {}, h("tr", {},
        ["extension.ticket", "extension.deadline", "extension.due_at", "extension.new_due_at", "extension.reason", "extension.requested_by"].map((key) => h("th", { scope: "col" }, t(key))),
        h("th", { scope: "col" }))),
      h("tbody", {}, rows)));
  } catch (error) {
    fill(requests, h("p", { class: "error" }, t("common.failed", { message: error.message })));
  }
}

// --- wiring ------------------------------------------------------------------------------------

function refresh() {
  loadAttention();
  loadRequests();
}

const refreshSoon = debounce(refresh, 500);
// A caller who pressed 1 leaves the queue: their live row goes, and their kept place shows soon after.
const keptSoon = debounce(loadKept, 1000);
const reloadSla = startSla();
const reloadSlaSoon = debounce(reloadSla, 5000);

part("attention-refresh").addEventListener("click", loadAttention);
part("extension-requests-refresh").addEventListener("click", loadRequests);
fill(escalations, h("li", { class: "muted placeholder" }, t("supervisor.no_escalations")));
renderCalls();

// The page's other parts (floor-supervisor.js) hear the same socket through DOM events.
const tell = (type) => (message) => document.dispatchEvent(new CustomEvent("hotline:" + type, { detail: message }));
const tellHello = tell("hello");

connectLive({
  agent_state: tell("agent_state"),
  wrapup_over_limit: tell("wrapup_over_limit"),
  hello(message) {
    tellHello(message);
    calls.clear();
    for (const call of message.calls || []) calls.set(call.id, call);
    renderCalls();
    refreshSoon();
    keptSoon();
  },
  call(message) {
    const call = message.call;
    if (!call || !call.id) return;
    if (call.state === "ended") {
      calls.delete(call.id);
      keptSoon();
    } else {
      calls.set(call.id, call);
    }
    renderCalls();
  },
  ticket(message) {
    if (panel.id === message.ticket_id) panel.refresh();
    refreshSoon();
    reloadSlaSoon();
  },
  deadline(message) {
    escalated(message);
    if (panel.id === message.ticket_id) panel.refresh();
    refreshSoon();
  },
});
refresh();
loadKept(true);
// Tickets cross their warning time with no message when nobody is told: look again now and then.
setInterval(loadAttention, 60000);
setInterval(() => {
  if (!document.hidden) loadKept(false);
}, KEPT_POLL_MS);
document.addEventListener("visibilitychange", () => {
  if (!document.hidden) loadKept(false);
});
