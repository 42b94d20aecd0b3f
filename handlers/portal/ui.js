// Small DOM helpers shared by the pages: elements, form fields, tables,
// dialogs, dates, downloads. Every text comes from strings.js.
import { S, t } from "./strings.js";

// h makes an element. props: class, text, html-free attributes, and on*
// listeners; kids are nodes, strings, arrays, or null (skipped).
export function h(tag, props, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") el.className = v;
    else if (k === "text") el.textContent = v;
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "value" || k === "checked") el[k] = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  add(el, kids);
  return el;
}

// fill replaces el's children with kids, as h takes them.
export function fill(el, ...kids) {
  el.replaceChildren();
  add(el, kids);
  return el;
}

function add(el, kids) {
  for (const k of kids) {
    if (k === null || k === undefined || k === false) continue;
    if (Array.isArray(k)) add(el, k);
    else el.append(k instanceof Node ? k : String(k));
  }
}

let seq = 0;
// uid returns a new element id.
export function uid(prefix) {
  return (prefix || "f") + ++seq;
}

// field wraps a control with its label and an optional hint, linked by
// for and aria-describedby.
export function field(label, control, hint) {
  if (!control.id) control.id = uid();
  const kids = [h("label", { for: control.id, text: label })];
  if (hint) {
    const hid = uid("hint");
    control.setAttribute("aria-describedby", hid);
    kids.push(h("p", { class: "hint", id: hid, text: hint }));
  }
  kids.push(control);
  return h("div", { class: "field" }, kids);
}

// input makes an <input>; props as h's.
export function input(props) {
  return h("input", Object.assign({ type: "text" }, props));
}

// heading is a page's h1, focused after navigation.
export function heading(text) {
  return h("h1", { tabindex: "-1", text });
}

// errorBox is the place next to a form where its errors show; show(err)
// fills it (and announces it), show(null) empties it.
export function errorBox() {
  const el = h("p", { class: "error", role: "alert", hidden: true });
  el.show = (err) => {
    el.hidden = !err;
    el.textContent = err ? problemText(err) : "";
  };
  return el;
}

// problemText says in words what an ApiError (or any error) means.
export function problemText(err) {
  if (!err) return "";
  if (typeof err === "string") return err;
  if (err.status === 0) return S.errNetwork;
  if (err.status === 429) return err.retryAfter ? t("errWaitSeconds", { n: err.retryAfter }) : S.errWait;
  if (err.status === 403) return S.errForbidden;
  if (err.status >= 500) return S.errServer;
  const d = err.detail || err.title || err.message || "";
  return d ? d.charAt(0).toUpperCase() + d.slice(1) : S.errServer;
}

// busy disables a form's controls while fn runs.
export async function busy(form, fn) {
  const els = [...form.querySelectorAll("button, input, select, textarea")].filter((e) => !e.disabled);
  els.forEach((e) => (e.disabled = true));
  form.setAttribute("aria-busy", "true");
  try {
    return await fn();
  } finally {
    els.forEach((e) => (e.disabled = false));
    form.removeAttribute("aria-busy");
  }
}

// A wide table scrolls sideways in its box. While there is something to
// scroll, the box is a named region in the tab order, so that a keyboard
// can scroll it too (WCAG 2.1.1); a box that fits is neither.
const shown = new WeakSet();
const scrollWatch = new ResizeObserver((entries) => {
  for (const { target: el } of entries) {
    // Made before its page is shown; left once taken out of the page.
    if (!el.isConnected) {
      if (shown.has(el)) scrollWatch.unobserve(el);
      continue;
    }
    shown.add(el);
    const scrolls = el.scrollWidth > el.clientWidth + 1;
    if (scrolls === (el.tabIndex === 0)) continue;
    if (scrolls) {
      el.tabIndex = 0;
      el.setAttribute("role", "region");
      el.setAttribute("aria-label", el.dataset.label);
    } else {
      el.removeAttribute("tabindex");
      el.removeAttribute("role");
      el.removeAttribute("aria-label");
    }
  }
});

// scroller is the box of a table (kids), named label when it scrolls.
export function scroller(label, ...kids) {
  const el = h("div", { class: "table-wrap", "data-label": label }, kids);
  scrollWatch.observe(el);
  return el;
}

