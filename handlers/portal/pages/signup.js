// Sign-up from an invitation's e-mail link, /app/signup#<token>: the
// token stays in the fragment, never sent in a URL or a Referer.
import { api } from "../api.js";
import { S, t } from "../strings.js";
import { h, heading, field, input, errorBox, busy, problemText } from "../ui.js";

export async function render(root, params, ctx) {
  const token = location.hash.slice(1);
  root.append(heading(S.signUpTitle));
  if (!/^[A-Za-z0-9_-]{16,}$/.test(token)) {
    root.append(h("p", { class: "error", text: S.signUpNoToken }));
    return;
  }
  let inv;
  try {
    inv = await api("GET", "/api/signup/" + encodeURIComponent(token));
  } catch (x) {
    root.append(h("p", { class: "error", text: x.status === 410 ? S.signUpGone : x.status === 404 ? S.signUpUnknown : problemText(x) }));
    return;
  }
  const name = input({ name: "name", autocomplete: "name", required: true, maxlength: 200 });
  const pw = input({ type: "password", name: "new-password", autocomplete: "new-password", required: true, minlength: 12 });
  const pw2 = input({ type: "password", name: "confirm-password", autocomplete: "new-password", required: true, minlength: 12 });
  const err = errorBox();
  const dl = h("dl", { class: "facts" },
    h("dt", { text: S.emailLabel }), h("dd", { text: inv.email }),
    inv.company ? [h("dt", { text: S.companyLabel }), h("dd", { text: inv.company })] : null,
    h("dt", { text: S.roleLabel }), h("dd", { text: S.roleNames[inv.role] || inv.role }));
  const form = h("form", { class: "narrow", novalidate: true },
    err,
    field(S.nameLabel, name),
    field(S.newPasswordLabel, pw, S.passwordRules),
    field(S.confirmPasswordLabel, pw2),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary", text: S.signUp })));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    err.show(null);
    if (!name.value.trim()) return err.show(S.errNameEmpty), name.focus();
    if ([...pw.value].length < 12) return err.show(S.errPasswordShort), pw.focus();
    if (pw.value !== pw2.value) return err.show(S.errPasswordMismatch), pw2.focus();
    try {
      const info = await busy(form, () => api("POST", "/api/signup/" + encodeURIComponent(token), { name: name.value.trim(), password: pw.value }));
      history.replaceState(null, "", "/app/signup"); // the token is used: drop it from the address
      ctx.announce(t("welcome", { name: info.account.name || info.account.email }));
      ctx.signedIn(info);
    } catch (x) {
      err.show(problemText(x));
    }
  });
  root.append(h("p", { text: S.signUpLead }), dl, form);
}
