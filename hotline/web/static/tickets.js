// Tickets on the pages: a list item, and the panel that shows one ticket (its facts,
// deadlines and timeline) with the work forms its state and the user's role allow. Each
// action is POST /api/tickets/{id}/{action}; the API's answer is the ticket again.

import {
  api, countdown, departments, enumSelect, failed, fill, fullTime, h, label, me, option, say,
  shanghaiInput, t, tierBadge, when,
} from "./console.js";

const EVERYTHING = ["acknowledge", "classify", "forward", "reply", "resolve", "note", "request_extension", "start_follow_up", "close"];
export const ROLE_ACTIONS = {
  agent: ["classify", "forward", "resolve", "reply", "note"],
  department: ["acknowledge", "reply", "resolve", "request_extension", "note", "forward"],
  supervisor: EVERYTHING,
  admin: EVERYTHING,
};
const PATHS = {
  request_extension: "request-extension",
  approve_extension: "approve-extension",
  reject_extension: "reject-extension",
  start_follow_up: "follow-up",
};
const OPEN_DEADLINE = ["pending", "breached"];

export function act(ticketId, action, body) {
  return api("POST", `/api/tickets/${ticketId}/${PATHS[action] || action}`, body || {});
}

// --- a ticket in a list ---------------------------------------------------------------

export function statusChip(status) {
  return h("span", { class: "status status-" + status }, label("status", status));
}

export function callerText(item) {
  return [item.caller_name, item.caller_number].filter(Boolean).join(" ") || "—";
}

export function dueLine(item) {
  if (!item.next_due_at) return null;
  return h("span", { class: "due" + (item.overdue ? " overdue" : "") },
    label("deadline", item.next_due_kind), " ", countdown(item.next_due_at, item.next_due_kind));
}

// One ticket of a list; `open(id)` shows it in the panel; `extra` goes at the end.
export function ticketItem(item, open, ...extra) {
  return h("li", { class: "ticket-item", dataset: { ticketId: String(item.id), number: item.number } },
    h("div", { class: "line" },
      h("button", { type: "button", class: "link number", onclick: () => open(item.id) }, item.number),
      statusChip(item.status),
      tierBadge(item.tier),
      h("span", { class: "muted" }, label("category", item.category))),
    h("div", { class: "line" },
      h("span", { class: "caller" }, callerText(item)),
      h("span", { class: "summary" }, item.summary || "")),
    h("div", { class: "line" }, dueLine(item), ...extra));
}

// --- one ticket, with its work forms ------------------------------------------------------

function field(text, control) {
  return h("label", { class: "field" }, h("span", { class: "field-label" }, text), control);
}

function textArea(name, id, required) {
  return h("textarea", { name, id, rows: 2, required: Boolean(required), maxlength: 4000 });
}

export class TicketPanel {
  // root: the element to fill; prefix: "" gives the pop's ids (#forward-department ...),
  // another prefix keeps a second panel's ids apart; actions: what this page offers.
  constructor(root, { prefix = "detail-", actions = ROLE_ACTIONS[me.role] || [], onChanged = null, closable = false } = {}) {
    this.root = root;
    this.prefix = prefix;
    this.actions = actions;
    this.onChanged = onChanged;
    this.closable = closable;
    this.id = null;
    this.detail = null;
    this.formsKey = null;
    this.head = h("div", { class: "panel-head" });
    this.message = h("p", { class: "form-msg", role: "status" });
    this.info = h("dl", { class: "facts" });
    this.deadlines = h("div", { class: "deadlines" });
    this.forms = h("div", { class: "forms" });
    this.timeline = h("div", { class: "timeline" });
  }

  async show(id) {
    if (id !== this.id) {
      this.id = id;
      this.detail = null;
      this.formsKey = null;
      say(this.message, "");
    }
    await this.refresh();
  }

  hide() {
    this.id = null;
    this.detail = null;
    this.formsKey = null;
    this.root.replaceChildren();
    if (this.closable) this.root.hidden = true;
  }

  async refresh() {
    if (this.id === null) return;
    const id = this.id;
    try {
      const detail = await api("GET", `/api/tickets/${id}`);
      if (id === this.id) this.render(detail);
    } catch (error) {
      if (id === this.id) {
        if (!this.root.contains(this.message)) fill(this.root, this.message);
        failed(this.message, error);
      }
    }
  }

