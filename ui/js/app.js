// The router: one view per route, deep links for everything (the selection, the open asset
// and partition live in the URL), and the search bar, which speaks the CLI's selection
// language.

import { all, ApiError, h } from "./api.js";
import * as graph from "./views/graph.js";
import * as catalog from "./views/catalog.js";
import * as asset from "./views/asset.js";
import * as runs from "./views/runs.js";
import * as run from "./views/run.js";
import * as schedules from "./views/schedules.js";

const routes = [
  [/^\/$/, graph, "graph"],
  [/^\/assets\/?$/, catalog, "assets"],
  [/^\/assets\/(.+)$/, asset, "assets"],
  [/^\/runs\/?$/, runs, "runs"],
  [/^\/runs\/([^/]+)$/, run, "runs"],
  [/^\/schedules\/?$/, schedules, "schedules"],
];

const view = document.getElementById("view");
const input = document.getElementById("select");
const errorBox = document.getElementById("select-error");
let cleanup = null;

export function navigate(path, { replace = false } = {}) {
  if (replace) history.replaceState(null, "", path);
  else history.pushState(null, "", path);
  render();
}

async function render() {
  if (cleanup) { cleanup(); cleanup = null; }
  const path = decodeURIComponent(location.pathname);
  const params = new URLSearchParams(location.search);
  const [pattern, module, nav] = routes.find(([p]) => p.test(path)) || [];
  for (const a of document.querySelectorAll("[data-nav]")) {
    a.toggleAttribute("aria-current", a.dataset.nav === nav);
    if (a.dataset.nav === nav) a.setAttribute("aria-current", "page");
  }
  input.value = params.get("select") || "";
  showError(null);
  view.innerHTML = "";
  if (!module) {
    view.innerHTML = `<div class="page"><h1>Not found</h1><p class="muted">${h(path)}</p></div>`;
    return;
  }
  const match = path.match(pattern);
  try {
    cleanup = (await module.mount(view, { params, match, navigate, showError })) || null;
  } catch (e) {
    view.innerHTML = `<div class="page"><h1>Something went wrong</h1><pre class="error-box">${h(e.message)}</pre></div>`;
    if (e instanceof ApiError && e.problem.position) showError(e);
  }
}

/** Shows a selection error as the CLI does (the server's message carries the caret). */
export function showError(error) {
  if (!error) {
    errorBox.hidden = true;
    input.removeAttribute("aria-invalid");
    return;
  }
  errorBox.textContent = error.message;
  errorBox.hidden = false;
  input.setAttribute("aria-invalid", "true");
}

// Links inside the app move without a reload.
document.addEventListener("click", (e) => {
  const a = e.target.closest("a[data-link], a[href^='/']");
  if (!a || e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey) return;
  if (a.target || a.hasAttribute("download") || a.getAttribute("href").startsWith("/api/")) return;
  e.preventDefault();
  navigate(a.getAttribute("href"));
});
window.addEventListener("popstate", render);

// The search bar: the selection goes into the URL of the graph (or of the catalog there).
document.getElementById("search").addEventListener("submit", (e) => {
  e.preventDefault();
  hideSuggestions();
  const text = input.value.trim();
  const base = location.pathname.startsWith("/assets") && location.pathname.length <= 8 ? "/assets" : "/";
  navigate(text ? `${base}?select=${encodeURIComponent(text)}` : base);
});

// Autocomplete: keys, groups, kinds, owners, tags and the language's words.
const WORDS = ["and", "or", "not", "key:", "group:", "kind:", "owner:", "tag:", "code_version:",
  "status:", "changed:", "roots(", "sinks(", "*"];
let vocabulary = null;
async function words() {
  if (vocabulary) return vocabulary;
  const assets = await all("/assets");
  const set = (f) => [...new Set(assets.flatMap(f))].sort();
  vocabulary = {
    key: assets.map((a) => a.key).sort(),
    group: set((a) => [a.group]),
    kind: set((a) => a.kinds),
    owner: set((a) => a.owners),
    tag: set((a) => Object.entries(a.tags).map(([k, v]) => (v ? `${k}=${v}` : k))),
  };
  return vocabulary;
}

const list = document.getElementById("suggest");
let choices = [];
let chosen = -1;
function hideSuggestions() { list.hidden = true; choices = []; chosen = -1; }

input.addEventListener("input", async () => {
  const upto = input.value.slice(0, input.selectionStart);
  const token = upto.match(/[^\s()]*$/)[0].replace(/^[+]+/, "");
  if (!token) return hideSuggestions();
  const v = await words();
  const attr = token.match(/^(key|group|kind|owner|tag):(.*)$/);
  let found;
  if (attr) {
    found = v[attr[1]].filter((w) => w.startsWith(attr[2])).map((w) => [`${attr[1]}:${w}`, attr[1]]);
  } else {
    found = [
      ...WORDS.filter((w) => w.startsWith(token)).map((w) => [w, "syntax"]),
      ...v.key.filter((k) => k.startsWith(token)).map((k) => [k, "asset"]),
    ];
  }
  choices = found.slice(0, 12);
  chosen = -1;
  list.innerHTML = choices.map(([w, what], i) =>
    `<li role="option" data-i="${i}">${h(w)}<small>${h(what)}</small></li>`).join("");
  list.hidden = choices.length === 0;
});

function accept(i) {
  const [word] = choices[i];
  const at = input.selectionStart;
  const before = input.value.slice(0, at).replace(/[^\s()+]*$/, "");
  input.value = before + word + input.value.slice(at);
  hideSuggestions();
  input.focus();
}
list.addEventListener("mousedown", (e) => {
  const li = e.target.closest("li");
  if (li) { e.preventDefault(); accept(Number(li.dataset.i)); }
});
input.addEventListener("keydown", (e) => {
  if (list.hidden) return;
  if (e.key === "ArrowDown" || e.key === "ArrowUp") {
    e.preventDefault();
    chosen = (chosen + (e.key === "ArrowDown" ? 1 : choices.length - 1)) % choices.length;
    for (const li of list.children) li.setAttribute("aria-selected", String(Number(li.dataset.i) === chosen));
  } else if ((e.key === "Enter" || e.key === "Tab") && chosen >= 0) {
    e.preventDefault();
    accept(chosen);
  } else if (e.key === "Escape") {
    hideSuggestions();
  }
});
input.addEventListener("blur", () => setTimeout(hideSuggestions, 150));

// Keyboard: "/" focuses the search, "g" the graph, "a" assets, "r" runs.
document.addEventListener("keydown", (e) => {
  if (e.target.closest("input, textarea, select")) return;
  const to = { "/": null, g: "/", a: "/assets", r: "/runs", s: "/schedules" }[e.key];
  if (to === undefined) return;
  e.preventDefault();
  if (to === null) input.focus();
  else navigate(to);
});

render();
