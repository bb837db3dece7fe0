// A line plot of one numeric series over time, in SVG, with the value under the pointer.

import { h, when } from "./api.js";

/** Draws `points` ([{t: µs, v: number, run}]) into `el` under `title`. */
export function plot(el, title, points) {
  const W = 420, H = 160, L = 48, R = 10, T = 10, B = 22;
  const ts = points.map((p) => p.t), vs = points.map((p) => p.v);
  const t0 = Math.min(...ts), t1 = Math.max(...ts);
  let v0 = Math.min(...vs), v1 = Math.max(...vs);
  if (v0 === v1) { v0 -= Math.abs(v0) * 0.1 || 1; v1 += Math.abs(v1) * 0.1 || 1; }
  const x = (t) => (t1 === t0 ? (L + W - R) / 2 : L + ((t - t0) / (t1 - t0)) * (W - L - R));
  const y = (v) => T + (1 - (v - v0) / (v1 - v0)) * (H - T - B);
  const fmt = (v) => (Math.abs(v) >= 1000 || Number.isInteger(v) ? v.toLocaleString() : v.toPrecision(4));
  const path = points.map((p, i) => `${i ? "L" : "M"}${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`).join("");
  el.innerHTML = `
    <div class="card">
      <div><strong>${h(title)}</strong> <span class="muted" data-value>latest ${h(fmt(vs[vs.length - 1]))}</span></div>
      <svg class="plot" viewBox="0 0 ${W} ${H}" role="img" aria-label="${h(title)} over time">
        <line class="axis" x1="${L}" y1="${H - B}" x2="${W - R}" y2="${H - B}"/>
        <line class="axis" x1="${L}" y1="${T}" x2="${L}" y2="${H - B}"/>
        <text x="${L - 4}" y="${T + 8}" text-anchor="end">${h(fmt(v1))}</text>
        <text x="${L - 4}" y="${H - B}" text-anchor="end">${h(fmt(v0))}</text>
        <text x="${L}" y="${H - 6}">${h(new Date(t0 / 1000).toLocaleDateString())}</text>
        <text x="${W - R}" y="${H - 6}" text-anchor="end">${h(new Date(t1 / 1000).toLocaleString())}</text>
        <path class="line" d="${path}"/>
        ${points.map((p) => `<circle class="dot" cx="${x(p.t).toFixed(1)}" cy="${y(p.v).toFixed(1)}" r="2.5"/>`).join("")}
        <circle class="hover" r="4" cx="-10" cy="-10"/>
        <rect x="${L}" y="${T}" width="${W - L - R}" height="${H - T - B}" fill="transparent"/>
      </svg>
    </div>`;
  const svg = el.querySelector("svg"), dot = el.querySelector(".hover"), label = el.querySelector("[data-value]");
  svg.addEventListener("pointermove", (e) => {
    const r = svg.getBoundingClientRect();
    const px = ((e.clientX - r.left) / r.width) * W;
    let best = 0;
    points.forEach((p, i) => { if (Math.abs(x(p.t) - px) < Math.abs(x(points[best].t) - px)) best = i; });
    const p = points[best];
    dot.setAttribute("cx", x(p.t));
    dot.setAttribute("cy", y(p.v));
    label.textContent = `${fmt(p.v)} at ${when(p.t)}`;
  });
}
