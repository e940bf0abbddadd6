// The floor's reports page (日报 / 周报 / 月报): GET /api/reports/floor for a period holding a
// Beijing day; headline figures against their targets, calls per hour, day, queue and agent,
// the kept places (keep your place: pressed 1 for a callback) per queue, tickets per department (ranked, with the reasons for late items), category and area,
// follow-ups and satisfaction. Charts are inline SVG drawn here, no library; the page
// prints on A4 (reports.css), the monthly one being what goes to branch management.

import { api, fill, fullTime, h, label, now, pageData, shanghaiDate, span, svg, t } from "./console.js";

const part = (id) => document.getElementById(id);
const form = part("report-form");
const message = part("report-message");
const article = part("report");
const csv = part("report-csv");

// --- formatting ----------------------------------------------------------------------------

function percent(value) {
  return value === null || value === undefined ? "—" : (Math.round(value * 1000) / 10).toFixed(1) + "%";
}

function plain(value) {
  return value === null || value === undefined ? "—" : String(value);
}

// A callback wait (minutes to hours) as [h:]mm:ss, its seconds in the title.
function duration(seconds) {
  return seconds === null || seconds === undefined ? "—" : span(seconds);
}

function durationCell(seconds) {
  return h("td", { class: "num", title: seconds === null || seconds === undefined ? null : `${seconds} s` }, duration(seconds));
}

function rateCell(rate) {
  const missed = rate && rate.met === false;
  const title = rate && rate.whole ? `${rate.part} / ${rate.whole}` : null;
  return h("td", { class: missed ? "num missed" : "num", title }, percent(rate ? rate.value : null));
}

function targetText(rate, atMost) {
  if (!rate || rate.target === null || rate.target === undefined) return "";
  const target = percent(rate.target);
  return atMost ? t("reports.target_at_most", { target }) : t("reports.target_at_least", { target });
}

function metBadge(rate) {
  if (!rate || rate.met === null || rate.met === undefined) return h("span", { class: "met none" }, t("reports.no_data"));
  return rate.met ? h("span", { class: "met yes" }, t("reports.met")) : h("span", { class: "met no" }, t("reports.not_met"));
}

function shorten(text, most) {
  return text.length > most ? text.slice(0, most - 1) + "…" : text;
}

function departmentName(name) {
  return name === pageData.not_forwarded ? t("reports.not_forwarded") : name;
}

// --- the headline figures -------------------------------------------------------------------

function kpis(report) {
  const calls = report.calls.total;
  const kept = report.calls.kept_places.total;
  const tickets = report.tickets.total;
  const seconds = report.rules.answer_threshold_seconds;
  return [
    [t("reports.kpi.requests"), plain(calls.requests), null, false],
    [t("reports.kpi.answer_rate"), null, calls.answer_rate, false],
    [t("reports.kpi.answer_rate_live"), null, calls.answer_rate_live, false],
    [t("reports.kpi.service_level", { seconds }), null, calls.service_level, false],
    [t("reports.kpi.service_level_of_answered"), null, calls.service_level_of_answered, false],
    [t("reports.kpi.lost_rate"), null, calls.lost_rate, true],
    [t("reports.kpi.kept"), `${plain(calls.kept_reached)} / ${plain(calls.kept)}`, null, false],
    [t("reports.kpi.kept_waits"), `${duration(kept.average_wait_seconds)} / ${duration(kept.longest_wait_seconds)}`, null, false],
    [t("reports.kpi.waits"), `${plain(calls.average_wait_seconds)} / ${plain(calls.longest_wait_seconds)}`, null, false],
    [t("reports.kpi.repeat_rate", { days: report.rules.repeat_days }), null, calls.repeat_rate, false],
    [t("reports.kpi.tickets"), plain(tickets.tickets), null, false],
    [t("reports.kpi.resolved_on_spot"), null, tickets.resolved_on_spot, false],
    [t("reports.kpi.overdue"), null, tickets.overdue, true],
    [t("reports.kpi.follow_up"), null, report.follow_ups.within_limit, false],
    [t("reports.kpi.satisfaction"), null, report.satisfaction.total.satisfaction_rate, false],
  ];
}