  render(detail) {
    this.detail = detail;
    this.root.hidden = false;
    fill(this.head,
      h("h2", {}, h("span", { id: this.prefix + "ticket-number" }, detail.number)),
      statusChip(detail.status),
      tierBadge(detail.tier),
      this.closable ? h("button", { type: "button", class: "close", onclick: () => this.hide() }, t("common.close")) : null);
    this.renderInfo(detail);
    this.renderDeadlines(detail);
    this.renderForms(detail);
    this.renderTimeline(detail);
    if (!this.root.contains(this.head)) fill(this.root, this.head, this.message, this.info, this.deadlines, this.forms, this.timeline);
  }

  renderInfo(d) {
    const rows = [
      ["ticket.category", label("category", d.category)],
      ["ticket.fault_kind", label("fault_kind", d.fault_kind)],
      ["ticket.install_kind", label("install_kind", d.install_kind)],
      ["ticket.tier", label("tier", d.tier)],
      ["ticket.area", label("area", d.area)],
      ["ticket.caller", callerText(d)],
      ["ticket.summary", d.summary || "—"],
      ["ticket.department", d.department || "—"],
      ["ticket.owner", d.owner || "—"],
      ["ticket.source", label("source", d.source)],
      ["ticket.opened_at", fullTime(d.opened_at)],
    ];
    fill(this.info, rows.map(([key, value]) => [h("dt", {}, t(key)), h("dd", {}, value)]));
  }

  renderDeadlines(d) {
    const rows = (d.deadlines || []).map((line) => {
      const open = OPEN_DEADLINE.includes(line.state);
      const left = open ? countdown(line.due_at, line.kind, { warnIso: line.warn_at }) : "";
      const notes = [];
      if (line.late_seconds) notes.push(t("deadline.late", { late: t("common.minutes", { minutes: Math.ceil(line.late_seconds / 60) }) }));
      if (line.pending_extension) notes.push(t("deadline.pending_extension", { time: when(line.pending_extension.new_due_at) }));
      return h("tr", { class: "deadline-" + line.state + (line.breached ? " breached" : ""), dataset: { kind: line.kind } },
        h("td", {}, label("deadline", line.kind)),
        h("td", {}, when(line.due_at)),
        h("td", {}, left),
        h("td", {}, label("deadline_state", line.state)),
        h("td", {}, notes.join("；")));
    });
    if (!rows.length) {
      this.deadlines.replaceChildren();
      return;
    }
    fill(this.deadlines, h("h3", {}, t("ticket.deadlines")),
      h("table", { class: "table compact" },
        h("thead", {}, h("tr", {},
          h("th", { scope: "col" }, t("ticket.deadlines")),
          h("th", { scope: "col" }, t("ticket.due_at")),
          h("th", { scope: "col" }, t("ticket.left")),
          h("th", { scope: "col" }, t("ticket.status")),
          h("th", { scope: "col" }))),
        h("tbody", {}, rows)));
  }

  renderTimeline(d) {
    const entries = (d.timeline || []).slice().reverse().map((entry) => {
      const data = entry.data || {};
      const what = [label("event", entry.kind)];
      if (data.department) what.push("→ " + data.department);
      if (data.deadline) what.push(label("deadline", data.deadline));
      return h("li", {},
        h("span", { class: "when" }, when(entry.at)),
        h("span", { class: "what" }, what.join(" ")),
        h("span", { class: "actor" }, entry.actor || ""),
        entry.reason ? h("span", { class: "reason" }, entry.reason) : null);
    });
    fill(this.timeline, h("h3", {}, t("ticket.timeline")), h("ol", { class: "timeline-list" }, entries));
  }

  offered(d) {
    const allowed = new Set(d.allowed_actions || []);
    return this.actions.filter((action) => allowed.has(action));
  }

  renderForms(d) {
    const offered = this.offered(d);
    const openKinds = (d.deadlines || []).filter((x) => OPEN_DEADLINE.includes(x.state)).map((x) => x.kind);
    const key = [d.id, d.status, d.department_id, offered.join(","), openKinds.join(",")].join("|");
    if (key === this.formsKey) return; // keep what the user is typing
    this.formsKey = key;
    const forms = offered.map((action) => this.form(action, d, openKinds)).filter(Boolean);
    fill(this.forms, forms.length ? forms : h("p", { class: "muted" }, t("ticket.no_actions")));
  }

