// A stimulus of a study: what it is, and what it did to its audience over
// its own time (per bin: the mean of the chosen figure with its 95 % band,
// the seven emotions, N), per segment, and A minus B against another
// stimulus of the project, as the report shows them (internal/report).
import { api, ApiError } from "../api.js";
import { S, t } from "../strings.js";
import { h, lineChart, EMOTIONS, COLORS, INK, num, pct, secs } from "../chart.js";

const enc = encodeURIComponent;
const BINS = ["0.25", "0.5", "1", "2", "5", "10"];
const FIGURES = ["valence", ...EMOTIONS];
const lang = () => document.documentElement.lang || "en";
const signed = (v) => new Intl.NumberFormat(lang(), { minimumFractionDigits: 2, maximumFractionDigits: 2, signDisplay: "exceptZero" }).format(v);
const figName = (f) => S[f === "valence" ? "chart.valence" : "chart.emotion." + f];
const problem = (e) => (e instanceof ApiError ? e.detail || e.title : S["stim.error"]);
const mid = (b) => (b.startS + b.endS) / 2;

// "+0.12 (-0.05 to +0.29)", the mean alone without a band, or "no face".
function estimate(mean, lower, upper) {
  if (mean == null) return S["stim.noFace"];
  if (lower == null || upper == null) return signed(mean);
  return t("stim.estimate", { mean: signed(mean), lower: signed(lower), upper: signed(upper) });
}

