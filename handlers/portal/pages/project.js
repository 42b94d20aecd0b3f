// One project: its status, invitations (one or many links, a CSV of
// them, an open panel link, revoke), recordings whose status updates
// while the page is open, stimuli, the report and exports, close,
// reopen and delete. Viewers see no control that changes anything.
import { api, query } from "../api.js";
import { S, t } from "../strings.js";
import { h, fill, heading, field, input, errorBox, busy, problemText, badge, when, section, link, canChange, confirmDialog, download, copyButton, pager, uid, scroller } from "../ui.js";
import { countText } from "./projects.js";

const FINAL = ["analyzed", "failed", "expired"];
const POLL_BUSY_MS = 3000; // while a recording is on its way
const POLL_IDLE_MS = 15000; // to see new ones arrive

export async function render(root, params, ctx) {
  const id = params.id;
  const base = "/api/projects/" + encodeURIComponent(id);
  let p = await api("GET", base);
  const edit = canChange(ctx);

  const head = h("div");
  const drawHead = (deletionAt) => {
    const closed = p.status === "closed";
    const del = deletionAt || (closed && p.closedAt ? new Date(Date.parse(p.closedAt) + (p.settings.deletionGraceS || 0) * 1000).toISOString() : "");
    const acts = h("div", { class: "actions" });
    if (edit && !closed) acts.append(h("button", { type: "button", text: S.closeProject, onclick: closeProject }));
    if (edit && closed && del && Date.parse(del) > Date.now()) acts.append(h("button", { type: "button", text: S.reopenProject, onclick: reopen }));
    if (edit) acts.append(h("button", { type: "button", class: "danger", text: S.deleteProject, onclick: remove }));
    fill(head,
      h("div", { class: "page-head" }, heading(p.name), badge(p.status)),
      h("dl", { class: "facts" },
        h("dt", { text: S.useContextLabel }), h("dd", { text: S.useContexts[p.useContext] || p.useContext }),
        h("dt", { text: S.privacyModeLegend }), h("dd", { text: p.privacyMode === "retain" ? S.modeRetain : S.modeDelete }),
        h("dt", { text: S.colRecordings }), h("dd", { class: "counts", text: countText(p.counts) }),
        h("dt", { text: S.colCreated }), h("dd", { text: when(p.createdAt) }),
        closed ? [h("dt", { text: S.closedAt }), h("dd", { text: when(p.closedAt) })] : null,
        closed && del ? [h("dt", { text: S.deletionAt }), h("dd", { class: "deletion", text: when(del) })] : null),
      acts.childElementCount ? acts : null);
  };

  async function closeProject() {
    const grace = p.settings.deletionGraceS || 0;
    const ok = await confirmDialog({ title: t("closeTitle", { name: p.name }), text: grace ? t("closeTextGrace", { days: +(grace / 86400).toFixed(2) }) : S.closeTextNow, confirm: S.closeProject });
    if (!ok) return;
    try {
      const r = await api("POST", base + "/close");
      p = Object.assign(r.project, { counts: p.counts });
      drawHead(r.deletionAt);
      ctx.announce(t("closedAnnounce", { when: when(r.deletionAt) }));
      head.querySelector("h1").focus();
    } catch (x) {
      ctx.announce(problemText(x));
    }
  }
  async function reopen() {
    try {
      p = Object.assign(await api("POST", base + "/reopen"), { counts: p.counts });
      drawHead();
      ctx.announce(S.reopenedAnnounce);
      head.querySelector("h1").focus();
    } catch (x) {
      ctx.announce(problemText(x));
    }
  }
  async function remove() {
    const ok = await confirmDialog({ title: t("deleteTitle", { name: p.name }), text: S.deleteText, confirm: S.deleteProject, typed: p.name, danger: true });
    if (!ok) return;
    try {
      await api("DELETE", base);
      ctx.announce(t("deletedAnnounce", { name: p.name }));
      ctx.navigate("/app/");
    } catch (x) {
      ctx.announce(problemText(x));
    }
  }

  drawHead();
  root.append(head,
    resultsSection(p, base),
    await recordingsSection(base, ctx, (counts) => {
      p.counts = counts;
      const c = head.querySelector(".counts");
      if (c) c.textContent = countText(counts);
    }),
    await invitationsSection(p, base, ctx, edit),
    await stimuliSection(p, base));
}

