// The portal's shell: the session, the navigation, and a client-side
// router over /app/ paths. Each page is a module pages/<name>.js,
// imported when first shown, exporting render(root, params, ctx).
import { api, setCsrf, setUnauthorized, ApiError } from "./api.js";
import { S, t } from "./strings.js";
import { h, heading, problemText } from "./ui.js";

const BASE = "/app/";
const main = document.getElementById("main");
const nav = document.getElementById("nav");
const status = document.getElementById("status");

// Routes: a path pattern (":name" is one segment), the page module, and
// whether a signed-in session is needed.
const ROUTES = [
  ["", "projects", true],
  ["signin", "signin", false],
  ["signup", "signup", false],
  ["projects/new", "newproject", true],
  ["projects/:id", "project", true],
  ["projects/:id/stimuli/:stimulusId", "stimulus", true],
  ["recordings/:id", "recording", true],
  ["deletions", "deletions", true],
  ["account", "account", true],
  ["operator", "operator", true],
];

let session = null; // SessionInfo, or null when signed out
let leave = null; // aborts the shown page's timers and requests
let first = true;
let statusTimer = 0;

function match(path) {
  const segs = path.split("/").filter(Boolean);
  for (const [pat, page, auth] of ROUTES) {
    const ps = pat.split("/").filter(Boolean);
    if (ps.length !== segs.length) continue;
    const params = {};
    if (ps.every((p, i) => (p.startsWith(":") ? ((params[p.slice(1)] = decodeURIComponent(segs[i])), true) : p === segs[i]))) {
      return { page, auth, params };
    }
  }
  return null;
}

// announce shows a short status message and has screen readers read it.
function announce(text) {
  clearTimeout(statusTimer);
  status.textContent = "";
  // A fresh text node each time, so the same message is announced again.
  setTimeout(() => {
    status.textContent = text;
    status.classList.add("shown");
  }, 50);
  statusTimer = setTimeout(() => status.classList.remove("shown"), 8000);
}

function setSession(info) {
  session = info;
  setCsrf(info ? info.csrfToken : "");
  drawNav();
}

// navigate shows path (an /app/ path with query and hash), adding it to
// the history unless replace.
function navigate(path, replace) {
  if (replace) history.replaceState(null, "", path);
  else history.pushState(null, "", path);
  show();
}

function here() {
  return location.pathname + location.search + location.hash;
}

async function signOut() {
  try {
    await api("DELETE", "/api/session");
  } catch {
    // signed out already, or the server is unreachable: forget it here anyway
  }
  setSession(null);
  navigate(BASE + "signin", true);
  announce(S.signedOut);
}

function drawNav() {
  nav.replaceChildren();
  if (!session) return;
  const a = session.account;
  const items = a.role === "operator"
    ? [[BASE + "operator", S.navOperator], [BASE + "account", S.navAccount]]
    : [[BASE, S.navProjects], [BASE + "deletions", S.navDeletions], [BASE + "account", S.navAccount]];
  const ul = h("ul", {}, items.map(([href, text]) => h("li", {}, h("a", { href, text }))));
  const who = h("span", { class: "who", text: a.company ? t("whoAt", { name: a.name || a.email, company: a.company }) : a.name || a.email });
  nav.append(ul, who, h("button", { type: "button", class: "small", text: S.signOut, onclick: signOut }));
  markCurrent();
}

function markCurrent() {
  for (const a of nav.querySelectorAll("a")) {
    const p = new URL(a.href).pathname;
    const cur = p === BASE ? location.pathname === BASE || location.pathname.startsWith(BASE + "projects") : location.pathname.startsWith(p);
    if (cur) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
}

function toSignIn() {
  const next = here();
  navigate(BASE + "signin" + (next.startsWith(BASE + "signin") ? "" : "?next=" + encodeURIComponent(next)), true);
}

async function show() {
  if (leave) leave.abort();
  const ctl = new AbortController();
  leave = ctl;
  const path = location.pathname.startsWith(BASE) ? location.pathname.slice(BASE.length) : "";
  let route = match(path);
  if (route && route.auth && !session) return toSignIn();
  if (route && session && session.account.role === "operator" && route.page === "projects") route = match("operator");
  markCurrent();
  main.setAttribute("aria-busy", "true");
  main.dataset.ready = "false";
  const root = h("div", { class: "page" });
  const ctx = {
    session,
    navigate: (p) => navigate(p),
    announce,
    signal: ctl.signal,
    signedIn: (info, to) => {
      setSession(info);
      navigate(to || (info.account.role === "operator" ? BASE + "operator" : BASE), true);
    },
    signOut,
  };
  try {
    if (!route) {
      root.append(heading(S.notFoundTitle), h("p", { text: S.notFoundText }), h("p", {}, h("a", { href: BASE, text: S.backHome })));
    } else {
      const mod = await import("./pages/" + route.page + ".js");
      if (ctl.signal.aborted) return;
      await mod.render(root, route.params, ctx);
    }
  } catch (e) {
    if (ctl.signal.aborted) return;
    if (e instanceof ApiError && e.status === 401) return;
    root.replaceChildren(heading(e instanceof ApiError && e.status === 404 ? S.notFoundTitle : S.errPageTitle), h("p", { text: e instanceof ApiError ? problemText(e) : S.errPageText }));
    if (!(e instanceof ApiError)) console.warn(e);
  }
  if (ctl.signal.aborted) return;
  main.replaceChildren(root);
  main.removeAttribute("aria-busy");
  // The page is drawn with its data: tests and the benchmark wait on these.
  main.dataset.page = route ? route.page : "notfound";
  main.dataset.ready = "true";
  performance.mark("facet-ready");
  const h1 = root.querySelector("h1");
  document.title = (h1 ? h1.textContent + " – " : "") + S.appName;
  if (!first) (h1 || main).focus();
  else if (location.hash === "#main") main.focus();
  first = false;
}

// Links to /app/ pages are followed here, without a page load.
document.addEventListener("click", (e) => {
  const a = e.target.closest("a[href]");
  if (!a || e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  if (a.target || a.hasAttribute("download")) return;
  const url = new URL(a.href, location.href);
  if (url.origin !== location.origin || !url.pathname.startsWith(BASE) || url.pathname.startsWith(BASE + "assets/")) return;
  if (url.pathname === location.pathname && url.search === location.search && url.hash) return; // an in-page anchor
  e.preventDefault();
  navigate(url.pathname + url.search + url.hash);
});
window.addEventListener("popstate", show);

document.getElementById("skip").textContent = S.skipLink;
document.getElementById("skip").addEventListener("click", (e) => {
  e.preventDefault();
  (main.querySelector("h1") || main).focus();
});
document.getElementById("loading").textContent = S.loading;
document.getElementById("brand").setAttribute("aria-label", S.brandHome);
nav.setAttribute("aria-label", S.navLabel);

try {
  setSession(await api("GET", "/api/session"));
} catch {
  setSession(null); // not signed in (401), or the service is unreachable: the sign-in page says so
}
// From now on a 401 means the session ended (signed out elsewhere, expired, revoked).
setUnauthorized(() => {
  if (session) {
    setSession(null);
    announce(S.sessionEnded);
  }
  toSignIn();
});
if (location.pathname === BASE.slice(0, -1)) history.replaceState(null, "", BASE);
show();
