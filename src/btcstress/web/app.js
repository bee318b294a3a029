/* btcstress dashboard: renders findings served by the API. It formats numbers for print and draws
   them; it never derives a figure of its own (every value shown is a finding, with its provenance on
   hover). */
"use strict";

const $ = (sel, root = document) => root.querySelector(sel);
const HOUR = 3600e3;

// ---- formatting (mirrors btcstress.brief.fmt) --------------------------------------------------
const NA = "n/a";
function usdShort(v, signed) {
  const sign = v < 0 ? "-" : (signed && v > 0 ? "+" : "");
  const a = Math.abs(v);
  for (const [u, d] of [["T", 1e12], ["B", 1e9], ["M", 1e6], ["k", 1e3]]) {
    if (a >= d) { const x = a / d; return `${sign}$${x.toFixed(x < 10 ? 2 : 1)}${u}`; }
  }
  return `${sign}$${a.toFixed(0)}`;
}
function usd(v, signed) {
  if (Math.abs(v) >= 1e8) return usdShort(v, signed);
  const sign = v < 0 ? "-" : (signed && v > 0 ? "+" : "");
  const d = Math.abs(v) >= 1000 ? 0 : 2;
  return `${sign}$${Math.abs(v).toLocaleString("en-US", {minimumFractionDigits: d, maximumFractionDigits: d})}`;
}
function num(v, d = 0) { return v.toLocaleString("en-US", {minimumFractionDigits: d, maximumFractionDigits: d}); }
function pct(v, signed = false, d = 1) { return `${signed && v > 0 ? "+" : ""}${v.toFixed(d)}%`; }
function longDate(s) {
  const d = new Date(String(s).slice(0, 10) + "T00:00:00Z");
  if (isNaN(d)) return String(s);
  return d.toLocaleDateString("en-US", {year: "numeric", month: "short", day: "numeric", timeZone: "UTC"});
}
function fmt(f, style, signed) {
  if (!f || f.value === null || f.value === undefined) return null;
  const v = f.value, unit = style || f.unit;
  if (Array.isArray(v)) return `${v.length}`;
  if (typeof v === "string") return unit === "date" ? longDate(v) : v.replace(/_/g, " ");
  switch (unit) {
    case "USD": return usd(v, signed);
    case "usd_short": return usdShort(v, signed);
    case "pct": return pct(v, signed);
    case "BTC": return `${num(v)} BTC`;
    case "z": return `${signed && v > 0 ? "+" : ""}${v.toFixed(1)}σ`;
    case "ratio": return `${v.toFixed(2)}×`;
    case "entities": return `${num(v)}`;
    case "days": return `${num(v)} day${v === 1 ? "" : "s"}`;
    case "index": return num(v, Number.isInteger(v) ? 0 : 2);
    case "USD/PH/day": return `$${v.toFixed(2)}/PH/d`;
    case "USD/kWh": return `$${v.toFixed(3)}/kWh`;
    case "funding": return `${v.toFixed(4)}%`;
    default: return typeof v === "number" ? num(v, Math.abs(v) < 10 ? 2 : 0) : String(v);
  }
}
const isoHour = (d) => d.toISOString().slice(0, 16);             // 2026-02-06T08:00 (UTC)
const apiTime = (d) => isoHour(d) + "Z";
const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}[c]));

// ---- the findings registry (for provenance on hover) ---------------------------------------------
const REG = [];
function reg(f) { REG.push(f); return REG.length - 1; }
function pick(list, id, subject, window) {
  return list.find((f) => f.id === id && (!subject || f.subject === subject) && (!window || f.window.startsWith(window)));
}
function valueHTML(f, style, signed, cls = "") {
  const text = fmt(f, style, signed);
  if (text === null) {
    const why = f ? (f.note || "not available") : "not computed";
    return `<span class="na ${cls}" ${f ? `data-f="${reg(f)}"` : ""} title="${esc(why)}">${NA}</span>`;
  }
  return `<span class="${cls}" data-f="${reg(f)}">${esc(text)}</span>`;
}
function signClass(f) { return !f || typeof f.value !== "number" ? "" : f.value < 0 ? "down" : f.value > 0 ? "up" : ""; }

