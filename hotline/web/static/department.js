// The department's page: its inbox (tickets forwarded to it and those it is working on),
// most urgent first, each with its next deadline counting down; acknowledge in one click,
// then reply, resolve, request an extension or add a note in the ticket panel.

import { api, connectLive, debounce, fill, h, label, notify, t } from "./console.js";
import { TicketPanel, act, ticketItem } from "./tickets.js";

const inbox = document.getElementById("inbox");
const panel = new TicketPanel(document.getElementById("ticket-detail"), { prefix: "detail-", onChanged: () => loadInbox() });

function byUrgency(a, b) {
  const due = (item) => (item.next_due_at ? Date.parse(item.next_due_at) : Infinity);
  return due(a) - due(b) || a.id - b.id;
}

function acknowledgeButton(item) {
  const button = h("button", { type: "button", class: "primary", "data-testid": "ack-" + item.number }, label("action", "acknowledge"));
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      const detail = await act(item.id, "acknowledge");
      notify(`${item.number} ${t("form.done", { action: label("action", "acknowledge") })}`, "ok");
      if (panel.id === item.id) panel.render(detail);
      await loadInbox();
    } catch (error) {
      notify(t("common.failed", { message: error.message }), "error");
      button.disabled = false;
    }
  });
  return button;
}

async function loadInbox() {
  try {
    const body = await api("GET", "/api/tickets?status=forwarded,acknowledged&limit=200");
    const items = body.tickets.slice().sort(byUrgency).map((item) => ticketItem(
      item,
      (id) => panel.show(id),
      item.status === "forwarded" ? acknowledgeButton(item) : null,
    ));
    fill(inbox, items.length ? items : h("li", { class: "muted" }, t("department.empty")));
  } catch (error) {
    fill(inbox, h("li", { class: "error" }, t("common.failed", { message: error.message })));
  }
}

const loadSoon = debounce(loadInbox, 300);

function touched(ticketId) {
  if (panel.id === ticketId) panel.refresh();
  loadSoon();
}

document.getElementById("inbox-refresh").addEventListener("click", loadInbox);

connectLive({
  hello: () => loadSoon(),
  ticket: (message) => touched(message.ticket_id),
  deadline(message) {
    const kind = message.event === "breached" ? "error" : "warn";
    notify(`${message.number} ${label("deadline", message.deadline)} ${label("deadline_event", message.event)}`, kind);
    touched(message.ticket_id);
  },
});
loadInbox();
