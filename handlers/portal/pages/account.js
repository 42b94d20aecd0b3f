// The account: you (sessions, password, second factor), and for a
// client its company details, team, API keys, webhooks, security log and
// erasure. Controls for owners only are not shown to others.
import { api, query } from "../api.js";
import { S, t } from "../strings.js";
import { h, fill, heading, field, input, errorBox, busy, problemText, when, section, confirmDialog, copyButton, pager, isOwner, uid, scroller } from "../ui.js";

const ROLES = ["owner", "researcher", "viewer"];
const EVENTS = ["recording.analyzed", "recording.failed", "recording.deleted", "project.closed", "project.deleted"];

// block is a section whose body build() makes, and makes again on reload.
async function block(title, build) {
  const body = h("div");
  const reload = async () => {
    try {
      fill(body, await build(reload));
    } catch (x) {
      fill(body, h("p", { class: "error", text: problemText(x) }));
    }
  };
  await reload();
  return section(title, body);
}

// form makes a form whose submit runs fn(err) with its error box shown on failure.
function form(kids, submit, fn, props) {
  const err = errorBox();
  const f = h("form", Object.assign({ novalidate: true }, props), err, kids, h("div", { class: "actions" }, h("button", { type: "submit", class: "primary", text: submit })));
  f.addEventListener("submit", async (e) => {
    e.preventDefault();
    err.show(null);
    try {
      await busy(f, () => fn(err));
    } catch (x) {
      err.show(problemText(x));
    }
  });
  return f;
}

function rows(heads, items, caption) {
  return scroller(caption, h("table", {},
    h("caption", { class: "sr-only", text: caption }),
    h("thead", {}, h("tr", {}, heads.map((x) => h("th", { scope: "col", text: x })))),
    h("tbody", {}, items)));
}

export async function render(root, params, ctx) {
  const a = ctx.session.account;
  const owner = isOwner(ctx);
  const client = a.role !== "operator";
  root.append(heading(S.accountTitle),
    h("dl", { class: "facts" },
      h("dt", { text: S.nameLabel }), h("dd", { text: a.name || S.none }),
      h("dt", { text: S.emailLabel }), h("dd", { text: a.email }),
      h("dt", { text: S.roleLabel }), h("dd", { text: S.roleNames[a.role] || a.role }),
      a.company ? [h("dt", { text: S.companyLabel }), h("dd", { text: a.company })] : null));
  const parts = [];
  if (client) parts.push(() => block(S.companyTitle, () => company(ctx, owner)));
  parts.push(() => block(S.sessionsTitle, (reload) => sessions(ctx, reload)));
  parts.push(() => passwordSection(ctx));
  parts.push(() => block(S.totpTitle, (reload) => totp(ctx, reload)));
  if (client) parts.push(() => block(S.teamTitle, (reload) => team(ctx, owner, reload)));
  if (owner) {
    parts.push(() => block(S.keysTitle, (reload) => keys(ctx, reload)));
    parts.push(() => block(S.webhooksTitle, (reload) => webhooks(ctx, reload)));
    parts.push(() => securityLog(ctx));
    parts.push(() => erasure(ctx));
  }
  for (const p of parts) root.append(await p());
}

