// The SLA report on the supervisor's page: GET /api/reports/sla for a range of Beijing
// days, grouped by department, category or tier; a table of the figures (met and breached
// per group, the on-time rate, median minutes) and one inline SVG drawn here, no library.

import { api, fill, h, label, now, pageData, shanghaiDate, svg, t } from "./console.js";

const DAY = 86400000;
const form = document.getElementById("sla-form");
const table = document.getElementById("sla-table");
const chart = document.getElementById("sla-chart");
const csv = document.getElementById("sla-csv");
const message = document.getElementById("sla-message");
// [the report's key, the cell's data-col]
const COLUMNS = [
  ["tickets", "tickets"], ["deadlines", "deadlines"], ["met", "met"], ["breached", "breached"], ["open", "open"], ["rate", "rate"],
  ["median_minutes_to_forward", "forward"], ["median_minutes_to_acknowledge", "acknowledge"], ["median_minutes_to_resolve", "resolve"],
];
const MEDIANS = [
  ["median_minutes_to_forward", () => t("sla.chart.forward"), "bar-forward"],
  ["median_minutes_to_acknowledge", () => t("sla.chart.acknowledge"), "bar-acknowledge"],
  ["median_minutes_to_resolve", () => t("sla.chart.resolve"), "bar-resolve"],
];

function groupName(group, name) {
  if (name === pageData.not_forwarded) return t("sla.not_forwarded");
  if (group === "category") return label("category", name);
  if (group === "tier") return label("tier", name);
  return name;
}

function rate(row) {
  const decided = row.met + row.breached;
  return decided ? Math.round((row.met / decided) * 1000) / 10 + "%" : "—";
}

function cell(row, column) {
  if (column === "rate") return rate(row);
  const value = row[column];
  return value === null || value === undefined ? "—" : String(value);
}

function tableRow(row, name, tag) {
  return h("tr", { dataset: { group: row.group } },
    h(tag, { "data-col": "group", scope: tag === "th" ? "row" : null }, name),
    COLUMNS.map(([key, col]) => h("td", { "data-col": col, class: "num" }, cell(row, key))));
}

function renderTable(report) {
  const body = table.tBodies[0];
  const rows = report.groups.map((row) => tableRow(row, groupName(report.group, row.group), "th"));
  fill(body, rows.length ? rows : h("tr", {}, h("td", { colspan: COLUMNS.length + 1, class: "muted" }, t("sla.empty"))));
  fill(table.tFoot, report.groups.length ? tableRow(report.total, t("sla.total"), "th") : null);
}

function shorten(text, most) {
  return text.length > most ? text.slice(0, most - 1) + "…" : text;
}

// One SVG: a row per group; three panels of median minutes (each its own scale) and one
// of the group's deadlines, met / breached / running stacked.
function renderChart(report) {
  const groups = report.groups;
  if (!groups.length) {
    chart.replaceChildren();
    return;
  }
  const LABEL = 150, PANEL = 250, GAP = 24, ROW = 26, BAR = 16, TOP = 48;
  const width = LABEL + 4 * (PANEL + GAP);
  const height = TOP + groups.length * ROW + 8;
  const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, class: "sla-svg", role: "img", "aria-label": t("sla.chart"), preserveAspectRatio: "xMinYMin meet" },
    svg("title", {}, t("sla.chart")));
  const rowY = (i) => TOP + i * ROW + (ROW - BAR) / 2;
  groups.forEach((row, i) => {
    const name = groupName(report.group, row.group);
    root.appendChild(svg("text", { x: LABEL - 8, y: rowY(i) + BAR / 2, class: "label", "text-anchor": "end", "dominant-baseline": "central" },
      svg("title", {}, name), shorten(name, 12)));
  });
  MEDIANS.forEach(([key, title, kind], j) => {
    const x0 = LABEL + j * (PANEL + GAP);
    const most = Math.max(0, ...groups.map((row) => row[key] || 0));
    root.appendChild(svg("text", { x: x0, y: 18, class: "panel-title" }, title()));
    root.appendChild(svg("line", { x1: x0, x2: x0, y1: TOP - 6, y2: height - 4, class: "axis" }));
    groups.forEach((row, i) => {
      const value = row[key];
      if (value === null || value === undefined) {
        root.appendChild(svg("text", { x: x0 + 6, y: rowY(i) + BAR / 2, class: "value muted", "dominant-baseline": "central" }, "—"));
        return;
      }
      const length = most > 0 ? Math.max(2, (value / most) * (PANEL - 60)) : 2;
      root.appendChild(svg("rect", { x: x0, y: rowY(i), width: length, height: BAR, class: "bar " + kind }, svg("title", {}, `${groupName(report.group, row.group)}: ${value}`)));
      root.appendChild(svg("text", { x: x0 + length + 4, y: rowY(i) + BAR / 2, class: "value", "dominant-baseline": "central" }, String(value)));
    });
  });
  const x0 = LABEL + 3 * (PANEL + GAP);
  const most = Math.max(1, ...groups.map((row) => row.met + row.breached + row.open));
  root.appendChild(svg("text", { x: x0, y: 18, class: "panel-title" }, t("sla.chart.deadlines")));
  const parts = [["met", "bar-met", t("sla.col.met")], ["breached", "bar-breached", t("sla.col.breached")], ["open", "bar-open", t("sla.col.open")]];
  parts.forEach(([, kind, word], k) => {
    root.appendChild(svg("rect", { x: x0 + k * 80, y: 26, width: 10, height: 10, class: "bar " + kind }));
    root.appendChild(svg("text", { x: x0 + k * 80 + 14, y: 31, class: "legend", "dominant-baseline": "central" }, word));
  });
  root.appendChild(svg("line", { x1: x0, x2: x0, y1: TOP - 6, y2: height - 4, class: "axis" }));
  groups.forEach((row, i) => {
    let x = x0;
    for (const [key, kind, word] of parts) {
      if (!row[key]) continue;
      const length = (row[key] / most) * (PANEL - 60);
      root.appendChild(svg("rect", { x, y: rowY(i), width: length, height: BAR, class: "bar " + kind }, svg("title", {}, `${word}: ${row[key]}`)));
      x += length;
    }
    root.appendChild(svg("text", { x: x + 4, y: rowY(i) + BAR / 2, class: "value", "dominant-baseline": "central" }, `${row.met} / ${row.breached} / ${row.open}`));
  });
  fill(chart, root);
}

async function load() {
  const query = new URLSearchParams({ from: form.elements.from.value, to: form.elements.to.value, group: form.elements.group.value });
  csv.setAttribute("href", `/api/reports/sla?${query}&format=csv`);
  message.textContent = t("common.loading");
  message.className = "form-msg";
  try {
    const report = await api("GET", `/api/reports/sla?${query}`);
    message.textContent = "";
    renderTable(report);
    renderChart(report);
  } catch (error) {
    message.textContent = t("common.failed", { message: error.message });
    message.className = "form-msg error";
  }
}

export function startSla() {
  // The last seven Beijing days, today included.
  form.elements.to.value = shanghaiDate(now());
  form.elements.from.value = shanghaiDate(now() - 6 * DAY);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    load();
  });
  form.elements.group.addEventListener("change", load);
  load();
  return load;
}
