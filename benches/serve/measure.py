"""`assets serve` measured from outside, on 127.0.0.1:

    python measure.py catalog BINARY        # GET /api/v1/assets over 10,000 assets (PEER_ASSETS)
    python measure.py sse BINARY            # commit → client latency of the event stream
    python measure.py load BINARY           # a 1,000-step run alone, then while wrk loads the
                                            # catalog and one asset's page for 30 s
    python measure.py partitions BINARY     # GET /api/v1/assets/hourly/partitions over a
                                            # million hourly partitions (PEER_SHAPE=hourly)
    python measure.py browser BINARY        # the lineage browser in headless Chromium: the
                                            # 10,000-asset graph's first paint and frames, and
                                            # the 100,000-asset graph's group overview

BINARY is a code location built in release (`peer_location`: generated no-op assets). Each
starts the server on a fresh instance, prints JSON lines of numbers, and stops it by its PID."""

import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url, body=None):
    headers = {"Content-Type": "application/json"} if body else {}
    with urllib.request.urlopen(urllib.request.Request(url, body, headers), timeout=120) as r:
        return r.read()


class Server:
    def __init__(self, binary, env, args=()):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.child = subprocess.Popen(
            [binary, "serve", "--port", str(self.port), "--no-daemon", *args],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while True:
            try:
                get(self.base + "/healthz")
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.01)

    def stop(self):
        os.kill(self.child.pid, signal.SIGTERM)
        self.child.wait(timeout=30)


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def timed(url, n):
    out = []
    for _ in range(n):
        start = time.perf_counter()
        get(url)
        out.append((time.perf_counter() - start) * 1000)
    return {"p50_ms": round(statistics.median(out), 2), "p99_ms": round(percentile(out, 99), 2)}


def catalog(binary, env):
    server = Server(binary, env)
    try:
        count = 0
        cursor = ""
        start = time.perf_counter()
        while True:
            page = json.loads(get(f"{server.base}/api/v1/assets?limit=1000{cursor}"))
            count += len(page["items"])
            if "next" not in page:
                break
            cursor = "&cursor=" + page["next"]
        all_pages = (time.perf_counter() - start) * 1000
        print(json.dumps({
            "assets": count,
            "first page of 100": timed(f"{server.base}/api/v1/assets", 50),
            "a page of 1000": timed(f"{server.base}/api/v1/assets?limit=1000", 20),
            "all pages of 1000, ms": round(all_pages, 1),
            "lineage graph of all": timed(f"{server.base}/api/v1/lineage", 20),
        }))
    finally:
        server.stop()


def sse(binary, env):
    server = Server(binary, env)
    try:
        stream = urllib.request.urlopen(server.base + "/api/v1/events?type=step_succeeded,materialization,run_ended", timeout=300)
        get(server.base + "/api/v1/runs", json.dumps({"selection": "*"}).encode())
        lags = []
        data = None
        for raw in stream:
            line = raw.decode().rstrip("\n")
            if line.startswith("data: "):
                data = json.loads(line[6:])
                lags.append(time.time() * 1000 - data["timestamp"] / 1000)
                if data["type"] == "run_ended":
                    break
        print(json.dumps({
            "events": len(lags),
            "commit → client p50_ms": round(statistics.median(lags), 2),
            "p99_ms": round(percentile(lags, 99), 2),
            "max_ms": round(max(lags), 2),
        }))
    finally:
        server.stop()


def wrk(url, seconds):
    out = subprocess.run(["wrk", "-t2", "-c8", f"-d{seconds}s", "--latency", url],
                         capture_output=True, text=True).stdout
    pick = lambda prefix: next((l.split()[1] for l in out.splitlines() if l.strip().startswith(prefix)), "?")
    errors = [l.strip() for l in out.splitlines() if "Non-2xx" in l or "Socket errors" in l]
    return {"requests/s": pick("Requests/sec:"), "p50": pick("50%"), "p99": pick("99%"), "errors": errors}


