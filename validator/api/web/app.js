// The leaderboard page: a table and two SVG line charts, drawn here (no library, no network
// beyond this API). body[data-ready] is set once everything has rendered (tests wait on it).
// Clicking a row opens that miner's receipt for its latest round in a dialog, whose
// data-state is "loading", then "ready" or "error".
"use strict";

const API = "/v1";
const TOP_N = 10; // miners drawn in the charts: more lines than this is unreadable
const COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];
const SVG_NS = "http://www.w3.org/2000/svg";

async function getJSON(path) {
  const res = await fetch(API + path);
  if (!res.ok) {
    let reason = "";
    try {
      const body = await res.json();
      if (typeof body.detail === "string") reason = `: ${body.detail}`;
    } catch (_) { /* not JSON: the status says enough */ }
    throw new Error(`${path}: HTTP ${res.status}${reason}`);
  }
  return res.json();
}

function el(tag, attrs = {}, text = null, ns = null) {
  const node = ns ? document.createElementNS(ns, tag) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== null) node.textContent = text;
  return node;
}

function niceTicks(lo, hi, count) {
  if (hi === lo) { hi = lo + 1; }
  const raw = (hi - lo) / count;
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw);
  const ticks = [];
  for (let t = Math.floor(lo / step) * step; t <= hi + step * 1e-9; t += step) ticks.push(t);
  if (ticks[ticks.length - 1] < hi) ticks.push(ticks[ticks.length - 1] + step);
  return ticks;
}

function fmt(v) {
  const a = Math.abs(v);
  return a !== 0 && (a < 0.01 || a >= 1e4) ? v.toExponential(1) : (+v.toFixed(3)).toString();
}

// series: [{name, points: [[x, y], ...]}]; draws axes, ticks, one polyline per series, legend.
function lineChart(container, series, xLabel, yLabel, width = 560, height = 300) {
  container.replaceChildren();
  const pts = series.flatMap((s) => s.points);
  if (pts.length === 0) { container.append(el("p", {}, "no data yet")); return; }
  const m = { left: 56, right: 110, top: 10, bottom: 40 };
  const xs = niceTicks(Math.min(...pts.map((p) => p[0])), Math.max(...pts.map((p) => p[0])), 6);
  const ys = niceTicks(Math.min(...pts.map((p) => p[1])), Math.max(...pts.map((p) => p[1])), 5);
  const [x0, x1, y0, y1] = [xs[0], xs[xs.length - 1], ys[0], ys[ys.length - 1]];
  const sx = (x) => m.left + ((x - x0) / (x1 - x0 || 1)) * (width - m.left - m.right);
  const sy = (y) => height - m.bottom - ((y - y0) / (y1 - y0 || 1)) * (height - m.top - m.bottom);
  const svg = el("svg", { width, height, viewBox: `0 0 ${width} ${height}` }, null, SVG_NS);
  const line = (a, b, c, d, stroke) =>
    svg.append(el("line", { x1: a, y1: b, x2: c, y2: d, stroke }, null, SVG_NS));
  for (const t of ys) {
    line(m.left, sy(t), width - m.right, sy(t), "#eee");
    svg.append(el("text", { x: m.left - 6, y: sy(t) + 4, "text-anchor": "end" }, fmt(t), SVG_NS));
  }
  for (const t of xs) {
    line(sx(t), height - m.bottom, sx(t), height - m.bottom + 4, "#888");
    svg.append(el("text", { x: sx(t), y: height - m.bottom + 16, "text-anchor": "middle" }, fmt(t), SVG_NS));
  }
  line(m.left, m.top, m.left, height - m.bottom, "#888");
  line(m.left, height - m.bottom, width - m.right, height - m.bottom, "#888");
  svg.append(el("text", { x: (m.left + width - m.right) / 2, y: height - 6, "text-anchor": "middle" }, xLabel, SVG_NS));
  svg.append(el("text", { x: 12, y: height / 2, transform: `rotate(-90 12 ${height / 2})`, "text-anchor": "middle" }, yLabel, SVG_NS));
  series.forEach((s, i) => {
    const color = s.color || COLORS[i % COLORS.length];
    const d = s.points.map((p) => `${sx(p[0]).toFixed(1)},${sy(p[1]).toFixed(1)}`).join(" ");
    svg.append(el("polyline", { points: d, fill: "none", stroke: color, "stroke-width": 2, "data-series": s.name }, null, SVG_NS));
    if (s.points.length === 1) {
      svg.append(el("circle", { cx: sx(s.points[0][0]), cy: sy(s.points[0][1]), r: 3, fill: color }, null, SVG_NS));
    }
    const ly = m.top + 14 * i + 8;
    line(width - m.right + 10, ly, width - m.right + 28, ly, color);
    svg.append(el("text", { x: width - m.right + 32, y: ly + 4 }, s.name, SVG_NS));
  });
  container.append(svg);
}

