// SweepMonitor front-end: job grid, overall progress with ETA, running jobs, metric curve.
// Plain ES module for anywidget: no build step, no external library, no network.

const STATUS = { q: "queued", r: "running", d: "done", f: "failed", s: "skipped" };
const SVG = "http://www.w3.org/2000/svg";
const MAX_RUNNING_BARS = 6;

function h(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function svg(tag, attrs) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, value);
  return node;
}

function duration(seconds) {
  if (seconds === null || seconds === undefined || !isFinite(seconds)) return "-";
  let s = Math.max(0, Math.round(seconds));
  const hours = Math.floor(s / 3600);
  s -= hours * 3600;
  const minutes = Math.floor(s / 60);
  s -= minutes * 60;
  const pad = (v) => String(v).padStart(2, "0");
  return hours ? `${hours}h${pad(minutes)}m${pad(s)}s` : `${minutes}m${pad(s)}s`;
}

function fmt(value) {
  if (!isFinite(value)) return String(value);
  const a = Math.abs(value);
  return a !== 0 && (a < 1e-3 || a >= 1e5) ? value.toExponential(2) : String(+value.toPrecision(4));
}

function lastLine(text) {
  const lines = String(text || "").trim().split("\n");
  return lines[lines.length - 1];
}

function render({ model, el }) {
  const root = h("div", "mushin-monitor");
  const head = h("div", "mnb-head");
  const title = h("span", "mnb-title");
  const counts = h("span", "mnb-counts");
  const clock = h("span", "mnb-clock");
  head.append(title, counts, clock);

  const bar = h("div", "mnb-bar");
  const barDone = h("div", "mnb-bar-done");
  const barFailed = h("div", "mnb-bar-failed");
  bar.append(barDone, barFailed);

  const grid = h("div", "mnb-grid");
  grid.setAttribute("role", "list");
  const detail = h("div", "mnb-detail");
  detail.hidden = true;
  const running = h("div", "mnb-running");

  const plot = h("div", "mnb-plot");
  const plotHead = h("div", "mnb-plot-head");
  const select = h("select", "mnb-metric");
  select.setAttribute("aria-label", "metric");
  const plotInfo = h("span", "mnb-plot-info");
  plotHead.append(select, plotInfo);
  const chart = svg("svg", { class: "mnb-chart", viewBox: "0 0 600 200" });
  plot.append(plotHead, chart);
  plot.hidden = true;

  const legend = h("div", "mnb-legend");
  for (const [code, name] of Object.entries(STATUS)) {
    const item = h("span", "mnb-legend-item");
    item.append(h("span", `mnb-swatch ${code}`), document.createTextNode(name));
    legend.append(item);
  }
  root.append(head, bar, grid, detail, running, plot, legend);
  el.append(root);

  let cells = [];
  let shown = "";          // the statuses string the grid last drew
  let selected = null;     // job index whose detail is open
  let stamp = performance.now();  // when `elapsed` last arrived, to tick the clock locally
  let parsed = null;       // the curve, decoded once per change (it travels as JSON text)
  let running_ = null;     // the running jobs' [step, total], decoded once per change

  function progress() {
    if (running_ === null) running_ = JSON.parse(model.get("progress") || "{}");
    return running_;
  }

  function curve() {
    if (parsed === null) {
      const raw = model.get("curve");
      parsed = typeof raw === "string" ? JSON.parse(raw || "{}") : raw || {};
    }
    return parsed;
  }

  function buildGrid() {
    const labels = model.get("labels") || [];
    cells = labels.map((label, i) => {
      const cell = h("div", "mnb-cell q");
      cell.dataset.index = String(i);
      cell.setAttribute("role", "listitem");
      cell.title = `${label}: queued`;
      return cell;
    });
    grid.replaceChildren(...cells);
    grid.classList.toggle("mnb-dense", cells.length > 120);
    shown = "";
    selected = null;
    detail.hidden = true;
  }

  function cellTitle(i, code) {
    const labels = model.get("labels") || [];
    let text = `${labels[i]}: ${STATUS[code] || code}`;
    const [step, total] = progress()[String(i)] || [null, null];
    if (code === "r" && step !== null && step !== undefined) {
      text += ` (step ${step}${total ? "/" + total : ""})`;
    }
    const error = (model.get("errors") || {})[String(i)];
    if (error) text += `\n${lastLine(error)}`;
    return text;
  }

  function drawGrid() {
    const statuses = model.get("statuses") || "";
    const steps = progress();
    if (cells.length !== statuses.length) buildGrid();
    for (let i = 0; i < cells.length; i++) {
      const code = statuses[i];
      const cell = cells[i];
      if (code !== shown[i]) cell.className = `mnb-cell ${code}`;
      if (code === "r") {
        const [step, total] = steps[String(i)] || [0, 0];
        const frac = total ? Math.min(1, (step || 0) / total) : 0;
        cell.style.setProperty("--p", String(frac));
      } else if (code !== shown[i]) {
        cell.style.removeProperty("--p");
      }
      if (code !== shown[i] || code === "r") cell.title = cellTitle(i, code);
    }
    shown = statuses;
  }

  function drawHead() {
    const n = (model.get("labels") || []).length;
    const done = model.get("done");
    const failed = model.get("failed");
    const skipped = model.get("skipped");
    const finished = model.get("finished");
    title.textContent = model.get("title") || "sweep";
    const parts = [`${done + failed + skipped}/${n} jobs`, `${done} done`];
    if (failed) parts.push(`${failed} failed`);
    if (skipped) parts.push(`${skipped} skipped`);
    if (model.get("running")) parts.push(`${model.get("running")} running`);
    counts.textContent = parts.join(" \u00b7 ");
    barDone.style.width = `${n ? (100 * (done + skipped)) / n : 0}%`;
    barFailed.style.width = `${n ? (100 * failed) / n : 0}%`;
    root.dataset.done = String(done);
    root.dataset.failed = String(failed);
    root.dataset.finished = String(finished);
    root.classList.toggle("mnb-finished", finished);
    root.classList.toggle("mnb-bad", finished && !model.get("ok"));
    drawClock();
  }

  function drawClock() {
    const finished = model.get("finished");
    const late = finished ? 0 : (performance.now() - stamp) / 1000;
    const eta = model.get("eta");
    let text = `elapsed ${duration(model.get("elapsed") + late)}`;
    if (finished) text += model.get("ok") ? " \u00b7 finished" : " \u00b7 stopped";
    else if (eta !== null && eta !== undefined) text += ` \u00b7 ETA ${duration(eta - late)}`;
    clock.textContent = text;
  }

  function drawRunning() {
    const statuses = model.get("statuses") || "";
    const labels = model.get("labels") || [];
    const steps = progress();
    const rows = [];
    let extra = 0;
    for (let i = 0; i < statuses.length; i++) {
      if (statuses[i] !== "r") continue;
      if (rows.length >= MAX_RUNNING_BARS) { extra++; continue; }
      const row = h("div", "mnb-run");
      row.dataset.index = String(i);
      const track = h("div", "mnb-run-track");
      const fill = h("div", "mnb-run-fill");
      const [step, total] = steps[String(i)] || [null, null];
      fill.style.width = total ? `${Math.min(100, (100 * (step || 0)) / total)}%` : "0%";
      if (!total) track.classList.add("mnb-indeterminate");
      track.append(fill);
      const count = step === null || step === undefined ? "" : total ? `${step}/${total}` : `${step}`;
      row.append(h("span", "mnb-run-label", labels[i]), track, h("span", "mnb-run-count", count));
      rows.push(row);
    }
    if (extra) rows.push(h("div", "mnb-run-more", `+${extra} more running`));
    running.replaceChildren(...rows);
  }

  function drawDetail() {
    if (selected === null) { detail.hidden = true; return; }
    const labels = model.get("labels") || [];
    const code = (model.get("statuses") || "")[selected];
    const error = (model.get("errors") || {})[String(selected)];
    const head = h("div", "mnb-detail-head", `${labels[selected]}: ${STATUS[code] || code}`);
    const close = h("button", "mnb-detail-close", "\u00d7");
    close.title = "close";
    close.addEventListener("click", () => { selected = null; drawDetail(); });
    head.append(close);
    detail.replaceChildren(head);
    if (error) detail.append(h("pre", code === "f" ? "mnb-error" : "mnb-reason", error));
    const devices = (model.get("devices") || {})[String(selected)];
    if (devices) detail.append(h("div", "mnb-devices", `devices: ${devices}`));
    detail.hidden = false;
  }

  function drawSelect() {
    const names = model.get("metrics") || [];
    let metric = model.get("metric");
    if (!names.includes(metric)) metric = names[0] || "";
    const current = Array.from(select.options).map((o) => o.value);
    if (current.join("\u0000") !== names.join("\u0000")) {
      select.replaceChildren(...names.map((name) => {
        const option = h("option", "", name);
        option.value = name;
        return option;
      }));
    }
    select.value = metric;
    plot.hidden = names.length === 0;
    return metric;
  }

  function drawCurve() {
    const metric = drawSelect();
    const series = curve()[metric] || {};
    const labels = model.get("labels") || [];
    const statuses = model.get("statuses") || "";
    const jobs = Object.keys(series).filter((key) => series[key].length);
    chart.replaceChildren();
    if (!jobs.length) { plotInfo.textContent = ""; return; }
    let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
    for (const key of jobs) {
      for (const [x, y] of series[key]) {
        if (x < x0) x0 = x; if (x > x1) x1 = x;
        if (y < y0) y0 = y; if (y > y1) y1 = y;
      }
    }
    if (x1 === x0) x1 = x0 + 1;
    if (y1 === y0) { y1 += Math.abs(y0) * 0.05 || 1; y0 -= Math.abs(y0) * 0.05 || 1; }
    // draw in the chart's own pixels so dots and text are not stretched
    const W = Math.max(300, Math.round(chart.getBoundingClientRect().width) || 600);
    const H = 200, L = 48, R = 8, T = 8, B = 20;
    chart.setAttribute("viewBox", `0 0 ${W} ${H}`);
    const sx = (x) => L + ((x - x0) / (x1 - x0)) * (W - L - R);
    const sy = (y) => T + (1 - (y - y0) / (y1 - y0)) * (H - T - B);
    chart.append(svg("line", { x1: L, y1: H - B, x2: W - R, y2: H - B, class: "mnb-axis" }));
    chart.append(svg("line", { x1: L, y1: T, x2: L, y2: H - B, class: "mnb-axis" }));
    const tick = (x, y, text, anchor) => {
      const node = svg("text", { x, y, "text-anchor": anchor, class: "mnb-tick" });
      node.textContent = text;
      chart.append(node);
    };
    tick(L - 4, T + 8, fmt(y1), "end");
    tick(L - 4, H - B, fmt(y0), "end");
    tick(L, H - 6, fmt(x0), "start");
    tick(W - R, H - 6, fmt(x1), "end");
    for (const key of jobs) {
      const i = Number(key);
      const points = series[key].map(([x, y]) => `${sx(x).toFixed(1)},${sy(y).toFixed(1)}`);
      const line = svg("polyline", { points: points.join(" "),
                                     class: `mnb-line ${statuses[i] || "q"}`,
                                     "data-index": key });
      const last = series[key][series[key].length - 1];
      const tip = svg("title");
      tip.textContent = `${labels[i]}: ${metric} = ${fmt(last[1])} at ${fmt(last[0])}`;
      line.append(tip);
      // the latest value as a dot: a job with one report has no line yet
      const dot = svg("circle", { cx: sx(last[0]).toFixed(1), cy: sy(last[1]).toFixed(1), r: 2.5,
                                  class: `mnb-dot ${statuses[i] || "q"}` });
      chart.append(line, dot);
    }
    plotInfo.textContent = `${jobs.length} job${jobs.length > 1 ? "s" : ""}`;
  }

  const parts = { grid: drawGrid, head: drawHead, running: drawRunning, curve: drawCurve,
                  detail: drawDetail };
  const pending = new Set();
  let frame = null;
  function schedule(...names) {
    for (const name of names) pending.add(name);
    if (frame !== null) return;
    const run = () => {
      frame = null;
      const names = Array.from(pending);
      pending.clear();
      for (const name of names) parts[name]();
    };
    // hidden tabs get no animation frames; a timeout still lets state land
    frame = document.hidden ? setTimeout(run, 50) : requestAnimationFrame(run);
  }

  const handlers = {
    "change:labels": () => { buildGrid(); schedule("grid", "head", "running", "curve"); },
    "change:statuses": () => schedule("grid", "head", "running", "detail"),
    "change:progress": () => { running_ = null; schedule("grid", "running"); },
    "change:errors": () => { shown = ""; schedule("grid", "detail"); },
    "change:devices": () => schedule("detail"),
    "change:elapsed": () => { stamp = performance.now(); schedule("head"); },
    "change:eta": () => schedule("head"),
    "change:finished": () => schedule("head"),
    "change:title": () => schedule("head"),
    "change:curve": () => { parsed = null; schedule("curve"); },
    "change:metrics": () => schedule("curve"),
    "change:metric": () => schedule("curve"),
  };
  for (const [event, handler] of Object.entries(handlers)) model.on(event, handler);

  select.addEventListener("change", () => {
    model.set("metric", select.value);
    model.save_changes();
    schedule("curve");
  });
  grid.addEventListener("click", (event) => {
    const cell = event.target.closest(".mnb-cell");
    if (!cell) return;
    const i = Number(cell.dataset.index);
    selected = selected === i ? null : i;
    drawDetail();
  });
  const ticker = setInterval(() => { if (!model.get("finished")) drawClock(); }, 1000);

  buildGrid();
  for (const draw of Object.values(parts)) draw();

  return () => {
    clearInterval(ticker);
    for (const [event, handler] of Object.entries(handlers)) model.off(event, handler);
  };
}

export default { render };