// ---- the cards: one per force ---------------------------------------------------------------------
const CARDS = [
  {key: "stress", title: "Stress index", sub: "forces combined", main: ["stress.index", null, null, "z"],
   label: "robust z vs each force's own year", change: ["stress.index_highest_since", null, null, "date", "highest since"],
   rows: [["Price move", "stress.component.price", null, null, "z"], ["Market-wide", "stress.component.market", null, null, "z"],
          ["Miners", "stress.component.miners", null, null, "z"], ["ETF flows", "stress.component.etf", null, null, "z"],
          ["Leverage", "stress.component.leverage", null, null, "z"], ["Treasuries", "stress.component.treasuries", null, null, "z"]],
   spark: {series: "stress.index_daily", last: 365}},
  {key: "price", title: "Price", sub: "BTC", main: ["price.last_usd"], label: "last, primary market",
   change: ["price.change_24h_pct", null, null, "pct", "24 h"],
   rows: [["24 h low", "price.low_24h_usd"], ["24 h max drop", "price.max_drop_24h_pct"],
          ["From ATH", "price.drawdown_from_ath_pct"], ["Lowest since", "price.lowest_since_date"]],
   spark: {series: "price.hourly_48h"}},
  {key: "market", title: "Market", sub: "crypto", main: ["market.total_cap_usd", null, null, "usd_short"],
   label: "total market value", change: ["market.total_cap_change_usd", null, null, "usd_short", "last day"],
   rows: [["Fear & Greed", "market.fear_greed"], ["BTC dominance", "market.btc_dominance_pct"],
          ["BTC market value", "market.btc_cap_usd", null, null, "usd_short"]],
   spark: {series: "market.total_cap_180d", last: 120}},
  {key: "miners", title: "Miners", sub: "modelled", main: ["miners.margin_pct"], label: "all-in margin at the price",
   change: ["miners.reserve_change_30d_btc", null, null, "BTC", "reserve, 30 d"],
   rows: [["All-in cost / BTC", "miners.production_cost_usd"], ["Cash cost / BTC", "miners.cash_cost_usd"],
          ["Electricity / BTC", "miners.electricity_cost_usd"],
          ["Hashrate under water (all-in)", "miners.hashrate_underwater_pct"],
          ["Hashrate under water (cash)", "miners.hashrate_underwater_cash_pct"],
          ["Network power (GW)", "miners.network_power_gw"],
          ["Outflow, last day", "miners.outflow_btc_1d"], ["Hash ribbon", "miners.hash_ribbon"]],
   cited: "miners.published_cost_usd",
   spark: {series: "miners.hashprice_3y", last: 180}},
  {key: "etf", title: "Spot ETFs", sub: "US", main: ["etf.net_flow_usd", null, null, "usd_short"], label: "net flow, last day",
   change: ["etf.week_to_date_usd", null, null, "usd_short", "week to date"],
   rows: [["Outflow streak", "etf.outflow_streak_days", null, null, "days"], ["Streak total", "etf.outflow_streak_usd", null, null, "usd_short"],
          ["Holders' P&L", "etf.holders_pnl_pct"], ["AUM", "etf.aum_usd", null, null, "usd_short"]],
   spark: {series: "etf.daily_flows_by_fund", bars: true}},
  {key: "leverage", title: "Leverage", sub: "BTC+ETH", main: ["liquidations.total_usd", "BTC+ETH", null, "usd_short"],
   label: "liquidations, last day", change: ["derivatives.open_interest_change_pct", "BTC", "7d", "pct", "BTC open interest, 7 d"],
   rows: [["Longs' share", "liquidations.long_share_pct", "BTC+ETH"], ["vs past year", "liquidations.zscore_1y", "BTC+ETH", null, "z"],
          ["BTC open interest", "derivatives.open_interest_usd", "BTC", null, "usd_short"],
          ["BTC funding", "derivatives.funding_rate_pct", "BTC", null, "funding"]],
   spark: {series: "leverage.liquidations_daily", bars: true, last: 60}},
  {key: "treasuries", title: "Treasuries", sub: "Strategy", main: ["treasury.unrealized_pnl_usd", "Strategy", null, "usd_short"],
   label: "Strategy unrealized P&L", change: ["treasury.unrealized_pnl_pct", "Strategy", null, "pct", "on cost"],
   rows: [["Avg cost / BTC", "treasury.avg_cost_usd", "Strategy"], ["Holdings", "treasury.holdings_btc", "Strategy"],
          ["mNAV", "treasury.mnav", "Strategy"], ["All known-cost P&L", "treasury.total_unrealized_pnl_usd", null, null, "usd_short"]],
   spark: {series: "treasury.strategy_avg_cost_vs_price", extra: "price_close_usd", last: 180}},
];

function renderCards(findings) {
  const root = $("#cards");
  root.innerHTML = CARDS.map((c) => {
    const [mid, msub, mwin, mstyle] = c.main;
    const main = pick(findings, mid, msub, mwin);
    const [cid, csub, cwin, cstyle, clabel] = c.change;
    const ch = pick(findings, cid, csub, cwin);
    // Figures others published (kind "cited"): listed after the model's rows, each labelled, never mixed.
    const cited = (c.cited ? findings.filter((f) => f.id === c.cited && f.kind === "cited") : []).map((f) =>
      `<dt class="cited">${esc(`${f.subject} ${(f.detail || {}).published || ""} (${((f.detail || {}).definition || "definition not stated").replace("_", "-")}, cited)`)}</dt>` +
      `<dd>${valueHTML(f)}</dd>`);
    const rows = c.rows.map(([label, id, sub, win, style]) =>
      `<dt>${esc(label)}</dt><dd>${valueHTML(pick(findings, id, sub, win), style)}</dd>`).join("") + cited.join("");
    return `<article class="card ${c.key}" id="card-${c.key}" data-card="${c.key}">
      <h3>${esc(c.title)}<span class="sub">${esc(c.sub)}</span></h3>
      <div class="main">${valueHTML(main, mstyle)}</div>
      <div class="main-label">${esc(c.label)}</div>
      <div class="change ${signClass(ch)}">${valueHTML(ch, cstyle, true)} <span class="muted">${esc(clabel)}</span></div>
      <svg class="spark" id="spark-${c.key}" viewBox="0 0 200 40" preserveAspectRatio="none"></svg>
      <dl>${rows}</dl>
    </article>`;
  }).join("");
}

