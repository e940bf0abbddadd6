// The console's shared core: words (the catalogue the page embeds), building the DOM from
// data (createElement + textContent only: names and notes from outside are never HTML),
// times in Asia/Shanghai, countdowns, the API with its CSRF header, and the /ws feed.

const SVG_NS = "http://www.w3.org/2000/svg";
export const ZONE = "Asia/Shanghai";

function readJson(id) {
  const node = document.getElementById(id);
  if (!node) return {};
  try {
    return JSON.parse(node.textContent);
  } catch (error) {
    return {};
  }
}

const catalogue = readJson("i18n");
export const pageData = readJson("page-data");
export const me = pageData.user || {};
export const enums = pageData.enums || {};

// --- words --------------------------------------------------------------------------

export function t(key, params) {
  let text = Object.prototype.hasOwnProperty.call(catalogue, key) ? catalogue[key] : key;
  if (params) {
    text = text.replace(/\{(\w+)\}/g, (whole, name) => (name in params ? String(params[name]) : whole));
  }
  return text;
}

// The word for an enum value the API sent ("status", "forwarded" -> 已转办); a value the
// catalogue does not know yet is shown as it is.
export function label(group, value) {
  if (value === null || value === undefined || value === "") return "—";
  const key = group + "." + value;
  return Object.prototype.hasOwnProperty.call(catalogue, key) ? catalogue[key] : String(value);
}

// --- building the DOM -------------------------------------------------------------------

// `selected` stays an attribute (defaultSelected), so form.reset() goes back to it.
const PROPERTIES = new Set(["value", "checked", "disabled", "hidden", "required", "multiple"]);

function setAttributes(node, attrs) {
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") node.setAttribute("class", value);
    else if (name === "text") node.textContent = String(value);
    else if (name === "dataset") Object.assign(node.dataset, value);
    else if (name.startsWith("on") && typeof value === "function") node.addEventListener(name.slice(2), value);
    else if (name.startsWith("on")) continue; // never an inline handler
    else if (PROPERTIES.has(name)) node[name] = value;
    else node.setAttribute(name, value === true ? "" : String(value));
  }
}

function append(node, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(node, child);
    else if (child instanceof Node) node.appendChild(child);
    else node.appendChild(document.createTextNode(String(child)));
  }
}

// h("td", {class: "x", "data-col": "met"}, "text", otherNode): strings become text nodes.
export function h(tag, attrs, ...children) {
  const node = document.createElement(tag);
  setAttributes(node, attrs);
  append(node, children);
  return node;
}

export function svg(tag, attrs, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  setAttributes(node, attrs);
  append(node, children);
  return node;
}

export function fill(node, ...children) {
  node.replaceChildren();
  append(node, children);
  return node;
}

export function option(value, text, selected) {
  return h("option", { value: value === null || value === undefined ? "" : String(value), selected: Boolean(selected) }, text);
}

export function enumSelect(group, name, current, { empty = null } = {}) {
  const select = h("select", { name });
  if (empty !== null) select.appendChild(option("", empty, current === null || current === undefined));
  for (const value of enums[group] || []) select.appendChild(option(value, label(group, value), value === current));
  return select;
}

export function tierBadge(tier, id) {
  const known = ["vip", "key_account", "private_network"].includes(tier);
  return h("span", { id, class: known ? "badge " + tier : "badge", hidden: !known }, known ? label("tier", tier) : "");
}

// --- time ------------------------------------------------------------------------------

let skew = 0; // server clock minus ours, from hello's server_time

export function now() {
  return Date.now() + skew;
}

export function setServerTime(iso) {
  const at = Date.parse(iso || "");
  if (!Number.isNaN(at)) skew = at - Date.now();
}

const partsFormat = new Intl.DateTimeFormat("en-GB", {
  timeZone: ZONE, year: "numeric", month: "2-digit", day: "2-digit",
  hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23",
});

function shanghai(ms) {
  const parts = {};
  for (const part of partsFormat.formatToParts(new Date(ms))) parts[part.type] = part.value;
  return parts;
}

// "2026-11-25" of a moment (default: now) in Asia/Shanghai.
export function shanghaiDate(ms) {
  const p = shanghai(ms === undefined ? now() : ms);
  return `${p.year}-${p.month}-${p.day}`;
}