async function company(ctx, owner) {
  const c = await api("GET", "/api/clients/me");
  if (!owner) {
    return h("dl", { class: "facts" },
      h("dt", { text: S.companyLabel }), h("dd", { text: c.company }),
      h("dt", { text: S.contactLabel }), h("dd", { text: [c.contact.name, c.contact.email, c.contact.phone].filter(Boolean).join(", ") }),
      h("dt", { text: S.countryLabel }), h("dd", { text: c.demographics.country }),
      h("dt", { text: S.dpaLabel }), h("dd", { text: t("dpaAccepted", { version: c.dpaVersion, when: when(c.dpaAcceptedAt) }) }));
  }
  const f = {
    company: input({ name: "company", required: true, maxlength: 200, value: c.company, autocomplete: "organization" }),
    name: input({ name: "contactName", required: true, maxlength: 200, value: c.contact.name, autocomplete: "name" }),
    email: input({ type: "email", name: "contactEmail", required: true, maxlength: 254, value: c.contact.email, autocomplete: "email" }),
    phone: input({ type: "tel", name: "contactPhone", maxlength: 40, value: c.contact.phone || "", autocomplete: "tel" }),
    country: input({ name: "country", required: true, maxlength: 2, pattern: "[A-Z]{2}", value: c.demographics.country, autocomplete: "country" }),
    sector: input({ name: "sector", maxlength: 100, value: c.demographics.sector || "" }),
    size: input({ name: "size", maxlength: 40, value: c.demographics.size || "" }),
  };
  return [
    form([
      field(S.companyLabel, f.company),
      h("fieldset", {}, h("legend", { text: S.contactLabel }),
        h("div", { class: "grid" }, field(S.contactName, f.name), field(S.emailLabel, f.email), field(S.phoneLabel, f.phone))),
      h("fieldset", {}, h("legend", { text: S.aboutCompany }),
        h("div", { class: "grid" }, field(S.countryLabel, f.country, S.countryHint), field(S.sectorLabel, f.sector), field(S.sizeLabel, f.size))),
    ], S.save, async (err) => {
      for (const el of Object.values(f)) {
        if (!el.checkValidity()) return err.show(t("errSetting", { name: el.labels[0].textContent })), el.focus();
      }
      const contact = { name: f.name.value.trim(), email: f.email.value.trim() };
      if (f.phone.value.trim()) contact.phone = f.phone.value.trim();
      const demographics = { country: f.country.value.trim() };
      if (f.sector.value.trim()) demographics.sector = f.sector.value.trim();
      if (f.size.value.trim()) demographics.size = f.size.value.trim();
      await api("PATCH", "/api/clients/me", { company: f.company.value.trim(), contact, demographics });
      ctx.announce(S.saved);
    }),
    h("p", { class: "hint", text: t("dpaAccepted", { version: c.dpaVersion, when: when(c.dpaAcceptedAt) }) }),
  ];
}

async function sessions(ctx, reload) {
  const list = await api("GET", "/api/account/sessions");
  return rows([S.colDevice, S.colSignedIn, S.colLastSeen, S.colExpires, S.colActions], (list.items || []).map((s) => h("tr", {},
    h("th", { scope: "row" }, s.userAgent || S.unknownDevice, s.current ? h("span", { class: "badge badge-current", text: S.thisDevice }) : null),
    h("td", { text: when(s.createdAt) }),
    h("td", { text: when(s.lastSeenAt) }),
    h("td", { text: when(s.expiresAt) }),
    h("td", {}, s.current
      ? h("button", { type: "button", class: "small", text: S.signOut, onclick: ctx.signOut })
      : h("button", {
        type: "button", class: "small", text: S.endSession, "aria-label": t("endSessionLabel", { device: s.userAgent || S.unknownDevice }),
        onclick: async () => {
          try {
            await api("DELETE", "/api/account/sessions/" + encodeURIComponent(s.id));
            ctx.announce(S.sessionEndedOne);
            await reload();
          } catch (x) {
            ctx.announce(problemText(x));
          }
        },
      })))), S.sessionsTitle);
}

function passwordSection(ctx) {
  const cur = input({ type: "password", name: "current-password", autocomplete: "current-password", required: true });
  const pw = input({ type: "password", name: "new-password", autocomplete: "new-password", required: true, minlength: 12 });
  const pw2 = input({ type: "password", name: "confirm-password", autocomplete: "new-password", required: true, minlength: 12 });
  const f = form([field(S.currentPassword, cur), field(S.newPasswordLabel, pw, S.passwordRules), field(S.confirmPasswordLabel, pw2)], S.changePassword, async (err) => {
    if (!cur.value) return err.show(S.errCurrentPassword), cur.focus();
    if ([...pw.value].length < 12) return err.show(S.errPasswordShort), pw.focus();
    if (pw.value !== pw2.value) return err.show(S.errPasswordMismatch), pw2.focus();
    await api("POST", "/api/account/password", { currentPassword: cur.value, newPassword: pw.value });
    cur.value = pw.value = pw2.value = "";
    ctx.announce(S.passwordChanged);
  }, { class: "narrow" });
  return section(S.passwordTitle, h("p", { class: "hint", text: S.passwordChangeNote }), f);
}