// resultsSection links the report (HTML from the API, in a new tab) and
// the exports (downloads).
function resultsSection(p, base) {
  return section(S.resultsTitle,
    h("ul", { class: "links" },
      h("li", {}, h("a", { href: base + "/report", target: "_blank", rel: "noopener", text: S.openReport }), " ", h("span", { class: "hint", text: S.newTab })),
      h("li", {}, h("a", { href: base + "/export.csv", download: "", text: S.exportCSV })),
      h("li", {}, h("a", { href: base + "/export.json", download: "", text: S.exportJSON }))));
}

// recordingsSection lists the newest recordings and polls while the page
// is shown: every 3 s while one is on its way, else every 15 s.
async function recordingsSection(base, ctx, onCounts) {
  const body = h("tbody");
  const note = h("p", { class: "hint", hidden: true, text: S.recordingsNewest });
  const empty = h("p", { class: "empty", text: S.noRecordings });
  const wrap = scroller(S.recordingsTitle,
    h("table", {},
      h("caption", { class: "sr-only", text: S.recordingsTitle }),
      h("thead", {}, h("tr", {}, [S.colRecording, S.colParticipant, S.colStatus, S.colCreated].map((x) => h("th", { scope: "col", text: x })))),
      body));
  const seen = new Map();
  let timer = 0;
  const load = async () => {
    const list = await api("GET", query(base + "/recordings", { limit: 100 }));
    const items = list.items || [];
    const counts = { "awaiting-upload": 0, uploaded: 0, analyzing: 0, analyzed: 0, failed: 0, expired: 0 };
    fill(body, items.map((r) => {
      counts[r.status] = (counts[r.status] || 0) + 1;
      const before = seen.get(r.id);
      if (before && before !== r.status) ctx.announce(t("recordingNow", { id: r.id, status: S.statusNames[r.status] || r.status }));
      seen.set(r.id, r.status);
      return h("tr", {},
        h("th", { scope: "row" }, link("/app/recordings/" + encodeURIComponent(r.id), r.id, { class: "mono" })),
        h("td", { text: r.participantRef || S.none }),
        h("td", {}, badge(r.status), r.failure ? h("span", { class: "hint", text: " " + r.failure.message }) : null),
        h("td", { text: when(r.createdAt) }));
    }));
    empty.hidden = items.length > 0;
    wrap.hidden = !items.length;
    note.hidden = !list.continuationToken;
    if (!list.continuationToken) onCounts(counts);
    return items.some((r) => !FINAL.includes(r.status));
  };
  const tick = async () => {
    let pending = true;
    if (!document.hidden) {
      try {
        pending = await load();
      } catch {
        // a failed poll is tried again at the next tick
      }
    }
    if (!ctx.signal.aborted) timer = setTimeout(tick, pending ? POLL_BUSY_MS : POLL_IDLE_MS);
  };
  ctx.signal.addEventListener("abort", () => clearTimeout(timer));
  const pending = await load();
  if (!ctx.signal.aborted) timer = setTimeout(tick, pending ? POLL_BUSY_MS : POLL_IDLE_MS);
  return section(S.recordingsTitle, h("p", { class: "hint", text: S.recordingsLive }), empty, wrap, note);
}