def load(binary, env):
    """A 1,000-step run (peer_location's 1,000 no-op assets, --force so each step runs),
    alone, then while wrk loads the catalog and one asset's page for 30 s."""
    import threading

    def run(e):
        start = time.perf_counter()
        subprocess.run([binary, "materialize", "--select", "*", "--force"], env=e, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return time.perf_counter() - start

    alone_env = dict(env, STEMMA_HOME=tempfile.mkdtemp())
    run(alone_env)
    alone = [run(alone_env) for _ in range(3)]
    e = dict(env, STEMMA_HOME=tempfile.mkdtemp())
    run(e)
    server = Server(binary, e)
    try:
        results = {}
        threads = [
            threading.Thread(target=lambda: results.setdefault("catalog", wrk(server.base + "/api/v1/assets", 30))),
            threading.Thread(target=lambda: results.setdefault("one asset", wrk(server.base + "/api/v1/assets/a500", 30))),
        ]
        for t in threads:
            t.start()
        time.sleep(3)
        loaded = [run(e) for _ in range(3)]
        for t in threads:
            t.join()
        print(json.dumps({
            "1000-step run alone s": [round(x, 3) for x in alone],
            "under load s": [round(x, 3) for x in loaded],
            "load": results,
        }))
    finally:
        server.stop()


def partitions(binary, env):
    """The status of a million hourly partitions as ranges, on an instance whose history was
    never folded: how long the server takes to be ready (it folds the history as it starts),
    the first request then, warm requests, and each request right after a run committed."""
    env = dict(env, PEER_SHAPE="hourly")
    filled = json.loads(subprocess.run([binary, "probe", "history"], env=env, check=True,
                                       capture_output=True, text=True).stdout)
    started = time.perf_counter()
    server = Server(binary, env)
    url = server.base + "/api/v1/assets/hourly/partitions"
    try:
        while True:
            try:
                get(server.base + "/readyz")
                break
            except urllib.error.HTTPError:
                time.sleep(0.01)
        ready = (time.perf_counter() - started) * 1000
        start = time.perf_counter()
        body = get(url)
        first = (time.perf_counter() - start) * 1000
        view = json.loads(body)
        warm = timed(url, 50)
        after_run = []
        for key in ["2024-01-29-15:00", "2000-01-01-00:00", "1950-06-01-12:00"] * 3:
            subprocess.run([binary, "materialize", "--select", "hourly", "--partition", key,
                            "--force"], env=env, check=True, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
            start = time.perf_counter()
            get(url)
            after_run.append((time.perf_counter() - start) * 1000)
        print(json.dumps({
            "partitions": view["total"],
            "missing": view["missing"]["count"],
            "ranges": sum(len(view[s]["ranges"]) for s in ("materialized", "failed", "missing")),
            "response KiB": round(len(body) / 1024, 1),
            "history written s": round(filled["metrics"]["history"], 1),
            "start → ready (history folded) ms": round(ready, 1),
            "first request once ready ms": round(first, 1),
            "warm": warm,
            "right after a run ms": [round(x, 1) for x in after_run],
        }))
    finally:
        server.stop()


class WebDriver:
    """Just enough of the W3C WebDriver protocol to drive chromedriver from here."""

    def __init__(self):
        self.port = free_port()
        self.profile = tempfile.mkdtemp()
        self.child = subprocess.Popen(["chromedriver", f"--port={self.port}", "--allowed-ips=127.0.0.1"],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while True:
            try:
                get(f"http://127.0.0.1:{self.port}/status")
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--no-first-run", "--window-size=1400,900",
                f"--user-data-dir={self.profile}"]
        session = self.call("POST", "/session", {"capabilities": {"alwaysMatch": {
            "goog:chromeOptions": {"args": args}}}})
        self.session = session["sessionId"]

    def call(self, method, path, body=None):
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", method=method,
                                         data=json.dumps(body).encode() if body is not None else None,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=300) as r:
            return json.loads(r.read())["value"]

    def goto(self, url):
        self.call("POST", f"/session/{self.session}/url", {"url": url})

    def js(self, script):
        return self.call("POST", f"/session/{self.session}/execute/sync", {"script": script, "args": []})

    def until(self, script, seconds=120):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            value = self.js(f"return ({script});")
            if value:
                return value
            time.sleep(0.02)
        raise TimeoutError(script)

    def stop(self):
        try:
            self.call("DELETE", f"/session/{self.session}")
        finally:
            self.child.terminate()
            self.child.wait(timeout=30)


FIRST_PAINT = "performance.getEntriesByName('stemma-graph-first-paint')[0]?.startTime"

FRAMES = """
const g = window.__stemmaGraph, times = [];
for (let k = 0; k < 120; k++) {
  if (k % 2) g.zoomAt(g.width / 2, g.height / 2, k % 4 === 1 ? 1.15 : 1 / 1.15);
  else { g.camera.x += 40 / g.camera.scale; g.camera.y += 15 / g.camera.scale; }
  const t = performance.now(); g.draw(); times.push(performance.now() - t);
}
times.sort((a, b) => a - b);
return {p50: times[60], p99: times[118], max: times[119]};
"""


def browser(binary, env):
    """The 10,000-asset graph (every asset, no groups): server layout cold and cached, the
    browser's first paint after navigation, and the time of a frame while panning and zooming
    (far out, then close in); then the 100,000-asset graph's group overview."""
    out = {}
    driver = WebDriver()
    try:
        for shape, assets in (("layered", 10_000), ("wide", 10_000), ("deep", 10_000),
                              ("hubs", 10_000), ("layered", 100_000)):
            e = dict(env, PEER_ASSETS=str(assets), PEER_SHAPE=shape, STEMMA_HOME=tempfile.mkdtemp())
            server = Server(binary, e)
            try:
                row = {}
                if assets <= 10_000:
                    start = time.perf_counter()
                    body = get(server.base + "/api/v1/layout?level=assets")
                    row["layout cold ms"] = round((time.perf_counter() - start) * 1000, 1)
                    row["layout KiB"] = round(len(body) / 1024)
                    row["layout cached"] = timed(server.base + "/api/v1/layout?level=assets", 10)
                    driver.goto(server.base + "/?level=assets")
                else:
                    driver.goto(server.base + "/")
                row["first paint ms"] = round(driver.until(FIRST_PAINT), 1)
                driver.until("document.body.dataset.graphStates === 'loaded' || document.querySelector('#count')?.textContent.includes('groups')")
                row["count"] = driver.js("return document.querySelector('#count').textContent")
                row["frames far ms"] = {k: round(v, 2) for k, v in driver.js(FRAMES).items()}
                driver.js("const g = window.__stemmaGraph; g.camera.scale = 0.8; g.request(); return 1")
                row["frames near ms"] = {k: round(v, 2) for k, v in driver.js(FRAMES).items()}
                out[f"{shape} {assets}"] = row
            finally:
                server.stop()
        # An asset with a million hourly partitions: its page, partitions bar drawn.
        e = dict(env, PEER_SHAPE="hourly", STEMMA_HOME=tempfile.mkdtemp())
        subprocess.run([binary, "probe", "history"], env=e, check=True, capture_output=True)
        server = Server(binary, e)
        try:
            deadline = time.monotonic() + 120
            while True:
                try:
                    get(server.base + "/readyz")
                    break
                except urllib.error.HTTPError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)
            driver.goto(server.base + "/assets/hourly")
            drawn = driver.until("performance.getEntriesByName('stemma-partitions-drawn')[0]?.startTime")
            out["hourly 1,000,000 partitions"] = {
                "partitions bar drawn ms": round(drawn, 1),
                "said": driver.js("return document.querySelector('#partitions p').textContent"),
            }
        finally:
            server.stop()
    finally:
        driver.stop()
    print(json.dumps(out))


if __name__ == "__main__":
    what, binary = sys.argv[1], sys.argv[2]
    env = dict(os.environ, STEMMA_HOME=tempfile.mkdtemp(), NO_COLOR="1")
    env.setdefault("PEER_ASSETS", "10000" if what == "catalog" else "1000")
    if what == "catalog":
        catalog(binary, env)
    elif what == "sse":
        sse(binary, env)
    elif what == "partitions":
        partitions(binary, env)
    elif what == "browser":
        browser(binary, env)
    else:
        load(binary, env)
