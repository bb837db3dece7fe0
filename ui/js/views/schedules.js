// Schedules (`/schedules`): each with its cron in its zone, next fire time, recent ticks and
// on/off; and the instance: pools and their slots.

import { get, h, post, state, when } from "../api.js";

export async function mount(el) {
  const [schedules, pools] = await Promise.all([get("/schedules"), get("/pools")]);
  const list = Array.isArray(schedules) ? schedules : schedules.items || [];
  el.innerHTML = `
    <div class="page">
      <h1>Schedules</h1>
      <table class="list"><thead><tr><th>schedule</th><th>cron</th><th>zone</th><th>selects</th><th>next</th><th>state</th><th></th></tr></thead><tbody>
      ${list.map((s) => `<tr><td>${h(s.name)}<div class="muted">${h(s.description || "")}</div></td><td class="mono">${h(s.cron)}</td>
        <td>${h(s.timezone)}</td><td class="mono">${h(s.selection)}</td>
        <td>${s.next_tick ? `${h(new Date(s.next_tick).toLocaleString(undefined, { timeZone: s.timezone || undefined }))} <span class="muted">${h(s.timezone)}</span>` : "–"}</td>
        <td>${s.running ? `<span class="state fresh">on</span>` : `<span class="state missing">off</span>`}</td>
        <td><button data-toggle="${h(s.name)}" data-on="${s.running}">${s.running ? "Stop" : "Start"}</button>
            <button data-ticks="${h(s.name)}">Ticks</button></td></tr>`).join("") || `<tr><td colspan="7" class="muted">No schedules.</td></tr>`}
      </tbody></table>
      <div id="ticks"></div>
      <h2>Pools</h2>
      <table class="list"><thead><tr><th>pool</th><th>slots in use</th><th>limit</th></tr></thead><tbody>
      ${(Array.isArray(pools) ? pools : pools.items || []).map((p) => `<tr><td>${h(p.name)}</td><td>${h(p.in_use ?? p.used ?? "")}</td><td>${h(p.limit ?? "")}</td></tr>`).join("") || `<tr><td colspan="3" class="muted">No pools.</td></tr>`}
      </tbody></table>
      <p id="said" class="muted"></p>
    </div>`;
  for (const b of el.querySelectorAll("[data-toggle]")) {
    b.onclick = async () => {
      try {
        await post(`/schedules/${encodeURIComponent(b.dataset.toggle)}/${b.dataset.on === "true" ? "stop" : "start"}`);
        dispatchEvent(new PopStateEvent("popstate"));
      } catch (e) {
        el.querySelector("#said").textContent = e.message;
      }
    };
  }
  for (const b of el.querySelectorAll("[data-ticks]")) {
    b.onclick = async () => {
      const ticks = await get(`/schedules/${encodeURIComponent(b.dataset.ticks)}/ticks`, { limit: 20 });
      const items = Array.isArray(ticks) ? ticks : ticks.items || [];
      el.querySelector("#ticks").innerHTML = `<h2>Ticks of ${h(b.dataset.ticks)}</h2><table class="list"><thead><tr><th>tick</th><th>status</th><th>run</th></tr></thead><tbody>
        ${items.map((t) => `<tr><td>${h(when(t.tick_at || t.scheduled_for || t.timestamp))}</td><td>${state(t.status || "")}</td><td>${t.run_id ? `<a href="/runs/${h(t.run_id)}" data-link>${h(t.run_id.slice(0, 8))}</a>` : ""}</td></tr>`).join("") || `<tr><td colspan="3" class="muted">No ticks yet.</td></tr>`}</tbody></table>`;
    };
  }
}
