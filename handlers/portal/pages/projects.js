// The client's projects with their status and recording counts.
import { api, query } from "../api.js";
import { S, t } from "../strings.js";
import { h, heading, link, badge, when, canChange, pager, problemText, scroller } from "../ui.js";

// countText sums up a project's recordings by status.
export function countText(counts) {
  if (!counts) return S.none;
  const total = Object.values(counts).reduce((a, b) => a + b, 0);
  const busy = (counts["awaiting-upload"] || 0) + (counts.uploaded || 0) + (counts.analyzing || 0);
  return t("countSummary", { total, analyzed: counts.analyzed || 0, busy, failed: (counts.failed || 0) + (counts.expired || 0) });
}

export async function render(root, params, ctx) {
  const top = h("div", { class: "page-head" }, heading(S.projectsTitle));
  if (canChange(ctx)) top.append(h("a", { class: "button primary", href: "/app/projects/new", text: S.newProject }));
  root.append(top);
  const body = h("tbody");
  const tbl = scroller(S.projectsCaption,
    h("table", {},
      h("caption", { class: "sr-only", text: S.projectsCaption }),
      h("thead", {}, h("tr", {}, [S.colName, S.colStatus, S.colRecordings, S.colCreated].map((x) => h("th", { scope: "col", text: x })))),
      body));
  const row = (p) => {
    const counts = h("td", { text: "…" });
    api("GET", "/api/projects/" + encodeURIComponent(p.id))
      .then((full) => (counts.textContent = countText(full.counts)))
      .catch((x) => (counts.textContent = problemText(x)));
    return h("tr", {},
      h("th", { scope: "row" }, link("/app/projects/" + encodeURIComponent(p.id), p.name)),
      h("td", {}, badge(p.status)),
      counts,
      h("td", { text: when(p.createdAt) }));
  };
  const { more, first } = await pager(body, (tok) => api("GET", query("/api/projects", { continuationToken: tok })), row, ctx);
  if (!first.items.length) {
    root.append(h("p", { class: "empty", text: canChange(ctx) ? S.noProjects : S.noProjectsViewer }));
    return;
  }
  root.append(tbl, more);
}
