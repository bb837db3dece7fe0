// The browser's only way to the server: the public /api/v1 and its event stream.

/** An answer that was not 2xx: the RFC 9457 problem the server sent. */
export class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

async function answer(response) {
  if (response.status === 304) return null;
  const type = response.headers.get("content-type") || "";
  const body = type.includes("json") ? await response.json() : await response.text();
  if (!response.ok) throw new ApiError(response.status, typeof body === "object" ? body : { detail: body });
  return body;
}

/** GET a path with query parameters (undefined and empty ones left out). */
export async function get(path, params = {}, headers = {}) {
  return answer(await fetch(url(path, params), { headers: { Accept: "application/json", ...headers } }));
}

/** POST JSON. Same-origin, so the server's cross-site guard lets it through. */
export async function post(path, body = {}) {
  return answer(await fetch(url(path), {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify(body),
  }));
}

export function url(path, params = {}) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== "") q.set(k, v);
  const s = q.toString();
  return `/api/v1${path}${s ? "?" + s : ""}`;
}

const layouts = new Map();

/** The layout of a selection, revalidated by ETag (the server lays a graph out once). */
export async function layout(params) {
  const key = JSON.stringify(params);
  const known = layouts.get(key);
  const response = await fetch(url("/layout", params), {
    headers: known ? { "If-None-Match": `"${known.fingerprint}"` } : {},
  });
  if (response.status === 304 && known) return known;
  const fresh = await answer(response);
  layouts.set(key, fresh);
  return fresh;
}

/** Every page of a paged list. */
export async function all(path, params = {}) {
  const items = [];
  let cursor;
  do {
    const page = await get(path, { ...params, limit: 1000, cursor });
    items.push(...page.items);
    cursor = page.next;
  } while (cursor);
  return items;
}

const TYPES = ["run_started", "run_ended", "step_started", "step_succeeded", "step_failed",
  "step_skipped", "step_up_to_date", "materialization", "observation", "check_evaluation", "log"];

/** Follows the event stream; `on(event)` for each; returns a function that stops it. */
export function follow(params, on, status) {
  const source = new EventSource(url("/events", params));
  for (const type of TYPES) {
    source.addEventListener(type, (e) => on(JSON.parse(e.data)));
  }
  source.onopen = () => status && status(true);
  source.onerror = () => status && status(false);
  return () => source.close();
}

/** "3 min ago" for a time in microseconds since the epoch (or an ISO string). */
export function ago(t) {
  if (t === null || t === undefined) return "never";
  const ms = typeof t === "number" ? t / 1000 : Date.parse(t);
  const s = Math.max(0, (Date.now() - ms) / 1000);
  if (s < 60) return `${Math.round(s)} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} d ago`;
}

export function when(t) {
  if (t === null || t === undefined) return "–";
  const d = typeof t === "number" ? new Date(t / 1000) : new Date(t);
  return d.toLocaleString();
}

/** Escapes text for HTML. */
export function h(text) {
  return String(text ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

export function state(name) {
  return `<span class="state ${h(name)}">${h(name)}</span>`;
}