async function totp(ctx, reload) {
  const a = ctx.session.account;
  if (a.totp) {
    const pw = input({ type: "password", name: "password", autocomplete: "current-password", required: true });
    return [h("p", { text: S.totpOn }), form([field(S.passwordLabel, pw, S.totpOffHint)], S.totpTurnOff, async (err) => {
      if (!pw.value) return err.show(S.errCurrentPassword), pw.focus();
      await api("DELETE", "/api/account/totp", { password: pw.value });
      a.totp = false;
      ctx.announce(S.totpTurnedOff);
      await reload();
    }, { class: "narrow" })];
  }
  const out = h("div");
  const start = h("button", {
    type: "button", class: "primary", text: S.totpSetUp,
    onclick: async () => {
      start.disabled = true;
      try {
        const s = await api("POST", "/api/account/totp", {});
        const code = input({ name: "code", inputmode: "numeric", autocomplete: "one-time-code", required: true, pattern: "[0-9 ]{6,8}" });
        const secret = s.secret.replace(/(.{4})/g, "$1 ").trim();
        fill(out,
          h("ol", { class: "steps" },
            h("li", {}, S.totpStep1),
            h("li", {}, S.totpStep2, " ", h("code", { class: "secret", text: secret }), " ", copyButton(s.secret, ctx),
              h("details", {}, h("summary", { text: S.totpUri }), h("code", { class: "wrap", text: s.uri }), " ", copyButton(s.uri, ctx))),
            h("li", {}, S.totpStep3)),
          form([field(S.codeLabel, code)], S.totpConfirm, async (err) => {
            if (!/^\d{6,8}$/.test(code.value.replace(/\s/g, ""))) return err.show(S.errCode), code.focus();
            await api("PUT", "/api/account/totp", { code: code.value.replace(/\s/g, "") });
            a.totp = true;
            ctx.announce(S.totpTurnedOn);
            await reload();
          }, { class: "narrow" }));
        code.focus();
      } catch (x) {
        start.disabled = false;
        ctx.announce(problemText(x));
      }
    },
  });
  return [h("p", { text: S.totpOff }), start, out];
}

async function team(ctx, owner, reload) {
  const tm = await api("GET", "/api/team");
  const me = ctx.session.account.id;
  const heads = [S.nameLabel, S.emailLabel, S.roleLabel, S.colTotp];
  if (owner) heads.push(S.colActions);
  const members = rows(heads, (tm.items || []).map((m) => {
    let roleCell = S.roleNames[m.role] || m.role;
    let actions = null;
    if (owner) {
      const sel = h("select", { "aria-label": t("roleOf", { name: m.name || m.email }) }, ROLES.map((r) => h("option", { value: r, text: S.roleNames[r], selected: r === m.role })));
      sel.value = m.role;
      sel.addEventListener("change", async () => {
        try {
          await api("PATCH", "/api/team/" + encodeURIComponent(m.id), { role: sel.value });
          ctx.announce(t("roleChanged", { name: m.name || m.email, role: S.roleNames[sel.value] }));
        } catch (x) {
          sel.value = m.role;
          ctx.announce(problemText(x));
        }
      });
      roleCell = sel;
      actions = m.id === me ? h("span", { class: "hint", text: S.you }) : h("button", {
        type: "button", class: "small danger", text: S.remove, "aria-label": t("removeLabel", { name: m.name || m.email }),
        onclick: async () => {
          if (!(await confirmDialog({ title: t("removeTitle", { name: m.name || m.email }), text: S.removeText, confirm: S.remove, danger: true }))) return;
          try {
            await api("DELETE", "/api/team/" + encodeURIComponent(m.id));
            ctx.announce(t("removed", { name: m.name || m.email }));
            await reload();
          } catch (x) {
            ctx.announce(problemText(x));
          }
        },
      });
    }
    return h("tr", {},
      h("th", { scope: "row", text: m.name || S.none }),
      h("td", { text: m.email }),
      h("td", {}, roleCell),
      h("td", { text: m.totp ? S.yes : S.no }),
      owner ? h("td", {}, actions) : null);
  }), S.teamTitle);
  const out = [members];
  const invs = tm.invitations || [];
  if (invs.length) {
    out.push(h("h3", { text: S.pendingInvites }), h("ul", { class: "links" }, invs.map((i) => h("li", {}, t("inviteLine", { email: i.email, role: S.roleNames[i.role] || i.role, when: when(i.expiresAt) })))));
  }
  if (owner) {
    const email = input({ type: "email", name: "email", required: true, maxlength: 254, autocomplete: "off" });
    const role = h("select", { name: "role" }, ROLES.map((r) => h("option", { value: r, text: S.roleNames[r], selected: r === "researcher" })));
    out.push(h("h3", { text: S.inviteTitle }), h("p", { class: "hint", text: S.roleHelp }),
      form([h("div", { class: "grid" }, field(S.emailLabel, email), field(S.roleLabel, role))], S.sendInvite, async (err) => {
        if (!email.checkValidity() || !email.value) return err.show(S.errEmail), email.focus();
        await api("POST", "/api/team/invitations", { email: email.value.trim(), role: role.value });
        ctx.announce(t("invited", { email: email.value.trim() }));
        await reload();
      }));
  }
  return out;
}

