// The graph renderer: a canvas for the overview (edges and node boxes, no text when far out),
// DOM boxes only for the nodes in view when close enough to read them, a uniform grid that
// answers "what is in view" and "what is under the pointer", a minimap, pan and zoom. It never
// lays anything out: positions come from the server.

const CELL = 512;
const DOM_SCALE = 0.55;   // closer than this, visible nodes become DOM boxes with text
const DOM_LIMIT = 700;    // …unless there are more than this many in view
const MIN_SCALE = 0.01;
const MAX_SCALE = 2.5;

const css = (name) => getComputedStyle(document.documentElement).getPropertyValue(name).trim();

export class GraphRenderer {
  /**
   * @param {HTMLElement} host  the element to draw in (positioned)
   * @param {object} hooks      { label(i, el), click(i, event), dblclick(i), hover(i|null) }
   */
  constructor(host, hooks) {
    this.host = host;
    this.hooks = hooks;
    this.canvas = document.createElement("canvas");
    this.labels = document.createElement("div");
    this.labels.className = "labels";
    this.mini = document.createElement("canvas");
    this.mini.className = "minimap";
    this.mini.setAttribute("aria-label", "Minimap: click to move there");
    host.append(this.canvas, this.labels, this.mini);
    this.camera = { x: 0, y: 0, scale: 1 };
    this.state = [];         // per node: a state name
    this.marked = new Set(); // picked nodes
    this.lit = null;         // highlighted nodes (Set) or null
    this.litEdges = null;
    this.boxes = new Map();  // node index → DOM box
    this.frames = [];        // recent frame times (ms), read by tests
    this.pending = false;
    // Until the user moves the camera, the drawing stays fitted to the view as it resizes.
    this.resize = new ResizeObserver(() => {
      this.fitCanvas();
      if (!this.touched) this.fit();
    });
    this.resize.observe(host);
    this.abort = new AbortController();
    this.bindInput();
  }

  /** Sets the drawing (a layout from /api/v1/layout); keeps the camera unless `fit`. */
  setLayout(layout, { fit = true } = {}) {
    this.layout = layout;
    const n = layout.keys.length;
    this.state = new Array(n).fill("missing");
    this.grid = new Map();
    const [w, hgt] = layout.node;
    for (let i = 0; i < n; i++) {
      const cx = Math.floor(layout.x[i] / CELL), cy = Math.floor(layout.y[i] / CELL);
      const k = cx * 65536 + cy;
      if (!this.grid.has(k)) this.grid.set(k, []);
      this.grid.get(k).push(i);
    }
    this.halfW = w / 2;
    this.halfH = hgt / 2;
    // Adjacency for highlighting.
    this.out = Array.from({ length: n }, () => []);
    this.inn = Array.from({ length: n }, () => []);
    layout.from.forEach((a, e) => { this.out[a].push(e); this.inn[layout.to[e]].push(e); });
    for (const box of this.boxes.values()) box.remove();
    this.boxes.clear();
    this.miniImage = null;
    this.fitCanvas();
    if (fit) this.fit();
    this.request();
  }

  setStates(states) { this.state = states; this.request(); this.miniImage = null; }

  fitCanvas() {
    const r = this.host.getBoundingClientRect();
    const dpr = window.devicePixelRatio || 1;
    this.width = r.width;
    this.height = r.height;
    this.canvas.width = Math.max(1, Math.round(r.width * dpr));
    this.canvas.height = Math.max(1, Math.round(r.height * dpr));
    this.mini.width = 200 * dpr;
    this.mini.height = 140 * dpr;
    this.dpr = dpr;
    this.miniImage = null;
    this.request();
  }

  /** The whole drawing in view. */
  fit() {
    if (!this.layout || this.width < 2 || this.height < 2) return;
    const pad = 40;
    const w = Math.max(1, this.layout.width), hgt = Math.max(1, this.layout.height);
    const scale = Math.min(MAX_SCALE, Math.max(MIN_SCALE, Math.min((this.width - 2 * pad) / w, (this.height - 2 * pad) / hgt, 1)));
    this.camera = { scale, x: w / 2 - this.width / 2 / scale, y: hgt / 2 - this.height / 2 / scale };
    this.request();
  }

