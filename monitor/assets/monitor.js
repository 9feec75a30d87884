// The monitor's page: it asks api/state for the app's state every
// data-refresh milliseconds and redraws the panels in place; the store
// browser reads through iq/ (the monitor hands those requests to its
// iq.Handler). Every URL is relative, so the page works wherever the
// monitor is mounted. Plain JavaScript, no library, no build step: the Go
// binary embeds this file as it is.
(function () {
  "use strict";

  const body = document.body;
  const refresh = Math.max(100, Number(body.dataset.refresh) || 1000);
  const hasIQ = body.dataset.iq === "true";
  const topologyStores = JSON.parse(body.dataset.stores || "[]");
  const rows = Number(body.dataset.rows) || 100;
  const throughputSeconds = Number(body.dataset.throughput) || 300;
  const $ = (id) => document.getElementById(id);
  const SVGNS = "http://www.w3.org/2000/svg";
  const fmt = new Intl.NumberFormat("en-US");
  const fmt1 = new Intl.NumberFormat("en-US", { maximumFractionDigits: 1 });

  // el makes an element: el("td", {class: "num"}, "text", child...).
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === "class") e.className = v;
      else if (k === "style") e.style.cssText = v;
      else e.setAttribute(k, v === true ? "" : String(v));
    }
    for (const c of children.flat(Infinity)) {
      if (c === undefined || c === null) continue;
      e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return e;
  }
  function svgEl(tag, attrs) {
    const e = document.createElementNS(SVGNS, tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
    return e;
  }
  function badgeClass(state) {
    switch (state) {
      case "Running": return "badge ok";
      case "Rebalancing": case "Restoring": case "Starting": case "PartitionsAssigned": case "PartitionsRevoked":
      case "PendingShutdown": case "Created": return "badge warn";
      case "Error": case "PendingError": case "Dead": return "badge bad";
      default: return "badge";
    }
  }
  function badge(state) { return el("span", { class: badgeClass(state) }, state); }
  function num(n) { return n === null || n === undefined ? "–" : fmt.format(n); }
  function duration(ms) {
    if (ms < 1000) return ms + " ms";
    const s = ms / 1000;
    if (s < 60) return fmt1.format(s) + " s";
    const m = Math.floor(s / 60);
    return m + " min " + Math.round(s - 60 * m) + " s";
  }
  // shortThread is a thread's name without the application id before it:
  // "thread-0" for "my-app-thread-0".
  function shortThread(name) {
    const i = name.lastIndexOf("-thread-");
    return i >= 0 ? name.slice(i + 1) : name;
  }
  function replaceRows(tbody, trs, empty, cols) {
    tbody.replaceChildren(...(trs.length ? trs : [el("tr", {}, el("td", { colspan: cols, class: "muted" }, empty))]));
  }
  function bar(fraction, done) {
    const pct = Math.max(0, Math.min(1, fraction)) * 100;
    return el("div", { class: done ? "bar done" : "bar", title: fmt1.format(pct) + "%" }, el("span", { style: "width:" + pct.toFixed(1) + "%" }));
  }

  // ---- state

  function renderHeader(st) {
    const s = $("app-state");
    s.className = badgeClass(st.state);
    s.textContent = st.state;
    $("server").textContent = st.server ? "at " + st.server : "";
    const c = st.counters;
    const errors = c.deserialization_errors + c.processing_errors + c.production_errors;
    $("counters").textContent = num(c.records_processed) + " records processed · " + num(c.commits) + " commits · " +
      num(errors) + " errors · " + num(c.dropped_records) + " dropped";
    $("updated").textContent = "updated " + new Date(st.time).toLocaleTimeString();
  }

  function renderThreads(st) {
    const box = $("threads");
    if (!st.threads.length) {
      box.replaceChildren(el("p", { class: "muted" }, "no stream threads (the app is " + st.state + ")"));
      return;
    }
    box.replaceChildren(...st.threads.map((th) => {
      const trs = [];
      for (const t of th.active) trs.push(el("tr", { "data-task": t.id }, el("td", { class: "mono" }, t.id), el("td", {}, "active"),
        el("td", {}, badge(t.state)), el("td", { class: "mono" }, t.partitions.join(", "))));
      for (const t of th.standby) trs.push(el("tr", { "data-task": t.id }, el("td", { class: "mono" }, t.id), el("td", {}, "standby"),
        el("td", {}, badge(t.state)), el("td", { class: "muted" }, "follows the changelogs")));
      const table = el("table", {}, el("thead", {}, el("tr", {}, el("th", {}, "task"), el("th", {}, "kind"), el("th", {}, "state"), el("th", {}, "input partitions"))),
        el("tbody", {}));
      replaceRows(table.tBodies[0], trs, "no tasks assigned", 4);
      return el("div", { class: "thread", "data-thread": th.name },
        el("div", { class: "thread-head" }, el("span", { class: "thread-name" }, th.name), badge(th.state),
          el("span", { class: "muted small" }, fmt1.format(th.process_rate) + " records/s")),
        table);
    }));
  }

  function renderPartitions(st) {
    const trs = st.partitions.map((p) => el("tr", {},
      el("td", { class: "mono" }, p.topic), el("td", { class: "num" }, p.partition), el("td", { class: "mono" }, p.task),
      el("td", { class: "mono", title: p.thread }, shortThread(p.thread)), el("td", { class: "num" }, num(p.processed)),
      el("td", { class: p.lag > 0 ? "num lagging" : "num" }, num(p.lag))));
    replaceRows($("partitions").tBodies[0], trs, "no input partitions assigned", 6);
  }

  function renderStores(st) {
    const restoring = new Set();
    const trs = st.stores.map((s) => {
      if (s.kind === "restoring") restoring.add(s.store);
      const frac = s.end_offset > 0 ? s.current_offset / s.end_offset : 1;
      return el("tr", { "data-store": s.store },
        el("td", { class: "mono" }, s.store), el("td", { class: "num" }, s.partition), el("td", { class: "mono" }, s.task),
        el("td", {}, s.kind === "restoring" ? badge("Restoring") : s.kind),
        el("td", { class: "num" }, num(s.current_offset)), el("td", { class: "num" }, num(s.end_offset)),
        el("td", { class: s.lag > 0 ? "num lagging" : "num" }, num(s.lag)),
        el("td", {}, s.kind === "active" ? null : bar(frac, s.lag === 0)));
    });
    replaceRows($("stores").tBodies[0], trs, "no change-logged stores on this instance", 8);
    const e = $("stores-error");
    e.hidden = !st.stores_error;
    e.textContent = st.stores_error ? "changelog offsets: " + st.stores_error : "";

    // A restore of an empty changelog (start = end) is left out.
    const items = st.restores.filter((r) => !(r.done && r.records === 0 && r.start_offset === r.end_offset)).map((r) => {
      if (!r.done) restoring.add(r.store);
      const total = r.end_offset - r.start_offset;
      const frac = total > 0 ? (r.offset - r.start_offset) / total : 1;
      const secs = r.elapsed_ms / 1000;
      const rate = secs > 0 ? r.records / secs : 0;
      let text;
      if (r.done) {
        text = "restored " + num(r.records) + " records in " + duration(r.elapsed_ms);
      } else {
        text = num(r.offset - r.start_offset) + " of " + num(total) + " · " + fmt.format(Math.round(rate)) + " records/s · " + duration(r.elapsed_ms);
        if (rate > 0) text += " · " + duration(Math.round(1000 * (r.end_offset - r.offset) / rate)) + " to go";
      }
      return el("div", { class: "restore", "data-restore": r.store + "/" + r.task },
        el("span", { class: "what" }, r.store + " · task " + r.task + " · " + r.topic + "-" + r.partition),
        bar(frac, r.done), el("span", { class: r.done ? "muted" : "" }, text));
    });
    $("restores").replaceChildren(...(items.length ? [el("h3", { class: "small muted" }, "restores"), ...items] : []));

    // The picture: a store restoring here is outlined.
    for (const g of document.querySelectorAll("svg.topology g.store")) {
      g.classList.toggle("restoring", restoring.has(g.getAttribute("data-store")));
    }
  }

  const palette = ["#3b6fb6", "#2f8f46", "#c2762b", "#7a4fa8", "#c0392b", "#138a8a", "#8a6d1a", "#d14f9b"];

  function renderThroughput(st) {
    const tp = st.throughput;
    const box = $("throughput");
    if (!tp.times.length) {
      box.replaceChildren(el("p", { class: "muted" }, "collecting… (a point a second)"));
      $("throughput-now").textContent = "";
      return;
    }
    const series = tp.threads.map((s, i) => ({ name: shortThread(s.thread), rates: s.rates, color: palette[i % palette.length], width: 1.6 }));
    if (series.length > 1) {
      const total = tp.times.map((_, i) => series.reduce((sum, s) => sum + s.rates[i], 0));
      series.push({ name: "all threads", rates: total, color: "#1d2330", width: 2.4 });
    }
    const W = 600, H = 170, L = 52, R = 8, T = 8, B = 22;
    const end = tp.times[tp.times.length - 1];
    // The graph spans what there is, a minute at least, the configured
    // window at most: a young app's seconds are not a sliver at the edge.
    const span = Math.min(throughputSeconds * 1000, Math.max(60000, end - tp.since));
    const start = end - span;
    let top = 0;
    for (const s of series) for (const v of s.rates) top = Math.max(top, v);
    top = niceCeil(top || 1);
    const x = (t) => L + (W - L - R) * (t - start) / span;
    const y = (v) => T + (H - T - B) * (1 - v / top);
    const svg = svgEl("svg", { viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: "none", role: "img", "aria-label": "records processed per second" });
    for (let i = 0; i <= 4; i++) {
      const v = top * i / 4;
      svg.append(svgEl("line", { class: "axis", x1: L, x2: W - R, y1: y(v), y2: y(v) }));
      const label = svgEl("text", { x: L - 6, y: y(v) + 4, "text-anchor": "end" });
      label.textContent = fmt.format(v);
      svg.append(label);
    }
    const step = [10, 15, 30, 60, 120, 300].find((s) => span / (s * 1000) <= 6) || 600;
    for (let back = 0; back * 1000 <= span + 1; back += step) {
      const label = svgEl("text", { x: x(end - back * 1000), y: H - 6, "text-anchor": back === 0 ? "end" : "middle" });
      label.textContent = back === 0 ? "now" : "−" + (back % 60 === 0 ? back / 60 + " min" : back + " s");
      svg.append(label);
    }
    for (const s of series) {
      const pts = s.rates.map((v, i) => x(tp.times[i]).toFixed(1) + "," + y(v).toFixed(1)).join(" ");
      svg.append(svgEl("polyline", { points: pts, fill: "none", stroke: s.color, "stroke-width": s.width, "vector-effect": "non-scaling-stroke" }));
    }
    const legend = el("p", { class: "small muted" }, series.map((s) =>
      [el("span", { class: "series-key", style: "background:" + s.color }), s.name + " " + fmt1.format(s.rates[s.rates.length - 1]) + "/s"]));
    box.replaceChildren(svg, legend);
    const last = series[series.length - 1];
    $("throughput-now").textContent = "records processed per second, the last " + duration(span).replace(" 0 s", "") +
      "; now " + fmt1.format(last.rates[last.rates.length - 1]);
  }

  function niceCeil(v) {
    const p = Math.pow(10, Math.floor(Math.log10(v)));
    for (const m of [1, 2, 2.5, 5, 10]) if (v <= m * p) return m * p;
    return 10 * p;
  }

  function setError(msg) {
    const e = $("error");
    e.hidden = !msg;
    e.textContent = msg || "";
  }

  async function poll() {
    try {
      const r = await fetch("api/state", { cache: "no-store" });
      if (!r.ok) throw new Error("api/state answered " + r.status);
      const st = await r.json();
      renderHeader(st);
      renderThreads(st);
      renderPartitions(st);
      renderStores(st);
      renderThroughput(st);
      setError(null);
      if ($("live").checked) browse(false);
    } catch (err) {
      setError("cannot read the app's state: " + err.message);
    } finally {
      setTimeout(poll, refresh);
    }
  }

  // ---- store browser

  const storeTypes = {}; // name -> "key-value" | "window" | "session"
  let browsing = false;

  async function loadStores() {
    const select = $("store");
    if (!hasIQ) {
      $("browser").hidden = true;
      $("entries").replaceChildren(el("p", { class: "muted" },
        (topologyStores.length ? "The topology's stores: " + topologyStores.join(", ") + ". " : "The topology has no stores. ") +
        "To browse them, register them with an iq.Handler (iq.KeyValue, iq.Window, iq.Session) and pass it as monitor.Config.IQ."));
      return;
    }
    try {
      const r = await fetch("iq/stores", { cache: "no-store" });
      const body = await r.json();
      if (!r.ok) throw new Error(body.error || r.status);
      const registered = body.stores.map((s) => s.name);
      for (const s of body.stores) storeTypes[s.name] = s.type;
      const options = body.stores.map((s) => el("option", { value: s.name }, s.name + " (" + s.type + ")"));
      for (const s of topologyStores) {
        if (!registered.includes(s)) options.push(el("option", { value: s, disabled: true }, s + " (not registered with iq)"));
      }
      select.replaceChildren(...options);
      placeholders();
      if (!registered.length) {
        $("entries").replaceChildren(el("p", { class: "muted" }, "No store is registered with the iq.Handler; register them with iq.KeyValue, iq.Window or iq.Session."));
        return;
      }
      browse(true);
    } catch (err) {
      $("entries").replaceChildren(el("p", { class: "error" }, "listing the stores: " + err.message));
    }
  }

  function storeURL() {
    const store = $("store").value;
    const type = storeTypes[store];
    if (!type) return null;
    const route = type === "window" ? "windows" : type === "session" ? "sessions" : "keys";
    const key = $("key").value, from = $("from").value, to = $("to").value;
    const q = new URLSearchParams();
    let path = "iq/stores/" + encodeURIComponent(store) + "/" + route;
    if (key !== "") path += "/" + encodeURIComponent(key);
    if (route !== "keys" || key === "") {
      if (from !== "") q.set("from", from);
      if (to !== "") q.set("to", to);
    }
    if (key === "" || route !== "keys") q.set("limit", rows);
    const qs = q.toString();
    return { store, type, url: qs ? path + "?" + qs : path, single: route === "keys" && key !== "" };
  }

  async function browse(user) {
    if (browsing && !user) return;
    const req = storeURL();
    if (!req) return;
    browsing = true;
    try {
      const r = await fetch(req.url, { cache: "no-store" });
      const body = await r.json();
      if (!r.ok) {
        $("entries").replaceChildren(el("p", { class: r.status === 404 ? "muted" : "error" }, body.error || ("status " + r.status)));
        return;
      }
      renderEntries(req, body);
    } catch (err) {
      $("entries").replaceChildren(el("p", { class: "error" }, "reading " + req.store + ": " + err.message));
    } finally {
      browsing = false;
    }
  }

  function show(v) {
    return typeof v === "object" && v !== null ? JSON.stringify(v) : String(v);
  }

  function renderEntries(req, body) {
    let list, windowed = false;
    if (req.single) list = [{ key: body.key, value: body.value }];
    else if (body.entries) list = body.entries;
    else { list = body.windows || body.sessions || []; windowed = true; }
    const head = el("tr", {}, el("th", {}, "key"), windowed ? [el("th", {}, "start"), el("th", {}, "end")] : null, el("th", {}, "value"));
    const trs = list.map((e) => el("tr", { "data-key": show(e.key) },
      el("td", { class: "key mono" }, show(e.key)),
      windowed ? [el("td", { class: "mono" }, e.start || ""), el("td", { class: "mono" }, e.end || "")] : null,
      el("td", { class: "value" }, show(e.value))));
    const table = el("table", { id: "entries-table", "data-store": req.store }, el("thead", {}, head), el("tbody", {}));
    replaceRows(table.tBodies[0], trs, "no entries", windowed ? 4 : 2);
    const src = [list.length + (list.length === 1 ? " entry" : " entries")];
    if (body.truncated) src.push("the first " + rows + "; narrow with from/to");
    src.push("read on " + body.host + (body.partitions ? ", partitions " + body.partitions.join(", ") : ""));
    if (body.stale) src.push("stale: from a standby or restoring copy");
    $("entries").replaceChildren(el("div", { class: "scroll" }, table), el("p", { class: "source-line" }, src.join(" · ")));
  }

  $("browser").addEventListener("submit", (ev) => { ev.preventDefault(); browse(true); });
  $("store").addEventListener("change", () => { placeholders(); browse(true); });

  // placeholders says what from and to are for the chosen store: keys of a
  // key-value store, window starts or session times otherwise.
  function placeholders() {
    const timed = storeTypes[$("store").value] && storeTypes[$("store").value] !== "key-value";
    $("from").placeholder = timed ? "from (RFC 3339 or ms)" : "first key";
    $("to").placeholder = timed ? "to (RFC 3339 or ms)" : "last key";
  }

  loadStores();
  poll();
})();
