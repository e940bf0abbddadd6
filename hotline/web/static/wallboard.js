// The wallboard (实时大屏): today's figures against their targets, callers waiting per
// queue with the longest wait, agents by state, and the ticket panel. Everything comes by
// push over the page's WebSocket: `hello` (calls, agents, board), `call`, `agent_state`,
// `board`; a reconnect's hello brings it all back. Only the clocks tick locally.

import { connectLive, countup, fill, h, label, span, t } from "./console.js";

const part = (id) => document.getElementById(id);
const figuresBox = part("board-figures");
const queuesBox = part("board-queues");
const agentsBox = part("board-agents");
const agentCounts = part("board-agent-counts");
const ticketsBox = part("board-tickets");
const WAITING = new Set(["queued", "ringing"]);
const STATE_ORDER = ["ready", "ringing", "on_call", "wrapup", "paused", "logged_out"];

const calls = new Map();
const agents = new Map();
let board = null;

// --- figures ------------------------------------------------------------------------------

function percent(rate) {
  return rate && rate.value !== null && rate.value !== undefined ? `${(rate.value * 100).toFixed(1)}%` : "—";
}

function rateTile(title, rate, testid, atMost) {
  const met = rate ? rate.met : null;
  const state = met === true ? "met" : met === false ? "missed" : "none";
  return h("div", { class: "tile rate " + state, "data-testid": testid, dataset: { met: String(met) } },
    h("div", { class: "tile-label" }, title),
    h("div", { class: "tile-value" }, percent(rate)),
    h("div", { class: "tile-note" }, rate && rate.target !== null && rate.target !== undefined
      ? (atMost ? t("board.target_at_most", { target: `${Math.round(rate.target * 100)}%` }) : t("board.target_at_least", { target: `${Math.round(rate.target * 100)}%` }))
      : ""));
}

function countTile(title, value, testid, note) {
  return h("div", { class: "tile", "data-testid": testid },
    h("div", { class: "tile-label" }, title),
    h("div", { class: "tile-value" }, value === null || value === undefined ? "—" : String(value)),
    h("div", { class: "tile-note" }, note || ""));
}

function renderFigures() {
  if (!board || !board.figures) {
    fill(figuresBox, h("p", { class: "muted" }, t("board.waiting_for_figures")));
    return;
  }
  const figures = board.figures;
  const total = figures.total || {};
  fill(part("board-date"), figures.date || "");
  const threshold = (figures.rules || {}).answer_threshold_seconds;
  fill(figuresBox,
    countTile(t("board.requests"), total.requests, "board-requests"),
    countTile(t("board.answered"), total.answered, "board-answered"),
    countTile(t("board.lost"), total.lost, "board-lost"),
    rateTile(t("board.answer_rate"), total.answer_rate, "board-answer-rate", false),
    rateTile(t("board.service_level"), total.service_level, "board-service-level", false),
    rateTile(t("board.lost_rate"), total.lost_rate, "board-lost-rate", true),
    countTile(t("board.average_wait"), total.average_wait_seconds === null || total.average_wait_seconds === undefined ? null : span(total.average_wait_seconds), "board-average-wait"),
    countTile(t("board.longest_wait"), total.longest_wait_seconds === null || total.longest_wait_seconds === undefined ? null : span(total.longest_wait_seconds), "board-longest-wait",
      threshold ? t("board.threshold", { seconds: threshold }) : ""));
}

// --- queues (from the live calls) -----------------------------------------------------------

function renderQueues() {
  const byQueue = new Map();
  for (const call of calls.values()) {
    if (!WAITING.has(call.state)) continue;
    const queue = call.queue || "—";
    const since = call.queued_at || call.arrived_at;
    const entry = byQueue.get(queue) || { count: 0, oldest: since };
    entry.count += 1;
    if (Date.parse(since) < Date.parse(entry.oldest)) entry.oldest = since;
    byQueue.set(queue, entry);
  }
  for (const queue of ((board && board.figures && board.figures.queues) || [])) {
    if (!byQueue.has(queue.group)) byQueue.set(queue.group, { count: 0, oldest: null });
  }
  // Kept places (keep-your-place): virtual callers, beside the live ones.
  const kept = new Map();
  for (const item of ((board && board.virtual) || [])) kept.set(item.queue, (kept.get(item.queue) || 0) + 1);
  for (const queue of kept.keys()) if (!byQueue.has(queue)) byQueue.set(queue, { count: 0, oldest: null });
  if (!byQueue.size) {
    fill(queuesBox, h("div", { class: "tile", "data-testid": "queue-none" }, h("div", { class: "tile-label" }, t("board.nobody_waiting")), h("div", { class: "tile-value" }, "0")));
    return;
  }
  fill(queuesBox, [...byQueue.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([queue, entry]) =>
    h("div", { class: "tile queue" + (entry.count ? " busy" : ""), "data-testid": "queue-" + queue, dataset: { queue, waiting: String(entry.count) } },
      h("div", { class: "tile-label" }, t("board.queue", { queue })),
      h("div", { class: "tile-value" }, String(entry.count)),
      h("div", { class: "tile-note" }, entry.count ? [t("board.longest"), " ", countup(entry.oldest)] : t("board.nobody_waiting")),
      kept.get(queue) ? h("div", { class: "tile-note", "data-testid": "kept-" + queue }, t("board.kept", { count: kept.get(queue) })) : null)));
}