// A time as people here read it: "10:02:03" today, "11-24 10:02" another day this year.
export function when(iso) {
  const ms = Date.parse(iso || "");
  if (Number.isNaN(ms)) return "—";
  const p = shanghai(ms);
  const today = shanghai(now());
  if (p.year === today.year && p.month === today.month && p.day === today.day) return `${p.hour}:${p.minute}:${p.second}`;
  if (p.year === today.year) return `${p.month}-${p.day} ${p.hour}:${p.minute}`;
  return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}`;
}

export function fullTime(iso) {
  const ms = Date.parse(iso || "");
  if (Number.isNaN(ms)) return "—";
  const p = shanghai(ms);
  return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}:${p.second}`;
}

// A datetime-local value ("2026-11-25T18:00") read as Beijing time (no summer time there).
export function shanghaiInput(value) {
  if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d)?$/.test(value || "")) return null;
  return (value.length === 16 ? value + ":00" : value) + "+08:00";
}

function pad(n) {
  return String(n).padStart(2, "0");
}

// mm:ss under an hour, h:mm:ss under a day, then days too; "-" before it when past.
export function span(seconds) {
  const sign = seconds < 0 ? "-" : "";
  let s = Math.abs(Math.trunc(seconds));
  const days = Math.floor(s / 86400);
  s -= days * 86400;
  const hours = Math.floor(s / 3600);
  const minutes = Math.floor((s % 3600) / 60);
  const secs = s % 60;
  if (days > 0) return `${sign}${t("time.days", { days })} ${pad(hours)}:${pad(minutes)}:${pad(secs)}`;
  if (hours > 0) return `${sign}${hours}:${pad(minutes)}:${pad(secs)}`;
  return `${sign}${pad(minutes)}:${pad(secs)}`;
}

// Amber this long before the due time, when no warn_at is known: the last fifth of the
// standard's default limit (the scheduler warns at 80 % too).
const NEAR_SECONDS = { forward: 120, acknowledge: 60, reply: 360, repair_respond: 120 };

function tickCountdown(node) {
  const due = Date.parse(node.dataset.due);
  if (Number.isNaN(due)) return;
  const left = Math.round((due - now()) / 1000);
  const warnAt = Date.parse(node.dataset.warn || "");
  const near = Number.isNaN(warnAt) ? left <= (NEAR_SECONDS[node.dataset.kind] || 3600) : now() >= warnAt;
  node.textContent = span(left);
  node.classList.toggle("past", left < 0);
  node.classList.toggle("near", left >= 0 && near);
}

function tickCountup(node) {
  const since = Date.parse(node.dataset.since);
  if (!Number.isNaN(since)) node.textContent = span(Math.max(0, (now() - since) / 1000));
}

// A span counting down to `dueIso` (mm:ss), amber near and red past the due time.
export function countdown(dueIso, kind, { id, warnIso } = {}) {
  const node = h("span", { id, class: "countdown", dataset: { due: dueIso || "", kind: kind || "", warn: warnIso || "" } });
  tickCountdown(node);
  return node;
}

export function countup(sinceIso, { id } = {}) {
  const node = h("span", { id, class: "countup", dataset: { since: sinceIso || "" } });
  tickCountup(node);
  return node;
}

setInterval(() => {
  for (const node of document.querySelectorAll(".countdown[data-due]")) tickCountdown(node);
  for (const node of document.querySelectorAll(".countup[data-since]")) tickCountup(node);
}, 1000);

// --- the API ---------------------------------------------------------------------------

const csrfMeta = document.querySelector('meta[name="csrf-token"]');
const CSRF = csrfMeta ? csrfMeta.getAttribute("content") : "";
const SAFE = new Set(["GET", "HEAD", "OPTIONS"]);