function sparkline(svg, xs, ys, {bars = false} = {}) {
  const pts = ys.map((y, i) => [i, y]).filter(([, y]) => typeof y === "number" && isFinite(y));
  if (pts.length < 2) { svg.innerHTML = ""; return; }
  const W = 200, H = 40, pad = 3;
  const vals = pts.map((p) => p[1]);
  let lo = Math.min(...vals), hi = Math.max(...vals);
  if (bars) { lo = Math.min(lo, 0); hi = Math.max(hi, 0); }
  const span = hi - lo || 1, n = ys.length;
  const X = (i) => pad + (W - 2 * pad) * i / Math.max(n - 1, 1);
  const Y = (v) => H - pad - (H - 2 * pad) * (v - lo) / span;
  if (bars) {
    const w = Math.max((W - 2 * pad) / n - 1, 1);
    svg.innerHTML = `<line x1="0" x2="${W}" y1="${Y(0)}" y2="${Y(0)}" stroke="#cbd2d9" stroke-width="0.6"/>` +
      pts.map(([i, v]) => `<rect x="${X(i) - w / 2}" y="${Math.min(Y(v), Y(0))}" width="${w}" height="${Math.max(Math.abs(Y(v) - Y(0)), 0.6)}"
        fill="${v < 0 ? "#c0392b" : "#2f855a"}" opacity="${i === n - 1 ? 1 : 0.6}"/>`).join("");
  } else {
    const d = pts.map(([i, v], k) => `${k ? "L" : "M"}${X(i).toFixed(1)},${Y(v).toFixed(1)}`).join("");
    const [li, lv] = pts[pts.length - 1];
    const color = lv < pts[0][1] ? "#c0392b" : "#2f855a";
    svg.innerHTML = `<path d="${d} L${X(li).toFixed(1)},${H} L${X(pts[0][0]).toFixed(1)},${H} Z" fill="${color}" opacity="0.08"/>
      <path d="${d}" fill="none" stroke="${color}" stroke-width="1.4" vector-effect="non-scaling-stroke"/>
      <circle cx="${X(li)}" cy="${Y(lv)}" r="2.2" fill="${color}"/>`;
  }
  const first = xs[0], last = xs[xs.length - 1];
  svg.insertAdjacentHTML("afterbegin", `<title>${esc(first)} … ${esc(last)}</title>`);
}

// ---- the scenario panel ---------------------------------------------------------------------------
const SCENARIO = [
  ["From ATH", "price.drawdown_from_ath_pct"],
  ["Lowest since", "price.lowest_since_date"],
  ["Strategy unrealized P&L", "treasury.unrealized_pnl_usd", "Strategy", "usd_short"],
  ["Treasuries w/ known cost, P&L", "treasury.total_unrealized_pnl_usd", null, "usd_short"],
  ["ETF holders' P&L", "etf.holders_pnl_pct"],
  ["Miners' all-in margin", "miners.margin_pct"],
  ["Hashrate under water", "miners.hashrate_underwater_pct"],
  ["Hashprice", "miners.hashprice_usd_per_ph_day"],
];
const ENGINE_LABELS = {
  "scenario.liquidations_usd": "Long liquidations triggered", "scenario.cascade_price_usd": "Cascade price",
  "scenario.cascade_extra_move_pct": "Extra move from the cascade", "scenario.hashrate_underwater_pct": "Hashrate under water, by class",
  "scenario.entities_underwater": "Treasury companies under water",
};
const SCENARIO_IDS = [...new Set(SCENARIO.map((s) => s[1]))];
// What an as-of step asks for: every area the cards and the observed panel show. Not the scenario ladder
// (the page never shows it; the scenario engine's findings come from /scenario when a price is set), so
// on the grid the whole answer is read from finding_history and nothing is computed for the cards.
const SHOWN = ["price.", "market.", "miners.", "etf.", "liquidations.", "derivatives.", "treasury.", "stress."];

