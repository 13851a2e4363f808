#!/usr/bin/python3
"""lowbit serve in a real browser: headless Chromium driven over the DevTools protocol
(--remote-debugging-pipe: NUL-separated JSON on file descriptors 3 and 4; Python's standard
library only). Loads the pages of a live grid, checks their DOM, watches the live counts move
and a running run's curve grow, clicks a sort and a compare, and saves screenshots.

usage: serve_browser.py BASE_URL EXPERIMENT SCREENSHOT_DIR
"""
import base64
import fcntl
import json
import os
import subprocess
import sys
import tempfile
import time

WAIT = float(os.environ.get("LOWBIT_BROWSER_WAIT", "90"))  # seconds for a live grid to move


class Browser:
    def __init__(self):
        cmd_r, cmd_w = os.pipe()
        out_r, out_w = os.pipe()
        # The browser reads commands on fd 3 and writes replies on fd 4.
        hi_r = fcntl.fcntl(cmd_r, fcntl.F_DUPFD, 10)
        hi_w = fcntl.fcntl(out_w, fcntl.F_DUPFD, 10)
        os.close(cmd_r), os.close(out_w)

        def fds():
            os.dup2(hi_r, 3)
            os.dup2(hi_w, 4)

        self.profile = tempfile.mkdtemp(prefix="lowbit_chromium_")
        self.proc = subprocess.Popen(
            ["chromium", "--headless=new", "--remote-debugging-pipe", "--no-sandbox", "--disable-gpu",
             "--no-first-run", "--no-default-browser-check", "--user-data-dir=" + self.profile, "about:blank"],
            pass_fds=(3, 4), preexec_fn=fds, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(hi_r), os.close(hi_w)
        self.w, self.r = cmd_w, out_r
        self.buf = b""
        self.next_id = 0
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        self.call("Page.enable", session=True)
        self.call("Emulation.setDeviceMetricsOverride",
                  {"width": 1280, "height": 860, "deviceScaleFactor": 1, "mobile": False}, session=True)

    def call(self, method, params=None, session=False, timeout=30):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = self.session
        os.write(self.w, json.dumps(msg).encode() + b"\0")
        end = time.time() + timeout
        while time.time() < end:
            while b"\0" in self.buf:
                raw, self.buf = self.buf.split(b"\0", 1)
                reply = json.loads(raw)
                if reply.get("id") == self.next_id:
                    if "error" in reply:
                        raise RuntimeError(f"{method}: {reply['error']}")
                    return reply.get("result", {})
            chunk = os.read(self.r, 1 << 16)
            if not chunk:
                raise RuntimeError("the browser closed its pipe")
            self.buf += chunk
        raise RuntimeError(f"{method}: no reply in {timeout} s")

    def js(self, expression):
        r = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True},
                      session=True)
        if "exceptionDetails" in r:
            raise RuntimeError(f"{expression}: {r['exceptionDetails'].get('text')}")
        return r["result"].get("value")

    def wait(self, expression, timeout=20, what=None):
        end = time.time() + timeout
        while time.time() < end:
            try:
                v = self.js(expression)
                if v:
                    return v
            except RuntimeError:
                pass  # the page is between documents
            time.sleep(0.2)
        raise AssertionError(f"waited {timeout} s for {what or expression}")

    def open(self, url):
        self.call("Page.navigate", {"url": url}, session=True)
        time.sleep(0.2)
        self.wait("document.readyState === 'complete' && location.href === " + json.dumps(url), what="load " + url)

    def screenshot(self, path):
        data = self.call("Page.captureScreenshot", {"format": "png"}, session=True)["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))

    def close(self):
        try:
            self.call("Browser.close", timeout=5)
        except Exception:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        subprocess.run(["rm", "-rf", self.profile])


def main():
    base, exp, shots = sys.argv[1].rstrip("/"), sys.argv[2], sys.argv[3]
    os.makedirs(shots, exist_ok=True)
    checks = []

    def check(ok, what):
        checks.append((bool(ok), what))
        print(("ok   " if ok else "FAIL ") + what, flush=True)

    b = Browser()
    try:
        # Experiments: the table, and the live counts that the page's polling moves.
        b.open(base + "/")
        check(b.js(f"!!document.getElementById('total-{exp}')"), "experiments page lists the experiment")
        done_id = f"n-{exp}-done"
        first = int(b.js(f"document.getElementById('{done_id}').textContent"))
        moved = b.wait(f"parseInt(document.getElementById('{done_id}').textContent) > {first}", timeout=WAIT,
                       what="the done count to move without a reload")
        check(moved, f"the live done count moved from {first} without a reload")
        b.screenshot(os.path.join(shots, "serve-experiments.png"))

        # A running run's curve grows: its page reloads itself while the run is running.
        # (Between two runs the grid's next worker is starting: read again until one runs.)
        running, end = [], time.time() + 60
        while not running and time.time() < end:
            b.open(base + f"/runs?e={exp}&where=status%20%3D%20running")
            running = b.js("Array.from(document.querySelectorAll('#runs tbody a[href^=\"/run?\"]')).map(a => a.textContent)")
            if not running:
                time.sleep(0.5)
        if running:
            b.open(base + f"/run?id={running[0]}")
            points = "(document.querySelector('polyline.curve') ? document.querySelector('polyline.curve')" \
                     ".getAttribute('points').trim().split(' ').length : 0)"
            n0 = b.js(points)
            grew = b.wait(f"{points} > {n0} || document.getElementById('status').textContent !== 'running'",
                          timeout=WAIT, what="the curve to grow")
            n1 = b.js(points)
            check(grew and n1 > n0, f"run {running[0]}'s test_acc curve grew from {n0} to {n1} points while it ran")
            check(b.js("!!document.getElementById('log') && document.getElementById('log').textContent.includes('epoch ')"),
                  f"run {running[0]}'s page shows the tail of its log")
        else:
            check(False, "a run was running when the runs page was read")

        # The runs table: rows, then a click on the seed column's sort link.
        b.open(base + f"/runs?e={exp}")
        rows = b.js("document.querySelectorAll('#runs tbody tr').length")
        check(rows and rows > 0, f"runs table has {rows} rows")
        b.js("Array.from(document.querySelectorAll('#runs th a.sort')).find(a => a.textContent.startsWith('seed')).click()")
        b.wait("location.search.includes('sort=seed') && document.readyState === 'complete'", what="the sorted page")
        seeds = b.js("(() => { const th = Array.from(document.querySelectorAll('#runs th'));"
                     " const i = th.findIndex(h => h.textContent.startsWith('seed'));"
                     " return Array.from(document.querySelectorAll('#runs tbody tr')).map(r => +r.cells[i].textContent); })()")
        check(seeds == sorted(seeds) and b.js("document.body.textContent.includes('seed ▲')"),
              f"a click on 'seed' sorts the table by seed: {seeds}")
        b.screenshot(os.path.join(shots, "serve-runs.png"))

        # Compare: tick two runs, click the button.
        b.js("document.querySelectorAll('#runs input[name=sel]:not(.cell)')[0].click();"
             "document.querySelectorAll('#runs input[name=sel]:not(.cell)')[1].click();"
             "document.getElementById('compare').click()")
        b.wait("location.pathname === '/compare' && document.readyState === 'complete'", what="the compare page")
        curves = b.js("document.querySelectorAll('svg.chart polyline.curve').length")
        check(curves == 2, f"compare draws {curves} curves (2 chosen)")
        check(b.js("!!document.getElementById('diff') && document.getElementById('diff').textContent.includes('config')"),
              "compare shows lowbit diff of the two")
        b.screenshot(os.path.join(shots, "serve-compare.png"))

        # Compare cells: each ticked row's cell, its done seeds averaged.
        b.open(base + f"/runs?e={exp}")
        b.js("const c = document.querySelectorAll('#runs input.cell'); c[0].click(); c[c.length - 1].click();"
             "document.getElementById('compare').click()")
        b.wait("location.pathname === '/compare' && document.readyState === 'complete'", what="the cells' compare page")
        labels = b.js("Array.from(document.querySelectorAll('svg.chart text')).map(t => t.textContent).join('|')")
        check(labels.count(f"{exp}:") == 2,
              f"compare of two cells labels both: {labels[-60:] or b.js('document.body.innerText').strip()[:300]}")

        # The report, rendered from the database.
        b.open(base + f"/report?e={exp}")
        check(b.js("document.querySelectorAll('table').length") > 0, "the report page has its tables")
        b.screenshot(os.path.join(shots, "serve-report.png"))
    finally:
        b.close()
    failed = sum(1 for ok, _ in checks if not ok)
    print(f"{len(checks) - failed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