async function keys(ctx, reload) {
  const list = await api("GET", "/api/clients/me/keys");
  const shown = h("div", { "aria-live": "polite" });
  const name = input({ name: "keyName", maxlength: 100, autocomplete: "off" });
  const items = list.items || [];
  return [
    h("p", { class: "hint", text: S.keysLead }),
    items.length ? rows([S.nameLabel, S.colPrefix, S.colCreated, S.colActions], items.map((k) => h("tr", {},
      h("th", { scope: "row", text: k.name || S.none }),
      h("td", { class: "mono", text: k.prefix + "…" }),
      h("td", { text: when(k.createdAt) }),
      h("td", {}, h("button", {
        type: "button", class: "small danger", text: S.revoke, "aria-label": t("revokeLabel", { what: k.name || k.prefix }),
        onclick: async () => {
          if (!(await confirmDialog({ title: S.revokeKeyTitle, text: S.revokeKeyText, confirm: S.revoke, danger: true }))) return;
          try {
            await api("DELETE", "/api/clients/me/keys/" + encodeURIComponent(k.id));
            ctx.announce(S.keyRevoked);
            await reload();
          } catch (x) {
            ctx.announce(problemText(x));
          }
        },
      })))), S.keysTitle) : h("p", { class: "empty", text: S.noKeys }),
    form([field(S.keyName, name, S.keyNameHint)], S.createKey, async () => {
      const k = await api("POST", "/api/clients/me/keys", name.value.trim() ? { name: name.value.trim() } : {});
      name.value = "";
      fill(shown, h("div", { class: "once" },
        h("p", { class: "ok", text: S.keyCreated }),
        h("p", {}, h("code", { class: "wrap", text: k.apiKey }), " ", copyButton(k.apiKey, ctx)),
        h("p", { class: "hint", text: S.keyOnce })));
      ctx.announce(S.keyCreated);
    }, { class: "narrow" }),
    shown,
  ];
}