function renderKpis(report) {
  const cards = kpis(report).map(([title, text, rate, atMost]) => h("div", { class: "kpi" + (rate && rate.met === false ? " missed" : "") },
    h("div", { class: "kpi-title" }, title),
    h("div", { class: "kpi-value" }, text !== null ? text : percent(rate.value)),
    rate ? h("div", { class: "kpi-target" }, targetText(rate, atMost), " ", rate.target !== null ? metBadge(rate) : null) : null,
    rate && rate.whole ? h("div", { class: "kpi-parts muted" }, `${rate.part} / ${rate.whole}`) : null));
  fill(part("report-kpis"), cards);
}

// --- tables ------------------------------------------------------------------------------

// [header, cell(row)]: a cell is a value shown as it is, or a <td> already built.
function callColumns(report) {
  const seconds = report.rules.answer_threshold_seconds;
  return [
    [t("reports.col.calls"), (g) => g.calls],
    [t("reports.col.requests"), (g) => g.requests],
    [t("reports.col.answered"), (g) => g.answered],
    [t("reports.col.answered_within", { seconds }), (g) => g.answered_within],
    [t("reports.col.abandoned"), (g) => g.abandoned],
    [t("reports.col.short_abandoned"), (g) => g.short_abandoned],
    [t("reports.col.timed_out"), (g) => g.timed_out],
    [t("reports.col.kept"), (g) => g.kept],
    [t("reports.col.kept_reached"), (g) => g.kept_reached],
    [t("reports.kpi.answer_rate"), (g) => rateCell(g.answer_rate)],
    [t("reports.kpi.answer_rate_live"), (g) => rateCell(g.answer_rate_live)],
    [t("reports.kpi.service_level", { seconds }), (g) => rateCell(g.service_level)],
    [t("reports.col.sl_answered"), (g) => rateCell(g.service_level_of_answered)],
    [t("reports.kpi.lost_rate"), (g) => rateCell(g.lost_rate)],
    [t("reports.col.average_wait"), (g) => g.average_wait_seconds],
    [t("reports.col.longest_wait"), (g) => g.longest_wait_seconds],
    [t("reports.col.repeat_rate"), (g) => rateCell(g.repeat_rate)],
  ];
}

function agentColumns(report) {
  const seconds = report.rules.answer_threshold_seconds;
  return [
    [t("reports.col.answered"), (g) => g.answered],
    [t("reports.col.answered_within", { seconds }), (g) => g.answered_within],
    [t("reports.col.sl_answered"), (g) => rateCell(g.service_level_of_answered)],
    [t("reports.col.average_wait"), (g) => g.average_wait_seconds],
    [t("reports.col.longest_wait"), (g) => g.longest_wait_seconds],
    [t("reports.col.average_talk"), (g) => g.average_talk_seconds],
  ];
}

function keptColumns() {
  return [
    [t("reports.col.kept_requests"), (g) => g.requests],
    [t("reports.col.kept_done"), (g) => g.reached],
    [t("reports.col.kept_failed"), (g) => g.failed],
    [t("reports.col.kept_cancelled"), (g) => g.cancelled],
    [t("reports.col.kept_open"), (g) => g.open],
    [t("reports.col.kept_reached_rate"), (g) => rateCell(g.reached_rate)],
    [t("reports.col.kept_average_wait"), (g) => durationCell(g.average_wait_seconds)],
    [t("reports.col.kept_p90_wait"), (g) => durationCell(g.p90_wait_seconds)],
    [t("reports.col.kept_longest_wait"), (g) => durationCell(g.longest_wait_seconds)],
  ];
}

function lateText(late) {
  const kinds = Object.entries(late.by_kind).map(([kind, count]) => `${label("deadline", kind)} ×${count}`);
  const reasons = late.reasons.map((r) => `${r.reason} ×${r.count}`);
  if (late.without_reason) reasons.push(`${t("reports.no_reason")} ×${late.without_reason}`);
  return [kinds.join("、"), reasons.join("；")].filter(Boolean).join(" — ");
}

