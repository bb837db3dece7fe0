// Runs (`/runs`): newest first, filterable by status and asset; backfills with their progress.

import { ago, get, h, state } from "../api.js";

export async function mount(el, { params }) {
  const status = params.get("status") || "";
  const asset = params.get("asset") || "";
  const [runs, backfills] = await Promise.all([
    get("/runs", { status: status || undefined, asset: asset || undefined, limit: 100 }),
    get("/backfills", { limit: 20 }),
  ]);
  el.innerHTML = `
    <div class="page">
      <h1>Runs</h1>
      <form class="filters" id="filters">
        <label>status <select name="status"><option value="">any</option>
          ${["queued", "started", "success", "failure", "canceled"].map((s) => `<option ${s === status ? "selected" : ""}>${s}</option>`).join("")}</select></label>
        <label>asset <input name="asset" value="${h(asset)}" placeholder="embeddings"></label>
        <button>Filter</button>
      </form>
      <table class="list"><thead><tr><th>run</th><th>status</th><th>selection</th><th>partition</th><th>started</th><th>took</th><th>steps</th></tr></thead><tbody>
      ${runs.items.map((r) => `<tr><td><a class="mono" href="/runs/${h(r.run_id)}" data-link>${h(r.run_id.slice(0, 8))}</a></td>
        <td>${state(r.status)}</td><td class="mono">${h(r.selection)}</td><td>${h(r.partition || "")}</td>
        <td>${h(r.started_at ? ago(r.started_at) : "–")}</td>
        <td>${r.started_at && r.ended_at ? `${((Date.parse(r.ended_at) - Date.parse(r.started_at)) / 1000).toFixed(2)} s` : ""}</td>
        <td>${r.planned_steps}</td></tr>`).join("") || `<tr><td colspan="7" class="muted">No runs yet.</td></tr>`}
      </tbody></table>
      <h2>Backfills</h2>
      <table class="list"><thead><tr><th>backfill</th><th>status</th><th>selection</th><th>progress</th></tr></thead><tbody>
      ${(backfills.items || []).map((b) => {
        const done = (b.runs || []).filter((r) => r.status === "success").length, total = (b.runs || []).length || 1;
        return `<tr><td class="mono">${h(String(b.backfill).slice(0, 8))}</td><td>${state(b.status)}</td><td class="mono">${h(b.selection || "")}</td>
          <td><div class="health" style="width:200px" title="${done} of ${total} runs succeeded"><span style="width:${(100 * done) / total}%;background:var(--fresh)"></span></div></td></tr>`;
      }).join("") || `<tr><td colspan="4" class="muted">No backfills.</td></tr>`}
      </tbody></table>
    </div>`;
  el.querySelector("#filters").onsubmit = (e) => {
    e.preventDefault();
    const f = new FormData(e.target);
    const q = new URLSearchParams([...f].filter(([, v]) => v));
    history.pushState(null, "", `/runs${q.toString() ? "?" + q : ""}`);
    dispatchEvent(new PopStateEvent("popstate"));
  };
}
