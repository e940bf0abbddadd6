// Callbacks on the pages: the supervisor's panel (waiting, being placed, failed: retry a
// failed one) and the agent's (their callbacks, lost callers, and a form to book one for the
// time the customer asked for, linked to one of their tickets if they like). Kept fresh by
// polling GET /api/callbacks every 10 s: the page's WebSocket belongs to agent.js and
// supervisor.js, and the feed sends no callback messages. A poll that finds nothing changed
// leaves the panel alone, so a reason being typed is not wiped.

import { api, failed, fill, h, label, me, notify, now, option, say, shanghaiInput, t, when } from "./console.js";

const POLL_MS = 10000;
const OPEN_STATES = "scheduled,placing,in_flight,failed";
const MY_TICKETS = "open,forwarded,acknowledged";
const WATCHERS = ["supervisor", "admin"];
const NOT_CALLED = ["visit", "reply_letter"];
const TICKETS_FRESH_MS = 30000; // the ticket list is fetched again on use, at most this often
const root = document.getElementById("callbacks-panel");

// --- one callback ------------------------------------------------------------------------------

function attemptsText(item) {
  const parts = [`${item.attempts_made}/${item.max_attempts}`];
  if (item.outcome) parts.push(t("callbacks.last", { outcome: label("callback_outcome", item.outcome) }));
  if (item.score !== null && item.score !== undefined) parts.push(t("callbacks.score", { score: item.score }));
  return parts.join(" · ");
}

function whenCell(item) {
  const at = item.next_attempt_at || item.due_at;
  const late = item.deadline_at && Date.parse(item.deadline_at) < now() && ["scheduled", "placing", "in_flight"].includes(item.state);
  return h("td", { class: late ? "overdue" : "" }, when(at), late ? h("span", { class: "error" }, " ", t("callbacks.late")) : null);
}

// A small form on the row: one text input and its button, POST /api/callbacks/{id}/{action}.
function rowForm(item, action, field, placeholder, buttonText, done, reload) {
  const input = h("input", { name: field, placeholder, "aria-label": placeholder, maxlength: 4000, required: true });
  const message = h("span", { class: "form-msg", role: "status" });
  const button = h("button", { type: "submit", "data-testid": `callback-${action}-${item.id}` }, buttonText);
  const form = h("form", { class: "inline-form row-form" }, input, button, message);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    button.disabled = true;
    try {
      await api("POST", `/api/callbacks/${item.id}/${action}`, { [field]: input.value });
      notify(done, "ok");
      await reload(true);
    } catch (error) {
      failed(message, error);
      button.disabled = false;
    }
  });
  return form;
}

function retryButton(item, reload) {
  const message = h("span", { class: "form-msg", role: "status" });
  const button = h("button", { type: "button", class: "primary", "data-testid": `callback-retry-${item.id}` }, t("callbacks.retry"));
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      await api("POST", `/api/callbacks/${item.id}/retry`, {});
      notify(t("callbacks.retried"), "ok");
      await reload(true);
    } catch (error) {
      failed(message, error);
      button.disabled = false;
    }
  });
  return [button, message];
}

function actions(item, reload) {
  if (item.state === "failed") return WATCHERS.includes(me.role) ? retryButton(item, reload) : null;
  if (item.state !== "scheduled") return null;
  return [
    NOT_CALLED.includes(item.kind)
      ? rowForm(item, "record", "result", t("callbacks.result"), t("callbacks.record"), t("callbacks.recorded"), reload) : null,
    rowForm(item, "cancel", "reason", t("callbacks.cancel_reason"), t("callbacks.cancel"), t("callbacks.cancelled"), reload),
  ];
}

function row(item, reload) {
  return h("tr", { class: "callback state-" + item.state, dataset: { callbackId: String(item.id), state: item.state } },
    h("td", {}, label("callback_kind", item.kind)),
    h("td", {}, item.customer_name ? [h("span", { class: "caller-name" }, item.customer_name), " "] : null,
      h("span", { class: "muted" }, item.number)),
    h("td", {}, item.ticket_number || "—"),
    whenCell(item),
    h("td", {}, attemptsText(item)),
    h("td", {}, item.agent_extension || "—"),
    h("td", {}, label("callback_state", item.state)),
    h("td", { class: "notes" }, item.note || ""),
    h("td", { class: "decide" }, actions(item, reload)));
}