// invitationsSection makes links (one or many, or an open panel link),
// offers the new ones as CSV, and lists every link with revoke.
async function invitationsSection(p, base, ctx, edit) {
  const body = h("tbody");
  const row = (inv) => {
    const st = h("td", {}, badge(inv.status));
    const what = inv.quota ? t("openLinkUses", { uses: inv.uses || 0, quota: inv.quota }) : inv.participantRef || S.none;
    const revoke = edit && inv.status === "open"
      ? h("button", {
        type: "button", class: "small", text: S.revoke, "aria-label": t("revokeLabel", { what }),
        onclick: async (e) => {
          const b = e.currentTarget;
          if (!(await confirmDialog({ title: S.revokeTitle, text: S.revokeText, confirm: S.revoke, danger: true }))) return;
          try {
            await api("DELETE", "/api/invitations/" + encodeURIComponent(inv.id));
            fill(st, badge("revoked"));
            b.remove();
            ctx.announce(S.revoked);
          } catch (x) {
            ctx.announce(problemText(x));
          }
        },
      })
      : null;
    return h("tr", {},
      h("th", { scope: "row", text: what }),
      h("td", { text: inv.quota ? S.kindOpen : S.kindSingle }),
      st,
      h("td", { text: when(inv.expiresAt) }),
      edit ? h("td", {}, revoke) : null);
  };
  const heads = [S.colParticipant, S.colKind, S.colStatus, S.colExpires];
  if (edit) heads.push(S.colActions);
  const wrap = scroller(S.invitationsTitle,
    h("table", {}, h("caption", { class: "sr-only", text: S.invitationsTitle }),
      h("thead", {}, h("tr", {}, heads.map((x) => h("th", { scope: "col", text: x })))), body));
  const { more, first } = await pager(body, (tok) => api("GET", query(base + "/invitations", { continuationToken: tok })), row, ctx);
  const empty = h("p", { class: "empty", text: S.noInvitations, hidden: first.items.length > 0 });
  wrap.hidden = !first.items.length;
  const prepend = (inv) => {
    body.prepend(row(inv));
    wrap.hidden = false;
    empty.hidden = true;
  };
  const kids = [];
  if (edit && p.status === "open") kids.push(makeLinks(base, ctx, prepend), openLink(base, ctx, prepend));
  kids.push(h("h3", { text: S.allLinks }), empty, wrap, more);
  return section(S.invitationsTitle, kids);
}

// makeLinks creates count single-use links and offers them as CSV.
function makeLinks(base, ctx, prepend) {
  const count = input({ type: "number", name: "count", min: 1, max: 500, value: 1, inputmode: "numeric" });
  const prefix = input({ name: "prefix", maxlength: 40, pattern: "[A-Za-z0-9._:\\-]*", spellcheck: "false" });
  const days = input({ type: "number", name: "days", min: 1, max: 90, value: 14, inputmode: "numeric" });
  const err = errorBox();
  const out = h("div", { class: "made", "aria-live": "polite" });
  const form = h("form", { class: "inline-form", novalidate: true },
    h("fieldset", {}, h("legend", { text: S.makeLinksLegend }),
      err,
      h("div", { class: "grid" },
        field(S.linkCount, count, S.linkCountHint),
        field(S.refPrefix, prefix, S.refPrefixHint),
        field(S.expiresDays, days, S.expiresDaysHint)),
      h("div", { class: "actions" }, h("button", { type: "submit", class: "primary", text: S.makeLinks }))),
    out);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    err.show(null);
    const n = Number(count.value);
    if (!count.checkValidity() || !Number.isInteger(n) || n < 1) return err.show(S.errCount), count.focus();
    if (!prefix.checkValidity()) return err.show(S.errPrefix), prefix.focus();
    if (!days.checkValidity() || !days.value) return err.show(S.errDays), days.focus();
    const width = String(n).length;
    const made = [];
    await busy(form, async () => {
      for (let i = 1; i <= n; i++) {
        const ref = prefix.value ? prefix.value + String(i).padStart(Math.max(3, width), "0") : undefined;
        try {
          const inv = await api("POST", base + "/invitations", { participantRef: ref, expiresInS: Number(days.value) * 86400 });
          made.push({ ref: ref || "", url: inv.url, expiresAt: inv.expiresAt });
          prepend({ id: inv.id, participantRef: ref, status: "open", expiresAt: inv.expiresAt });
        } catch (x) {
          err.show(t("errMadeSome", { made: made.length, n, why: problemText(x) }));
          break;
        }
        if (n > 10 && i % 25 === 0) ctx.announce(t("makingLinks", { done: i, n }));
      }
    });
    if (!made.length) return;
    const csv = "participantRef,url,expiresAt\r\n" + made.map((m) => [m.ref, m.url, m.expiresAt].map(csvCell).join(",")).join("\r\n") + "\r\n";
    const list = h("ul", { class: "link-list" }, made.slice(0, 20).map((m) => h("li", {}, m.ref ? m.ref + ": " : "", h("code", { text: m.url }), " ", copyButton(m.url, ctx))));
    fill(out,
      h("p", { class: "ok", text: t("madeLinks", { n: made.length }) }),
      h("p", { class: "hint", text: S.linksShownOnce }),
      h("button", { type: "button", class: "primary", text: S.downloadCSV, onclick: () => download("invitations.csv", csv, "text/csv") }),
      list,
      made.length > 20 ? h("p", { class: "hint", text: t("moreInCSV", { n: made.length - 20 }) }) : null);
    ctx.announce(t("madeLinks", { n: made.length }));
  });
  return form;
}

