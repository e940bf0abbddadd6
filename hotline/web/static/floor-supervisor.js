// The supervisor's agents panel: every agent's state with how long, and from each row
// 监听 / 耳语 / 强插 (the supervisor's own phone is called into ChanSpy on the agent's call),
// 强制示忙 and 强制签出 with a reason (both recorded with who did it). States arrive by push:
// supervisor.js re-dispatches the page's WebSocket messages as `hotline:*` DOM events.

import { api, countup, fill, h, label, me, notify, say, t } from "./console.js";

const box = document.getElementById("floor-agents");
const counts = document.getElementById("floor-agent-counts");
const agents = new Map();
let reasons = [];
const STATE_ORDER = ["on_call", "ringing", "wrapup", "paused", "ready", "logged_out"];
const SPY_MODES = { listen: t("spy.listen"), whisper: t("spy.whisper"), barge: t("spy.barge") };
const SPY_HINTS = { listen: t("spy.listen_hint"), whisper: t("spy.whisper_hint"), barge: t("spy.barge_hint") };

function spyButton(agent, mode, message) {
  const inCall = agent.state === "on_call";
  return h("button", {
    type: "button", class: "spy-" + mode, "data-testid": `spy-${mode}-${agent.extension}`, title: SPY_HINTS[mode],
    disabled: !inCall || !me.extension,
    async onclick(event) {
      if (mode === "barge" && !window.confirm(t("spy.confirm_barge"))) return;
      const button = event.currentTarget;
      button.disabled = true;
      try {
        await api("POST", `/api/floor/agents/${encodeURIComponent(agent.extension)}/${mode}`, {});
        say(message, t("spy.calling", { extension: me.extension, mode: SPY_MODES[mode], agent: agent.name || agent.extension }), "ok");
      } catch (error) {
        say(message, t("spy.failed", { message: error.message }), "error");
      } finally {
        button.disabled = false;
      }
    },
  }, SPY_MODES[mode]);
}

function forceForm(agent, message) {
  const reason = h("input", { name: "reason", placeholder: t("floor_agent.force_reason"), "aria-label": t("floor_agent.force_reason"), maxlength: 200, list: "floor-reasons" });
  const force = (action) => async (event) => {
    const button = event.currentTarget;
    if (!reason.value.trim()) {
      say(message, t("floor_agent.force_reason"), "error");
      reason.focus();
      return;
    }
    button.disabled = true;
    try {
      await api("POST", `/api/floor/agents/${encodeURIComponent(agent.extension)}/${action}`, { reason: reason.value.trim() });
      say(message, t("floor_agent.done"), "ok");
    } catch (error) {
      say(message, t("common.failed", { message: error.message }), "error");
    } finally {
      button.disabled = false;
    }
  };
  const out = agent.state === "logged_out";
  return h("span", { class: "force" }, reason,
    h("button", { type: "button", "data-testid": `force-pause-${agent.extension}`, disabled: out || agent.state === "paused", onclick: force("force-pause") }, t("floor_agent.force_pause")),
    h("button", { type: "button", "data-testid": `force-log-out-${agent.extension}`, disabled: out, onclick: force("force-log-out") }, t("floor_agent.force_log_out")));
}

function render() {
  // A reason being typed survives the re-render a state change brings.
  const typed = new Map([...box.querySelectorAll("tr[data-extension] input[name=reason]")]
    .map((input) => [input.closest("tr").dataset.extension, input.value]));
  const focused = document.activeElement && box.contains(document.activeElement) ? document.activeElement.closest("tr")?.dataset.extension : null;
  draw();
  for (const [extension, value] of typed) {
    const input = box.querySelector(`tr[data-extension="${CSS.escape(extension)}"] input[name=reason]`);
    if (!input) continue;
    input.value = value;
    if (extension === focused) input.focus();
  }
}

function draw() {
  const list = [...agents.values()].sort((a, b) => STATE_ORDER.indexOf(a.state) - STATE_ORDER.indexOf(b.state) || a.extension.localeCompare(b.extension));
  const tally = new Map();
  for (const agent of list) tally.set(agent.state, (tally.get(agent.state) || 0) + 1);
  fill(counts, STATE_ORDER.filter((state) => tally.get(state)).map((state) => h("span", { class: "count" }, `${label("agent_state", state)} ${tally.get(state)}`)));
  if (!list.length) {
    fill(box, h("p", { class: "muted" }, t("board.no_agents")));
    return;
  }
  const rows = list.map((agent) => {
    const message = h("span", { class: "form-msg", role: "status" });
    return h("tr", { class: "agent state-" + agent.state, dataset: { extension: agent.extension, state: agent.state } },
      h("td", {}, agent.name || agent.member || "—"),
      h("td", {}, agent.extension),
      h("td", { class: "agent-state" }, agent.reason && (agent.state === "paused" || agent.state === "wrapup")
        ? t("floor_agent.state_reason", { state: label("agent_state", agent.state), reason: agent.reason })
        : label("agent_state", agent.state)),
      h("td", { class: "num" }, agent.since ? countup(agent.since) : "—"),
      h("td", { class: "spy" }, ...Object.keys(SPY_MODES).map((mode) => spyButton(agent, mode, message))),
      h("td", {}, forceForm(agent, message), message));
  });
  fill(box,
    h("datalist", { id: "floor-reasons" }, reasons.map((reason) => h("option", { value: reason }))),
    me.extension ? null : h("p", { class: "muted" }, t("spy.no_phone")),
    h("table", { class: "table compact" },
      h("thead", {}, h("tr", {}, [t("floor.agent"), t("floor.extension"), t("floor.state"), t("floor.since")].map((title) => h("th", { scope: "col" }, title)),
        h("th", { scope: "col" }, t("floor.listen_in")), h("th", { scope: "col" }))),
      h("tbody", {}, rows)));
}

async function load() {
  try {
    const body = await api("GET", "/api/floor/agents");
    reasons = body.pause_reasons || [];
    agents.clear();
    for (const agent of body.agents) agents.set(agent.extension, agent);
    render();
  } catch (error) {
    fill(box, h("p", { class: "error" }, t("common.failed", { message: error.message })));
  }
}

document.addEventListener("hotline:hello", (event) => {
  if (!event.detail.agents) return;
  agents.clear();
  for (const agent of event.detail.agents) agents.set(agent.extension, agent);
  render();
});
document.addEventListener("hotline:agent_state", (event) => {
  const agent = event.detail.agent;
  if (!agent || !agent.extension) return;
  agents.set(agent.extension, agent);
  render();
});
document.addEventListener("hotline:wrapup_over_limit", (event) => {
  const message = event.detail;
  notify(t("floor_agent.wrapup_over_limit", { name: message.name || message.extension, minutes: Math.round(message.limit_seconds / 60) }), "warn");
});
load();