function ticketColumns({ ranked }) {
  return [
    ranked ? [t("reports.col.rank"), (g) => g.rank] : null,
    [t("reports.col.tickets"), (g) => g.tickets],
    ranked ? [t("reports.col.on_time"), (g) => rateCell(g.on_time_rate)] : null,
    [t("reports.col.resolved_on_spot"), (g) => rateCell(g.resolved_on_spot)],
    [t("reports.col.forward"), (g) => rateCell(g.on_time.forward)],
    [t("reports.col.acknowledge"), (g) => rateCell(g.on_time.acknowledge)],
    [t("reports.col.reply"), (g) => rateCell(g.on_time.reply)],
    [t("reports.col.complete"), (g) => rateCell(g.on_time.complete)],
    [t("reports.col.overdue"), (g) => rateCell(g.overdue)],
    [t("reports.col.late"), (g) => h("td", { class: "late" }, lateText(g.late) || "—")],
  ].filter(Boolean);
}

function bodyCell(value) {
  return value instanceof Node ? value : h("td", { class: "num" }, plain(value));
}

function renderTable(table, { head, columns, rows, name, total }) {
  fill(table.tHead, h("tr", {}, h("th", { scope: "col" }, head), columns.map(([title]) => h("th", { scope: "col" }, title))));
  const line = (row, text) => h("tr", {}, h("th", { scope: "row" }, text), columns.map(([, cell]) => bodyCell(cell(row))));
  const body = rows.map((row) => line(row, name(row)));
  fill(table.tBodies[0], body.length ? body : h("tr", {}, h("td", { colspan: columns.length + 1, class: "muted" }, t("reports.empty"))));
  if (table.tFoot) fill(table.tFoot, total && rows.length ? line(total, t("reports.total")) : null);
}

function renderTables(report) {
  const calls = report.calls;
  const tickets = report.tickets;
  renderTable(part("table-queues"), { head: t("reports.col.queue"), columns: callColumns(report), rows: calls.queues, name: (g) => g.group, total: calls.total });
  renderTable(part("table-agents"), { head: t("reports.col.agent"), columns: agentColumns(report), rows: calls.agents, name: (g) => g.group });
  renderTable(part("table-kept"), { head: t("reports.col.queue"), columns: keptColumns(), rows: calls.kept_places.queues, name: (g) => g.group, total: calls.kept_places.total });
  renderTable(part("table-days"), { head: t("reports.col.day"), columns: callColumns(report), rows: calls.days, name: (g) => g.group });
  const departments = [...tickets.departments, ...(tickets.not_forwarded.tickets ? [tickets.not_forwarded] : [])];
  renderTable(part("table-departments"), { head: t("reports.col.department"), columns: ticketColumns({ ranked: true }), rows: departments, name: (g) => departmentName(g.group), total: tickets.total });
  renderTable(part("table-categories"), { head: t("reports.col.category"), columns: ticketColumns({ ranked: false }), rows: tickets.categories, name: (g) => label("category", g.group) });
  renderTable(part("table-areas"), { head: t("reports.col.area"), columns: ticketColumns({ ranked: false }), rows: tickets.areas, name: (g) => label("area", g.group) });
  renderFollowUps(report.follow_ups);
  renderSatisfaction(report.satisfaction);
}

function renderFollowUps(followUps) {
  const own = followUps.within_limit;
  const rows = [
    { name: t("reports.follow_up.within_limit"), candidates: own.whole, drawn: null, reached: own.part, rate: own },
    ...followUps.samples.map((s) => ({
      name: t("reports.follow_up.sample", { group: label("sample_group", s.group) }),
      candidates: s.recorded ? s.candidates : t("reports.not_recorded"), drawn: s.drawn, reached: s.reached, rate: s.rate,
    })),
  ];
  const columns = [
    [t("reports.col.owed"), (r) => r.candidates],
    [t("reports.col.drawn"), (r) => r.drawn],
    [t("reports.col.reached"), (r) => r.reached],
    [t("reports.col.follow_up_rate"), (r) => rateCell(r.rate)],
    [t("reports.col.standard"), (r) => targetText(r.rate, false)],
  ];
  renderTable(part("table-follow-ups"), { head: t("reports.col.item"), columns, rows, name: (r) => r.name });
}

