// One asset (`/assets/<key>`): its definition, state and why it is stale, partitions, plots
// of every numeric metadata key over its materializations, history, checks, column lineage,
// and a form to materialize it.

import { ago, ApiError, get, h, post, state, when } from "../api.js";
import { plot } from "../plot.js";

export async function mount(el, { match, params, navigate }) {
  const key = match[1];
  const enc = encodeURIComponent(key);
  // The partitions (ranges, fast at any size) are drawn as soon as they arrive, before the
  // asset's judged state (which takes longer at a million partitions).
  el.innerHTML = `<div class="page"><p class="muted"><a href="/assets" data-link>Assets</a></p>
    <h1>${h(key)}</h1><div id="partitions"></div><p class="muted" id="loading">loading…</p></div>`;
  const early = el.querySelector("#partitions");
  const partitions = get(`/assets/${enc}/partitions`)
    .then((p) => { drawPartitions(early, p); return p; })
    .catch(() => null);
  const [detail, history] = await Promise.all([
    get(`/assets/${enc}`),
    get(`/assets/${enc}/history`, { limit: 200 }),
  ]);
  const d = detail.definition, s = detail.status;
  const latest = s.materializations[0];
  el.innerHTML = `
    <div class="page">
      <p class="muted"><a href="/assets" data-link>Assets</a> / ${h(d.group)}</p>
      <h1>${h(d.key)} ${state(s.state)}</h1>
      <p>${h(d.description || "")}</p>
      <div id="partitions"></div>
      <p>
        <a href="/?select=${encodeURIComponent(`2+key:${d.key}+2`)}&asset=${enc}" data-link>Lineage neighbourhood (2+${h(d.key)}+2)</a>
      </p>
      <div class="cards">
        <div class="card"><dl class="kv">
          <dt>group</dt><dd>${h(d.group)}</dd>
          <dt>kinds</dt><dd class="chips">${d.kinds.map((k) => `<span>${h(k)}</span>`).join("")}</dd>
          <dt>owners</dt><dd>${h(d.owners.join(", ") || "–")}</dd>
          <dt>tags</dt><dd class="chips">${Object.entries(d.tags).map(([k, v]) => `<span>${h(k)}=${h(v)}</span>`).join("") || "–"}</dd>
          <dt>code version</dt><dd class="mono">${h(d.code_version || "–")}</dd>
          <dt>IO manager</dt><dd>${h(d.io_manager)}</dd>
          <dt>pool</dt><dd>${h(d.pool || "–")}</dd>
          <dt>deps</dt><dd>${d.deps.map((x) => `<a href="/assets/${encodeURIComponent(x.key)}" data-link>${h(x.key)}</a>`).join(", ") || "–"}</dd>
          <dt>partitions</dt><dd>${d.partitions ? h(`${d.partitions.kind}, ${d.partitions.count}`) : "–"}</dd>
          <dt>checks</dt><dd>${h(d.checks.join(", ") || "–")}</dd>
        </dl></div>
        <div class="card"><dl class="kv">
          <dt>state</dt><dd>${state(s.state)}</dd>
          <dt>why</dt><dd>${h(s.causes.join("; ") || "–")}</dd>
          <dt>last</dt><dd>${latest ? `${h(ago(latest.timestamp))} · <a href="/runs/${h(latest.run_id)}" data-link>run ${h((latest.run_id || "").slice(0, 8))}</a>` : "never materialized"}</dd>
          <dt>data version</dt><dd class="mono">${h(latest ? latest.data_version.slice(0, 16) : "–")}</dd>
          <dt>rows</dt><dd>${h(latest?.rows ?? "–")}</dd>
          <dt>bytes</dt><dd>${h(latest?.bytes ?? "–")}</dd>
        </dl></div>
        <form class="card" id="launch">
          <strong>Materialize</strong>
          ${d.partitions ? `<p><label>partition <input name="partition" list="keys" placeholder="${h(d.partitions.keys[0] || "")}" value="${h(params.get("partition") || "")}"></label>
            <datalist id="keys">${d.partitions.keys.slice(-500).map((k) => `<option value="${h(k)}">`).join("")}</datalist></p>` : ""}
          <p><label>config <textarea name="config" rows="2" placeholder="name=value, one per line" style="width:100%"></textarea></label></p>
          <p><label><input type="checkbox" name="force"> force (even if up to date)</label></p>
          <button class="primary">Materialize ${h(d.key)}</button>
          <p id="launched" class="muted"></p>
        </form>
      </div>
      <div id="why"></div>
      <h2>Metadata over time</h2><div class="cards" id="plots"></div>
      <h2>Materializations</h2><div id="history"></div>
      <h2>Checks</h2><div id="checks"></div>
      <div id="columns"></div>
    </div>`;

  // Why stale: the tree of causes down to its roots.
  if (s.state === "stale" || s.state === "partial") {
    get(`/assets/${enc}/why-stale`, { partition: params.get("partition") || undefined }).then((why) => {
      const node = (n) => `<li><a href="/assets/${encodeURIComponent(n.asset)}" data-link>${h(n.asset)}</a>${n.partition ? ` [${h(n.partition)}]` : ""}
        ${state(n.state)}${n.repeated ? ` <span class="muted">(above)</span>` : ""}
        ${n.causes.length ? `<span class="muted">— ${h(n.causes.map(cause).join("; "))}</span>` : ""}
        ${n.upstream.length ? `<ul>${n.upstream.map(node).join("")}</ul>` : ""}
        ${n.more ? `<div class="muted">and ${n.more} more</div>` : ""}</li>`;
      el.querySelector("#why").innerHTML = `<h2>Why stale</h2><div class="card tree">${why.tree ? `<ul>${node(why.tree)}</ul>` : ""}
        <p><strong>Root causes:</strong> ${why.root_causes.map((r) => `${h(r.asset)}${r.partition ? ` [${h(r.partition)}]` : ""}: ${h(r.causes.map(cause).join("; "))}`).join(" · ") || "–"}</p></div>`;
    }).catch(() => {});
  }

  // The partitions drawn early move into the page.
  const drawn = await partitions;
  if (d.partitions && drawn) el.querySelector("#partitions").replaceWith(early);

  early.addEventListener("pick", (e) => pick(...e.detail));
  function pick(first, last) {
    const form = el.querySelector("#launch");
    if (!form) return;
    form.dataset.range = JSON.stringify([first, last]);
    if (form.partition) form.partition.value = first === last ? first : `${first}…${last}`;
    form.scrollIntoView({ behavior: "smooth" });
  }

  // Plots: every numeric metadata key (and rows, bytes) over the materializations.
  const mats = history.items.filter((e) => e.type === "materialization").reverse();
  const series = new Map();
  for (const m of mats) {
    const add = (name, v) => { if (typeof v === "number" && Number.isFinite(v)) { if (!series.has(name)) series.set(name, []); series.get(name).push({ t: m.timestamp, v, run: m.run_id }); } };
    add("rows", m.rows);
    add("bytes", m.bytes);
    for (const [name, value] of Object.entries(m.metadata || {})) {
      if (name === "bytes" || name === "rows") continue;
      if (value && (value.type === "int" || value.type === "float")) add(name, value.value);
    }
  }
  const plots = el.querySelector("#plots");
  if (series.size === 0) plots.innerHTML = `<p class="muted">No numeric metadata yet.</p>`;
  for (const [name, points] of series) {
    const box = document.createElement("div");
    box.dataset.plot = name;
    plots.append(box);
    plot(box, name, points);
  }

  el.querySelector("#history").innerHTML = mats.length ? `<table class="list"><thead><tr><th>when</th><th>run</th><th>partition</th><th>data version</th><th>rows</th><th>bytes</th></tr></thead><tbody>
    ${mats.slice().reverse().map((m) => `<tr><td>${h(when(m.timestamp))}</td><td><a href="/runs/${h(m.run_id)}" data-link class="mono">${h((m.run_id || "reported").slice(0, 8))}</a></td>
      <td>${h(m.partition || "")}</td><td class="mono">${h(m.data_version.slice(0, 12))}</td><td>${h(m.rows ?? "")}</td><td>${h(m.bytes ?? "")}</td></tr>`).join("")}
    </tbody></table>` : `<p class="muted">Never materialized.</p>`;

  el.querySelector("#checks").innerHTML = s.checks.length ? `<table class="list"><thead><tr><th>check</th><th>result</th><th>severity</th><th>partition</th><th>said</th></tr></thead><tbody>
    ${s.checks.map((c) => `<tr><td>${h(c.check)}</td><td>${state(c.passed ? "success" : "failure")}</td><td>${h(c.severity)}</td><td>${h(c.partition || "")}</td><td>${h(c.description || "")}</td></tr>`).join("")}
    </tbody></table>` : `<p class="muted">${d.checks.length ? "Not evaluated yet." : "No checks."}</p>`;

  // Column lineage, for SQL assets.
  get(`/assets/${enc}/columns`).then((cols) => {
    const rows = (cols.columns || []).map((c) => `<tr><td class="mono">${h(c.name || c.column)}</td><td class="mono">${h((c.sources || c.from || []).map((x) => (typeof x === "string" ? x : `${x.asset}.${x.column}`)).join(", "))}</td></tr>`);
    if (rows.length) el.querySelector("#columns").innerHTML = `<h2>Column lineage</h2><table class="list"><thead><tr><th>column</th><th>made from</th></tr></thead><tbody>${rows.join("")}</tbody></table>`;
  }).catch(() => {});

  // Launch.
  const form = el.querySelector("#launch");
  form.onsubmit = async (e) => {
    e.preventDefault();
    const body = { selection: `key:${d.key}`, force: form.force.checked };
    const config = {};
    for (const line of form.config.value.split("\n")) {
      const m = line.match(/^\s*([^=\s]+)\s*=\s*(.*?)\s*$/);
      if (m) config[m[1]] = m[2];
    }
    if (Object.keys(config).length) body.config = config;
    const range = form.dataset.range ? JSON.parse(form.dataset.range) : null;
    const partition = form.partition ? form.partition.value.trim() : "";
    if (range && partition.includes("…")) body.range = { from: range[0], to: range[1] };
    else if (partition) body.partitions = [partition];
    const out = el.querySelector("#launched");
    try {
      const launched = await post("/runs", body);
      out.innerHTML = launched.run_id
        ? `launched <a href="/runs/${h(launched.run_id)}" data-link>run ${h(launched.run_id.slice(0, 8))}</a> (${launched.steps} steps)`
        : "nothing to do: up to date (tick force to run anyway)";
    } catch (err) {
      out.textContent = err instanceof ApiError ? err.message : String(err);
    }
  };
  void navigate;
}

