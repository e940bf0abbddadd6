// The agent's page: the screen pop (who calls, their tier, manager, notes, open tickets and
// last calls; from `talking` on the ticket, its forward countdown and the work forms) and
// "my tickets". A later `pop` of the same call replaces the earlier one; hello brings the
// current pop back after a reload or a reconnect.

import {
  api, connectLive, countdown, countup, debounce, fill, h, label, me, notify, t, tierBadge, when,
} from "./console.js";
import { ROLE_ACTIONS, TicketPanel, statusChip, ticketItem } from "./tickets.js";
import { showAgentState } from "./floor-agent.js";

const OPEN_STATUSES = "open,forwarded,acknowledged";
const part = (id) => document.getElementById(id);
const popRoot = part("pop");
const stage = part("pop-stage");
const idle = part("pop-idle");
const callerBox = part("pop-caller");
const ticketBox = part("pop-ticket-box");
const work = part("pop-work");
const history = part("pop-history");
const mine = part("my-tickets");
const filter = part("my-tickets-filter");

const detail = new TicketPanel(part("ticket-detail"), { prefix: "detail-", onChanged: () => loadMine() });
const popWork = new TicketPanel(work, { prefix: "", actions: ROLE_ACTIONS.agent, onChanged: popTicketChanged });
let pop = null; // the pop on show

// --- the pop ------------------------------------------------------------------------------

function fact(name, value, attrs) {
  return [h("dt", {}, name), h("dd", attrs || {}, value)];
}

function renderCaller(message) {
  const caller = message.caller || {};
  const known = caller.customer_id !== null && caller.customer_id !== undefined;
  const manager = caller.account_manager;
  fill(callerBox,
    h("div", { class: "caller-main" },
      h("span", { id: "pop-name", class: "caller-name" }, caller.name || caller.callerid_name || t("pop.unknown")),
      tierBadge(caller.tier, "pop-tier"),
      known ? null : h("span", { class: "muted" }, t("pop.unknown"))),
    h("div", { id: "pop-number", class: "caller-number" }, caller.display || caller.number || t("pop.withheld")),
    h("dl", { class: "facts" },
      caller.name && caller.callerid_name && caller.callerid_name !== caller.name ? fact(t("pop.callerid_name"), caller.callerid_name) : null,
      fact(t("ticket.area"), label("area", caller.area), { id: "pop-area" }),
      fact(t("pop.manager"), manager ? t("pop.manager_value", { name: manager.name, extension: manager.extension || "—" }) : "—", { id: "pop-manager" }),
      fact(t("pop.queue"), message.queue || "—"),
      fact(t("pop.notes"), caller.notes || "—", { id: "pop-notes", class: "notes" })),
    message.callback ? h("p", { id: "pop-callback", class: "repeat-caller" },
      h("strong", {}, t("pop.callback", { kind: label("callback_kind", message.callback.kind) })), " ",
      t("pop.callback_waited"), " ", countup(message.callback.owed_since),
      message.callback.note ? [" · ", message.callback.note] : null) : null,
    message.repeat ? h("p", { id: "pop-repeat", class: "repeat-caller" },
      h("strong", {}, t("pop.repeat")), " ",
      t("pop.repeat_detail", { days: message.repeat.days, ticket: message.repeat.ticket, at: when(message.repeat.previous_call_at) })) : null);
  callerBox.hidden = false;
}

function renderTicketBox(message) {
  const ticket = message.ticket;
  if (!ticket) {
    const waiting = message.stage === "ringing" || message.stage === "talking";
    fill(ticketBox, waiting ? h("p", { class: "muted" }, t("pop.ticket_waiting")) : null);
    ticketBox.hidden = !waiting;
    return;
  }
  fill(ticketBox,
    h("div", { class: "pop-ticket-line" },
      h("span", { class: "field-label" }, t("pop.ticket")),
      h("strong", { id: "pop-ticket", class: "ticket-number" }, ticket.number),
      h("span", { id: "pop-status" }, statusChip(ticket.status)),
      ticket.linked ? h("span", { class: "muted" }, t("pop.linked")) : null),
    ticket.forward_due_at ? h("div", { class: "pop-countdown-line" },
      h("span", { class: "field-label" }, t("pop.forward_countdown")),
      countdown(ticket.forward_due_at, "forward", { id: "pop-countdown" })) : null);
  ticketBox.hidden = false;
}