  id_(name) {
    return this.prefix + name;
  }

  form(action, d, openKinds) {
    const build = {
      acknowledge: () => [],
      classify: () => [
        field(t("ticket.category"), enumSelect("category", "category", d.category)),
        field(t("ticket.fault_kind"), enumSelect("fault_kind", "fault_kind", d.fault_kind, { empty: t("common.not_set") })),
        field(t("ticket.install_kind"), enumSelect("install_kind", "install_kind", d.install_kind, { empty: t("common.not_set") })),
        field(t("ticket.tier"), enumSelect("tier", "tier", d.tier)),
        field(t("ticket.area"), enumSelect("area", "area", d.area)),
        field(t("common.reason_optional"), h("input", { name: "reason", maxlength: 4000 })),
      ],
      forward: () => [
        field(t("form.department"), this.departmentSelect(d)),
        field(t("common.reason_optional"), h("input", { name: "reason", maxlength: 4000 })),
      ],
      resolve: () => [field(t("form.resolution"), textArea("resolution", this.id_("resolve-text"), true))],
      reply: () => [field(t("form.reply"), textArea("text", this.id_("reply-text"), true))],
      note: () => [field(t("form.note"), textArea("text", this.id_("note-text"), true))],
      request_extension: () => (openKinds.length ? [
        field(t("form.extension_deadline"), h("select", { name: "deadline", required: true }, openKinds.map((k) => option(k, label("deadline", k))))),
        field(t("form.extension_until"), h("input", { name: "new_due_at", type: "datetime-local", required: true })),
        field(t("form.extension_reason"), textArea("reason", null, true)),
      ] : null),
      start_follow_up: () => [field(t("form.note"), textArea("result", null, true))],
      close: () => [field(t("common.reason_optional"), h("input", { name: "reason", maxlength: 4000 }))],
    }[action];
    const fields = build ? build() : null;
    if (fields === null) return null;
    const button = h("button", { type: "submit", class: action === "acknowledge" || action === "forward" || action === "resolve" ? "primary" : "", id: this.id_(action.replaceAll("_", "-") + "-submit"), "data-testid": this.id_(action + "-submit") }, label("action", action));
    const form = h("form", { class: "act act-" + action, dataset: { action } }, h("h4", {}, label("action", action)), fields, button);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.submit(action, form, button);
    });
    return form;
  }

  departmentSelect(d) {
    const select = h("select", { name: "department", id: this.id_("forward-department"), required: true }, option("", t("common.choose"), true));
    departments().then((list) => {
      for (const dep of list) {
        if (dep.id !== d.department_id) select.appendChild(option(dep.id, dep.name));
      }
    }, (error) => failed(this.message, error));
    return select;
  }

  body(action, form) {
    const value = (name) => (form.elements[name] ? form.elements[name].value : "");
    const reason = value("reason").trim();
    if (action === "classify") {
      const changes = {};
      for (const name of ["category", "fault_kind", "install_kind", "tier", "area"]) {
        const chosen = value(name) || null;
        if (chosen !== (this.detail[name] || null)) changes[name] = chosen;
      }
      if (!Object.keys(changes).length) return null;
      return reason ? { ...changes, reason } : changes;
    }
    if (action === "forward") {
      const body = { department: Number(value("department")) };
      return reason ? { ...body, reason } : body;
    }
    if (action === "resolve") return { resolution: value("resolution") };
    if (action === "reply" || action === "note") return { text: value("text") };
    if (action === "start_follow_up") return { result: value("result") };
    if (action === "request_extension") {
      return { deadline: value("deadline"), new_due_at: shanghaiInput(value("new_due_at")), reason };
    }
    return reason ? { reason } : {};
  }

  async submit(action, form, button) {
    const body = this.body(action, form);
    if (body === null) {
      say(this.message, t("form.classify_nothing"), "error");
      return;
    }
    button.disabled = true;
    try {
      const detail = await act(this.id, action, body);
      if (action === "classify") form.elements.reason.value = "";
      else form.reset();
      say(this.message, t("form.done", { action: label("action", action) }), "ok");
      this.render(detail);
      if (this.onChanged) this.onChanged(detail, action);
    } catch (error) {
      failed(this.message, error);
    } finally {
      button.disabled = false;
    }
  }
}
