// The portal's one way to the API: same-origin requests with the session
// cookie, JSON bodies, the CSRF token on every state change, and an
// ApiError from any problem+json answer.

let csrf = "";
let onUnauthorized = null;

// setCsrf keeps the token of the signed-in session (SessionInfo.csrfToken).
export function setCsrf(token) {
  csrf = token || "";
}

// setUnauthorized names what to do when the session is gone (401).
export function setUnauthorized(fn) {
  onUnauthorized = fn;
}

export class ApiError extends Error {
  constructor(status, p) {
    super(p.detail || p.title || "HTTP " + status);
    this.status = status;
    this.code = p.code || "";
    this.title = p.title || "";
    this.detail = p.detail || "";
    this.retryAfter = p.retryAfter || 0;
  }
}

// api calls method path with body (an object, sent as JSON) and returns
// the parsed answer, or null for 204. Paths start with /api/.
export async function api(method, path, body) {
  const headers = { Accept: "application/json" };
  const init = { method, headers, credentials: "same-origin" };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  if (method !== "GET" && method !== "HEAD" && csrf) headers["X-CSRF-Token"] = csrf;
  let resp;
  try {
    resp = await fetch(path, init);
  } catch {
    throw new ApiError(0, { code: "network" });
  }
  if (resp.status === 204) return null;
  const type = resp.headers.get("Content-Type") || "";
  const data = type.includes("json") ? await resp.json().catch(() => ({})) : {};
  if (resp.ok) return data;
  data.retryAfter = Number(resp.headers.get("Retry-After")) || 0;
  const err = new ApiError(resp.status, data);
  // A wrong password or code is a 401 too, but not a lost session.
  const signingIn = path === "/api/session" && method === "POST";
  if (resp.status === 401 && !signingIn && !path.startsWith("/api/signup/") && onUnauthorized) {
    onUnauthorized();
  }
  throw err;
}

// query appends the non-empty values of params to path.
export function query(path, params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== "") q.set(k, v);
  const s = q.toString();
  return s ? path + "?" + s : path;
}