function renderHistory(message) {
  const open = message.open_tickets || [];
  const calls = message.last_calls || [];
  fill(history,
    h("h3", {}, t("pop.open_tickets")),
    open.length ? h("ul", { id: "pop-open-tickets", class: "ticket-list compact" }, open.map((item) => h("li", { class: "ticket-item" },
      h("div", { class: "line" },
        h("button", { type: "button", class: "link number", onclick: () => detail.show(item.id) }, item.number),
        statusChip(item.status),
        item.next_due_at ? countdown(item.next_due_at, item.next_due_kind || "") : null),
      h("div", { class: "line summary" }, item.summary || "")))) : h("p", { class: "muted" }, t("common.none")),
    h("h3", {}, t("pop.last_calls")),
    calls.length ? h("ul", { id: "pop-last-calls", class: "calls" }, calls.map((call) => h("li", {},
      h("span", { class: "when" }, when(call.arrived_at)),
      h("span", {}, label("outcome", call.outcome)),
      h("span", { class: "muted" }, call.agent || ""),
      call.hold_seconds === null || call.hold_seconds === undefined ? null
        : h("span", { class: "muted" }, t("pop.hold", { seconds: Math.round(call.hold_seconds) }))))) : h("p", { class: "muted" }, t("common.none")));
  history.hidden = false;
}

function renderPop(message) {
  pop = message;
  popRoot.dataset.stage = message.stage;
  popRoot.dataset.callId = message.call_id;
  fill(stage, label("stage", message.stage), " ", h("span", { class: "muted" }, when(message.at)));
  idle.hidden = true;
  renderCaller(message);
  renderTicketBox(message);
  renderHistory(message);
  if (message.ticket) {
    work.hidden = false;
    popWork.show(message.ticket.id);
  } else {
    work.hidden = true;
    popWork.hide();
  }
}

// The agent acted from the pop: show the new status (and the countdown's end) at once,
// before the server's next pop says so.
function popTicketChanged(ticket) {
  if (pop && pop.ticket && pop.ticket.id === ticket.id) {
    const forward = (ticket.deadlines || []).find((d) => d.kind === "forward" && (d.state === "pending" || d.state === "breached"));
    pop = { ...pop, ticket: { ...pop.ticket, status: ticket.status, forward_due_at: forward ? forward.due_at : null } };
    renderTicketBox(pop);
  }
  loadMine();
}

// --- my tickets ------------------------------------------------------------------------

async function loadMine() {
  const status = filter.value === "open" ? `&status=${OPEN_STATUSES}` : "";
  try {
    const body = await api("GET", `/api/tickets?owner=${encodeURIComponent(me.id)}&limit=100${status}`);
    const items = body.tickets.map((item) => ticketItem(item, (id) => detail.show(id)));
    fill(mine, items.length ? items : h("li", { class: "muted" }, t("my_tickets.empty")));
  } catch (error) {
    fill(mine, h("li", { class: "error" }, t("common.failed", { message: error.message })));
  }
}

const loadMineSoon = debounce(loadMine, 300);

filter.addEventListener("change", loadMine);
part("my-tickets-refresh").addEventListener("click", loadMine);

// --- the feed ---------------------------------------------------------------------------

function ticketTouched(ticketId) {
  if (pop && pop.ticket && pop.ticket.id === ticketId) popWork.refresh();
  if (detail.id === ticketId) detail.refresh();
  loadMineSoon();
}

connectLive({
  agent_state(message) {
    if (message.agent) showAgentState(message.agent);
  },
  hello(message) {
    if (message.agent_state) showAgentState(message.agent_state);
    // A reconnect must not blank the page: keep the pop shown when the server has none.
    if (message.pop) renderPop(message.pop);
    loadMineSoon();
  },
  pop: renderPop,
  ticket(message) {
    ticketTouched(message.ticket_id);
  },
  deadline(message) {
    const kind = message.event === "breached" ? "error" : "warn";
    notify(`${message.number} ${label("deadline", message.deadline)} ${label("deadline_event", message.event)}`, kind);
    ticketTouched(message.ticket_id);
  },
});
loadMine();
