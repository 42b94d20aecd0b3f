// Small SVG line charts for the results pages, without a library. They
// keep the report's visual language (internal/report): time on x, the
// seven emotions on 0..1, valence on -1..1 with a dashed zero line, a 95 %
// band shaded under its mean, segments as grey spans. The CSP has
// style-src 'self', so presentation is set as SVG attributes (setAttribute
// is not a style attribute) or by classes in results.css; never style="".
import { S, t } from "./strings.js";

const NS = "http://www.w3.org/2000/svg";

/** The seven emotion classes, in the result's order. */
export const EMOTIONS = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"];

/** One colour per emotion: Okabe-Ito hues (told apart with the common
 * colour-vision deficiencies), darkened where needed to 3:1 on white
 * (WCAG 1.4.11); the dash patterns tell them apart without colour. */
export const COLORS = ["#D55E00", "#8A6D00", "#B0527F", "#009E73", "#0072B2", "#2F86BA", "#5A5A5A"];
export const DASHES = ["", "7 3", "2 3", "9 3 2 3", "1 4", "13 4", "4 2 1 2"];
/** The colour of a single figure (valence, N), as the report's #333. */
export const INK = "#2B3242";

/** Steps for time axes: seconds, then whole minutes. */
export const TIME_STEPS = [0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600];

/** h builds an element: attrs "on..." are listeners, hidden/disabled/value/
 * checked/selected are properties, the rest attributes; children may be
 * strings, nodes, arrays, or null (skipped). */
export function h(tag, attrs, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v == null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (["hidden", "disabled", "value", "checked", "selected"].includes(k)) el[k] = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  el.append(...kids.flat(Infinity).filter((c) => c != null && c !== false));
  return el;
}

function s(tag, attrs) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) if (v != null && v !== "") el.setAttribute(k, v);
  return el;
}

/** num formats a number with at most d decimals (null: the "none" mark). */
export function num(v, d = 2) {
  if (v == null || Number.isNaN(v)) return S["chart.none"];
  return new Intl.NumberFormat(document.documentElement.lang || "en", { maximumFractionDigits: d }).format(v);
}

/** pct formats a share 0..1 as a whole percentage. */
export const pct = (v) => (v == null ? S["chart.none"] : t("chart.pct", { v: num(100 * v, 0) }));

/** secs formats seconds: "12.5 s" under a minute, "1:05" from one on. */
export function secs(v) {
  if (v < 60) return t("chart.secs", { v: num(v, 2) });
  const r = Math.round(v);
  return `${Math.floor(r / 60)}:${String(r % 60).padStart(2, "0")}`;
}

/** niceStep is the smallest step of steps (default 1, 2, 5 times a power
 * of ten) that cuts span into at most maxTicks parts. */
export function niceStep(span, maxTicks, steps) {
  const raw = span / Math.max(1, maxTicks);
  if (steps) return steps.find((x) => x >= raw - 1e-12) ?? steps[steps.length - 1] * Math.ceil(raw / steps[steps.length - 1]);
  const p = 10 ** Math.floor(Math.log10(raw));
  const f = raw / p;
  return (f <= 1 + 1e-9 ? 1 : f <= 2 + 1e-9 ? 2 : f <= 5 + 1e-9 ? 5 : 10) * p;
}

/** ticks are the multiples of niceStep within [lo, hi]. */
export function ticks(lo, hi, maxTicks, steps) {
  if (!(hi > lo)) return [lo];
  const step = niceStep(hi - lo, maxTicks, steps);
  const out = [];
  for (let i = Math.ceil(lo / step - 1e-9); i <= Math.floor(hi / step + 1e-9); i++) out.push(Math.round(i * step * 1e6) / 1e6 + 0); // + 0: no -0, which prints "-0"
  return out;
}

/** linear maps [d0, d1] onto [r0, r1]. */
export function linear(d0, d1, r0, r1) {
  const k = d1 === d0 ? 0 : (r1 - r0) / (d1 - d0);
  return (v) => r0 + (v - d0) * k;
}

/** runs splits points into runs of consecutive points for which ok holds;
 * a point that fails breaks the line (a bin without a face). */
export function runs(points, ok) {
  const out = [];
  let cur = null;
  for (const p of points) {
    if (ok(p)) (cur || (cur = out[out.push([]) - 1])).push(p);
    else cur = null;
  }
  return out;
}

let seq = 0;

/**
 * lineChart returns a <figure>: caption, an SVG (role img, with title and
 * a desc that sums every series up), a legend, and a button that shows the
 * same data as a table. It redraws to its width (at 360 px as at 1440 px).
 * o: {title, desc?, x0?, x1, y0, y1, yFormat?, xLabel?, height?,
 *   series: [{label, points: [[x, y|null]], band?: [[x, lo|null, hi|null]], color?, dash?}],
 *   markers?: [{x, label}], spans?: [{from, to, label}], extra?: [{label, points}] (table only)}
 */