export class ApiError extends Error {
  constructor(message, status, body) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

function toLogin() {
  location.assign("/login?next=" + encodeURIComponent(location.pathname + location.search));
}

export async function api(method, path, body) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (!SAFE.has(method)) headers["X-CSRF-Token"] = CSRF;
  let response;
  try {
    response = await fetch(path, {
      method, headers, credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (error) {
    throw new ApiError(t("common.network"), 0, null);
  }
  if (response.status === 401) {
    toLogin();
    throw new ApiError(t("login.title"), 401, null);
  }
  if (response.status === 204) return null;
  let data = null;
  try {
    data = await response.json();
  } catch (error) {
    data = null;
  }
  if (!response.ok) {
    const message = data && typeof data.message === "string" ? data.message : `${response.status} ${response.statusText}`;
    throw new ApiError(message, response.status, data);
  }
  return data;
}

let departmentsOnce = null;

// The departments (for the forward select), fetched once per page.
export function departments() {
  if (departmentsOnce === null) {
    departmentsOnce = api("GET", "/api/departments").then((body) => body.departments, (error) => {
      departmentsOnce = null;
      throw error;
    });
  }
  return departmentsOnce;
}

// --- messages to the user ---------------------------------------------------------------

let noticeTimer = null;

export function notify(message, kind) {
  const node = document.getElementById("notice");
  if (!node) return;
  node.textContent = message;
  node.className = "notice " + (kind || "info");
  node.hidden = false;
  clearTimeout(noticeTimer);
  noticeTimer = setTimeout(() => { node.hidden = true; }, 8000);
}

// Shows an action's outcome in the form's own message line.
export function say(node, message, kind) {
  if (!node) return;
  node.textContent = message;
  node.className = "form-msg " + (kind || "");
}

export function failed(node, error) {
  say(node, t("common.failed", { message: error && error.message ? error.message : String(error) }), "error");
}

// Calls `fn` once, `wait` ms after the last of a burst of calls.
export function debounce(fn, wait) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), wait);
  };
}

// --- the live feed ----------------------------------------------------------------------

const WS_WORDS = {
  connecting: () => t("ws.connecting"),
  connected: () => t("ws.connected"),
  reconnecting: () => t("ws.reconnecting"),
};
const FIRST_DELAY = 1000;
const LAST_DELAY = 15000;
const PING_EVERY = 25000;

// Opens /ws and keeps it open: after any close it tries again after 1 s, 2 s, 4 s ... 15 s.
// `handlers` maps a message type (hello, pop, ticket, deadline, call, pong, error) to a
// function; hello comes first on every (re)connect and restores what the page shows.
export function connectLive(handlers) {
  const indicator = document.getElementById("ws-state");
  let delay = FIRST_DELAY;
  let socket = null;
  let pinger = null;
  let waitingForPong = false;
  let greeted = false;

  function show(state) {
    if (!indicator) return;
    indicator.dataset.state = state;
    indicator.textContent = WS_WORDS[state]();
  }

  function receive(event) {
    let message;
    try {
      message = JSON.parse(event.data);
    } catch (error) {
      return;
    }
    if (!message || typeof message.type !== "string") return;
    if (message.type === "hello") {
      greeted = true;
      delay = FIRST_DELAY;
      setServerTime(message.server_time);
      show("connected");
    } else if (message.type === "pong") {
      waitingForPong = false;
    } else if (message.type === "error") {
      notify(t("ws.error", { message: String(message.message || "") }), "error");
    }
    const handler = handlers[message.type];
    if (handler) {
      try {
        handler(message);
      } catch (error) {
        console.error(error); // one bad message must not stop the feed
      }
    }
  }

  function ping() {
    if (!socket || socket.readyState !== WebSocket.OPEN) return;
    if (waitingForPong) {
      socket.close(); // the last ping went unanswered: a half-open link; start again
      return;
    }
    waitingForPong = true;
    socket.send(JSON.stringify({ type: "ping" }));
  }

  function closed() {
    clearInterval(pinger);
    socket = null;
    show("reconnecting");
    if (!greeted) {
      // Refused before hello: perhaps the session ended. The API says so (401 -> /login).
      api("GET", "/api/me").catch(() => {});
    }
    setTimeout(open, delay);
    delay = Math.min(delay * 2, LAST_DELAY);
  }

  function open() {
    greeted = false;
    waitingForPong = false;
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    try {
      socket = new WebSocket(scheme + location.host + "/ws");
    } catch (error) {
      closed();
      return;
    }
    socket.addEventListener("message", receive);
    socket.addEventListener("close", closed);
    pinger = setInterval(ping, PING_EVERY);
  }

  show("connecting");
  open();
}