  /** Centres node `i` without changing the zoom. */
  centre(i) {
    this.touched = true;
    const s = this.camera.scale;
    this.camera.x = this.layout.x[i] - this.width / 2 / s;
    this.camera.y = this.layout.y[i] - this.height / 2 / s;
    this.request();
  }

  request() {
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => { this.pending = false; this.draw(); });
  }

  /** Nodes whose boxes intersect the view. */
  inView() {
    const { x, y, scale } = this.camera;
    const x0 = x - this.halfW, y0 = y - this.halfH;
    const x1 = x + this.width / scale + this.halfW, y1 = y + this.height / scale + this.halfH;
    const out = [];
    for (let cx = Math.floor(x0 / CELL); cx <= Math.floor(x1 / CELL); cx++) {
      for (let cy = Math.floor(y0 / CELL); cy <= Math.floor(y1 / CELL); cy++) {
        const cell = this.grid.get(cx * 65536 + cy);
        if (!cell) continue;
        for (const i of cell) {
          const nx = this.layout.x[i], ny = this.layout.y[i];
          if (nx >= x0 && nx <= x1 && ny >= y0 && ny <= y1) out.push(i);
        }
      }
    }
    return out;
  }

  /** The node under a point of the canvas, if any. */
  hit(px, py) {
    if (!this.layout) return null;
    const { x, y, scale } = this.camera;
    const wx = x + px / scale, wy = y + py / scale;
    const cx = Math.floor(wx / CELL), cy = Math.floor(wy / CELL);
    for (let dx = -1; dx <= 1; dx++) for (let dy = -1; dy <= 1; dy++) {
      for (const i of this.grid.get((cx + dx) * 65536 + cy + dy) || []) {
        if (Math.abs(this.layout.x[i] - wx) <= this.halfW && Math.abs(this.layout.y[i] - wy) <= this.halfH) return i;
      }
    }
    return null;
  }

  draw() {
    if (!this.layout) return;
    const start = performance.now();
    const L = this.layout;
    const ctx = this.canvas.getContext("2d");
    const { x, y, scale } = this.camera;
    ctx.setTransform(this.dpr, 0, 0, this.dpr, 0, 0);
    ctx.clearRect(0, 0, this.width, this.height);
    ctx.setTransform(this.dpr * scale, 0, 0, this.dpr * scale, -x * scale * this.dpr, -y * scale * this.dpr);
    const colors = {
      fresh: css("--fresh"), stale: css("--stale"), missing: css("--missing"), failed: css("--failed"),
      running: css("--running"), partial: css("--partial"), group: css("--accent"),
    };
    const panel = css("--panel"), line = css("--line"), edge = css("--edge"), hi = css("--hi");
    const visible = this.inView();
    const seen = new Uint8Array(L.keys.length);
    for (const i of visible) seen[i] = 1;

    // Edges touching the view: from the right of the source, through the waypoints, to the left
    // of the target.
    const vx0 = x, vx1 = x + this.width / scale;
    const plain = new Path2D(), bright = new Path2D();
    for (let e = 0; e < L.from.length; e++) {
      const a = L.from[e], b = L.to[e];
      const ax = L.x[a] + this.halfW, bx = L.x[b] - this.halfW;
      if (Math.max(ax, bx) < vx0 || Math.min(ax, bx) > vx1) continue;
      if (!seen[a] && !seen[b] && L.bend_start[e] === L.bend_start[e + 1] && scale < 0.05) continue;
      const path = this.litEdges && this.litEdges.has(e) ? bright : plain;
      this.edgePath(path, e, ax, L.y[a], bx, L.y[b]);
    }
    ctx.lineWidth = Math.max(1, 1.2 / scale) * (scale < 0.2 ? 0.7 : 1);
    ctx.strokeStyle = edge;
    ctx.globalAlpha = this.lit ? 0.25 : (scale < 0.1 ? 0.5 : 0.9);
    ctx.stroke(plain);
    ctx.globalAlpha = 1;
    if (this.litEdges) {
      ctx.strokeStyle = hi;
      ctx.lineWidth = Math.max(1.5, 2.2 / scale);
      ctx.stroke(bright);
    }

    // Nodes: boxes on the canvas; text only when near enough (as DOM boxes).
    const near = scale >= DOM_SCALE && visible.length <= DOM_LIMIT;
    const w = this.halfW * 2, hgt = this.halfH * 2;
    for (const i of visible) {
      const st = L.level === "groups" ? "group" : this.state[i] || "missing";
      const dim = this.lit && !this.lit.has(i);
      ctx.globalAlpha = dim ? 0.25 : 1;
      const left = L.x[i] - this.halfW, top = L.y[i] - this.halfH;
      if (!near) {
        ctx.fillStyle = panel;
        ctx.fillRect(left, top, w, hgt);
        ctx.fillStyle = colors[st] || colors.missing;
        ctx.fillRect(left, top, scale < 0.08 ? w : 12, hgt);
        if (scale >= 0.08) {
          ctx.strokeStyle = this.marked.has(i) ? hi : line;
          ctx.lineWidth = this.marked.has(i) ? 4 / scale : 1 / scale;
          ctx.strokeRect(left, top, w, hgt);
        }
        if (scale >= 0.25) {
          ctx.fillStyle = css("--fg");
          ctx.font = `600 ${13}px system-ui, sans-serif`;
          ctx.fillText(clip(L.keys[i], 26), left + 18, L.y[i] + 4);
        }
      }
    }
    ctx.globalAlpha = 1;
    this.placeBoxes(near ? visible : []);
    this.drawMini();
    const took = performance.now() - start;
    this.frames.push(took);
    if (this.frames.length > 120) this.frames.shift();
    if (!this.painted) {
      this.painted = true;
      performance.mark("stemma-graph-first-paint");
    }
  }

  edgePath(path, e, ax, ay, bx, by) {
    const L = this.layout;
    const bends = L.bend_y.slice(L.bend_start[e], L.bend_start[e + 1]);
    const pts = [[ax, ay]];
    const step = (bx - ax) / (bends.length + 1);
    bends.forEach((by2, k) => pts.push([ax + step * (k + 1), by2]));
    pts.push([bx, by]);
    path.moveTo(pts[0][0], pts[0][1]);
    for (let k = 1; k < pts.length; k++) {
      const [px, py] = pts[k - 1], [qx, qy] = pts[k];
      const mx = (px + qx) / 2;
      path.bezierCurveTo(mx, py, mx, qy, qx, qy);
    }
  }

  /** DOM boxes for `visible` (created on demand, reused, removed when out of view). */
  placeBoxes(visible) {
    const keep = new Set(visible);
    for (const [i, box] of this.boxes) if (!keep.has(i)) { box.remove(); this.boxes.delete(i); }
    const { x, y, scale } = this.camera;
    for (const i of visible) {
      let box = this.boxes.get(i);
      if (!box) {
        box = document.createElement("div");
        box.className = "node";
        box.dataset.i = i;
        box.dataset.key = this.layout.keys[i];
        box.tabIndex = 0;
        box.setAttribute("role", "button");
        this.labels.append(box);
        this.boxes.set(i, box);
        box.stale = true;
      }
      if (box.stale || box.shownState !== this.state[i]) {
        this.hooks.label(i, box);
        box.shownState = this.state[i];
        box.stale = false;
      }
      box.classList.toggle("picked", this.marked.has(i));
      box.style.opacity = this.lit && !this.lit.has(i) ? 0.3 : 1;
      box.style.width = `${this.halfW * 2}px`;
      box.style.height = `${this.halfH * 2}px`;
      box.style.transformOrigin = "0 0";
      box.style.transform = `translate(${(this.layout.x[i] - this.halfW - x) * scale}px, ${(this.layout.y[i] - this.halfH - y) * scale}px) scale(${scale})`;
    }
  }

  /** Labels of every box again (after the states changed). */
  relabel() { for (const box of this.boxes.values()) box.stale = true; this.request(); }

  drawMini() {
    const L = this.layout, ctx = this.mini.getContext("2d");
    const W = this.mini.width, H = this.mini.height;
    const k = Math.min(W / Math.max(1, L.width), H / Math.max(1, L.height)) * 0.95;
    if (!this.miniImage) {
      const off = document.createElement("canvas");
      off.width = W; off.height = H;
      const o = off.getContext("2d");
      o.fillStyle = css("--panel");
      o.fillRect(0, 0, W, H);
      const colors = { fresh: css("--fresh"), stale: css("--stale"), missing: css("--missing"), failed: css("--failed"), running: css("--running"), partial: css("--partial") };
      for (let i = 0; i < L.keys.length; i++) {
        o.fillStyle = L.level === "groups" ? css("--accent") : colors[this.state[i]] || colors.missing;
        o.fillRect(L.x[i] * k, L.y[i] * k, Math.max(1.5, this.halfW * 2 * k), Math.max(1.5, this.halfH * 2 * k));
      }
      this.miniImage = off;
      this.miniScale = k;
    }
    ctx.drawImage(this.miniImage, 0, 0);
    const { x, y, scale } = this.camera;
    ctx.strokeStyle = css("--hi");
    ctx.lineWidth = 2 * this.dpr;
    ctx.strokeRect(x * k, y * k, (this.width / scale) * k, (this.height / scale) * k);
  }

  zoomAt(px, py, factor) {
    this.touched = true;
    const { x, y, scale } = this.camera;
    const next = Math.min(MAX_SCALE, Math.max(MIN_SCALE, scale * factor));
    const wx = x + px / scale, wy = y + py / scale;
    this.camera = { scale: next, x: wx - px / next, y: wy - py / next };
    this.request();
  }

  bindInput() {
    const c = this.host;
    let drag = null;
    c.addEventListener("wheel", (e) => {
      if (e.target.closest(".side, .toolbar")) return;
      e.preventDefault();
      const r = this.canvas.getBoundingClientRect();
      this.zoomAt(e.clientX - r.left, e.clientY - r.top, Math.exp(-e.deltaY * 0.0015));
    }, { passive: false });
    c.addEventListener("pointerdown", (e) => {
      if (e.target.closest(".side, .toolbar, .minimap")) return;
      drag = { x: e.clientX, y: e.clientY, cx: this.camera.x, cy: this.camera.y, moved: false };
    });
    const signal = this.abort.signal;
    window.addEventListener("pointermove", (e) => {
      if (drag) {
        const dx = e.clientX - drag.x, dy = e.clientY - drag.y;
        if (Math.abs(dx) + Math.abs(dy) > 3) drag.moved = this.touched = true;
        this.camera.x = drag.cx - dx / this.camera.scale;
        this.camera.y = drag.cy - dy / this.camera.scale;
        this.request();
        return;
      }
      if (!this.layout || e.target.closest(".side, .toolbar")) return;
      const r = this.canvas.getBoundingClientRect();
      if (e.clientX < r.left || e.clientY < r.top || e.clientX > r.right || e.clientY > r.bottom) return;
      const i = this.hit(e.clientX - r.left, e.clientY - r.top);
      if (i !== this.hovered) { this.hovered = i; this.hooks.hover(i); }
    }, { signal });
    window.addEventListener("pointerup", (e) => {
      if (!drag) return;
      const moved = drag.moved;
      drag = null;
      if (moved) return;
      const r = this.canvas.getBoundingClientRect();
      const i = this.hit(e.clientX - r.left, e.clientY - r.top);
      this.hooks.click(i, e);
    }, { signal });
    c.addEventListener("dblclick", (e) => {
      const r = this.canvas.getBoundingClientRect();
      const i = this.hit(e.clientX - r.left, e.clientY - r.top);
      if (i !== null) this.hooks.dblclick(i);
    });
    this.mini.addEventListener("click", (e) => {
      const r = this.mini.getBoundingClientRect();
      const k = this.miniScale / this.dpr;
      const wx = (e.clientX - r.left) / k, wy = (e.clientY - r.top) / k;
      this.camera.x = wx - this.width / 2 / this.camera.scale;
      this.camera.y = wy - this.height / 2 / this.camera.scale;
      this.request();
    });
  }

  destroy() { this.abort.abort(); this.resize.disconnect(); this.host.innerHTML = ""; }
}

function clip(text, n) { return text.length > n ? text.slice(0, n - 1) + "…" : text; }