// csvCell quotes a CSV value, and defuses a spreadsheet formula.
function csvCell(v) {
  v = String(v ?? "");
  if (/^[=+\-@\t\r]/.test(v)) v = "'" + v;
  return /[",\r\n]/.test(v) ? '"' + v.replaceAll('"', '""') + '"' : v;
}

// openLink makes one link for many participants (a panel or survey tool).
function openLink(base, ctx, prepend) {
  const quota = input({ type: "number", name: "quota", min: 2, max: 100000, value: 100, inputmode: "numeric" });
  const ext = input({ type: "checkbox", name: "allowExt" });
  const done = input({ type: "url", name: "completionUrl", maxlength: 2048, placeholder: "https://", spellcheck: "false" });
  const days = input({ type: "number", name: "days", min: 1, max: 90, value: 14, inputmode: "numeric" });
  const err = errorBox();
  const out = h("div", { class: "made", "aria-live": "polite" });
  const extId = uid();
  ext.id = extId;
  const form = h("form", { class: "inline-form", novalidate: true },
    h("details", {}, h("summary", { text: S.openLinkLegend }),
      h("p", { class: "hint", text: S.openLinkHint }),
      err,
      h("div", { class: "grid" },
        field(S.quota, quota, S.quotaHint),
        field(S.expiresDays, days, S.expiresDaysHint)),
      h("div", { class: "choice" }, ext, h("label", { for: extId, text: S.allowExt }), h("p", { class: "hint", text: S.allowExtHint })),
      field(S.completionUrl, done, S.completionUrlHint),
      h("div", { class: "actions" }, h("button", { type: "submit", class: "primary", text: S.makeOpenLink })),
      out));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    err.show(null);
    if (!quota.checkValidity() || !quota.value) return err.show(S.errQuota), quota.focus();
    if (done.value && !done.value.startsWith("https://")) return err.show(S.errCompletionUrl), done.focus();
    if (!days.checkValidity() || !days.value) return err.show(S.errDays), days.focus();
    const body = { quota: Number(quota.value), allowExt: ext.checked, expiresInS: Number(days.value) * 86400 };
    if (done.value) body.completionUrl = done.value;
    try {
      const inv = await busy(form, () => api("POST", base + "/invitations", body));
      prepend({ id: inv.id, status: "open", quota: body.quota, uses: 0, expiresAt: inv.expiresAt });
      const url = ext.checked ? inv.url + "?ext={ID}" : inv.url;
      fill(out,
        h("p", { class: "ok", text: S.openLinkMade }),
        h("p", {}, h("code", { text: url }), " ", copyButton(url, ctx)),
        h("p", { class: "hint", text: ext.checked ? S.openLinkExtNote : S.linksShownOnce }));
      ctx.announce(S.openLinkMade);
    } catch (x) {
      err.show(problemText(x));
    }
  });
  return form;
}

// stimuliSection lists a stimulus study's stimuli, each linking to its results.
async function stimuliSection(p, base) {
  const list = await api("GET", base + "/stimuli");
  const items = list.items || [];
  return section(S.stimuliTitle,
    items.length
      ? h("ul", { class: "links" }, items.map((s) => h("li", {},
        link("/app/projects/" + encodeURIComponent(p.id) + "/stimuli/" + encodeURIComponent(s.id), s.name),
        " ", h("span", { class: "hint", text: S.stimulusKinds[s.kind] || s.kind }), " ", badge(s.status))))
      : h("p", { class: "empty", text: S.noStimuli }));
}
