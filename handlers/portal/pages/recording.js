// A recording: its status (polled every 3 s until final), the runs of its
// analysis, the chosen run's result (emotions and valence over time, face
// found, quality, summary, models and settings) and, for a researcher or
// an owner, a re-analysis with other settings.
import { api, ApiError } from "../api.js";
import { S, t } from "../strings.js";
import { when } from "../ui.js";
import { h, lineChart, EMOTIONS, INK, num, pct, secs } from "../chart.js";

const POLL_MS = 3000;
const FINAL = ["analyzed", "failed", "expired"];
const RUNNING = ["queued", "running"];
const enc = encodeURIComponent;

const problem = (e) => (e instanceof ApiError ? e.detail || e.title : S["rec.error"]);
const label = (prefix, code) => S[prefix + code] || code;
const dl = (pairs) => h("dl", { class: "r-facts" }, pairs.filter(Boolean).map(([k, v]) => [h("dt", null, k), h("dd", null, v)]));

export async function render(root, params, ctx) {
  const base = `/api/recordings/${enc(params.id)}`;
  const results = new Map(); // analysis id -> its result (a done run never changes)
  let rec = null, sel = null, shown = null, timer = 0, names = null;
  const head = h("div");
  const runsBox = h("section", { "aria-labelledby": "rec-runs" });
  const resultBox = h("section", { "aria-labelledby": "rec-result", "aria-busy": "false" });
  const formBox = h("section", { "aria-labelledby": "rec-again" });
  root.replaceChildren(h("p", null, S["rec.loading"]));

  async function load() {
    clearTimeout(timer);
    if (rec && !head.isConnected) return; // the page was left (the router may reuse root)
    let next;
    try {
      next = await api("GET", base);
    } catch (e) {
      if (!rec) return root.replaceChildren(h("h1", { tabindex: "-1" }, S["rec.title"]), h("p", { class: "r-error", role: "alert" }, problem(e)));
      timer = setTimeout(load, POLL_MS); // a passing error while polling: try again
      return;
    }
    if (rec && rec.status !== next.status) ctx.announce(t("rec.statusChanged", { status: label("rec.status.", next.status) }));
    const first = !rec, changed = JSON.stringify(next) !== JSON.stringify(rec);
    rec = next;
    const runs = rec.analyses || [];
    if (!sel || !runs.some((a) => a.id === sel)) sel = (runs.find((a) => a.status === "done") || runs[0])?.id || null;
    if (changed) { // redrawn only on a change, so that polling does not take the focus away
      head.replaceChildren(header());
      runsBox.replaceChildren(...runList(runs));
    }
    if (first) {
      formBox.replaceChildren(...(ctx.session.account.role === "viewer" ? [] : reanalyzeForm()));
      root.replaceChildren(head, resultBox, runsBox, formBox);
    }
    await showRun();
    if (!FINAL.includes(rec.status) || runs.some((a) => RUNNING.includes(a.status))) timer = setTimeout(load, POLL_MS);
  }

  function header() {
    const v = rec.video;
    const video = v.present
      ? t("rec.videoPresent", { size: v.sizeBytes ? num(v.sizeBytes / 1048576, 1) : S["chart.none"] })
      : !v.deletedAt ? S["rec.videoNone"]
      : t("rec.videoGone", { reason: label("rec.deletion.", v.deletionReason || ""), at: when(v.deletedAt) });
    const polling = !FINAL.includes(rec.status);
    return h("div", null,
      h("p", null, h("a", { href: `/app/projects/${enc(rec.projectId)}`, onclick: (e) => { e.preventDefault(); ctx.navigate(`/app/projects/${enc(rec.projectId)}`); } }, S["rec.back"])),
      h("h1", { tabindex: "-1" }, t("rec.heading", { ref: rec.participantRef || rec.id })),
      dl([
        [S["rec.status"], h("span", { class: `r-badge r-${rec.status}` }, label("rec.status.", rec.status))],
        [S["rec.created"], when(rec.createdAt)],
        rec.participantRef && [S["rec.participant"], rec.participantRef],
        [S["rec.consent"], t("rec.consentText", { source: label("rec.consentSource.", rec.consentSource), version: rec.consentVersion })],
        [S["rec.video"], video],
      ]),
      polling ? h("p", { class: "r-note" }, S["rec.polling"]) : null,
      rec.failure ? h("p", { class: "r-error" }, t("rec.failure", { code: rec.failure.code, message: rec.failure.message })) : null);
  }

  function runList(runs) {
    const out = [h("h2", { id: "rec-runs" }, S["rec.runs"])];
    if (!runs.length) return [...out, h("p", null, S["rec.noRuns"])];
    out.push(h("div", { class: "r-scroll", role: "region", tabindex: "0", "aria-labelledby": "rec-runs" }, h("table", null,
      h("thead", null, h("tr", null, ["rec.runStarted", "rec.runStatus", "rec.models", "rec.fps", "rec.smooth", "rec.faceRatio", "rec.runShow"].map((k) => h("th", { scope: "col" }, S[k])))),
      h("tbody", null, runs.map((a) => h("tr", { "aria-current": a.id === sel ? "true" : null },
        h("td", null, when(a.createdAt)),
        h("td", null, label("rec.run.", a.status), a.failure ? h("br") : null, a.failure ? a.failure.message : null),
        h("td", null, a.settings.models),
        h("td", null, a.settings.sample_fps ? num(a.settings.sample_fps, 2) : S["rec.everyFrame"]),
        h("td", null, t("chart.secs", { v: num(a.settings.smooth_s, 2) })),
        h("td", null, a.summary ? pct(a.summary.face_ratio) : S["chart.none"]),
        h("td", null, a.status !== "done" ? S["chart.none"] : a.id === sel ? S["rec.runShown"]
          : h("button", { type: "button", class: "r-link", onclick: () => { sel = a.id; runsBox.replaceChildren(...runList(rec.analyses)); showRun(true); } }, t("rec.runShowThis", { at: when(a.createdAt) })))))))));
    return out;
  }

  async function showRun(focus) {
    const run = rec.analyses?.find((a) => a.id === sel);
    if (!run) return resultBox.replaceChildren(h("h2", { id: "rec-result" }, S["rec.result"]), h("p", null, S["rec.noResult"]));
    if (run.status !== "done") {
      shown = null;
      return resultBox.replaceChildren(h("h2", { id: "rec-result" }, S["rec.result"]), h("p", null, t("rec.runPending", { status: label("rec.run.", run.status) })),
        run.failure ? h("p", { class: "r-error" }, run.failure.message) : "");
    }
    if (shown === run.id) return;
    resultBox.setAttribute("aria-busy", "true");
    try {
      if (!results.has(run.id)) results.set(run.id, await api("GET", `${base}/analyses/${enc(run.id)}`));
      const r = results.get(run.id);
      const stims = r.frames.some((f) => f.stimulus && f.stimulus !== "baseline") ? await stimulusNames() : null;
      resultBox.replaceChildren(...result(run, r, stims).flat(Infinity).filter(Boolean));
      shown = run.id;
      if (focus) resultBox.querySelector("h2").focus();
    } catch (e) {
      resultBox.replaceChildren(h("h2", { id: "rec-result" }, S["rec.result"]), h("p", { class: "r-error", role: "alert" }, problem(e)));
    }
    resultBox.setAttribute("aria-busy", "false");
  }

  // The stimuli's names for the chart's markers; their ids if not allowed.
  async function stimulusNames() {
    if (!names) {
      names = new Map();
      try {
        for (const s of (await api("GET", `/api/projects/${enc(rec.projectId)}/stimuli?limit=50`)).items) names.set(s.id, s.name);
      } catch { /* the ids will do */ }
    }
    return names;
  }

  function result(run, r, stims) {
    const sum = r.summary, q = sum.quality;
    // One point per frame: the mean over its described faces (a flagged
    // face has no emotions: counting it as 0 would pull every line down).
    const emo = EMOTIONS.map(() => []), val = [], markers = [];
    let on;
    for (const f of r.frames) {
      const faces = f.faces.filter((x) => x.emotions);
      EMOTIONS.forEach((e, i) => emo[i].push([f.t, faces.length ? faces.reduce((a, x) => a + x.emotions[e], 0) / faces.length : null]));
      const vs = faces.filter((x) => x.valence != null);
      val.push([f.t, vs.length ? vs.reduce((a, x) => a + x.valence, 0) / vs.length : null]);
      // A marker where another stimulus comes on; a stall or lost focus
      // (frames without a stimulus) does not start it again.
      if (f.stimulus && f.stimulus !== on) markers.push({ x: f.t, label: f.stimulus === "baseline" ? S["rec.baseline"] : stims?.get(f.stimulus) || f.stimulus });
      on = f.stimulus || on;
    }
    const x1 = Math.max(r.video.duration_s || 0, r.frames.at(-1)?.t || 0);
    const warnings = (r.warnings || []).map((w) => {
      const [code, stim] = w.split(":");
      return h("li", null, S["rec.warn." + code] ? t("rec.warn." + code, { stimulus: stims?.get(stim) || stim || "" }) : w);
    });
    return [
      h("h2", { id: "rec-result", tabindex: "-1" }, t("rec.resultOf", { at: when(run.finishedAt || run.createdAt) })),
      dl([
        [S["rec.frames"], t("rec.framesText", { n: sum.frames, face: sum.frames_with_face, ratio: pct(sum.face_ratio) })],
        q && [S["rec.described"], pct(q.described_ratio)],
        [S["rec.valenceMean"], sum.valence_mean == null ? S["rec.noFace"] : num(sum.valence_mean, 2)],
      ]),
      warnings.length ? [h("h3", null, S["rec.warnings"]), h("ul", { class: "r-flags" }, warnings)] : null,
      sum.frames_with_face ? null : h("p", { class: "r-note" }, S["rec.noFaceAtAll"]),
      lineChart({ title: S["rec.emotionsChart"], x1, y0: 0, y1: 1, markers, series: EMOTIONS.map((e, i) => ({ label: S["chart.emotion." + e], points: emo[i] })) }),
      lineChart({ title: S["rec.valenceChart"], desc: S["rec.valenceDesc"], x1, y0: -1, y1: 1, markers, series: [{ label: S["chart.valence"], points: val, color: INK, dash: "" }] }),
      h("h3", null, S["rec.quality"]),
      q ? [dl([
        [S["rec.faces"], num(q.faces, 0)],
        [S["rec.faceSize"], q.face_size_px == null ? S["chart.none"] : t("rec.px", { v: num(q.face_size_px, 0) })],
        [S["rec.brightness"], num(q.brightness, 0)],
        [S["rec.sharpness"], num(q.sharpness, 0)],
        [S["rec.turnedAway"], pct(q.turned_away)],
        [S["rec.flagged"], pct(q.flagged)],
      ]), q.flags.length ? h("ul", { class: "r-flags" }, q.flags.map((f) => h("li", null, label("rec.flag.", f)))) : h("p", null, S["rec.noFlags"])]
        : h("p", null, S["rec.noQuality"]),
      h("h3", null, S["rec.summary"]),
      h("div", { class: "r-scroll", role: "region", tabindex: "0", "aria-label": S["rec.summary"] }, h("table", null,
        h("thead", null, h("tr", null, ["rec.emotion", "rec.mean", "rec.peak", "rec.dominant"].map((k) => h("th", { scope: "col" }, S[k])))),
        h("tbody", null, EMOTIONS.map((e) => h("tr", null, h("th", { scope: "row" }, S["chart.emotion." + e]),
          h("td", null, num(sum.emotions.mean[e], 2)), h("td", null, num(sum.emotions.peak[e], 2)), h("td", null, pct(sum.dominant[e]))))))),
      sum.age || sum.gender ? [h("h3", null, S["rec.demographics"]), dl([
        sum.age && [S["rec.age"], t("rec.ageText", { median: num(sum.age.median, 0), p10: num(sum.age.p10, 0), p90: num(sum.age.p90, 0), n: sum.age.n })],
        sum.gender && [S["rec.gender"], t("rec.genderText", { label: label("rec.gender.", sum.gender.label), confidence: pct(sum.gender.confidence), n: sum.gender.n })],
      ]), h("p", { class: "r-note" }, S["rec.estimatesNote"])] : null,
      h("h3", null, S["rec.modelsSettings"]),
      dl([
        [S["rec.models"], r.settings.models],
        [S["rec.fps"], r.settings.sample_fps ? num(r.settings.sample_fps, 2) : S["rec.everyFrame"]],
        [S["rec.smooth"], r.settings.smooth_s ? secs(r.settings.smooth_s) : S["rec.noSmoothing"]],
        [S["rec.detect"], S.detectModes[r.settings.detect || "every-frame"]],
        [S["rec.videoInfo"], t("rec.videoInfoText", { d: secs(r.video.duration_s), w: r.video.width, h: r.video.height, fps: num(r.video.fps, 2), codec: r.video.codec })],
        [S["rec.runTime"], secs(sum.wall_s)],
      ]),
      h("ul", { class: "r-models" }, r.models.map((m) => h("li", null, t("rec.modelLine", { role: m.role, name: m.name, sha: m.sha256.slice(0, 12) })))),
    ];
  }

  function reanalyzeForm() {
    const msg = h("p", { role: "status", class: "r-note" });
    const err = h("p", { role: "alert", class: "r-error", hidden: true });
    const known = new Set(["default", "fast", ...(rec.analyses || []).map((a) => a.settings.models)]);
    const field = (name, labelKey, hintKey, attrs) => h("p", { class: "r-field" },
      h("label", { for: "rec-" + name }, S[labelKey]),
      h("input", { id: "rec-" + name, name, "aria-describedby": "rec-" + name + "-hint", ...attrs }),
      h("small", { id: "rec-" + name + "-hint" }, S[hintKey]));
    const form = h("form", { novalidate: true },
      field("fps", "rec.fps", "rec.fpsHint", { type: "number", min: "0", max: "30", step: "any", inputmode: "decimal" }),
      field("models", "rec.models", "rec.modelsHint", { type: "text", list: "rec-model-sets", maxlength: "40", autocomplete: "off" }),
      h("datalist", { id: "rec-model-sets" }, [...known].map((m) => h("option", { value: m }))),
      field("smooth", "rec.smooth", "rec.smoothHint", { type: "number", min: "0", max: "5", step: "any", inputmode: "decimal" }),
      h("p", { class: "r-field" },
        h("label", { for: "rec-detect" }, S["rec.detect"]),
        h("select", { id: "rec-detect", name: "detect", "aria-describedby": "rec-detect-hint" },
          h("option", { value: "" }, S["rec.detectProject"]),
          Object.entries(S.detectModes).map(([value, text]) => h("option", { value }, text))),
        h("small", { id: "rec-detect-hint" }, S["rec.detectHint"])),
      h("button", { type: "submit", class: "r-submit" }, S["rec.reanalyze"]), err, msg);
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const f = form.elements, settings = {};
      if (f.fps.value !== "") settings.sampleFps = Number(f.fps.value);
      if (f.models.value.trim()) settings.models = f.models.value.trim();
      if (f.smooth.value !== "") settings.smoothS = Number(f.smooth.value);
      if (f.detect.value) settings.detect = f.detect.value;
      const btn = form.querySelector("button");
      btn.disabled = true;
      err.hidden = true;
      msg.textContent = S["rec.sending"];
      try {
        const q = await api("POST", `${base}/reanalyze`, { settings });
        msg.textContent = S["rec.queued"];
        ctx.announce(S["rec.queued"]);
        sel = q.analysisId;
        await load();
      } catch (x) {
        msg.textContent = "";
        // 409 says why (no video: deleted by privacy by design, or never
        // uploaded); 422 a model set not installed; 429 the hour's quota.
        err.textContent = problem(x);
        err.hidden = false;
      }
      btn.disabled = false;
    });
    const v = rec.video;
    return [
      h("h2", { id: "rec-again" }, S["rec.reanalyzeTitle"]),
      h("p", null, S["rec.reanalyzeHelp"]),
      v.present ? null : h("p", { class: "r-note" }, v.deletionReason === "privacy-by-design" ? S["rec.privacyGone"] : S["rec.videoMissing"]),
      form,
    ];
  }

  await load();
}
