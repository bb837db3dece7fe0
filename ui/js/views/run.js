// One run (`/runs/<id>`): a live timeline of its steps with their load, compute, hash and
// store phases, its logs filterable by step and level with a live tail, and cancel, resume,
// re-execute from failure.

import { all, follow, get, h, post, state, when } from "../api.js";

const PHASES = ["load", "compute", "hash", "store"];

export async function mount(el, { match, navigate }) {
  const id = match[1];
  el.innerHTML = `<div class="page"><p class="muted"><a href="/runs" data-link>Runs</a></p><div id="head"></div>
    <h2>Timeline</h2><div class="gantt" id="gantt"></div>
    <p class="muted">${PHASES.map((p) => `<span class="phase-${p}" style="display:inline-block;width:10px;height:10px"></span> ${p}`).join(" &nbsp; ")}</p>
    <h2>Logs</h2>
    <div class="filters"><label>step <select id="step"><option value="">all</option></select></label>
      <label>level <select id="level"><option value="">all</option><option>info</option><option>warn</option><option>error</option></select></label>
      <label><input type="checkbox" id="tail" checked> follow</label></div>
    <div class="logs" id="logs" aria-live="polite"></div></div>`;
  let logs = [];
  let started = new Map();

  async function load() {
    const [run, events] = await Promise.all([get(`/runs/${id}`), all(`/runs/${id}/events`)]);
    started = new Map();
    logs = [];
    for (const e of events) {
      if (e.type === "step_started" && e.asset) started.set(e.asset + (e.partition ? `[${e.partition}]` : ""), e.timestamp);
      if (e.type === "log") logs.push(e);
    }
    draw(run);
    drawLogs();
    return run;
  }

  function draw(run) {
    const live = run.status === "started" || run.status === "queued" || run.status === "canceling";
    el.querySelector("#head").innerHTML = `
      <h1>Run <span class="mono">${h(id.slice(0, 8))}</span> ${state(run.status)}</h1>
      <p class="muted mono">${h(id)}</p>
      <dl class="kv"><dt>selection</dt><dd class="mono">${h(run.selection)}</dd>
        <dt>partition</dt><dd>${h(run.partition || "–")}</dd>
        <dt>started</dt><dd>${h(when(run.started_at))}</dd><dt>ended</dt><dd>${h(when(run.ended_at))}</dd>
        <dt>config</dt><dd class="mono">${h(Object.entries(run.config).map(([k, v]) => `${k}=${v}`).join(" ") || "–")}</dd>
        ${run.message ? `<dt>message</dt><dd class="error-box">${h(run.message)}</dd>` : ""}</dl>
      <p><button id="cancel" ${live ? "" : "disabled"}>Cancel</button>
         <button id="resume" ${run.status === "failure" || run.status === "canceled" ? "" : "disabled"}>Resume from failure</button>
         <span id="said" class="muted"></span></p>`;
    el.querySelector("#cancel").onclick = () => act("cancel");
    el.querySelector("#resume").onclick = () => act("resume");

    const t0 = run.started_at ? Date.parse(run.started_at) * 1000 : Math.min(...started.values());
    const ends = run.steps.map((s) => (started.get(s.step) ?? t0) + (s.duration_ms ?? 0) * 1000);
    const t1 = Math.max(t0 + 1000, run.ended_at ? Date.parse(run.ended_at) * 1000 : Date.now() * 1000, ...ends);
    const span = t1 - t0;
    const select = el.querySelector("#step");
    const chosen = select.value;
    select.innerHTML = `<option value="">all</option>${run.steps.map((s) => `<option ${s.step === chosen ? "selected" : ""}>${h(s.step)}</option>`).join("")}`;
    el.querySelector("#gantt").innerHTML = run.steps.map((s) => {
      const at = started.get(s.step);
      const left = at === undefined ? 0 : ((at - t0) / span) * 100;
      const dur = s.duration_ms ?? (at !== undefined && s.status === "running" ? (Date.now() * 1000 - at) / 1000 : 0);
      const width = Math.max(0.3, ((dur * 1000) / span) * 100);
      const phases = s.phases
        ? PHASES.map((p) => `<i class="phase-${p}" title="${p} ${s.phases[`${p}_ms`].toFixed(1)} ms" style="width:${(100 * s.phases[`${p}_ms`]) / Math.max(dur, 1e-9)}%"></i>`).join("")
          + `<i class="phase-other" style="flex:1"></i>`
        : `<i class="phase-other" style="width:100%"></i>`;
      return `<div class="row" data-step="${h(s.step)}"><span title="${h(s.error || "")}">${state(s.status)} ${h(s.step)}</span>
        <div class="track">${at === undefined ? "" : `<div class="bar" style="left:${left}%;width:${width}%">${phases}</div>`}</div>
        <span class="muted">${s.duration_ms !== null && s.duration_ms !== undefined ? `${s.duration_ms.toFixed(1)} ms` : ""}</span></div>`;
    }).join("") || `<p class="muted">No steps.</p>`;
    document.body.dataset.runStatus = run.status;
  }

  function drawLogs() {
    const step = el.querySelector("#step").value, level = el.querySelector("#level").value;
    const box = el.querySelector("#logs");
    box.innerHTML = logs
      .filter((l) => (!step || l.asset === step) && (!level || l.level === level))
      .map((l) => `<div class="${h(l.level)}">${h(new Date(l.timestamp / 1000).toLocaleTimeString())} ${h(l.level.padEnd(5))} ${h(l.asset || "")}  ${h(l.message)}</div>`)
      .join("") || `<span class="muted">No logs.</span>`;
    if (el.querySelector("#tail").checked) box.scrollTop = box.scrollHeight;
  }
  el.querySelector("#step").onchange = drawLogs;
  el.querySelector("#level").onchange = drawLogs;

  async function act(what) {
    try {
      const out = await post(`/runs/${id}/${what}`);
      if (what === "resume" && out.run_id) navigate(`/runs/${out.run_id}`);
      else el.querySelector("#said").textContent = `${what} asked`;
    } catch (e) {
      el.querySelector("#said").textContent = e.message;
    }
  }

  await load();
  let timer = null;
  const stop = follow({ run: id }, () => {
    clearTimeout(timer);
    timer = setTimeout(load, 150);
  });
  return () => { stop(); clearTimeout(timer); };
}