// One colour per miner across both charts: its leaderboard position among the top N.
function colorOf(rows, uid) {
  const i = rows.findIndex((r) => r.uid === uid);
  return COLORS[(i < 0 ? 0 : i) % COLORS.length];
}

function trendCell(trend) {
  const cls = trend > 1e-12 ? "up" : trend < -1e-12 ? "down" : "flat";
  const arrow = { up: "▲", down: "▼", flat: "▬" }[cls];
  return el("td", { class: `trend ${cls}` }, `${arrow} ${fmt(trend)}`);
}

function renderTable(page) {
  const body = document.querySelector("#leaderboard tbody");
  body.replaceChildren();
  for (const row of page.rows) {
    const tr = el("tr", { "data-uid": row.uid, "data-rank": row.rank, tabindex: 0 });
    tr.addEventListener("click", () => openReceipt(page.competition, row, tr));
    tr.addEventListener("keydown", (e) => { if (e.key === "Enter") openReceipt(page.competition, row, tr); });
    tr.append(el("td", { class: "rank" }, String(row.rank)), el("td", { class: "uid" }, String(row.uid)),
      el("td", { class: "hotkey", title: row.hotkey }, row.hotkey),
      el("td", { class: "ema" }, row.ema.toFixed(4)), el("td", { class: "score" }, row.score.toFixed(4)),
      el("td", { class: "weight" }, row.weight.toFixed(4)), trendCell(row.trend));
    body.append(tr);
  }
  document.getElementById("total").textContent = `${page.total} miners`;
}

// ---- the receipt: why a miner got its score, and the command that re-checks it ----------

// Receipt numbers: up to 6 significant digits (scores are small; counts are exact).
function num(v) {
  return v === null || v === undefined ? "—" : Number(Number(v).toPrecision(6)).toString();
}

// A two-column table, one row per [name, value]; each row carries attr=name for lookups.
function pairs(cls, attr, rows) {
  const table = el("table", { class: cls });
  for (const [name, value] of rows) {
    const tr = el("tr", { [attr]: name });
    tr.append(el("th", {}, name.replaceAll("_", " ")), el("td", {}, String(value)));
    table.append(tr);
  }
  return table;
}

function receiptCommitments(r) {
  const c = r.commitments;
  const none = "— (not recorded)";
  return pairs("commitments", "data-commitment", [
    ["manifest_root", c.manifest_root ?? none],
    ["commit_block", c.commit_block ?? none],
    ["commitments_read_at_block", c.commitments_block ?? none],
    ["eval_commitment", c.eval_commitment_chain_value ?? none],
    ["eval_commitment_block", c.eval_commitment_block ?? none],
  ]);
}

function receiptEvalSet(r) {
  const p = el("p", { class: "eval-set" }, "held-out sets: ");
  if (r.eval_set.url) p.append(el("a", { href: r.eval_set.url }, r.eval_set.validator_path));
  else p.append(r.eval_set.note);
  return p;
}

function receiptAudit(r) {
  const block = el("div", { class: "audit" });
  const code = el("code", { id: "audit-command" }, r.audit_command);
  const copy = el("button", { type: "button", id: "copy-audit" }, "copy");
  copy.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(r.audit_command);
      copy.textContent = "copied";
    } catch (_) { // no clipboard (plain http): select the command for Ctrl+C
      const range = document.createRange();
      range.selectNodeContents(code);
      getSelection().removeAllRanges();
      getSelection().addRange(range);
      copy.textContent = "selected: press Ctrl+C";
    }
  });
  const pre = el("pre");
  pre.append(code);
  // From anywhere: this API's record and held-out set, and the miner's own signed response.
  const anywhere = el("pre");
  anywhere.append(el("code", { id: "audit-from-api" }, r.audit_from_api));
  block.append(pre, copy, el("p", {}, "or, anywhere, with your signed response:"), anywhere);
  return block;
}