const LEVELS = [
  ["very_satisfied", () => t("reports.level.very_satisfied")],
  ["satisfied", () => t("reports.level.satisfied")],
  ["neutral", () => t("reports.level.neutral")],
  ["dissatisfied", () => t("reports.level.dissatisfied")],
  ["very_dissatisfied", () => t("reports.level.very_dissatisfied")],
];

function renderSatisfaction(satisfaction) {
  const columns = [
    [t("reports.col.answers"), (g) => g.answers],
    ...LEVELS.map(([key, word]) => [word(), (g) => g.levels[key]]),
    [t("reports.col.no_answer"), (g) => g.no_answer],
    [t("reports.kpi.satisfaction"), (g) => rateCell(g.satisfaction_rate)],
  ];
  renderTable(part("table-satisfaction"), { head: t("reports.col.department"), columns, rows: satisfaction.departments, name: (g) => departmentName(g.group), total: satisfaction.total });
  renderLevels(satisfaction.total);
}

// --- charts --------------------------------------------------------------------------------

function chartRoot(width, height, title) {
  return svg("svg", { viewBox: `0 0 ${width} ${height}`, class: "report-svg", role: "img", "aria-label": title, preserveAspectRatio: "xMinYMin meet" },
    svg("title", {}, title));
}

function legend(root, x, y, parts) {
  parts.forEach(([kind, word], k) => {
    root.appendChild(svg("rect", { x: x + k * 120, y, width: 10, height: 10, class: "bar " + kind }));
    root.appendChild(svg("text", { x: x + k * 120 + 14, y: y + 5, class: "legend", "dominant-baseline": "central" }, word));
  });
}

// Requests per local hour: answered within the threshold, answered later, kept places, lost, stacked.
function renderHours(report) {
  const seconds = report.rules.answer_threshold_seconds;
  const hours = report.calls.hours;
  const W = 900, H = 220, LEFT = 36, TOP = 34, BOTTOM = 24;
  const slot = (W - LEFT) / 24;
  const most = Math.max(1, ...hours.map((g) => g.requests));
  const scale = (n) => (n / most) * (H - TOP - BOTTOM);
  const root = chartRoot(W, H, t("reports.chart.hours"));
  root.appendChild(svg("text", { x: 0, y: 12, class: "panel-title" }, t("reports.chart.hours")));
  const parts = [["bar-within", t("reports.col.answered_within", { seconds })], ["bar-later", t("reports.chart.answered_later")], ["bar-kept", t("reports.chart.kept")], ["bar-lost", t("reports.chart.lost")]];
  legend(root, 300, 4, parts);
  root.appendChild(svg("line", { x1: LEFT, x2: W, y1: H - BOTTOM, y2: H - BOTTOM, class: "axis" }));
  root.appendChild(svg("text", { x: LEFT - 4, y: TOP, class: "value", "text-anchor": "end" }, String(most)));
  hours.forEach((g, i) => {
    const x = LEFT + i * slot + 2;
    let y = H - BOTTOM;
    for (const [count, kind] of [[g.answered_within, "bar-within"], [g.answered - g.answered_within, "bar-later"], [g.kept, "bar-kept"], [g.lost, "bar-lost"]]) {
      if (!count) continue;
      const height = scale(count);
      y -= height;
      root.appendChild(svg("rect", { x, y, width: slot - 4, height, class: "bar " + kind }, svg("title", {}, `${g.group}:00 — ${count}`)));
    }
    root.appendChild(svg("text", { x: x + (slot - 4) / 2, y: H - 8, class: "tick", "text-anchor": "middle" }, g.group));
  });
  fill(part("chart-hours"), root);
}