function table(items, reload) {
  if (!items.length) return h("p", { class: "muted" }, t("callbacks.empty"));
  return h("table", { class: "table compact" },
    h("thead", {}, h("tr", {},
      h("th", { scope: "col" }, t("callbacks.col.kind")),
      h("th", { scope: "col" }, t("callbacks.col.customer")),
      h("th", { scope: "col" }, t("callbacks.col.ticket")),
      h("th", { scope: "col" }, t("callbacks.col.when")),
      h("th", { scope: "col" }, t("callbacks.col.attempts")),
      h("th", { scope: "col" }, t("callbacks.col.agent")),
      h("th", { scope: "col" }, t("callbacks.col.state")),
      h("th", { scope: "col" }, t("callbacks.col.note")),
      h("th", { scope: "col" }))),
    h("tbody", {}, items.map((item) => row(item, reload))));
}

// --- the panel -----------------------------------------------------------------------------------

function supervisorView(items, reload) {
  const due = items.filter((item) => item.state === "scheduled");
  const busy = items.filter((item) => item.state === "placing" || item.state === "in_flight");
  const lost = items.filter((item) => item.state === "failed");
  const summary = document.getElementById("callbacks-summary");
  if (summary) summary.textContent = t("callbacks.summary", { due: due.length, busy: busy.length, failed: lost.length });
  return [
    h("h3", {}, t("callbacks.failed")), h("div", { id: "callbacks-failed" }, table(lost, reload)),
    h("h3", {}, t("callbacks.due")), h("div", { id: "callbacks-due" }, table(due, reload)),
    h("h3", {}, t("callbacks.in_flight")), h("div", { id: "callbacks-in-flight" }, table(busy, reload)),
  ];
}

function startList(list, view) {
  let shown = null; // what the list shows now: ids and versions

  async function reload(force) {
    try {
      const body = await api("GET", `/api/callbacks?state=${OPEN_STATES}&limit=200`);
      const key = body.callbacks.map((item) => `${item.id}:${item.version}`).join(",");
      if (!force && key === shown) return;
      shown = key;
      fill(list, view === "supervisor" ? supervisorView(body.callbacks, reload) : table(body.callbacks, reload));
    } catch (error) {
      shown = null;
      fill(list, h("p", { class: "error" }, t("common.failed", { message: error.message })));
    }
  }

  setInterval(() => {
    if (!document.hidden) reload(false);
  }, POLL_MS);
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden) reload(false);
  });
  const refresh = document.getElementById("callbacks-refresh");
  if (refresh) refresh.addEventListener("click", () => reload(true));
  reload(true);
  return reload;
}

// --- booking (the agent's page) ----------------------------------------------------------------------

// The agent's open tickets to link a callback to; choosing one fills in its caller's number.
function ticketChoice(select, number) {
  const byId = new Map();
  let fetched = 0;

  async function load(force) {
    if (!force && now() - fetched < TICKETS_FRESH_MS) return;
    fetched = now();
    try {
      const body = await api("GET", `/api/tickets?owner=${encodeURIComponent(me.id)}&status=${MY_TICKETS}&limit=100`);
      const chosen = select.value;
      byId.clear();
      for (const item of body.tickets) byId.set(String(item.id), item);
      select.replaceChildren(option("", t("callbacks.book.no_ticket"), true),
        body.tickets.map((item) => option(item.id, [item.number, item.caller_name, item.caller_number].filter(Boolean).join(" "))));
      if (byId.has(chosen)) select.value = chosen;
    } catch (error) {
      fetched = 0; // try again next time
    }
  }

  select.addEventListener("change", () => {
    const ticket = byId.get(select.value);
    if (ticket && ticket.caller_number && !number.value.trim()) number.value = ticket.caller_number;
  });
  select.addEventListener("focus", () => load(false));
  load(true);
  return load;
}

function startBooking(form, reload) {
  const message = document.getElementById("callback-book-message");
  const number = form.elements.number;
  const ticket = form.elements.ticket_id;
  const loadTickets = ticketChoice(ticket, number);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const at = shanghaiInput(form.elements.at.value);
    if (at === null) {
      say(message, t("callbacks.book.bad_time"), "error");
      return;
    }
    const body = { number: number.value.trim(), at };
    if (ticket.value) body.ticket_id = Number(ticket.value);
    if (form.elements.note.value.trim()) body.note = form.elements.note.value.trim();
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      const booked = await api("POST", "/api/callbacks", body);
      say(message, t("callbacks.book.done", { when: when(booked.due_at), number: booked.number }), "ok");
      form.reset();
      loadTickets(true);
      await reload(true);
    } catch (error) {
      failed(message, error);
    } finally {
      button.disabled = false;
    }
  });
}

if (root) {
  const reload = startList(document.getElementById("callbacks"), root.dataset.view);
  const form = document.getElementById("callback-book");
  if (form) startBooking(form, reload);
}