export async function render(root, params, ctx) {
  const base = `/api/projects/${enc(params.id)}/stimuli`;
  const own = `${base}/${enc(params.stimulusId)}`;
  const project = `/app/projects/${enc(params.id)}`;
  root.replaceChildren(h("p", null, S["stim.loading"]));
  const back = h("p", null, h("a", { href: project, onclick: (e) => { e.preventDefault(); ctx.navigate(project); } }, S["stim.back"]));
  let stim, list;
  try {
    [stim, list] = await Promise.all([api("GET", own), api("GET", `${base}?limit=50`).catch(() => ({ items: [] }))]);
  } catch (e) {
    return root.replaceChildren(back, h("h1", { tabindex: "-1" }, S["stim.title"]), h("p", { class: "r-error", role: "alert" }, problem(e)));
  }
  const others = list.items.filter((s) => s.id !== stim.id && s.status === "ready");
  const length = stim.kind === "image" ? stim.displayS : stim.media?.durationS;
  const spans = stim.segments.map((g) => ({ from: g.fromS, to: g.toS, label: g.name }));
  const facts = h("dl", { class: "r-facts" },
    h("dt", null, S["stim.kind"]), h("dd", null, S["stim.kind." + stim.kind] || stim.kind),
    h("dt", null, S["stim.status"]), h("dd", null, S["stim.status." + stim.status] || stim.status),
    length != null ? [h("dt", null, S["stim.length"]), h("dd", null, secs(length))] : null,
    stim.media ? [h("dt", null, S["stim.size"]), h("dd", null, t("stim.sizeText", { w: stim.media.width, h: stim.media.height, type: stim.media.contentType }))] : null,
    stim.segments.length ? [h("dt", null, S["stim.segments"]), h("dd", null, stim.segments.map((g) => t("stim.segmentSpan", { name: g.name, from: secs(g.fromS), to: secs(g.toS) })).join("; "))] : null);
  root.replaceChildren(back, h("h1", { tabindex: "-1" }, t("stim.heading", { name: stim.name })), facts);
  if (stim.status !== "ready") {
    root.append(h("p", { class: "r-note" }, S["stim.notReady"]), stim.refusal ? h("p", { class: "r-error" }, stim.refusal.message) : "");
    return;
  }

  let binS = "0.5", fig = "valence", other = "";
  const select = (id, key, opts, value, on) => h("p", { class: "r-field" }, h("label", { for: id }, S[key]),
    h("select", { id, onchange: (e) => { on(e.target.value); update(); } }, opts.map(([v, text]) => h("option", { value: v, selected: v === value }, text))));
  const csv = h("a", { class: "r-download", download: "" }, S["stim.csv"]);
  const out = h("div", { "aria-busy": "false" });
  root.append(
    h("form", { class: "r-controls", onsubmit: (e) => e.preventDefault() },
      select("stim-fig", "stim.figure", FIGURES.map((f) => [f, figName(f)]), fig, (v) => (fig = v)),
      select("stim-bin", "stim.bin", BINS.map((b) => [b, secs(Number(b))]), binS, (v) => (binS = v)),
      select("stim-other", "stim.compare", [["", S["stim.compareNone"]], ...others.map((s) => [s.id, s.name])], other, (v) => (other = v))),
    h("p", null, csv), out);
  const status = h("p", { role: "status", class: "r-note" });

  async function update() {
    csv.href = `${own}/results.csv?binS=${binS}`;
    out.setAttribute("aria-busy", "true");
    try {
      const q = `?binS=${binS}`;
      const [a, b] = await Promise.all([
        api("GET", `${own}/results${q}${other ? "&compare=" + enc(other) : ""}`),
        other ? api("GET", `${base}/${enc(other)}/results${q}`) : null]);
      out.replaceChildren(status, ...draw(a, b));
      status.textContent = t("stim.shown", { figure: figName(fig), bin: secs(a.binS) });
    } catch (e) {
      out.replaceChildren(h("p", { class: "r-error", role: "alert" }, problem(e)));
    }
    out.setAttribute("aria-busy", "false");
  }

  function draw(a, b) {
    const est = (bin) => (fig === "valence" ? bin.valence : bin.emotions[fig]);
    const [y0, y1] = fig === "valence" ? [-1, 1] : [0, 1];
    const bName = others.find((s) => s.id === other)?.name || other;
    const series = (res, label, color, dash) => ({ label, color, dash,
      points: res.bins.map((x) => [mid(x), est(x).mean]), band: res.bins.map((x) => [mid(x), est(x).lower, est(x).upper]) });
    const x1 = Math.max(a.lengthS, b?.lengthS || 0);
    const nodes = [h("p", null, t("stim.participants", { n: a.participants }))];
    if (!a.participants) return [...nodes, h("p", null, S["stim.noData"])];
    const nPoints = a.bins.map((x) => [mid(x), x.n]);
    nodes.push(
      lineChart({ title: t("stim.figChart", { figure: figName(fig) }), desc: S["stim.bandDesc"], x1, y0, y1, spans,
        series: [series(a, stim.name, INK, ""), b && series(b, bName, COLORS[0], "7 3")].filter(Boolean), extra: [{ label: S["stim.n"], points: nPoints }] }),
      lineChart({ title: S["stim.emotionsChart"], x1, y0: 0, y1: 1, spans,
        series: EMOTIONS.map((e) => ({ label: figName(e), points: a.bins.map((x) => [mid(x), x.emotions[e].mean]) })) }),
      lineChart({ title: S["stim.nChart"], desc: S["stim.nDesc"], x1, y0: 0, y1: Math.max(1, ...a.bins.map((x) => x.nAll)), height: 150, spans, yFormat: (v) => num(v, 0),
        series: [{ label: S["stim.n"], points: nPoints, color: INK, dash: "" }, { label: S["stim.nAll"], points: a.bins.map((x) => [mid(x), x.nAll]), color: "#5A5A5A", dash: "2 3" }] }));
    if (a.segments.length) nodes.push(h("h2", { id: "stim-segs" }, S["stim.segmentsTitle"]), h("div", { class: "r-scroll", role: "region", tabindex: "0", "aria-labelledby": "stim-segs" }, h("table", null,
      h("thead", null, h("tr", null, ["stim.segment", "stim.span", "stim.n", "stim.valenceBand", "stim.dominant"].map((k) => h("th", { scope: "col" }, S[k])))),
      h("tbody", null, a.segments.map((g) => {
        const top = g.dominant && EMOTIONS.reduce((m, e) => (g.dominant[e] > g.dominant[m] ? e : m), EMOTIONS[0]);
        return h("tr", null, h("th", { scope: "row" }, g.name), h("td", null, t("stim.spanText", { from: secs(g.fromS), to: secs(g.toS) })), h("td", null, num(g.n, 0)),
          h("td", null, estimate(g.valence.mean, g.valence.lower, g.valence.upper)), h("td", null, top ? t("stim.dominantText", { emotion: figName(top), share: pct(g.dominant[top]) }) : S["stim.noFace"]));
      })))));
    if (a.compare) nodes.push(...comparison(a.compare, bName));
    return nodes;
  }

  function comparison(c, bName) {
    const r = c.result;
    const d = (x) => (fig === "valence" ? x.valence : x.emotions[fig]);
    // One symmetric scale, a multiple of 0.05 (as the report's whiskers).
    let m = 0.05;
    for (const x of r.bins) for (const v of [d(x).diff, d(x).lower, d(x).upper]) if (v != null) m = Math.max(m, Math.abs(v));
    m = Math.min(Math.ceil(m * 20 - 1e-9) / 20, 2);
    const cols = [[S["stim.whole"], r.whole], ...r.segments.map((g) => [g.name, g])];
    const n = (x) => (x.pairs != null ? t("stim.pairs", { n: x.pairs }) : t("stim.nAB", { a: x.nA, b: x.nB }));
    return [
      h("h2", { id: "stim-ab" }, t("stim.abTitle", { a: stim.name, b: bName })),
      h("p", null, S[r.method === "paired" ? "stim.paired" : "stim.welch"], " ", t("stim.abParticipants", { a: stim.name, b: bName, n: c.participants })),
      h("p", { class: "r-note" }, S["stim.abCaution"]),
      lineChart({ title: t("stim.diffChart", { figure: figName(fig) }), desc: S["stim.diffDesc"], x1: r.bins.at(-1)?.endS || 1, y0: -m, y1: m, spans,
        series: [{ label: t("stim.diffLabel", { figure: figName(fig) }), color: INK, dash: "", points: r.bins.map((x) => [mid(x), d(x).diff]), band: r.bins.map((x) => [mid(x), d(x).lower, d(x).upper]) }] }),
      h("div", { class: "r-scroll", role: "region", tabindex: "0", "aria-labelledby": "stim-ab" }, h("table", null,
        h("caption", null, S["stim.abTable"]),
        h("thead", null, h("tr", null, h("th", { scope: "col" }, S["stim.figure"]), cols.map(([name, x]) => h("th", { scope: "col" }, name, h("br"), n(x))))),
        h("tbody", null, FIGURES.map((f) => h("tr", { class: f === fig ? "r-current" : null }, h("th", { scope: "row" }, figName(f)), cols.map(([, x]) => {
          const v = f === "valence" ? x.valence : x.emotions[f];
          return h("td", null, v.diff == null ? S["stim.noPair"] : estimate(v.diff, v.lower, v.upper), v.differs ? [h("br"), h("strong", null, S["stim.excludes0"])] : null);
        })))))),
    ];
  }

  await update();
}