// 接通率 per day against its target (the standard asks for it over any 24 h).
function renderDays(report) {
  const days = report.calls.days;
  const node = part("chart-days");
  if (report.period === "day") {
    node.replaceChildren();
    return;
  }
  const W = 900, H = 200, LEFT = 40, TOP = 30, BOTTOM = 24;
  const slot = (W - LEFT) / days.length;
  const y = (share) => H - BOTTOM - share * (H - TOP - BOTTOM);
  const root = chartRoot(W, H, t("reports.chart.days"));
  root.appendChild(svg("text", { x: 0, y: 12, class: "panel-title" }, t("reports.chart.days")));
  root.appendChild(svg("line", { x1: LEFT, x2: W, y1: H - BOTTOM, y2: H - BOTTOM, class: "axis" }));
  const target = report.rules.targets.answer_rate;
  root.appendChild(svg("line", { x1: LEFT, x2: W, y1: y(target), y2: y(target), class: "target" }));
  root.appendChild(svg("text", { x: LEFT - 4, y: y(target), class: "value", "text-anchor": "end", "dominant-baseline": "central" }, percent(target)));
  days.forEach((g, i) => {
    const x = LEFT + i * slot + 1;
    const share = g.answer_rate.value;
    if (share !== null) {
      const kind = g.answer_rate.met === false ? "bar-lost" : "bar-within";
      root.appendChild(svg("rect", { x, y: y(share), width: Math.max(1, slot - 2), height: H - BOTTOM - y(share), class: "bar " + kind },
        svg("title", {}, `${g.group}: ${percent(share)} (${g.answer_rate.part} / ${g.answer_rate.whole})`)));
    }
    if (days.length <= 7 || i % 2 === 0) {
      root.appendChild(svg("text", { x: x + slot / 2, y: H - 8, class: "tick", "text-anchor": "middle" }, g.group.slice(5)));
    }
  });
  fill(node, root);
}

// Departments by rank: the share of decided deadlines met on time.
function renderDepartments(report) {
  const rows = report.tickets.departments;
  const node = part("chart-departments");
  if (!rows.length) {
    node.replaceChildren();
    return;
  }
  const W = 900, LABEL = 170, ROW = 24, BAR = 14, TOP = 26;
  const H = TOP + rows.length * ROW + 6;
  const length = (share) => share * (W - LABEL - 120);
  const root = chartRoot(W, H, t("reports.chart.departments"));
  root.appendChild(svg("text", { x: 0, y: 14, class: "panel-title" }, t("reports.chart.departments")));
  rows.forEach((g, i) => {
    const y = TOP + i * ROW;
    const name = `${g.rank === null ? "—" : g.rank}. ${g.group}`;
    root.appendChild(svg("text", { x: LABEL - 8, y: y + BAR / 2, class: "label", "text-anchor": "end", "dominant-baseline": "central" }, svg("title", {}, name), shorten(name, 14)));
    const share = g.on_time_rate.value;
    if (share === null) return;
    root.appendChild(svg("rect", { x: LABEL, y, width: Math.max(2, length(share)), height: BAR, class: "bar bar-within" }, svg("title", {}, `${g.group}: ${percent(share)}`)));
    root.appendChild(svg("text", { x: LABEL + length(share) + 6, y: y + BAR / 2, class: "value", "dominant-baseline": "central" },
      `${percent(share)} (${g.met} / ${g.met + g.breached})`));
  });
  fill(node, root);
}

// The satisfaction levels of every valid answer, one stacked bar.
function renderLevels(total) {
  const node = part("chart-satisfaction");
  if (!total.answers) {
    node.replaceChildren();
    return;
  }
  const W = 900, H = 64, BAR = 22;
  const root = chartRoot(W, H, t("reports.satisfaction"));
  let x = 0;
  LEVELS.forEach(([key, word]) => {
    const count = total.levels[key];
    if (!count) return;
    const width = (count / total.answers) * W;
    root.appendChild(svg("rect", { x, y: 0, width, height: BAR, class: "bar level-" + key }, svg("title", {}, `${word()}: ${count}`)));
    x += width;
  });
  legend(root, 0, BAR + 16, LEVELS.map(([key, word]) => ["level-" + key, `${word()} ${total.levels[key]}`]));
  fill(node, root);
}