export function lineChart(o) {
  const id = "chart" + ++seq;
  const x0 = o.x0 ?? 0, x1 = Math.max(o.x1, x0 + 1e-6);
  const yf = o.yFormat || ((v) => num(v, 2));
  const fig = h("figure", { class: "chart" }, h("figcaption", { id: id + "-c" }, o.title));
  const tableBox = h("div", { class: "chart-table", id: id + "-t", role: "region", tabindex: "0", "aria-labelledby": id + "-c", hidden: true });
  const toggle = h("button", { type: "button", class: "chart-toggle", "aria-expanded": "false", "aria-controls": id + "-t" }, S["chart.showTable"]);
  toggle.addEventListener("click", () => {
    const open = tableBox.hidden;
    if (open && !tableBox.firstChild) tableBox.append(table(o, yf));
    tableBox.hidden = !open;
    toggle.setAttribute("aria-expanded", String(open));
    toggle.textContent = S[open ? "chart.hideTable" : "chart.showTable"];
  });
  let svg = draw(o, id, x0, x1, yf, 640);
  fig.append(svg, legend(o), toggle, tableBox);
  if (typeof ResizeObserver === "function") {
    let w = 640;
    new ResizeObserver((es) => {
      const nw = Math.round(es[0].contentRect.width);
      if (nw > 0 && Math.abs(nw - w) > 24) {
        w = nw;
        // Later: redrawing inside the callback would resize what is
        // observed and loop.
        setTimeout(() => {
          const n = draw(o, id, x0, x1, yf, Math.max(280, w));
          svg.replaceWith(n);
          svg = n;
        }, 0);
      }
    }).observe(fig);
  }
  return fig;
}

function describe(o, yf) {
  const parts = [t("chart.descAxes", { x0: secs(o.x0 ?? 0), x1: secs(o.x1), y0: yf(o.y0), y1: yf(o.y1) })];
  for (const se of o.series) {
    const ps = se.points.filter((p) => p[1] != null);
    if (!ps.length) {
      parts.push(t("chart.descEmpty", { label: se.label }));
      continue;
    }
    let lo = ps[0], hi = ps[0];
    for (const p of ps) {
      if (p[1] < lo[1]) lo = p;
      if (p[1] > hi[1]) hi = p;
    }
    parts.push(t("chart.descSeries", { label: se.label, min: yf(lo[1]), tmin: secs(lo[0]), max: yf(hi[1]), tmax: secs(hi[0]) }));
  }
  if (o.markers?.length) parts.push(t("chart.descMarkers", { list: o.markers.map((m) => t("chart.marker", { label: m.label, x: secs(m.x) })).join(", ") }));
  if (o.desc) parts.push(o.desc);
  return parts.join(" ");
}