function renderScenario(observed, hypo, price) {
  const cards = SCENARIO.map(([label, id, sub, style]) => {
    const o = pick(observed, id, sub);
    const h = hypo ? pick(hypo, id, sub) : null;
    const shown = h || o;
    const hyp = !!(h && h.hypothetical);
    return `<div class="scard ${hyp ? "hyp" : ""}" data-scenario="${esc(id)}${sub ? "|" + esc(sub) : ""}">
      <div class="t">${esc(label)}</div>
      <div class="v">${valueHTML(shown, style)}</div>
      <div class="o">${hyp ? `observed ${valueHTML(o, style)}` : "observed"}</div></div>`;
  });
  // Scenario-engine findings (scenario.*), when the server has them: first, they are the scenario's news
  const engine = (hypo || []).filter((f) => f.id.startsWith("scenario.") && f.id !== "scenario.ladder");
  cards.unshift(...engine.map((f) => `<div class="scard hyp" data-scenario="${esc(f.id)}|${esc(f.subject)}">
      <div class="t">${esc(ENGINE_LABELS[f.id] || f.id.replace("scenario.", "").replace(/_/g, " "))}</div>
      <div class="v">${valueHTML(f, f.unit === "USD" && Math.abs(f.value) >= 1e6 ? "usd_short" : null)}</div>
      <div class="o">${esc(f.kind)} · scenario engine</div></div>`));
  $("#scenario-cards").innerHTML = cards.join("");
  const label = $("#scenario-price");
  label.textContent = price ? usd(price) : "—";
  label.classList.toggle("observed", !hypo);
  $("#scenario-state").textContent = hypo ? "hypothetical" : "observed";
}

// ---- the main chart -------------------------------------------------------------------------------
const LAYOUT = {
  margin: {l: 60, r: 12, t: 8, b: 44}, paper_bgcolor: "white", plot_bgcolor: "white", showlegend: false,
  font: {family: "Inter, Segoe UI, Roboto, Helvetica, Arial, Liberation Sans, sans-serif", size: 11, color: "#1f2933"},
  xaxis: {gridcolor: "#eef1f4", linecolor: "#e1e5ea", rangeslider: {visible: false}, tickfont: {color: "#7b8794"}},
  yaxis: {gridcolor: "#eef1f4", linecolor: "#e1e5ea", tickformat: ",.0f", tickprefix: "$", tickfont: {color: "#7b8794"}},
  hovermode: "x unified",
};
function drawStress(el) {
  // The stress index at each day's end since 2018, today's value marked (both are findings).
  const s = state.series["stress.index_daily"], now = pick(state.findings, "stress.index");
  $("#chart-title").textContent = "Stress index · each day's end since 2018";
  if (!s || !s.x.length) { Plotly.purge(el); el.innerHTML = '<p class="muted">not available as of this instant</p>'; return; }
  if (!el._fullLayout) el.innerHTML = "";
  const traces = [{type: "scatter", mode: "lines", x: s.x, y: s.y, line: {color: "#2f6690", width: 1.2}, name: "index"}];
  if (now && typeof now.value === "number") {
    traces.push({type: "scatter", mode: "markers+text", x: [now.as_of], y: [now.value], text: [`now ${now.value.toFixed(1)}`],
                 textposition: "top left", marker: {color: "#c0392b", size: 9}, textfont: {color: "#c0392b"}, name: "now"});
  }
  // The episodes come with the chart series (GET /episodes: the same computation as /series).
  for (const ep of (state.episodes || []).filter((f) => f.id === "stress.episode" && f.value)) {
    traces.push({type: "scatter", mode: "markers", x: [ep.detail.instant], y: [ep.detail.index], name: `episode ${ep.value}`,
                 marker: {color: "#7b8794", size: 8, symbol: "circle-open"}});
  }
  Plotly.react(el, traces, {...LAYOUT, yaxis: {...LAYOUT.yaxis, tickformat: ".1f", tickprefix: ""}, height: 400},
               {displayModeBar: false, responsive: true});
  $("#chart-source").textContent = `${s.title}. Sources: ` + s.sources.map((x) => `${x.table} (${x.note})`).join("; ");
}