async function webhooks(ctx, reload) {
  const list = await api("GET", "/api/webhooks");
  const items = list.items || [];
  const shown = h("div", { "aria-live": "polite" });
  const url = input({ type: "url", name: "url", required: true, maxlength: 2048, placeholder: "https://", spellcheck: "false" });
  const project = input({ name: "projectId", pattern: "pr_[0-9a-f]{24}", spellcheck: "false", autocomplete: "off" });
  const boxes = EVENTS.map((ev) => {
    const id = uid();
    const cb = input({ type: "checkbox", id, value: ev, checked: ev.startsWith("recording.a") || ev === "recording.failed" });
    return h("div", { class: "choice" }, cb, h("label", { for: id }, h("code", { text: ev }), " ", S.eventNames[ev]));
  });
  const act = (hk, path, method, done) => async () => {
    try {
      await api(method, "/api/webhooks/" + encodeURIComponent(hk.id) + path, method === "POST" ? {} : undefined);
      ctx.announce(done);
      if (method === "DELETE") await reload();
    } catch (x) {
      ctx.announce(problemText(x));
    }
  };
  return [
    h("p", { class: "hint", text: S.webhooksLead }),
    items.length ? rows([S.colUrl, S.colEvents, S.colStatus, S.colActions], items.map((hk) => h("tr", {},
      h("th", { scope: "row", class: "wrap", text: hk.url }),
      h("td", { text: hk.events.join(", ") + (hk.projectId ? " (" + hk.projectId + ")" : "") }),
      h("td", { text: S.statusNames[hk.status] || hk.status }),
      h("td", { class: "row-actions" },
        h("button", { type: "button", class: "small", text: S.ping, "aria-label": t("pingLabel", { url: hk.url }), onclick: act(hk, "/ping", "POST", S.pinged) }),
        h("button", {
          type: "button", class: "small danger", text: S.remove, "aria-label": t("removeLabel", { name: hk.url }),
          onclick: async () => {
            if (await confirmDialog({ title: S.removeWebhookTitle, text: hk.url, confirm: S.remove, danger: true })) await act(hk, "", "DELETE", S.webhookRemoved)();
          },
        })))), S.webhooksTitle) : h("p", { class: "empty", text: S.noWebhooks }),
    h("h3", { text: S.addWebhook }),
    form([
      field(S.webhookUrl, url, S.webhookUrlHint),
      h("fieldset", {}, h("legend", { text: S.colEvents }), boxes),
      field(S.webhookProject, project, S.webhookProjectHint),
    ], S.addWebhook, async (err) => {
      if (!url.value.startsWith("https://") && !url.value.startsWith("http://")) return err.show(S.errWebhookUrl), url.focus();
      const events = boxes.map((b) => b.querySelector("input")).filter((c) => c.checked).map((c) => c.value);
      if (!events.length) return err.show(S.errEvents), boxes[0].querySelector("input").focus();
      if (!project.checkValidity()) return err.show(S.errProjectId), project.focus();
      const body = { url: url.value.trim(), events };
      if (project.value) body.projectId = project.value.trim();
      const hk = await api("POST", "/api/webhooks", body);
      await reload();
      if (hk.secret) {
        fill(shown, h("div", { class: "once" },
          h("p", { class: "ok", text: S.webhookAdded }),
          h("p", {}, S.webhookSecret, " ", h("code", { class: "wrap", text: hk.secret }), " ", copyButton(hk.secret, ctx)),
          h("p", { class: "hint", text: S.secretOnce })));
      }
      ctx.announce(S.webhookAdded);
    }),
    shown,
  ];
}

async function securityLog(ctx) {
  const body = h("tbody");
  const row = (e) => h("tr", {},
    h("th", { scope: "row", text: when(e.at) }),
    h("td", { text: S.securityActions[e.action] || e.action }),
    h("td", { class: "mono", text: e.accountId || S.none }),
    h("td", { class: "mono", text: [e.targetId, e.role && (S.roleNames[e.role] || e.role)].filter(Boolean).join(" ") || S.none }));
  let more = null, first = { items: [] }, failed = null;
  try {
    ({ more, first } = await pager(body, (tok) => api("GET", query("/api/clients/me/audit", { type: "security", continuationToken: tok })), row, ctx));
  } catch (x) {
    failed = h("p", { class: "error", text: problemText(x) });
  }
  const tbl = scroller(S.securityTitle, h("table", {},
    h("caption", { class: "sr-only", text: S.securityTitle }),
    h("thead", {}, h("tr", {}, [S.colWhen, S.colAction, S.colAccount, S.colTarget].map((x) => h("th", { scope: "col", text: x })))),
    body));
  return section(S.securityTitle, failed || (first.items.length ? [tbl, more] : h("p", { class: "empty", text: S.noSecurity })));
}

function erasure(ctx) {
  const company = ctx.session.account.company;
  return section(S.erasureTitle,
    h("p", { text: S.erasureText }),
    h("button", {
      type: "button", class: "danger", text: S.eraseAll,
      onclick: async () => {
        if (!(await confirmDialog({ title: S.erasureConfirmTitle, text: S.erasureConfirmText, confirm: S.eraseAll, typed: company, danger: true }))) return;
        try {
          await api("DELETE", "/api/clients/me");
          ctx.announce(S.erased);
          await ctx.signOut();
        } catch (x) {
          ctx.announce(problemText(x));
        }
      },
    }));
}
