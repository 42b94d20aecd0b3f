// A new project: name, use context (the prohibited uses explained),
// privacy mode, the consent text with a preview as participants see it,
// and the analysis settings.
import { api } from "../api.js";
import { S, t } from "../strings.js";
import { h, fill, heading, field, input, errorBox, busy, problemText, uid, canChange } from "../ui.js";

const CONTEXTS = ["market-research", "media-testing", "usability", "academic-research", "healthcare-research", "other"];

// Settings as the form shows them: [key, label, hint, default, min, max,
// step, to API value, from API value].
const SETTINGS = [
  ["sampleFps", S.setSampleFps, S.setSampleFpsHint, 5, 0, 30, "any", Number],
  ["smoothS", S.setSmooth, S.setSmoothHint, 0.5, 0, 5, "any", Number],
  ["maxDurationS", S.setMaxMinutes, S.setMaxMinutesHint, 30, 1, 240, 1, (v) => Math.round(v * 60)],
  ["maxUploadBytes", S.setMaxUpload, S.setMaxUploadHint, 1024, 1, 10240, 1, (v) => Math.round(v * 1048576)],
  ["deletionGraceS", S.setGraceDays, S.setGraceDaysHint, 0, 0, 30, 1, (v) => Math.round(v * 86400)],
  ["maxRetentionDays", S.setRetention, S.setRetentionHint, 90, 1, 365, 1, (v) => Math.round(v)],
];

// consentPreview renders the participant page's consent step: the same
// words and the same order, styled by portal.css.
export function consentPreview(name, text, mode, days) {
  return h("div", { class: "consent-step" },
    h("p", { class: "p-title", text: name || S.previewUntitled }),
    h("p", { class: "lead", text: S.previewLead }),
    h("div", { class: "consent-text", text }),
    h("ul", { class: "facts" },
      h("li", { text: S.previewFactAnalysed }),
      h("li", { text: mode === "delete-after-analysis" ? S.previewDeletedAfter : t("previewDeletedRetain", { days }) }),
      h("li", { text: S.previewFactNoSound })),
    h("div", { class: "actions" },
      h("span", { class: "p-button primary", text: S.previewAgree }),
      h("span", { class: "p-button", text: S.previewDecline })));
}

export async function render(root, params, ctx) {
  root.append(heading(S.newProjectTitle));
  if (!canChange(ctx)) {
    root.append(h("p", { text: S.newProjectViewer }), h("p", {}, h("a", { href: "/app/", text: S.backHome })));
    return;
  }
  const err = errorBox();
  const name = input({ name: "name", required: true, maxlength: 200 });
  const use = h("select", { name: "useContext", required: true },
    h("option", { value: "", text: S.choose }),
    CONTEXTS.map((c) => h("option", { value: c, text: S.useContexts[c] })));
  const modeName = uid("mode");
  const mode = (value, label, hint) => {
    const r = input({ type: "radio", name: modeName, value, checked: value === "retain" });
    const hid = uid("hint");
    r.setAttribute("aria-describedby", hid);
    return h("div", { class: "choice" }, r, h("label", { for: (r.id = uid()), text: label }), h("p", { class: "hint", id: hid, text: hint }));
  };
  const modes = h("fieldset", {}, h("legend", { text: S.privacyModeLegend }),
    mode("retain", S.modeRetain, S.modeRetainHint),
    mode("delete-after-analysis", S.modeDelete, S.modeDeleteHint));
  const consent = h("textarea", { name: "consentText", rows: 12, maxlength: 20000, value: S.defaultConsentText });
  // It scrolls (the standard text is long): a keyboard reaches it to scroll.
  const preview = h("div", { class: "preview-frame", role: "region", "aria-label": S.previewLabel, tabindex: "0" });
  const settings = {};
  const setFields = SETTINGS.map(([key, label, hint, def, min, max, step]) => {
    settings[key] = input({ type: "number", name: key, value: def, min, max, step, inputmode: "decimal" });
    return field(label, settings[key], hint);
  });
  const detect = h("select", { name: "detect" },
    Object.entries(S.detectModes).map(([value, text]) => h("option", { value, text })));
  setFields.push(field(S.setDetect, detect, S.setDetectHint));
  const modeValue = () => modes.querySelector("input:checked").value;
  const draw = () => {
    settings.maxRetentionDays.closest(".field").hidden = modeValue() !== "retain";
    fill(preview, consentPreview(name.value.trim(), consent.value.trim(), modeValue(), settings.maxRetentionDays.value || 90));
  };
  for (const el of [name, consent, modes, settings.maxRetentionDays]) el.addEventListener("input", draw);
  modes.addEventListener("change", draw);

  const form = h("form", { novalidate: true },
    err,
    field(S.projectNameLabel, name),
    h("fieldset", {}, h("legend", { text: S.useContextLegend }),
      field(S.useContextLabel, use, S.useContextHint),
      h("p", { class: "note", text: S.prohibitedUses })),
    modes,
    h("fieldset", {}, h("legend", { text: S.consentLegend }),
      field(S.consentLabel, consent, S.consentHint),
      h("h2", { class: "h3", text: S.previewTitle }),
      h("p", { class: "hint", text: S.previewHint }),
      preview),
    h("details", {}, h("summary", { text: S.settingsLegend }), h("div", { class: "grid" }, setFields)),
    h("div", { class: "actions" },
      h("button", { type: "submit", class: "primary", text: S.createProject }),
      h("a", { href: "/app/", class: "button", text: S.cancel })));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    err.show(null);
    if (!name.value.trim()) return err.show(S.errProjectName), name.focus();
    if (!use.value) return err.show(S.errUseContext), use.focus();
    const text = consent.value.trim();
    if (text.length < 50) return err.show(S.errConsentShort), consent.focus();
    const body = { name: name.value.trim(), useContext: use.value, privacyMode: modeValue(), settings: {} };
    // The unchanged standard text keeps the standard consent version.
    if (text !== S.defaultConsentText.trim()) body.consentText = text;
    for (const [key, , , def, , , , conv] of SETTINGS) {
      const el = settings[key];
      if (el.value === "" || Number(el.value) === def) continue;
      if (!el.checkValidity()) return err.show(t("errSetting", { name: el.labels[0].textContent })), el.focus();
      body.settings[key] = conv(Number(el.value));
    }
    if (detect.value !== "every-frame") body.settings.detect = detect.value;
    try {
      const p = await busy(form, () => api("POST", "/api/projects", body));
      ctx.announce(t("projectCreated", { name: p.name }));
      ctx.navigate("/app/projects/" + encodeURIComponent(p.id));
    } catch (x) {
      err.show(problemText(x));
      err.scrollIntoView({ block: "nearest" });
    }
  });
  draw();
  root.append(form);
}
