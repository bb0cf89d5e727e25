// replaykit's web UI: polls /api/state every second and draws it. Every
// string from the server (trace names, errors) goes in as text, never as
// markup. State changes are JSON posts with the token.
"use strict";
(function () {
  const token = document.querySelector('meta[name="replaykit-token"]').content;
  const $ = (id) => document.getElementById(id);
  let filled = false;

  async function api(method, path, body) {
    const opts = { method, headers: { "X-Replaykit-Token": token } };
    if (body !== undefined) {
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(body);
    }
    const resp = await fetch(path, opts);
    if (!resp.ok) {
      throw new Error((await resp.text()).trim() || resp.statusText);
    }
    return resp.status === 200 ? resp.json() : null;
  }

  function say(text) { $("message").textContent = text; }

  function lines(s) { return s.split("\n").map((x) => x.trim()).filter((x) => x !== ""); }

  function fill(st) {
    const sel = $("scenario");
    for (const sc of st.scenarios) {
      const o = document.createElement("option");
      o.value = sc.name;
      o.textContent = sc.name;
      o.title = sc.description;
      sel.appendChild(o);
    }
    const f = st.form;
    $("traces").value = (f.traces || []).join("\n");
    sel.value = f.scenario;
    $("users").value = f.users || 0;
    $("rate").value = f.rate || 0;
    $("ramp").value = f.ramp || "";
    $("duration").value = f.duration || "";
    $("host").value = f.host || "";
    $("pacing").value = f.pacing || "";
    $("seed").value = f.seed || 0;
    $("thresholds").value = (f.thresholds || []).join("\n");
    filled = true;
  }

  function form() {
    return {
      traces: lines($("traces").value), scenario: $("scenario").value,
      users: parseInt($("users").value || "0", 10), rate: parseFloat($("rate").value || "0"),
      ramp: $("ramp").value, duration: $("duration").value, host: $("host").value,
      pacing: $("pacing").value, seed: parseInt($("seed").value || "0", 10), thresholds: lines($("thresholds").value),
    };
  }

  function cell(tr, text, cls) {
    const td = document.createElement("td");
    td.textContent = text;
    if (cls) td.className = cls;
    tr.appendChild(td);
  }

  function rows(id, items, cells) {
    const body = $(id).tBodies[0];
    body.replaceChildren();
    for (const it of items) {
      const tr = document.createElement("tr");
      for (const c of cells(it)) cell(tr, c);
      body.appendChild(tr);
    }
  }

  const n = (x, d) => (x === undefined || x === null ? "-" : Number(x).toFixed(d === undefined ? 0 : d));

  function chart(id, points, series) {
    const c = $(id), g = c.getContext("2d"), w = c.width, h = c.height, pad = 24;
    g.clearRect(0, 0, w, h);
    g.font = "10px sans-serif";
    let top = 0;
    for (const p of points) for (const s of series) top = Math.max(top, p[s.key] || 0);
    top = top > 0 ? top * 1.1 : 1;
    g.fillStyle = "#666";
    g.fillText(n(top, top < 10 ? 1 : 0), 2, 10);
    g.fillText("0", 2, h - 2);
    const x = (i) => pad + (points.length < 2 ? 0 : (i * (w - pad - 4)) / (points.length - 1));
    const y = (v) => h - 4 - ((v || 0) * (h - 12)) / top;
    for (const s of series) {
      g.strokeStyle = s.color;
      g.beginPath();
      points.forEach((p, i) => (i ? g.lineTo(x(i), y(p[s.key])) : g.moveTo(x(i), y(p[s.key]))));
      g.stroke();
    }
  }

  function render(st) {
    if (!filled) fill(st);
    rows("runs", st.runs || [], (r) => [r.id, r.scenario, r.status, r.requests, r.status === "done" ? r.code : ""]);
    const r = st.run;
    if (!r) return;
    const running = r.status === "running";
    $("status").textContent = r.scenario + (r.id ? " " + r.id : "") + ": " + r.status + (r.stopped ? ", stopped: " + r.stopped : "") + (r.error ? " (" + r.error + ")" : "");
    $("start-run").disabled = running || r.status === "analyzing";
    $("stop").disabled = !running;
    $("set-users").disabled = !running || r.open;
    $("set-rate").disabled = !running || !r.open;
    $("elapsed").textContent = n(r.elapsed) + " / " + n(r.total) + " s";
    $("users-now").textContent = n(r.users);
    $("rps").textContent = n(r.rps, 1);
    $("requests").textContent = n(r.requests);
    $("failures").textContent = n(r.failures);
    $("overloaded").textContent = r.overloaded ? "OVERLOADED: " + r.overloaded : "ok";
    const pts = r.points || [];
    chart("chart-rps", pts, [{ key: "rps", color: "#1f77b4" }]);
    chart("chart-latency", pts, [{ key: "p50", color: "#2ca02c" }, { key: "p95", color: "#ff7f0e" }, { key: "p99", color: "#d62728" }]);
    chart("chart-users", pts, [{ key: "users", color: "#9467bd" }]);
    chart("chart-errors", pts, [{ key: "failures", color: "#d62728" }]);
    rows("routes", r.routes || [], (x) => [x.method, x.name, x.requests, x.failures, n(x.median, 1), n(x.p95, 1), n(x.p99, 1), n(x.avg, 1), n(x.min, 1), n(x.max, 1), n(x.avg_bytes), n(x.rps, 1)]);
    rows("failed", r.failed || [], (x) => [x.method, x.name, x.error, x.occurrences]);
    const ch = $("changes");
    ch.replaceChildren();
    for (const c of r.changes || []) {
      const li = document.createElement("li");
      li.textContent = c.at + ": " + c.what + " " + c.value;
      ch.appendChild(li);
    }
    $("code").textContent = r.status === "done" ? "exit code " + r.code + (r.code === 0 ? ": every threshold held" : ": a threshold failed or the run was incomplete") : "";
    const vd = $("verdicts");
    vd.replaceChildren();
    for (const v of r.verdicts || []) {
      const li = document.createElement("li");
      li.textContent = v;
      li.className = v.startsWith("PASS") ? "pass" : "fail";
      vd.appendChild(li);
    }
    const fl = $("files");
    fl.replaceChildren();
    for (const f of r.files || []) {
      const li = document.createElement("li"), a = document.createElement("a");
      a.href = f.url;
      a.textContent = f.name;
      if (f.name.endsWith(".html")) a.target = "_blank";
      a.rel = "noopener";
      li.appendChild(a);
      fl.appendChild(li);
    }
  }

  async function poll() {
    try {
      render(await api("GET", "/api/state"));
    } catch (e) {
      $("status").textContent = "replay does not answer: " + e.message;
    }
  }

  async function act(path, body) {
    say("");
    try {
      await api("POST", path, body);
    } catch (e) {
      say(e.message);
    }
    poll();
  }

  $("form").addEventListener("submit", (ev) => { ev.preventDefault(); act("/api/start", form()); });
  $("set-users").addEventListener("click", () => act("/api/users", { users: parseInt($("set-users-value").value || "0", 10) }));
  $("set-rate").addEventListener("click", () => act("/api/rate", { rate: parseFloat($("set-rate-value").value || "0") }));
  $("stop").addEventListener("click", () => act("/api/stop", {}));
  poll();
  setInterval(poll, 1000);
})();
