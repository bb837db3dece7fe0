// The asset catalog (`/assets`): every asset of a selection, filterable by group, kind, owner,
// tag and state, with counts.

import { all, ApiError, h, state } from "../api.js";

const STATES = ["fresh", "stale", "partial", "missing", "failed"];

export async function mount(el, { params, navigate, showError }) {
  let assets;
  try {
    assets = await all("/assets", { select: params.get("select") || undefined });
  } catch (e) {
    if (e instanceof ApiError && e.status === 400) {
      showError(e);
      el.innerHTML = `<div class="page"><h1>Assets</h1><p class="muted">The selection is not valid.</p></div>`;
      return;
    }
    throw e;
  }
  const distinct = (f) => [...new Set(assets.flatMap(f))].sort();
  const options = {
    group: distinct((a) => [a.group]),
    kind: distinct((a) => a.kinds),
    owner: distinct((a) => a.owners),
    tag: distinct((a) => Object.entries(a.tags).map(([k, v]) => `${k}=${v}`)),
    state: STATES,
  };
  const counts = Object.fromEntries(STATES.map((s) => [s, assets.filter((a) => a.state === s).length]));
  el.innerHTML = `
    <div class="page">
      <h1>Assets</h1>
      <p class="muted">${assets.length} assets · ${STATES.filter((s) => counts[s]).map((s) => `${state(s)} ${counts[s]}`).join(" · ")}</p>
      <div class="filters">
        <input id="text" placeholder="Filter by key or description" value="${h(params.get("q") || "")}" aria-label="Filter by text">
        ${Object.entries(options).map(([name, values]) => `
          <label>${name} <select data-filter="${name}"><option value="">any</option>
            ${values.map((v) => `<option ${params.get(name) === v ? "selected" : ""}>${h(v)}</option>`).join("")}
          </select></label>`).join("")}
        <span id="shown" class="muted"></span>
      </div>
      <table class="list"><thead><tr><th>asset</th><th>state</th><th>group</th><th>kinds</th><th>owners</th><th>partitions</th><th>checks</th></tr></thead>
      <tbody id="rows"></tbody></table>
    </div>`;
  const text = el.querySelector("#text");
  const selects = [...el.querySelectorAll("[data-filter]")];
  function show() {
    const q = text.value.toLowerCase();
    const want = Object.fromEntries(selects.map((s) => [s.dataset.filter, s.value]));
    const shown = assets.filter((a) =>
      (!q || a.key.toLowerCase().includes(q) || (a.description || "").toLowerCase().includes(q)) &&
      (!want.group || a.group === want.group) &&
      (!want.kind || a.kinds.includes(want.kind)) &&
      (!want.owner || a.owners.includes(want.owner)) &&
      (!want.tag || Object.entries(a.tags).some(([k, v]) => `${k}=${v}` === want.tag)) &&
      (!want.state || a.state === want.state));
    el.querySelector("#shown").textContent = `${shown.length} shown`;
    el.querySelector("#rows").innerHTML = shown.slice(0, 2000).map((a) => `
      <tr><td><a href="/assets/${encodeURIComponent(a.key)}" data-link>${h(a.key)}</a>
        <div class="muted" style="font-size:12px">${h((a.description || "").split("\n")[0].slice(0, 120))}</div></td>
        <td>${state(a.state)}</td><td>${h(a.group)}</td><td class="chips">${a.kinds.map((k) => `<span>${h(k)}</span>`).join("")}</td>
        <td>${h(a.owners.join(", "))}</td>
        <td>${a.partitions ? `${a.partitions.fresh}/${a.partition_count} fresh` : ""}</td><td>${a.checks || ""}</td></tr>`).join("");
    const next = new URLSearchParams(location.search);
    for (const [k, v] of Object.entries(want)) v ? next.set(k, v) : next.delete(k);
    q ? next.set("q", text.value) : next.delete("q");
    history.replaceState(null, "", `/assets${next.toString() ? "?" + next : ""}`);
  }
  text.oninput = show;
  for (const s of selects) s.onchange = show;
  show();
  void navigate;
}