/** A health bar of an asset's partitions, drawn from the ranges (never one element per
 * partition); clicking a range picks it in the launch form. */
function drawPartitions(section, p) {
  const colours = { materialized: "var(--fresh)", in_progress: "var(--running)", failed: "var(--failed)", missing: "var(--missing)" };
  const bar = document.createElement("canvas");
  bar.width = 1200; bar.height = 18;
  bar.className = "health";
  bar.style.width = "100%";
  bar.setAttribute("role", "img");
  bar.setAttribute("aria-label", Object.keys(colours).map((k) => `${p[k].count} ${k}`).join(", "));
  const c = bar.getContext("2d");
  const css = (v) => getComputedStyle(document.documentElement).getPropertyValue(v.slice(4, -1)).trim();
  // Each pixel column stands for total / width partitions: its height is split among the
  // states by how many of them it holds, and a column holding any failure is marked on top.
  const W = bar.width, H = bar.height, per = p.total / W;
  const share = {};
  for (const k of Object.keys(colours)) {
    const col = (share[k] = new Float64Array(W));
    for (const [a, b] of p[k].positions) {
      const from = a / per, to = (b + 1) / per;
      for (let x = Math.floor(from); x < Math.min(W, Math.ceil(to)); x++) {
        col[x] += Math.min(to, x + 1) - Math.max(from, x);
      }
    }
  }
  for (let x = 0; x < W; x++) {
    let total = 0;
    for (const k of Object.keys(colours)) total += share[k][x];
    let y = H;
    for (const [k, colour] of Object.entries(colours)) {
      const hgt = total ? (share[k][x] / total) * H : 0;
      if (hgt <= 0) continue;
      c.fillStyle = css(colour);
      c.fillRect(x, y - hgt, 1, hgt);
      y -= hgt;
    }
    if (share.failed[x] > 0) {
      c.fillStyle = css(colours.failed);
      c.fillRect(x, 0, 1, 4);
    }
  }
  section.innerHTML = `<h2>Partitions</h2><p class="muted">${h(p.definition)}: ${Object.keys(colours).map((k) => `${state(k === "materialized" ? "fresh" : k === "in_progress" ? "running" : k)} ${p[k].count.toLocaleString()}`).join(" · ")}</p>`;
  section.append(bar);
  performance.mark("stemma-partitions-drawn");
  const ranges = document.createElement("p");
  ranges.className = "muted";
  ranges.innerHTML = `Missing and failed ranges: ${[...p.failed.ranges, ...p.missing.ranges].slice(0, 20).map(([a, b]) =>
    `<a href="#" data-range="${h(a)}|${h(b)}">${h(a === b ? a : `${a} … ${b}`)}</a>`).join(", ") || "none"}`;
  section.append(ranges);
  bar.onclick = (e) => {
    const r = bar.getBoundingClientRect();
    const at = Math.floor(((e.clientX - r.left) / r.width) * p.total);
    for (const k of Object.keys(colours)) {
      const hit = p[k].positions.findIndex(([a, b]) => a <= at && at <= b);
      if (hit >= 0) return section.dispatchEvent(new CustomEvent("pick", { detail: p[k].ranges[hit] }));
    }
  };
  for (const a of ranges.querySelectorAll("[data-range]")) {
    a.onclick = (e) => { e.preventDefault(); section.dispatchEvent(new CustomEvent("pick", { detail: a.dataset.range.split("|") })); };
  }
}

/** One cause of staleness in words: its kind, then its details (versions shortened). */
function cause(c) {
  const short = (v) => (typeof v === "string" && /^[0-9a-f]{20,}$/.test(v) ? v.slice(0, 12) : v);
  const details = Object.entries(c)
    .filter(([k, v]) => k !== "cause" && v !== null && v !== undefined)
    .map(([k, v]) => `${k} ${short(typeof v === "object" ? JSON.stringify(v) : v)}`);
  return `${String(c.cause || "changed").replace(/_/g, " ")}${details.length ? ` (${details.join(", ")})` : ""}`;
}