function draw(o, id, x0, x1, yf, w) {
  const H = o.height || 220, L = 46, R = 12, T = o.markers?.length || o.spans?.length ? 22 : 10, B = 30;
  const sx = linear(x0, x1, L, w - R), sy = linear(o.y0, o.y1, H - B, T);
  const cy = (v) => sy(Math.min(Math.max(v, o.y0), o.y1)).toFixed(1);
  const px = (v) => sx(v).toFixed(1);
  const svg = s("svg", { viewBox: `0 0 ${w} ${H}`, class: "chart-svg", role: "img", "aria-labelledby": `${id}-title ${id}-desc` });
  const title = s("title", { id: id + "-title" });
  title.textContent = o.title;
  const desc = s("desc", { id: id + "-desc" });
  desc.textContent = describe(o, yf);
  svg.append(title, desc);
  const text = (x, y, str, anchor, cls) => {
    const el = s("text", { x, y, "text-anchor": anchor, class: cls || "chart-label", "font-size": 11 });
    el.textContent = str;
    svg.append(el);
  };
  for (const sp of o.spans || []) {
    if (sp.from >= x1) continue;
    const a = sx(Math.max(sp.from, x0)), b = sx(Math.min(sp.to, x1));
    svg.append(s("rect", { x: a.toFixed(1), y: T, width: Math.max(b - a, 0.5).toFixed(1), height: H - T - B, fill: "#000", "fill-opacity": 0.07 }));
    text((a + 2).toFixed(1), T - 6, sp.label, "start");
  }
  for (const v of ticks(o.y0, o.y1, Math.max(2, Math.floor((H - T - B) / 36)))) {
    svg.append(s("line", { x1: L, x2: w - R, y1: cy(v), y2: cy(v), stroke: "#e3e6ec" }));
    text(L - 6, (+cy(v) + 4).toFixed(1), yf(v), "end");
  }
  for (const v of ticks(x0, x1, Math.max(2, Math.floor((w - L - R) / 70)), TIME_STEPS)) {
    svg.append(s("line", { x1: px(v), x2: px(v), y1: H - B, y2: H - B + 4, stroke: "#8a93a5" }));
    text(px(v), H - B + 16, secs(v), "middle");
  }
  svg.append(s("line", { x1: L, x2: w - R, y1: H - B, y2: H - B, stroke: "#8a93a5" }));
  if (o.y0 < 0 && o.y1 > 0) svg.append(s("line", { x1: L, x2: w - R, y1: cy(0), y2: cy(0), stroke: "#8a93a5", "stroke-dasharray": "4 3" }));
  let free = 0; // where the next marker's label may start without overlapping
  for (const m of o.markers || []) {
    svg.append(s("line", { x1: px(m.x), x2: px(m.x), y1: T, y2: H - B, stroke: "#4d5669", "stroke-dasharray": "3 3" }));
    if (sx(m.x) >= free) text((sx(m.x) + 3).toFixed(1), T - 6, m.label, "start");
    if (sx(m.x) >= free) free = sx(m.x) + 6 * m.label.length + 10;
  }
  o.series.forEach((se, i) => {
    const color = se.color || COLORS[i % 7];
    if (se.band) {
      const d = runs(se.band, (p) => p[1] != null && p[2] != null)
        .map((r) => "M" + r.map((p) => `${px(p[0])},${cy(p[2])}`).concat(r.slice().reverse().map((p) => `${px(p[0])},${cy(p[1])}`)).join(" L") + " Z")
        .join(" ");
      if (d) svg.append(s("path", { d, fill: color, "fill-opacity": 0.18, stroke: "none" }));
    }
    const rs = runs(se.points, (p) => p[1] != null);
    const d = rs.filter((r) => r.length > 1).map((r) => "M" + r.map((p) => `${px(p[0])},${cy(p[1])}`).join(" L")).join(" ");
    if (d) svg.append(s("path", { d, fill: "none", stroke: color, "stroke-width": 2, "stroke-dasharray": se.dash ?? DASHES[i % 7], "stroke-linejoin": "round" }));
    for (const r of rs) if (r.length === 1) svg.append(s("circle", { cx: px(r[0][0]), cy: cy(r[0][1]), r: 2.5, fill: color }));
  });
  return svg;
}

function legend(o) {
  const items = o.series.map((se, i) => {
    const sw = s("svg", { viewBox: "0 0 28 10", width: 28, height: 10, "aria-hidden": "true" });
    sw.append(s("line", { x1: 0, x2: 28, y1: 5, y2: 5, stroke: se.color || COLORS[i % 7], "stroke-width": 2.5, "stroke-dasharray": se.dash ?? DASHES[i % 7] }));
    return h("li", null, sw, " ", se.label);
  });
  if (o.series.some((se) => se.band)) {
    const sw = s("svg", { viewBox: "0 0 28 10", width: 28, height: 10, "aria-hidden": "true" });
    sw.append(s("rect", { x: 0, y: 0, width: 28, height: 10, fill: INK, "fill-opacity": 0.18 }));
    items.push(h("li", null, sw, " ", S["chart.band"]));
  }
  return h("ul", { class: "chart-legend" }, items);
}

function table(o, yf) {
  const cols = [];
  for (const se of o.series) {
    cols.push([se.label, se.points, 1]);
    if (se.band) cols.push([t("chart.lower", { label: se.label }), se.band, 1], [t("chart.upper", { label: se.label }), se.band, 2]);
  }
  for (const e of o.extra || []) cols.push([e.label, e.points, 1, (v) => num(v, 0)]);
  const rows = new Map();
  cols.forEach(([, pts, k], c) => {
    for (const p of pts) {
      if (!rows.has(p[0])) rows.set(p[0], []);
      rows.get(p[0])[c] = p[k];
    }
  });
  const xs = [...rows.keys()].sort((a, b) => a - b);
  return h("table", null,
    h("caption", null, o.title),
    h("thead", null, h("tr", null, h("th", { scope: "col" }, o.xLabel || S["chart.time"]), cols.map((c) => h("th", { scope: "col" }, c[0])))),
    h("tbody", null, xs.map((x) => h("tr", null, h("th", { scope: "row" }, secs(x)), cols.map((c, i) => h("td", null, (c[3] || yf)(rows.get(x)[i])))))));
}