// --- agents --------------------------------------------------------------------------------

function renderAgents() {
  const list = [...agents.values()].sort((a, b) => STATE_ORDER.indexOf(a.state) - STATE_ORDER.indexOf(b.state) || a.extension.localeCompare(b.extension));
  const counts = new Map();
  for (const agent of list) counts.set(agent.state, (counts.get(agent.state) || 0) + 1);
  fill(agentCounts, STATE_ORDER.filter((state) => counts.get(state)).map((state) =>
    h("span", { class: "count state-" + state, "data-testid": "agents-" + state }, `${label("agent_state", state)} ${counts.get(state)}`)));
  if (!list.length) {
    fill(agentsBox, h("p", { class: "muted" }, t("board.no_agents")));
    return;
  }
  fill(agentsBox, list.map((agent) => h("div", { class: "agent-tile state-" + agent.state, dataset: { extension: agent.extension, state: agent.state } },
    h("div", { class: "agent-name" }, agent.name || agent.member || agent.extension),
    h("div", { class: "agent-ext muted" }, agent.extension),
    h("div", { class: "agent-state" }, label("agent_state", agent.state), agent.reason && agent.state === "paused" ? `（${agent.reason}）` : ""),
    agent.since ? h("div", { class: "agent-since" }, countup(agent.since)) : null)));
}

// --- tickets -------------------------------------------------------------------------------

function renderTickets() {
  const panel = board && board.tickets;
  if (!panel) {
    fill(ticketsBox, null);
    return;
  }
  const limitWords = { forward: t("board.limit.forward"), acknowledge: t("board.limit.acknowledge"), reply: t("board.limit.reply") };
  const limits = ["forward", "acknowledge", "reply"].map((kind) => {
    const entry = panel.limits[kind] || { close: 0, overdue: 0, tickets: [] };
    return h("div", { class: "tile limit" + (entry.overdue ? " missed" : entry.close ? " warn" : ""), "data-testid": "limit-" + kind, dataset: { close: String(entry.close), overdue: String(entry.overdue) } },
      h("div", { class: "tile-label" }, limitWords[kind]),
      h("div", { class: "tile-value" }, h("span", { class: "overdue-count" }, String(entry.overdue)), h("span", { class: "unit" }, t("board.overdue"))),
      h("div", { class: "tile-note" }, t("board.close", { close: entry.close })),
      h("div", { class: "tile-note numbers" }, entry.tickets.map((item) => h("span", { class: item.overdue ? "overdue" : "" }, item.number))));
  });
  const repairs = panel.overdue_repairs || [];
  const repairTile = h("div", { class: "tile" + (repairs.length ? " missed" : ""), "data-testid": "overdue-repairs" },
    h("div", { class: "tile-label" }, t("board.overdue_repairs")),
    h("div", { class: "tile-value" }, String(repairs.reduce((sum, row) => sum + row.count, 0))),
    h("div", { class: "tile-note" }, repairs.map((row) => h("span", {}, `${label("area", row.area)}·${label("tier", row.tier)} ${row.count}`))));
  const follow = panel.follow_ups_due || { count: 0, late: 0 };
  const followTile = h("div", { class: "tile" + (follow.late ? " missed" : ""), "data-testid": "follow-ups-due" },
    h("div", { class: "tile-label" }, t("board.follow_ups_due")),
    h("div", { class: "tile-value" }, String(follow.count)),
    h("div", { class: "tile-note" }, follow.late ? t("board.follow_ups_late", { late: follow.late }) : ""));
  fill(ticketsBox, ...limits, repairTile, followTile);
}

function renderAll() {
  renderFigures();
  renderQueues();
  renderAgents();
  renderTickets();
}

connectLive({
  hello(message) {
    calls.clear();
    for (const call of message.calls || []) calls.set(call.id, call);
    agents.clear();
    for (const agent of message.agents || []) agents.set(agent.extension, agent);
    if (message.board) board = message.board;
    renderAll();
  },
  call(message) {
    const call = message.call;
    if (!call || !call.id) return;
    if (call.state === "ended") calls.delete(call.id);
    else calls.set(call.id, call);
    renderQueues();
  },
  agent_state(message) {
    if (message.agent && message.agent.extension) agents.set(message.agent.extension, message.agent);
    renderAgents();
  },
  board(message) {
    board = message;
    renderFigures();
    renderQueues();
    renderTickets();
  },
});
renderAll();
