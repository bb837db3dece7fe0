// The lineage graph (`/`): the whole graph or a selection, laid out by the server, coloured
// by state and kept live from the event stream. Click a node to open it in the side panel,
// shift-click to build a selection, hover to light its upstream and downstream.

import { ago, ApiError, follow, get, h, layout as fetchLayout, post, state } from "../api.js";
import { GraphRenderer } from "../graph/render.js";

export async function mount(el, { params, navigate, showError }) {
  const select = params.get("select") || "";
  const level = params.get("level") || "auto";
  el.innerHTML = `
    <div class="graph" id="graph">
      <div class="toolbar">
        <span class="count" id="count">loading…</span>
        <button id="fit" title="Fit the graph (f)">Fit</button>
        <button id="level"></button>
        <button id="path" disabled title="Light the paths between the two picked assets">Path between</button>
        <button id="run" class="primary" disabled>Materialize picked</button>
        <button id="clear" disabled>Clear</button>
        <span id="note" class="count" hidden></span>
      </div>
      <div class="legend" aria-label="States">${["fresh", "stale", "missing", "failed", "running"].map(state).join("")}</div>
      <aside class="side" id="side" hidden></aside>
    </div>`;
  const host = el.querySelector("#graph");
  const side = el.querySelector("#side");
  const note = el.querySelector("#note");
  let data;
  try {
    data = await fetchLayout({ select, level });
  } catch (e) {
    if (e instanceof ApiError && e.status === 400) {
      showError(e);
      el.querySelector("#count").textContent = "invalid selection";
      for (const b of el.querySelectorAll(".toolbar button")) b.hidden = true;
      return;
    }
    throw e;
  }
  const groups = data.level === "groups";
  const index = new Map(data.keys.map((k, i) => [k, i]));
  let states = null;

  const renderer = new GraphRenderer(host, {
    label(i, box) {
      if (groups) {
        box.className = "node group";
        box.innerHTML = `<div class="key">${h(data.keys[i])}</div><div class="meta"><span>${data.size[i]} assets</span><span>group</span></div>`;
        return;
      }
      const s = renderer.state[i] || "missing";
      box.className = `node ${s}`;
      const checks = states ? states.checks[i] : 0;
      const failed = states ? states.checks_failed[i] : 0;
      const parts = states && states.partitions[i];
      const total = parts ? parts[0] + parts[1] + parts[2] : 0;
      box.innerHTML = `
        <div class="key" title="${h(data.keys[i])}">${h(data.keys[i])}</div>
        <div class="meta">
          <span class="state ${h(s)}">${h(s)}</span>
          <span>${states ? h(ago(states.materialized_at[i])) : ""}</span>
          ${checks ? `<span title="checks">${failed ? `✕ ${failed}/${checks}` : `✓ ${checks}`}</span>` : ""}
          <span>${states ? h(states.kinds[i].join(" ")) : ""}</span>
        </div>
        ${parts && total ? `<div class="health" style="height:4px;margin-top:3px" title="${parts[0]} fresh, ${parts[1]} stale, ${parts[2]} missing">
          <span style="width:${(100 * parts[0]) / total}%;background:var(--fresh)"></span>
          <span style="width:${(100 * parts[1]) / total}%;background:var(--stale)"></span></div>` : ""}`;
    },
    click(i, event) {
      if (i === null) return;
      if (groups) {
        navigate(`/?select=${encodeURIComponent(`group:${data.keys[i]}`)}`);
      } else if (event.shiftKey) {
        renderer.marked.has(i) ? renderer.marked.delete(i) : renderer.marked.add(i);
        picked();
      } else {
        open(i);
      }
    },
    dblclick(i) {
      if (!groups) navigate(`/assets/${encodeURIComponent(data.keys[i])}`);
    },
    hover(i) {
      if (renderer.pathLit) return;
      light(i === null ? null : around(i));
    },
  });
  renderer.setLayout(data);
  const count = el.querySelector("#count");
  count.textContent = groups
    ? `${data.keys.length} groups of ${data.size.reduce((a, b) => a + b, 0)} assets`
    : `${data.keys.length} assets · ${data.from.length} edges`;
  const levelButton = el.querySelector("#level");
  levelButton.textContent = groups ? "Show every asset" : "Show groups";
  levelButton.onclick = () => {
    const next = new URLSearchParams(params);
    next.set("level", groups ? "assets" : "groups");
    navigate(`/?${next}`);
  };
  el.querySelector("#fit").onclick = () => renderer.fit();

  async function refresh() {
    if (groups) return;
    states = await get("/lineage/states", { select });
    const byIndex = new Array(data.keys.length).fill("missing");
    states.keys.forEach((k, j) => { if (index.has(k)) byIndex[index.get(k)] = running.has(k) ? "running" : states.state[j]; });
    // Align the columns with the layout's order.
    const order = states.keys.map((k) => index.get(k));
    const aligned = (col) => { const out = new Array(data.keys.length); order.forEach((i, j) => { out[i] = col[j]; }); return out; };
    states = { ...states, checks: aligned(states.checks), checks_failed: aligned(states.checks_failed), partitions: aligned(states.partitions), kinds: aligned(states.kinds), materialized_at: aligned(states.materialized_at), state: aligned(states.state) };
    renderer.setStates(byIndex);
    renderer.relabel();
    document.body.dataset.graphStates = "loaded";
  }
  const running = new Set();
  let timer = null;
  const soon = () => { clearTimeout(timer); timer = setTimeout(refresh, 300); };
  await refresh();

  // Live: running while a step runs; the judged states again once anything lands.
  const live = document.getElementById("live");
  const stop = follow({}, (ev) => {
    if (!ev.asset || !index.has(ev.asset)) {
      if (ev.type === "run_ended") soon();
      return;
    }
    const i = index.get(ev.asset);
    if (ev.type === "step_started") {
      running.add(ev.asset);
      renderer.state[i] = "running";
      renderer.relabel();
    } else if (["step_succeeded", "step_failed", "step_skipped", "step_up_to_date", "materialization"].includes(ev.type)) {
      running.delete(ev.asset);
      if (ev.type === "step_failed") { renderer.state[i] = "failed"; renderer.relabel(); }
      soon();
    }
  }, (on) => live.classList.toggle("on", on));

  // Upstream and downstream of a node.
  function walk(start, edges, next) {
    const seen = new Set([start]), lit = new Set(), queue = [start];
    while (queue.length && seen.size < 50000) {
      const v = queue.pop();
      for (const e of edges[v]) {
        lit.add(e);
        const u = next(e);
        if (!seen.has(u)) { seen.add(u); queue.push(u); }
      }
    }
    return [seen, lit];
  }
  function around(i) {
    const [up, upEdges] = walk(i, renderer.inn, (e) => data.from[e]);
    const [down, downEdges] = walk(i, renderer.out, (e) => data.to[e]);
    return [new Set([...up, ...down]), new Set([...upEdges, ...downEdges])];
  }
  function light(lit) {
    renderer.lit = lit ? lit[0] : null;
    renderer.litEdges = lit ? lit[1] : null;
    renderer.request();
  }

  function picked() {
    const n = renderer.marked.size;
    el.querySelector("#run").disabled = n === 0;
    el.querySelector("#clear").disabled = n === 0;
    el.querySelector("#path").disabled = n !== 2;
    el.querySelector("#run").textContent = n ? `Materialize ${n} picked` : "Materialize picked";
    renderer.request();
  }
  el.querySelector("#clear").onclick = () => { renderer.marked.clear(); renderer.pathLit = false; light(null); picked(); };
  el.querySelector("#path").onclick = () => {
    const [a, b] = [...renderer.marked];
    const between = (x, y) => {
      const [down, downEdges] = walk(x, renderer.out, (e) => data.to[e]);
      const [up, upEdges] = walk(y, renderer.inn, (e) => data.from[e]);
      const nodes = new Set([...down].filter((v) => up.has(v)));
      const edges = new Set([...downEdges].filter((e) => upEdges.has(e) && nodes.has(data.from[e]) && nodes.has(data.to[e])));
      return [nodes, edges];
    };
    let found = between(a, b);
    if (found[0].size === 0) found = between(b, a);
    renderer.pathLit = true;
    light(found);
    note.hidden = false;
    note.textContent = found[0].size ? `${found[0].size} assets on paths between the two` : "no path between them";
  };
  el.querySelector("#run").onclick = async () => {
    const selection = [...renderer.marked].map((i) => `key:${data.keys[i]}`).join(" or ");
    try {
      const launched = await post("/runs", { selection });
      note.hidden = false;
      note.innerHTML = launched.run_id
        ? `launched <a href="/runs/${h(launched.run_id)}" data-link>run ${h(launched.run_id.slice(0, 8))}</a>`
        : "nothing to do: the picked assets are up to date";
    } catch (e) {
      note.hidden = false;
      note.textContent = e.message;
    }
  };

  // The side panel: an asset, its upstream and downstream.
  async function open(i) {
    const key = data.keys[i];
    const next = new URLSearchParams(location.search);
    next.set("asset", key);
    history.replaceState(null, "", `/?${next}`);
    const kin = (edges, end) => [...new Set(edges[i].map((e) => data[end][e]))];
    const list = (nodes) => nodes.length
      ? `<ul>${nodes.map((j) => `<li><a href="#" data-go="${j}">${h(data.keys[j])}</a> ${state(renderer.state[j] || "missing")}</li>`).join("")}</ul>`
      : `<p class="muted">none</p>`;
    side.hidden = false;
    side.innerHTML = `
      <button id="close" style="float:right" aria-label="Close">✕</button>
      <h2 style="margin-top:0">${h(key)}</h2>
      <p>${state(renderer.state[i] || "missing")}
        ${states ? `<span class="muted">· materialized ${h(ago(states.materialized_at[i]))}</span>` : ""}</p>
      <p><a href="/assets/${encodeURIComponent(key)}" data-link>Open the asset page →</a></p>
      <p><button class="primary" id="materialize-one">Materialize ${h(key)}</button> <span id="launched-one" class="muted"></span></p>
      <h2>Upstream</h2>${list(kin(renderer.inn, "from"))}
      <h2>Downstream</h2>${list(kin(renderer.out, "to"))}
      <p><button id="neighbourhood">Show only 2+${h(key)}+2</button></p>`;
    side.querySelector("#close").onclick = () => { side.hidden = true; };
    side.querySelector("#materialize-one").onclick = async () => {
      const said = side.querySelector("#launched-one");
      try {
        const launched = await post("/runs", { selection: `key:${key}` });
        said.innerHTML = launched.run_id
          ? `<a href="/runs/${h(launched.run_id)}" data-link>run ${h(launched.run_id.slice(0, 8))}</a> launched`
          : "up to date: nothing to do";
      } catch (e) {
        said.textContent = e.message;
      }
    };
    side.querySelector("#neighbourhood").onclick = () => navigate(`/?select=${encodeURIComponent(`2+key:${key}+2`)}&asset=${encodeURIComponent(key)}`);
    for (const a of side.querySelectorAll("[data-go]")) {
      a.onclick = (e) => { e.preventDefault(); const j = Number(a.dataset.go); renderer.centre(j); open(j); };
    }
  }
  const wanted = params.get("asset");
  if (wanted && index.has(wanted)) {
    renderer.centre(index.get(wanted));
    open(index.get(wanted));
  }

  const keys = (e) => {
    if (e.target.closest("input, textarea")) return;
    if (e.key === "f") renderer.fit();
    if (e.key === "+" || e.key === "=") renderer.zoomAt(renderer.width / 2, renderer.height / 2, 1.25);
    if (e.key === "-") renderer.zoomAt(renderer.width / 2, renderer.height / 2, 0.8);
    if (e.key === "Escape") { side.hidden = true; light(null); }
    if (e.key === "Enter" && e.target.closest(".node")) open(Number(e.target.closest(".node").dataset.i));
  };
  document.addEventListener("keydown", keys);
  window.__stemmaGraph = renderer;
  return () => {
    stop();
    clearTimeout(timer);
    document.removeEventListener("keydown", keys);
    renderer.destroy();
    delete window.__stemmaGraph;
  };
}