function renderReceipt(r) {
  document.getElementById("receipt-title").textContent = `Receipt · uid ${r.uid} · ${r.competition}`;
  const round = el("p", { class: "receipt-round" },
    `round ${r.round_id} · block ${r.round_block} · status `);
  round.append(el("strong", { class: `receipt-status ${r.status}` }, r.status));
  const parts = [el("p", { class: "receipt-hotkey" }, r.hotkey), round];
  if (r.error) parts.push(el("p", { class: "receipt-error" }, `error: ${r.error}`));
  if (r.reasons.length > 0) {
    const list = el("ul", { class: "reasons" });
    for (const reason of r.reasons) list.append(el("li", {}, reason));
    parts.push(list);
  }
  // The CI is the bootstrap interval of the per-item improvement, the score's main signal.
  const components = pairs("components", "data-component", [
    ...Object.entries(r.components).map(([k, v]) => [k, num(v)]),
    ["improvement_CI", `[${num(r.ci_low)}, ${num(r.ci_high)}]`]]);
  parts.push(
    el("h3", {}, "Samples"), pairs("counts", "data-count", Object.entries(r.counts)),
    el("h3", {}, "Score"), components,
    pairs("totals", "data-total", [["score", num(r.score)], ["ema", num(r.ema)], ["weight", num(r.weight)]]),
    el("h3", {}, "Commitments"), receiptCommitments(r), receiptEvalSet(r),
    el("h3", {}, "Reproduce"), receiptAudit(r));
  document.getElementById("receipt-body").replaceChildren(...parts);
}

let receiptTicket = 0; // the latest click wins: an older receipt arriving late is dropped

async function openReceipt(competition, row, tr) {
  const dialog = document.getElementById("receipt");
  const body = document.getElementById("receipt-body");
  const ticket = ++receiptTicket;
  document.querySelectorAll("#leaderboard tr.selected").forEach((x) => x.classList.remove("selected"));
  tr.classList.add("selected");
  dialog.dataset.state = "loading";
  document.getElementById("receipt-title").textContent = `Receipt · uid ${row.uid}`;
  body.replaceChildren(el("p", {}, "loading…"));
  if (!dialog.open) dialog.showModal();
  try {
    const receipt = await getJSON(
      `/miners/${encodeURIComponent(row.hotkey)}/receipt?competition=${encodeURIComponent(competition)}`);
    if (ticket !== receiptTicket) return;
    renderReceipt(receipt);
    dialog.dataset.state = "ready";
  } catch (err) {
    if (ticket !== receiptTicket) return;
    body.replaceChildren(el("p", { class: "receipt-error" }, `error: ${err.message}`));
    dialog.dataset.state = "error";
  }
}

async function renderHistory(competition, rows) {
  const details = await Promise.all(rows.slice(0, TOP_N).map((r) =>
    getJSON(`/competitions/${competition}/miners/${r.uid}?history=200`)));
  // x is the round's block, so a miner that missed rounds shows a gap rather than a shift.
  const series = details.map((d) => ({
    name: `uid ${d.uid}`, color: colorOf(rows, d.uid), points: d.history.map((p) => [p.block, p.ema]),
  }));
  lineChart(document.getElementById("history-chart"), series, "block", "EMA score");
}

async function renderLosses(competition, rows) {
  const page = await getJSON("/rounds?limit=1");
  const chart = document.getElementById("loss-chart");
  if (page.rounds.length === 0) { lineChart(chart, [], "", ""); return; }
  const record = await getJSON(`/rounds/${encodeURIComponent(page.rounds[0].round_id)}`);
  const top = new Set(rows.slice(0, TOP_N).map((r) => r.uid));
  const series = record.miners
    .filter((m) => m.competition === competition && top.has(m.uid) && m.train_losses.length > 0)
    .sort((a, b) => rows.findIndex((r) => r.uid === a.uid) - rows.findIndex((r) => r.uid === b.uid))
    .map((m) => ({ name: `uid ${m.uid}`, color: colorOf(rows, m.uid), points: m.train_losses.map((l, i) => [i + 1, l]) }));
  document.getElementById("loss-caption").textContent =
    `Training loss per LoRA step, round ${record.round_id} (block ${record.block})`;
  lineChart(chart, series, "LoRA step", "training loss");
  document.getElementById("status").textContent =
    `latest round ${record.round_id} · block ${record.block} · ` +
    new Date(record.finished_at * 1000).toISOString().replace("T", " ").slice(0, 19) + " UTC";
}

async function show(competition) {
  const page = await getJSON(`/competitions/${competition}/leaderboard?limit=200`);
  renderTable(page);
  await Promise.all([renderHistory(competition, page.rows), renderLosses(competition, page.rows)]);
}

async function main() {
  const select = document.getElementById("competition");
  const dialog = document.getElementById("receipt");
  document.getElementById("receipt-close").addEventListener("click", () => dialog.close());
  try {
    const competitions = await getJSON("/competitions");
    if (competitions.length === 0) {
      document.getElementById("status").textContent = "no rounds yet";
      return;
    }
    for (const c of competitions) select.append(el("option", { value: c.competition }, c.competition));
    select.addEventListener("change", () => show(select.value));
    await show(select.value);
  } catch (err) {
    document.getElementById("status").textContent = `error: ${err.message}`;
  } finally {
    document.body.dataset.ready = "1";
  }
}

main();