// A card's history: its main finding at each day's end up to the instant (GET /history), the instant
// itself marked with the card's value. Price and market histories are set-based (a year); the other
// areas are still computed one snapshot per instant on the server, so they show two weeks.
const HISTORY_DAYS = {price: 365, market: 365};
async function drawHistory(key) {
  const c = CARDS.find((x) => x.key === key), el = $("#main-chart");
  if (!c) return;
  const [id, sub, win] = c.main, days = HISTORY_DAYS[key] || 14, gen = state.gen;
  document.querySelectorAll("#chart-tabs button").forEach((b) => b.classList.remove("on"));
  $("#chart-title").textContent = `${c.title} · ${id} · history loading…`;
  document.body.dataset.history = "loading";
  const q = new URLSearchParams({id, from: apiTime(new Date(state.asOf.getTime() - days * 24 * HOUR)),
                                 to: apiTime(state.asOf), every: "1d"});
  if (sub) q.set("subject", sub);
  let h;
  try { h = await getJSON(`/history?${q}`); } catch (e) {
    $("#chart-title").textContent = `${c.title} · ${id} · history not available: ${e.message}`;
    document.body.dataset.history = "error";
    return;
  }
  if (gen !== state.gen || state.chart !== `history:${key}`) return;
  const rows = h.rows.filter((r) => !win || (r.window || "").startsWith(win));
  const now = pick(state.findings, id, sub, win);
  if (!el._fullLayout) el.innerHTML = "";
  const traces = [{type: "scatter", mode: "lines", x: rows.map((r) => r.as_of), y: rows.map((r) => r.value),
                   line: {color: "#2f6690", width: 1.4}, name: id}];
  const shapes = [{type: "line", xref: "x", yref: "paper", x0: state.asOf.toISOString(), x1: state.asOf.toISOString(),
                   y0: 0, y1: 1, line: {color: "#c0392b", width: 1, dash: "dot"}}];
  if (now && typeof now.value === "number") {
    traces.push({type: "scatter", mode: "markers", x: [state.asOf.toISOString()], y: [now.value], name: "as of",
                 marker: {color: "#c0392b", size: 9}});
  }
  Plotly.react(el, traces, {...LAYOUT, yaxis: {...LAYOUT.yaxis, tickprefix: ""}, shapes, height: 400},
               {displayModeBar: false, responsive: true});
  $("#chart-title").textContent = `${c.title} · ${id}${sub ? " · " + sub : ""} · each day's end, last ${days} days`;
  $("#chart-source").textContent = `GET /history (${Object.entries(h.how).map(([a, w]) => `${a}: ${w}`).join("; ")}); ` +
    "each point is the finding as a snapshot at that instant gives it; the red mark is the instant shown.";
  document.body.dataset.history = "ready";
}

function drawChart(kind) {
  if (kind.startsWith("history:")) return drawHistory(kind.slice(8));
  if (kind === "stress") {
    document.querySelectorAll("#chart-tabs button").forEach((b) => b.classList.toggle("on", b.dataset.chart === kind));
    return drawStress($("#main-chart"));
  }
  const s = state.series[kind === "daily" ? "price.daily_180d" : "price.hourly_48h"];
  const el = $("#main-chart");
  document.querySelectorAll("#chart-tabs button").forEach((b) => b.classList.toggle("on", b.dataset.chart === kind));
  $("#chart-title").textContent = kind === "daily" ? "BTC · daily, last 180 days" : "BTC · trailing 48 h, hourly";
  if (!s || !s.x.length) { Plotly.purge(el); el.innerHTML = '<p class="muted">not available as of this instant</p>'; return; }
  if (!el._fullLayout) el.innerHTML = "";  // drop a "not available" note; never the DOM of a live plot
  const traces = [{type: "candlestick", x: s.x, open: s.extra.open, high: s.extra.high, low: s.extra.low, close: s.y,
    increasing: {line: {color: "#2f855a", width: 1}, fillcolor: "#2f855a"},
    decreasing: {line: {color: "#c0392b", width: 1}, fillcolor: "#c0392b"}, name: "BTC"}];
  const shapes = [], annotations = [];
  const m = s.extra.low_marker;
  if (m) {
    traces.push({type: "scatter", mode: "markers", x: [m.x], y: [m.y], marker: {color: "#c0392b", size: 8, symbol: "triangle-up"},
                 hoverinfo: "skip"});
    annotations.push({x: m.x, y: m.y, text: `low ${usd(m.y)}`, showarrow: false, yshift: -14, font: {color: "#c0392b", size: 11}});
  }
  const low = pick(state.findings, "price.low_24h_usd");
  if (kind === "hourly" && low && low.value) {
    shapes.push({type: "line", xref: "paper", x0: 0, x1: 1, y0: low.value, y1: low.value, line: {color: "#c0392b", width: 1, dash: "dot"}});
  }
  const ath = pick(state.findings, "price.ath_usd");
  if (kind === "daily" && ath && ath.value) {
    shapes.push({type: "line", xref: "paper", x0: 0, x1: 1, y0: ath.value, y1: ath.value, line: {color: "#7b8794", width: 1, dash: "dot"}});
    annotations.push({xref: "paper", x: 0, y: ath.value, text: `ATH ${usd(ath.value)}`, showarrow: false, xanchor: "left",
                      yanchor: "bottom", font: {color: "#7b8794", size: 10}});
  }
  Plotly.react(el, traces, {...LAYOUT, shapes, annotations, height: 400}, {displayModeBar: false, responsive: true});
  $("#chart-source").textContent = `${s.title}. Source: ` + s.sources.map((x) => `${x.origin} (${x.rows} rows)`).join("; ");
}

