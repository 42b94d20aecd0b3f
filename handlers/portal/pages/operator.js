// The operator's page: the clients, a new client with its first owner's
// invitation, another owner for a client, and another operator.
import { api } from "../api.js";
import { S, t } from "../strings.js";
import { h, fill, heading, field, input, errorBox, busy, problemText, when, section, scroller } from "../ui.js";

function form(kids, submit, fn) {
  const err = errorBox();
  const f = h("form", { novalidate: true }, err, kids, h("div", { class: "actions" }, h("button", { type: "submit", class: "primary", text: submit })));
  f.addEventListener("submit", async (e) => {
    e.preventDefault();
    err.show(null);
    for (const el of f.querySelectorAll("input, select")) {
      if (!el.checkValidity()) return err.show(t("errSetting", { name: el.labels[0].textContent })), el.focus();
    }
    try {
      await busy(f, () => fn());
    } catch (x) {
      err.show(problemText(x));
    }
  });
  return f;
}

export async function render(root, params, ctx) {
  if (ctx.session.account.role !== "operator") {
    root.append(heading(S.notFoundTitle), h("p", { text: S.notFoundText }));
    return;
  }
  root.append(heading(S.operatorTitle));
  const listBody = h("div");
  const clientSel = h("select", { name: "clientId", required: true });
  const load = async () => {
    const list = await api("GET", "/api/clients");
    const items = list.items || [];
    fill(clientSel, h("option", { value: "", text: S.choose }), items.map((c) => h("option", { value: c.id, text: c.company })));
    fill(listBody, items.length
      ? scroller(S.clientsTitle, h("table", {},
        h("caption", { class: "sr-only", text: S.clientsTitle }),
        h("thead", {}, h("tr", {}, [S.companyLabel, S.contactLabel, S.countryLabel, S.colCreated, S.colId].map((x) => h("th", { scope: "col", text: x })))),
        h("tbody", {}, items.map((c) => h("tr", {},
          h("th", { scope: "row", text: c.company }),
          h("td", { text: c.contact.name + " <" + c.contact.email + ">" }),
          h("td", { text: c.demographics.country }),
          h("td", { text: when(c.createdAt) }),
          h("td", { class: "mono", text: c.id }))))))
      : h("p", { class: "empty", text: S.noClients }));
  };
  try {
    await load();
  } catch (x) {
    fill(listBody, h("p", { class: "error", text: problemText(x) }));
  }

  const f = {
    company: input({ name: "company", required: true, maxlength: 200 }),
    name: input({ name: "contactName", required: true, maxlength: 200 }),
    email: input({ type: "email", name: "contactEmail", required: true, maxlength: 254 }),
    phone: input({ type: "tel", name: "contactPhone", maxlength: 40 }),
    country: input({ name: "country", required: true, maxlength: 2, pattern: "[A-Z]{2}" }),
    sector: input({ name: "sector", maxlength: 100 }),
    size: input({ name: "size", maxlength: 40 }),
    dpa: input({ name: "dpaVersion", required: true, maxlength: 40 }),
    owner: input({ type: "email", name: "ownerEmail", required: true, maxlength: 254 }),
  };
  const made = h("div", { "aria-live": "polite" });
  const newClient = form([
    field(S.companyLabel, f.company),
    h("fieldset", {}, h("legend", { text: S.contactLabel }),
      h("div", { class: "grid" }, field(S.contactName, f.name), field(S.emailLabel, f.email), field(S.phoneLabel, f.phone))),
    h("fieldset", {}, h("legend", { text: S.aboutCompany }),
      h("div", { class: "grid" }, field(S.countryLabel, f.country, S.countryHint), field(S.sectorLabel, f.sector), field(S.sizeLabel, f.size))),
    h("div", { class: "grid" }, field(S.dpaVersionLabel, f.dpa, S.dpaVersionHint), field(S.ownerEmail, f.owner, S.ownerEmailHint)),
  ], S.createClient, async () => {
    const v = (el) => el.value.trim();
    const body = {
      company: v(f.company),
      contact: Object.assign({ name: v(f.name), email: v(f.email) }, v(f.phone) ? { phone: v(f.phone) } : {}),
      demographics: Object.assign({ country: v(f.country) }, v(f.sector) ? { sector: v(f.sector) } : {}, v(f.size) ? { size: v(f.size) } : {}),
      dpaVersion: v(f.dpa),
      owner: { email: v(f.owner) },
    };
    const c = await api("POST", "/api/clients", body);
    fill(made, h("p", { class: "ok", text: t("clientCreated", { company: c.company, email: body.owner.email }) }));
    ctx.announce(t("clientCreated", { company: c.company, email: body.owner.email }));
    for (const el of Object.values(f)) el.value = "";
    await load();
  });

  const ownerEmail = input({ type: "email", name: "email", required: true, maxlength: 254 });
  const inviteOwner = form([h("div", { class: "grid" }, field(S.clientLabel, clientSel), field(S.emailLabel, ownerEmail))], S.sendInvite, async () => {
    await api("POST", "/api/clients/" + encodeURIComponent(clientSel.value) + "/invitations", { email: ownerEmail.value.trim() });
    ctx.announce(t("invited", { email: ownerEmail.value.trim() }));
    ownerEmail.value = "";
  });
  const opEmail = input({ type: "email", name: "email", required: true, maxlength: 254 });
  const inviteOp = form([field(S.emailLabel, opEmail, S.operatorInviteHint)], S.sendInvite, async () => {
    await api("POST", "/api/operators/invitations", { email: opEmail.value.trim() });
    ctx.announce(t("invited", { email: opEmail.value.trim() }));
    opEmail.value = "";
  });
  root.append(
    section(S.clientsTitle, listBody),
    section(S.newClientTitle, h("p", { class: "hint", text: S.newClientLead }), newClient, made),
    section(S.inviteOwnerTitle, inviteOwner),
    section(S.inviteOperatorTitle, inviteOp));
}
