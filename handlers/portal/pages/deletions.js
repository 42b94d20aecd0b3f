// The deletion log: one entry per deleted video or stimulus file, newest
// first, with why and by what it was deleted.
import { api, query } from "../api.js";
import { S } from "../strings.js";
import { h, heading, when, pager, link, scroller } from "../ui.js";

export async function render(root, params, ctx) {
  root.append(heading(S.deletionsTitle), h("p", { class: "lead", text: S.deletionsLead }));
  const body = h("tbody");
  const row = (e) => h("tr", {},
    h("th", { scope: "row", text: when(e.at) }),
    h("td", {}, e.projectId ? link("/app/projects/" + encodeURIComponent(e.projectId), e.projectId, { class: "mono" }) : S.none),
    h("td", { class: "mono", text: e.stimulusId || e.recordingId || S.none }),
    h("td", { text: S.deletionReasons[e.reason] || e.reason }),
    h("td", { text: S.deletionTriggers[e.trigger] || e.trigger }),
    h("td", { class: "num", text: e.sizeBytes ? (e.sizeBytes / 1048576).toFixed(1) : "0" }));
  const { more, first } = await pager(body, (tok) => api("GET", query("/api/clients/me/audit", { type: "deletion", continuationToken: tok })), row, ctx);
  if (!first.items.length) {
    root.append(h("p", { class: "empty", text: S.noDeletions }));
    return;
  }
  root.append(scroller(S.deletionsTitle,
    h("table", {},
      h("caption", { class: "sr-only", text: S.deletionsTitle }),
      h("thead", {}, h("tr", {}, [S.colWhen, S.colProject, S.colItem, S.colReason, S.colTrigger, S.colSizeMiB].map((x) => h("th", { scope: "col", text: x })))),
      body)), more);
}
