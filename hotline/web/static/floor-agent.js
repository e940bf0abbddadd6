// The agent's own state on the floor: 签入 / 签出, 示闲, 示忙 with a reason, 结束话后整理,
// and the current state with how long it has lasted. Asterisk's events decide the state, so
// after an action the page shows what the answer says came back; a pause made on the phone
// shows at the next poll of GET /api/floor/me (every 5 s). The page's WebSocket belongs to
// agent.js: it may hand the `agent_state` messages to showAgentState() for an instant update.

import { api, countup, failed, fill, h, label, option, say, t } from "./console.js";

const POLL_MS = 5000;
const part = (id) => document.getElementById(id);
const root = part("floor-agent");
const stateBox = part("floor-agent-state");
const sinceBox = part("floor-agent-since");
const reasons = part("floor-pause-reason");
const message = part("floor-agent-message");
const buttons = {
  login: part("floor-log-in"),
  logout: part("floor-log-out"),
  ready: part("floor-ready"),
  pause: part("floor-pause"),
  endWrapup: part("floor-end-wrapup"),
};
// Which buttons each state offers.
const OFFERS = {
  logged_out: ["login"],
  ready: ["pause", "logout"],
  ringing: ["pause", "logout"],
  on_call: ["pause", "logout"],
  paused: ["ready", "pause", "logout"],
  wrapup: ["endWrapup", "pause", "logout"],
};
let shown = null; // the agent row on show

function stateText(agent) {
  const state = label("agent_state", agent.state);
  if (agent.state !== "paused" && agent.state !== "wrapup") return state;
  return t("floor_agent.state_reason", { state, reason: agent.reason || t("floor_agent.no_reason") });
}

export function showAgentState(agent) {
  if (!root || !agent) return;
  shown = agent;
  root.dataset.state = agent.state;
  stateBox.dataset.state = agent.state;
  stateBox.textContent = stateText(agent);
  fill(sinceBox, agent.since ? [t("floor_agent.for"), " ", countup(agent.since, { id: "floor-agent-clock" })] : null);
  const offered = OFFERS[agent.state] || [];
  for (const [name, button] of Object.entries(buttons)) button.hidden = !offered.includes(name);
  reasons.hidden = !offered.includes("pause");
}

function fillReasons(list) {
  if (reasons.options.length) return;
  fill(reasons, list.map((reason, index) => option(reason, reason, index === 0)));
}

async function load() {
  try {
    const body = await api("GET", "/api/floor/me");
    fillReasons(body.pause_reasons || []);
    if (!body.agent) {
      say(message, t("floor_agent.no_extension"), "error");
      for (const button of Object.values(buttons)) button.hidden = true;
      reasons.hidden = true;
      return;
    }
    if (!shown || shown.state !== body.agent.state || shown.reason !== body.agent.reason || shown.since !== body.agent.since) showAgentState(body.agent);
  } catch (error) {
    failed(message, error);
  }
}

function act(button, path, body) {
  button.addEventListener("click", async () => {
    for (const b of Object.values(buttons)) b.disabled = true;
    say(message, t("floor_agent.waiting"));
    try {
      const result = await api("POST", path, body ? body() : {});
      say(message, result.settled ? t("floor_agent.done") : t("floor_agent.waiting"), result.settled ? "ok" : "");
      showAgentState(result.agent);
    } catch (error) {
      failed(message, error);
    } finally {
      for (const b of Object.values(buttons)) b.disabled = false;
    }
  });
}

if (root) {
  act(buttons.login, "/api/floor/me/log-in");
  act(buttons.logout, "/api/floor/me/log-out");
  act(buttons.ready, "/api/floor/me/ready");
  act(buttons.pause, "/api/floor/me/pause", () => ({ reason: reasons.value }));
  act(buttons.endWrapup, "/api/floor/me/end-wrapup");
  load();
  setInterval(load, POLL_MS);
}