// table makes a table with a caption, column heads and rows (arrays of
// cells); the first cell of each row is its row head.
export function table(caption, heads, rows) {
  return scroller(caption.text || caption,
    h("table", {},
      h("caption", { class: caption.hidden ? "sr-only" : null, text: caption.text || caption }),
      h("thead", {}, h("tr", {}, heads.map((x) => h("th", { scope: "col", text: x })))),
      h("tbody", {}, rows.map((r) => h("tr", {}, r.map((c, i) => (i === 0 ? h("th", { scope: "row" }, c) : h("td", {}, c))))))));
}

// section makes a titled section of a page.
export function section(title, ...kids) {
  const id = uid("s");
  return h("section", { class: "card", "aria-labelledby": id }, h("h2", { id, text: title }), kids);
}

// when shows a timestamp in the reader's locale, or a dash.
export function when(iso) {
  if (!iso) return S.none;
  const d = new Date(iso);
  return isNaN(d) ? iso : d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

// badge shows a status as text with a class per status (never colour alone).
export function badge(status) {
  return h("span", { class: "badge badge-" + status, text: S.statusNames[status] || status });
}

// confirmDialog asks a question in a modal <dialog>; with typed, the
// confirm button works only once that text is typed. Resolves true or false.
export function confirmDialog({ title, text, confirm, typed, danger }) {
  return new Promise((resolve) => {
    const opener = document.activeElement;
    const tid = uid("d");
    const box = typed ? input({ autocomplete: "off", spellcheck: "false" }) : null;
    const ok = h("button", { type: "submit", class: danger ? "danger" : "primary", text: confirm || S.confirm, disabled: !!typed });
    const cancel = h("button", { type: "button", text: S.cancel, onclick: () => dlg.close("cancel") });
    if (box) box.addEventListener("input", () => (ok.disabled = box.value.trim() !== typed));
    const dlg = h("dialog", { "aria-labelledby": tid },
      h("form", { method: "dialog" },
        h("h2", { id: tid, text: title }),
        text ? h("p", { text }) : null,
        box ? field(t("typeToConfirm", { text: typed }), box) : null,
        h("div", { class: "actions" }, ok, cancel)));
    dlg.addEventListener("close", () => {
      const yes = dlg.returnValue === "ok";
      dlg.remove();
      if (opener && opener.focus) opener.focus();
      resolve(yes);
    });
    ok.value = "ok";
    document.body.append(dlg);
    dlg.showModal();
    (box || cancel).focus();
  });
}

// download saves text as a file, made in the browser.
export function download(name, text, type) {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = h("a", { href: url, download: name, class: "sr-only" });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

// copyButton copies text to the clipboard and says so.
export function copyButton(text, ctx) {
  return h("button", {
    type: "button", class: "small", text: S.copy,
    onclick: async () => {
      try {
        await navigator.clipboard.writeText(text);
        ctx.announce(S.copied);
      } catch {
        ctx.announce(S.copyFailed);
      }
    },
  });
}

// canChange is false for viewers: their pages show no controls that change anything.
export function canChange(ctx) {
  return ctx.session && ctx.session.account.role !== "viewer";
}

// isOwner is true for a client's owners.
export function isOwner(ctx) {
  return ctx.session && ctx.session.account.role === "owner";
}

// link makes an in-app link (the router intercepts it).
export function link(href, text, props) {
  return h("a", Object.assign({ href, text }, props));
}

// pager renders pages of a list: fetchPage(token) returns
// {items, continuationToken}; each item becomes what row(item) returns,
// appended to list. A "Load more" button shows while there is more.
export async function pager(list, fetchPage, row, ctx) {
  const more = h("button", { type: "button", text: S.loadMore, hidden: true });
  let token = "";
  const next = async () => {
    const page = await fetchPage(token);
    for (const it of page.items || []) list.append(row(it));
    token = page.continuationToken || "";
    more.hidden = !token;
    return page;
  };
  more.addEventListener("click", async () => {
    more.disabled = true;
    try {
      const page = await next();
      ctx.announce(t("loadedMore", { n: (page.items || []).length }));
    } catch (e) {
      ctx.announce(problemText(e));
    } finally {
      more.disabled = false;
    }
  });
  const first = await next();
  return { more, first };
}