// ---- loading --------------------------------------------------------------------------------------
const state = {asOf: null, findings: [], series: {}, gen: 0, scenarioGen: 0, scenarioPrice: null, hasScenarioEndpoint: false,
               chart: "hourly"};

async function getJSON(url, signal) {
  const r = await fetch(url, {signal});
  let body = null;
  try { body = await r.json(); } catch (e) { /* not JSON */ }
  if (!r.ok) throw new Error(body && body.message ? body.message : `${r.status} ${r.statusText}`);
  return body;
}

function setStatus(kind, text) {
  const s = $("#status");
  s.className = `status ${kind}`;
  $("#status-text").textContent = text;
}

let controller = null, debounce = null;
function setAsOf(d, {immediate = false} = {}) {
  state.asOf = new Date(Math.floor(d.getTime() / HOUR) * HOUR);
  $("#asof").value = isoHour(state.asOf);
  const u = new URL(location.href);
  u.searchParams.set("as_of", apiTime(state.asOf));
  history.replaceState(null, "", u);
  clearTimeout(debounce);
  debounce = setTimeout(load, immediate ? 0 : 350);
}

async function load() {
  if (controller) controller.abort();
  controller = new AbortController();
  const signal = controller.signal, gen = ++state.gen, t = apiTime(state.asOf), t0 = performance.now();
  document.body.dataset.state = "loading";
  document.body.dataset.charts = "loading";
  document.body.classList.add("loading");
  setStatus("busy", `computing as of ${t.replace("T", " ")}`);
  let data;
  try {
    data = await getJSON(`/findings?as_of=${encodeURIComponent(t)}&ids=${SHOWN.join(",")}`, signal);
  } catch (e) {
    if (e.name === "AbortError") return;
    setStatus("error", e.message);
    document.body.classList.remove("loading");
    document.body.dataset.state = "error";
    return;
  }
  if (gen !== state.gen) return;
  REG.length = 0;
  state.findings = data.findings;
  renderCards(state.findings);
  const obs = pick(state.findings, "price.last_usd");
  if (state.scenarioPrice === null && obs && obs.value) {
    $("#scenario-slider").value = obs.value;
    $("#scenario-number").value = Math.round(obs.value);
  }
  renderScenario(state.findings, null, state.scenarioPrice || (obs && obs.value));
  if (state.scenarioPrice !== null) runScenario(state.scenarioPrice);
  document.body.classList.remove("loading");
  const secs = ((performance.now() - t0) / 1000).toFixed(1);
  const stored = Object.entries(data.served || {}).filter(([, h]) => h.startsWith("stored")).map(([a]) => a);
  // finding_history's rows, or the whole snapshot ingest stored at a day instant (history/snapshots.py)
  const fromWhole = stored.filter((a) => data.served[a].startsWith("stored snapshot"));
  const fromRows = stored.filter((a) => !fromWhole.includes(a));
  setStatus("", `${data.count} findings · as of ${t.replace("T", " ")} · ${secs} s` +
    (fromRows.length ? ` · stored: ${fromRows.join(", ")} (finding_history)` : "") +
    (fromWhole.length ? ` · ${fromWhole.join(", ")} (stored snapshot)` : ""));
  document.body.dataset.served = stored.join(",");
  document.body.dataset.state = "ready";
  document.body.dataset.asOf = data.as_of;
  loadBrief(t);
  // Sparklines and the chart (series), all from the same computation on the server
  const names = [...new Set([...CARDS.map((c) => c.spark.series), "price.hourly_48h", "price.daily_180d"])];
  state.series = {};
  state.episodes = [];
  const episodes = getJSON(`/episodes?as_of=${encodeURIComponent(t)}`, signal)
    .then((r) => { if (gen === state.gen) state.episodes = r.findings; }).catch(() => {});
  await Promise.all([episodes, ...names.map(async (name) => {
    try {
      const s = (await getJSON(`/series/${name}?as_of=${encodeURIComponent(t)}`, signal)).series;
      if (gen !== state.gen) return;
      state.series[name] = s;
      for (const c of CARDS.filter((c) => c.spark.series === name)) {
        let ys = c.spark.extra ? s.extra[c.spark.extra] : s.y, xs = s.x;
        if (c.spark.last) { ys = ys.slice(-c.spark.last); xs = xs.slice(-c.spark.last); }
        sparkline($(`#spark-${c.key}`), xs, ys, c.spark);
      }
    } catch (e) { /* a series not available as of T: the card keeps no sparkline */ }
  })]);
  if (gen === state.gen) { drawChart(state.chart); document.body.dataset.charts = "ready"; }
}