// --- the page ------------------------------------------------------------------------------

function heading(report) {
  if (report.period === "month") return t("reports.heading.month", { month: report.from.slice(0, 7) });
  if (report.period === "week") return t("reports.heading.week", { from: report.from, to: report.to });
  return t("reports.heading.day", { day: report.from });
}

function render(report) {
  article.hidden = false;
  article.dataset.period = report.period;
  part("report-heading").textContent = heading(report);
  part("report-range").textContent = t("reports.range", { from: report.from, to: report.to, zone: report.timezone });
  const rules = report.rules;
  part("report-rules").textContent = t("reports.rules", {
    seconds: rules.answer_threshold_seconds, short: rules.short_abandon_seconds, days: rules.repeat_days,
  });
  part("report-kept-rules").textContent = t("reports.kept.definition", { seconds: rules.answer_threshold_seconds });
  part("report-foot").textContent = t("reports.as_of", { at: fullTime(report.as_of) });
  renderKpis(report);
  renderHours(report);
  renderDays(report);
  renderDepartments(report);
  renderTables(report);
  renderAgentTime(report);
}

// Time in each state per agent (日报 only): GET /api/floor/agents/time for the day.
async function renderAgentTime(report) {
  const block = part("agent-time-block");
  block.hidden = report.period !== "day";
  if (block.hidden) return;
  const table = part("table-agent-time");
  try {
    const body = await api("GET", `/api/floor/agents/time?day=${encodeURIComponent(report.from)}`);
    const reasons = [...new Set(body.agents.flatMap((agent) => Object.keys(agent.paused || {})))].sort();
    const reasonTitle = (reason) => t("reports.agent_time.paused", { reason: reason || t("floor_agent.no_reason") });
    fill(table.tHead, h("tr", {},
      [t("floor.agent"), t("floor.extension"), t("reports.agent_time.logged_in"), label("agent_state", "ready"), label("agent_state", "ringing"),
        label("agent_state", "on_call"), label("agent_state", "wrapup"), ...reasons.map(reasonTitle)].map((title) => h("th", { scope: "col" }, title))));
    fill(table.tBodies[0], body.agents.map((agent) => h("tr", { dataset: { extension: agent.extension } },
      h("td", {}, agent.name || "—"), h("td", {}, agent.extension),
      ...[agent.logged_in, agent.ready, agent.ringing, agent.on_call, agent.wrapup, ...reasons.map((reason) => (agent.paused || {})[reason] || 0)]
        .map((seconds) => h("td", { class: "num" }, span(seconds || 0))))));
  } catch (error) {
    fill(table.tBodies[0], h("tr", {}, h("td", { class: "error" }, t("common.failed", { message: error.message }))));
  }
}

async function load() {
  const query = new URLSearchParams({ period: form.elements.period.value, date: form.elements.date.value });
  csv.setAttribute("href", `/api/reports/floor?${query}&format=csv`);
  message.textContent = t("common.loading");
  message.className = "form-msg";
  try {
    const report = await api("GET", `/api/reports/floor?${query}`);
    message.textContent = "";
    render(report);
  } catch (error) {
    message.textContent = t("common.failed", { message: error.message });
    message.className = "form-msg error";
  }
}

function start() {
  const asked = new URLSearchParams(location.search);
  form.elements.date.value = /^\d{4}-\d\d-\d\d$/.test(asked.get("date") || "") ? asked.get("date") : shanghaiDate(now());
  form.elements.date.max = shanghaiDate(now());
  if ((pageData.periods || []).includes(asked.get("period"))) form.elements.period.value = asked.get("period");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    load();
  });
  form.elements.period.addEventListener("change", load);
  part("report-print").addEventListener("click", () => window.print());
  load();
}

start();
