// Sign-in: e-mail and password, then a one-time code when the account
// has a second factor (the API answers code_required).
import { api } from "../api.js";
import { S } from "../strings.js";
import { h, heading, field, input, errorBox, busy, problemText } from "../ui.js";

// safeNext keeps a ?next= that is a page of the portal, nothing else.
function safeNext() {
  const n = new URLSearchParams(location.search).get("next") || "";
  return n.startsWith("/app/") && !n.startsWith("//") ? n : "";
}

export async function render(root, params, ctx) {
  if (ctx.session) {
    ctx.navigate(safeNext() || "/app/");
    return;
  }
  const email = input({ type: "email", name: "email", autocomplete: "username", required: true });
  const password = input({ type: "password", name: "password", autocomplete: "current-password", required: true });
  const code = input({ name: "code", inputmode: "numeric", autocomplete: "one-time-code", pattern: "[0-9 ]{6,8}" });
  const codeField = field(S.codeLabel, code, S.codeHint);
  codeField.hidden = true;
  const err = errorBox();
  const form = h("form", { class: "narrow", novalidate: true },
    err,
    field(S.emailLabel, email),
    field(S.passwordLabel, password),
    codeField,
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary", text: S.signIn })));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    err.show(null);
    if (!email.value || !password.value) {
      err.show(S.errSignInEmpty);
      (email.value ? password : email).focus();
      return;
    }
    const body = { email: email.value.trim(), password: password.value };
    if (!codeField.hidden && code.value.trim()) body.code = code.value.replace(/\s/g, "");
    try {
      const info = await busy(form, () => api("POST", "/api/session", body));
      ctx.announce(S.signedIn);
      ctx.signedIn(info, safeNext());
    } catch (x) {
      if (x.code === "code_required") {
        codeField.hidden = false;
        err.show(S.codeNeeded);
        code.focus();
        return;
      }
      err.show(x.status === 401 ? (codeField.hidden ? S.errSignIn : S.errSignInCode) : problemText(x));
      password.focus();
    }
  });
  root.append(heading(S.signInTitle), form, h("p", { class: "hint", text: S.signInHelp }));
}