function loadBrief(t) {
  const q = `as_of=${encodeURIComponent(t)}`;
  const frame = $("#brief");
  frame.onload = () => {
    try {
      const doc = frame.contentDocument;
      frame.style.height = (doc.documentElement.scrollHeight + 8) + "px";
      const h1 = doc.querySelector("h1");
      const clean = h1 ? h1.cloneNode(true) : null;
      if (clean) clean.querySelectorAll("sup").forEach((x) => x.remove());
      if (clean) $("#headline").innerHTML = `${esc(clean.textContent)}<span class="dek">The brief, as of ${esc(t.replace("T", " "))} UTC — every figure traced to its finding below.</span>`;
      setTimeout(() => { frame.style.height = (doc.documentElement.scrollHeight + 8) + "px"; }, 600);
    } catch (e) { /* cross-origin never happens: same server */ }
  };
  frame.src = `/brief?${q}&format=html`;
  $("#brief-links").innerHTML = `<a href="/brief?${q}&format=html" target="_blank">HTML</a>` +
    `<a href="/brief?${q}&format=md" target="_blank">Markdown</a><a href="/brief?${q}&format=json" target="_blank">JSON</a>` +
    `<a href="/findings?${q}" target="_blank">findings</a>`;
}

async function runScenario(price) {
  const gen = ++state.scenarioGen, t = apiTime(state.asOf);
  document.body.dataset.scenario = "loading";
  $("#scenario-state").textContent = "computing…";
  try {
    const q = `as_of=${encodeURIComponent(t)}&price=${price}`;
    const [hypo, extra] = await Promise.all([
      getJSON(`/findings?${q}&ids=${SCENARIO_IDS.join(",")}`),
      state.hasScenarioEndpoint ? getJSON(`/scenario?${q}`).catch(() => null) : Promise.resolve(null),
    ]);
    if (gen !== state.scenarioGen) return;
    const more = extra ? (Array.isArray(extra) ? extra : extra.findings || []) : [];
    renderScenario(state.findings, [...hypo.findings, ...more.filter((f) => f.id.startsWith("scenario."))], price);
    document.body.dataset.scenario = "ready";
  } catch (e) {
    if (gen !== state.scenarioGen) return;
    $("#scenario-state").textContent = e.message;
    document.body.dataset.scenario = "error";
  }
}

let sDebounce = null;
function scenarioTo(price, {now = false} = {}) {
  if (!(price > 0)) return;
  state.scenarioPrice = price;
  $("#scenario-price").textContent = usd(price);
  $("#scenario-price").classList.remove("observed");
  $("#scenario-number").value = price;
  clearTimeout(sDebounce);
  sDebounce = setTimeout(() => runScenario(price), now ? 0 : 300);
}

// ---- provenance tooltip ---------------------------------------------------------------------------
function provenanceHTML(f) {
  const src = (f.sources || []).map((s) => `<li>${esc(s.table)} · ${esc(s.origin)} · ${s.rows} rows` +
    (s.first && s.last ? ` · ${esc(s.first.slice(0, 10))} … ${esc(s.last.slice(0, 10))}` : "") +
    (s.note ? ` <span class="k">[${esc(s.note)}]</span>` : "") + "</li>").join("");
  const params = f.params && Object.keys(f.params).length
    ? `<div><span class="k">params</span> ${esc(Object.entries(f.params).map(([k, v]) => `${k}=${typeof v === "object" ? JSON.stringify(v) : v}`).join(", "))}</div>` : "";
  const unusual = f.unusual && f.unusual.zscore !== undefined && f.unusual.zscore !== null
    ? `<div><span class="k">unusual</span> z ${Number(f.unusual.zscore).toFixed(1)}${f.unusual.percentile != null ? `, percentile ${Number(f.unusual.percentile).toFixed(0)}` : ""} vs ${esc(f.unusual.history || "history")}</div>` : "";
  return `<div class="id">${esc(f.id)} · ${esc(f.subject)}</div>
    <div><b>${esc(fmt(f) ?? (f.note || "not available"))}</b> <span class="k">${esc(f.kind)}${f.hypothetical ? ' · <span class="hyp">hypothetical</span>' : ""} · window ${esc(f.window || "-")} · as of ${esc(f.as_of)}</span></div>
    ${f.method ? `<div><span class="k">method</span> ${esc(f.method)}</div>` : ""}${params}${unusual}
    ${src ? `<div><span class="k">sources</span><ul>${src}</ul></div>` : ""}
    ${f.note ? `<div class="k">${esc(f.note)}</div>` : ""}${derivation(f)}`;
}
// A stored finding (served from finding_history) carries the stored row as its source; on hover its
// full derivation (source rows, detail) is computed once (GET /findings?derive=true) and shown below.
function derivation(f) {
  if (!(f.detail && f.detail.served)) return "";
  if (!f._derived) return `<div class="k">${esc(f.detail.served)} · deriving its sources…</div>`;
  if (f._derived.error) return `<div class="k">${esc(f.detail.served)} · derivation failed: ${esc(f._derived.error)}</div>`;
  const d = f._derived;
  const src = (d.sources || []).map((s) => `<li>${esc(s.table)} · ${esc(s.origin)} · ${s.rows} rows` +
    (s.first && s.last ? ` · ${esc(s.first.slice(0, 10))} … ${esc(s.last.slice(0, 10))}` : "") + "</li>").join("");
  return `<div><span class="k">derived (computed now)</span> ${esc(d.method || "")}<ul>${src}</ul></div>`;
}
async function derive(f) {
  if (f._derived || f._deriving) return;
  f._deriving = true;
  const q = `as_of=${encodeURIComponent(f.as_of)}&ids=${encodeURIComponent(f.id)}&subject=${encodeURIComponent(f.subject)}&derive=true`;
  try {
    const body = await getJSON(`/findings?${q}`);
    f._derived = body.findings.find((x) => x.id === f.id && x.subject === f.subject && x.window === f.window && x.kind === f.kind)
      || {error: "not in the computed findings"};
  } catch (e) { f._derived = {error: e.message}; }
  if (tipShows === f) $("#tip").innerHTML = provenanceHTML(f);  // (not :hover: the brief's frame may move the card)
}
let tipShows = null;  // the finding the tooltip is showing
document.addEventListener("mouseover", (e) => {
  const el = e.target.closest("[data-f]");
  const tip = $("#tip");
  if (!el) { tip.style.display = "none"; tipShows = null; return; }
  const f = REG[+el.dataset.f];
  if (!f) return;
  tipShows = f;
  tip.innerHTML = provenanceHTML(f);
  tip.style.display = "block";
  if (f.detail && f.detail.served) derive(f);
  const r = el.getBoundingClientRect(), w = tip.offsetWidth, h = tip.offsetHeight;
  tip.style.left = Math.max(8, Math.min(r.left, innerWidth - w - 8)) + "px";
  tip.style.top = (r.bottom + 6 + h > innerHeight ? r.top - h - 6 : r.bottom + 6) + "px";
});

// ---- wiring ---------------------------------------------------------------------------------------
function parseInput(v) { const d = new Date(v + (v.length === 16 ? ":00Z" : "Z")); return isNaN(d) ? null : d; }

async function init() {
  document.querySelectorAll(".step").forEach((b) => b.addEventListener("click", () =>
    setAsOf(new Date(state.asOf.getTime() + Number(b.dataset.step) * HOUR))));
  $("#asof").addEventListener("change", (e) => { const d = parseInput(e.target.value); if (d) setAsOf(d, {immediate: true}); });
  $("#jump").addEventListener("change", (e) => { if (e.target.value) setAsOf(new Date(e.target.value), {immediate: true}); e.target.value = ""; });
  document.querySelectorAll("#chart-tabs button").forEach((b) => b.addEventListener("click", () => { state.chart = b.dataset.chart; drawChart(state.chart); }));
  // The stress card opens the index's history since 2018 in the main chart.
  $("#cards").addEventListener("click", (e) => {
    if (e.target.closest("#card-stress")) { state.chart = "stress"; drawChart(state.chart); return; }
    // Any other card opens its main finding's history with the instant marked.
    const card = e.target.closest("[data-card]");
    if (card) { state.chart = `history:${card.dataset.card}`; drawChart(state.chart); }
  });
  const slider = $("#scenario-slider");
  slider.addEventListener("input", () => { $("#scenario-price").textContent = usd(+slider.value); });
  slider.addEventListener("change", () => scenarioTo(+slider.value, {now: true}));
  $("#scenario-number").addEventListener("change", (e) => { const v = +e.target.value; if (v > 0) { slider.value = v; scenarioTo(v, {now: true}); } });
  $("#scenario-reset").addEventListener("click", () => { state.scenarioPrice = null; state.scenarioGen++; load(); });
  document.addEventListener("keydown", (e) => {
    if (e.target.tagName === "INPUT" || e.target.tagName === "SELECT") return;
    if (e.key === "ArrowLeft") setAsOf(new Date(state.asOf.getTime() - HOUR));
    if (e.key === "ArrowRight") setAsOf(new Date(state.asOf.getTime() + HOUR));
  });

  let start = null;
  const given = new URL(location.href).searchParams.get("as_of");
  if (given) start = parseInput(given.replace(/Z$/, "").slice(0, 16));
  try {
    const h = await getJSON("/health");
    state.hasScenarioEndpoint = h.endpoints.includes("/scenario");
    if (!start && h.data && h.data.last) start = new Date(h.data.last);
    // Each event's `instant`: when that day's data are all published (the API's rule: D+1 07:00 UTC
    // when the store has no daily row of the day), never a guessed hour.
    const events = await getJSON("/events");
    $("#jump").innerHTML = '<option value="">Jump to…</option>' + events.filter((e) => e.date >= "2017")
      .reverse().map((e) => `<option value="${e.instant}">${esc(e.date.slice(0, 10))} · ${esc(e.title)}</option>`).join("");
  } catch (e) { /* the page still works with a typed as-of */ }
  setAsOf(start || new Date(), {immediate: true});
}
init();
