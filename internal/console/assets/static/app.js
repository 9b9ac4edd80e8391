// cairn console: the small amount of script the pages need. Everything it
// does goes through the console's own endpoints, which sign each request
// to the S3 gateway with the signed-in user's keys.
"use strict";

(function () {
  const csrfMeta = document.querySelector('meta[name="csrf"]');
  const csrf = csrfMeta ? csrfMeta.content : "";
  const status = document.getElementById("status");

  // say shows a message in the page's status area (errors too).
  function say(msg, isError) {
    if (!status) return;
    status.textContent = msg;
    status.className = isError ? "status error" : "status";
    status.hidden = false;
    if (isError) status.setAttribute("role", "alert"); else status.setAttribute("role", "status");
  }

  // signIn goes to the sign-in page and comes back here after.
  function signIn() {
    location.href = "/console/signin?next=" + encodeURIComponent(location.pathname + location.search);
  }

  // api calls a console endpoint and returns its JSON answer; an error
  // answer becomes an Error with the server's message.
  async function api(method, url, body) {
    const opt = { method: method, headers: { "X-Csrf-Token": csrf }, credentials: "same-origin" };
    if (body !== undefined) {
      opt.headers["Content-Type"] = "application/json";
      opt.body = JSON.stringify(body);
    }
    let res;
    try {
      res = await fetch(url, opt);
    } catch (e) {
      throw new Error("The console could not be reached: " + e.message);
    }
    if (res.status === 401) { signIn(); throw new Error("Your session has ended."); }
    let data = {};
    try { data = await res.json(); } catch (e) { /* not JSON */ }
    if (!res.ok) throw new Error(data.error || ("The request failed (" + res.status + ")."));
    return data;
  }

  // Dates are sent in UTC and shown in the browser's time zone.
  function localTimes(root) {
    root.querySelectorAll("time[datetime]").forEach(function (t) {
      const d = new Date(t.getAttribute("datetime"));
      if (!isNaN(d) && d.getFullYear() > 1970) t.textContent = d.toLocaleString();
      else t.textContent = "";
    });
  }

  function humanSize(n) {
    if (n < 1024) return n + " B";
    const units = "KMGTPE";
    let i = -1;
    do { n /= 1024; i++; } while (n >= 1024 && i < units.length - 1);
    return n.toFixed(1) + " " + units[i] + "iB";
  }

  function el(tag, attrs, text) {
    const e = document.createElement(tag);
    for (const k in attrs || {}) {
      if (k === "class") e.className = attrs[k]; else e.setAttribute(k, attrs[k]);
    }
    if (text !== undefined) e.textContent = text;
    return e;
  }

  // Forms that ask before they act.
  document.querySelectorAll("form[data-confirm]").forEach(function (f) {
    f.addEventListener("submit", function (ev) {
      if (!confirm(f.dataset.confirm)) ev.preventDefault();
    });
  });
  document.querySelectorAll("[data-back]").forEach(function (a) {
    a.addEventListener("click", function (ev) {
      if (history.length > 1) { ev.preventDefault(); history.back(); } // else the link's own page
    });
  });
  localTimes(document);

  // Settings: JSON documents are checked as they are typed, and a bad one
  // cannot be saved; the policy text is used only for a custom policy.
  const text = document.querySelector("textarea[data-json]");
  if (text) {
    const check = document.getElementById("text-check");
    const save = document.getElementById("save");
    const presets = document.querySelectorAll('input[name="preset"]');
    const custom = function () {
      const c = document.querySelector('input[name="preset"]:checked');
      return !c || c.value === "custom";
    };
    const validate = function () {
      text.disabled = presets.length > 0 && !custom();
      const v = text.value.trim();
      if (text.disabled) { check.textContent = ""; save.disabled = false; return; }
      if (v === "") {
        check.className = "hint";
        check.textContent = text.dataset.json === "policy" ? "A custom policy cannot be empty." : "Empty: saving removes the configuration.";
        save.disabled = text.dataset.json === "policy";
        return;
      }
      try {
        const doc = JSON.parse(v);
        if (doc === null || typeof doc !== "object" || Array.isArray(doc)) throw new Error("the document must be a JSON object");
        if (text.dataset.json === "policy" && !Array.isArray(doc.Statement) && typeof doc.Statement !== "object") throw new Error("a policy needs a Statement");
        check.className = "hint good";
        check.textContent = "Valid JSON.";
        save.disabled = false;
      } catch (e) {
        check.className = "hint bad";
        check.textContent = "Not valid yet: " + e.message;
        save.disabled = true;
      }
    };
    text.addEventListener("input", validate);
    const tpl = document.getElementById("template");
    if (tpl) tpl.addEventListener("change", function () {
      if (!tpl.value) return;
      text.value = JSON.stringify(JSON.parse(tpl.value), null, 2);
      validate();
    });
    presets.forEach(function (p) { p.addEventListener("change", validate); });
    validate();
  }

  // The bucket list fills in each bucket's size and count as they are
  // counted (two buckets at a time).
  const bucketRows = Array.from(document.querySelectorAll("#buckets tr[data-bucket]"));
  let nextRow = 0;
  async function countNext() {
    while (nextRow < bucketRows.length) {
      const tr = bucketRows[nextRow++];
      const objs = tr.querySelector(".usage-objects"), bytes = tr.querySelector(".usage-bytes");
      try {
        const u = await api("GET", "/console/api/usage?" + new URLSearchParams({ bucket: tr.dataset.bucket }));
        objs.textContent = (u.atLeast ? "≥ " : "") + u.objects.toLocaleString();
        bytes.textContent = (u.atLeast ? "≥ " : "") + humanSize(u.bytes);
      } catch (e) {
        objs.textContent = "–"; bytes.textContent = "–";
        objs.title = bytes.title = e.message;
      }
    }
  }
  countNext(); countNext();

  const table = document.getElementById("objects");
  if (!table) return;
  const bucket = table.dataset.bucket, prefix = table.dataset.prefix;
  const tbody = table.tBodies[0];

  // row builds a listing row like the server's template does.
  function row(e) {
    const tr = el("tr", { "data-key": e.key });
    const sel = el("td", { class: "sel" });
    sel.appendChild(el("input", { type: "checkbox", class: "pick", "aria-label": "Select " + e.name }));
    tr.appendChild(sel);
    if (e.folder) {
      tr.dataset.folder = "";
      const td = el("td");
      td.appendChild(el("a", { class: "folder", href: e.href }, e.name));
      tr.append(td, el("td", { class: "num" }, "—"), el("td"), el("td"));
      return tr;
    }
    const name = el("td");
    name.appendChild(el("button", { type: "button", class: "link name", "data-key": e.key }, e.name));
    const when = el("td");
    when.appendChild(el("time", { datetime: e.modified }, e.modified));
    const dl = el("td");
    dl.appendChild(el("a", { href: e.href, download: "" }, "Download"));
    tr.append(name, el("td", { class: "num", "data-bytes": String(e.size) }, humanSize(e.size)), when, dl);
    localTimes(tr);
    return tr;
  }

  // Pages after the first: the Load more button, and by itself when the
  // button scrolls into view.
  const more = document.getElementById("load-more");
  let loading = false;
  async function loadMore() {
    if (loading || !more.dataset.next) return;
    loading = true;
    more.disabled = true;
    try {
      const q = new URLSearchParams({ bucket: bucket, prefix: prefix, filter: table.dataset.filter, size: table.dataset.size, token: more.dataset.next });
      const page = await api("GET", "/console/api/list?" + q);
      page.entries.forEach(function (e) { tbody.appendChild(row(e)); });
      more.dataset.next = page.next || "";
      more.hidden = !page.next;
    } catch (e) {
      say(e.message, true);
    } finally {
      loading = false;
      more.disabled = false;
    }
  }
  more.addEventListener("click", loadMore);
  if ("IntersectionObserver" in window) {
    new IntersectionObserver(function (es) {
      if (es.some(function (x) { return x.isIntersecting; })) loadMore();
    }).observe(more);
  }

  // Selection and deletion of many.
  const delSel = document.getElementById("delete-selected");
  const all = document.getElementById("select-all");
  function picked() {
    return Array.from(tbody.querySelectorAll("input.pick:checked")).map(function (c) { return c.closest("tr"); });
  }
  const zipSel = document.getElementById("zip-selected");
  const moveSel = document.getElementById("move-selected");
  function updatePicked() {
    const none = picked().length === 0;
    delSel.disabled = none; zipSel.disabled = none; moveSel.disabled = none;
  }
  // A ZIP of the selection: a form the browser submits, so the archive
  // streams into the browser's downloads.
  zipSel.addEventListener("click", function () {
    const f = el("form", { method: "post", action: "/console/zip" });
    f.appendChild(el("input", { type: "hidden", name: "csrf", value: csrf }));
    f.appendChild(el("input", { type: "hidden", name: "bucket", value: bucket }));
    f.appendChild(el("input", { type: "hidden", name: "prefix", value: prefix }));
    picked().forEach(function (r) { f.appendChild(el("input", { type: "hidden", name: "key", value: r.dataset.key })); });
    document.body.appendChild(f);
    f.submit();
    f.remove();
  });
  // move renames keys: from → to (a folder's names end with "/").
  async function move(from, to) {
    const r = await api("POST", "/console/api/move", { bucket: bucket, from: from, to: to });
    if (r.failed.length) throw new Error(r.failed.length + " not moved: " + r.failed[0].key + ": " + r.failed[0].message);
    return r.moved;
  }
  moveSel.addEventListener("click", async function () {
    const target = prompt("Move the selection into which folder? (a path in this bucket, such as archive/2026/)", prefix);
    if (target === null) return;
    const dir = target.replace(/^\/+/, "");
    if (dir !== "" && !dir.endsWith("/")) { say("A folder's name ends with '/'.", true); return; }
    let n = 0;
    try {
      for (const r of picked()) {
        const key = r.dataset.key;
        const name = key.slice(prefix.length);
        if (dir + name === key) continue;
        n += await move(key, dir + name);
        r.remove();
      }
      say(n + " object(s) moved to " + (dir || "the top of the bucket") + ".");
    } catch (e) { say(e.message, true); }
    updatePicked();
  });
  tbody.addEventListener("change", updatePicked);
  all.addEventListener("change", function () {
    tbody.querySelectorAll("input.pick").forEach(function (c) { c.checked = all.checked; });
    updatePicked();
  });
  delSel.addEventListener("click", async function () {
    const rows = picked();
    const folders = rows.filter(function (r) { return r.dataset.folder !== undefined; }).length;
    let q = "Delete " + rows.length + " selected item(s)?";
    if (folders) q += " Folders are deleted with everything in them.";
    if (!confirm(q)) return;
    delSel.disabled = true;
    try {
      const res = await api("POST", "/console/api/delete", { bucket: bucket, keys: rows.map(function (r) { return r.dataset.key; }) });
      const failed = {};
      res.failed.forEach(function (f) { failed[f.key] = f.message; });
      const keys = Object.keys(failed);
      rows.forEach(function (r) {
        const k = r.dataset.key;
        // A folder goes only when nothing under it failed.
        const stays = r.dataset.folder !== undefined ? keys.some(function (f) { return f.startsWith(k); }) : failed[k];
        if (!stays) r.remove();
      });
      if (res.failed.length) say(res.failed.length + " not deleted: " + res.failed[0].key + ": " + res.failed[0].message, true);
      else say(res.deleted + " object(s) deleted.");
    } catch (e) {
      say(e.message, true);
    }
    all.checked = false;
    updatePicked();
  });

  // Uploads: by the picker or by dropping files; each with its progress
  // bar and a cancel button.
  const uploads = document.getElementById("uploads");
  function upload(file) {
    const key = prefix + file.name;
    const li = el("li");
    const label = el("span", { class: "up-name" }, file.name);
    const bar = el("progress", { max: "100", value: "0", "aria-label": "Upload of " + file.name });
    const pct = el("span", { class: "up-pct" }, "0 %");
    const cancel = el("button", { type: "button" }, "Cancel");
    li.append(label, bar, pct, cancel);
    uploads.appendChild(li);
    const xhr = new XMLHttpRequest();
    xhr.open("PUT", "/console/api/upload?" + new URLSearchParams({ bucket: bucket, key: key }));
    xhr.setRequestHeader("X-Csrf-Token", csrf);
    xhr.setRequestHeader("Content-Type", file.type || "application/octet-stream");
    xhr.upload.onprogress = function (ev) {
      if (!ev.lengthComputable) return;
      const p = Math.floor(ev.loaded * 100 / ev.total);
      bar.value = p;
      pct.textContent = p + " %";
    };
    cancel.onclick = function () { xhr.abort(); };
    xhr.onabort = function () { pct.textContent = "cancelled"; cancel.remove(); li.className = "failed"; };
    xhr.onerror = function () { pct.textContent = "failed: the console could not be reached"; cancel.remove(); li.className = "failed"; };
    xhr.onload = function () {
      cancel.remove();
      let data = {};
      try { data = JSON.parse(xhr.responseText); } catch (e) { /* not JSON */ }
      if (xhr.status === 401) { signIn(); return; }
      if (xhr.status !== 200) {
        li.className = "failed";
        pct.textContent = "failed: " + (data.error || xhr.status);
        say(file.name + ": " + (data.error || "upload failed"), true);
        return;
      }
      bar.value = 100;
      pct.textContent = "done";
      li.className = "done";
      const old = tbody.querySelector('tr[data-key="' + CSS.escape(key) + '"]');
      const tr = row({ key: key, name: file.name, size: file.size, modified: new Date().toISOString(),
        href: "/console/download?" + new URLSearchParams({ bucket: bucket, key: key }) });
      if (old) old.replaceWith(tr); else tbody.appendChild(tr);
      const empty = document.getElementById("empty");
      if (empty) empty.remove();
    };
    xhr.send(file);
  }
  document.getElementById("files").addEventListener("change", function (ev) {
    Array.from(ev.target.files).forEach(upload);
    ev.target.value = "";
  });
  const drop = document.getElementById("drop");
  ["dragenter", "dragover"].forEach(function (t) {
    document.addEventListener(t, function (ev) { ev.preventDefault(); drop.classList.add("over"); });
  });
  ["dragleave", "drop"].forEach(function (t) {
    document.addEventListener(t, function (ev) { ev.preventDefault(); drop.classList.remove("over"); });
  });
  document.addEventListener("drop", function (ev) {
    Array.from(ev.dataTransfer.files).forEach(upload);
  });

  // The details panel of one object.
  const panel = document.getElementById("details");
  const body = document.getElementById("details-body");
  let opener = null; // the name that opened the panel gets the focus back
  function closePanel() {
    panel.hidden = true;
    if (opener && document.contains(opener)) opener.focus();
  }
  document.getElementById("details-close").addEventListener("click", closePanel);
  document.addEventListener("keydown", function (ev) {
    if (ev.key === "Escape" && !panel.hidden) closePanel();
  });
  function dl(pairs) {
    const d = el("dl");
    pairs.forEach(function (p) {
      if (p[1] === undefined || p[1] === "" || p[1] === null) return;
      d.append(el("dt", {}, p[0]), el("dd", {}, p[1]));
    });
    return d;
  }
  function when(s) { const d = new Date(s); return isNaN(d) ? "" : d.toLocaleString(); }
  async function showDetails(key) {
    let d;
    try {
      d = await api("GET", "/console/api/object?" + new URLSearchParams({ bucket: bucket, key: key }));
    } catch (e) {
      say(e.message, true);
      return;
    }
    body.replaceChildren();
    document.getElementById("details-title").textContent = key.slice(prefix.length);
    body.appendChild(dl([["Key", d.key], ["Size", humanSize(d.size) + " (" + d.size + " bytes)"], ["Modified", when(d.modified)],
      ["ETag", d.etag], ["Content type", d.contentType], ["Version", d.versionId], ["Storage class", d.storageClass],
      ["Retention", d.retention ? d.retention + " until " + when(d.retainUntil) : ""], ["Legal hold", d.legalHold]]));
    if (d.owner || d.mode) {
      body.appendChild(el("h3", {}, "On the file system"));
      body.appendChild(dl([["Owner", d.owner], ["Mode", d.mode], ["ACL", d.acl ? d.acl.split(",").join("\n") : "none (the mode decides)"]]));
    }
    const meta = Object.entries(d.metadata || {});
    body.appendChild(el("h3", {}, "Metadata"));
    body.appendChild(meta.length ? dl(meta) : el("p", {}, "None."));
    const tags = Object.entries(d.tags || {});
    body.appendChild(el("h3", {}, "Tags"));
    body.appendChild(tags.length ? dl(tags) : el("p", {}, "None."));
    const dq = new URLSearchParams({ bucket: bucket, key: key });
    const a = el("a", { href: "/console/download?" + dq, download: "", class: "button" }, "Download");
    const ren = el("button", { type: "button", id: "rename" }, "Rename or move…");
    ren.addEventListener("click", async function () {
      const to = prompt("New name (the whole key, folders included):", key);
      if (to === null || to === key) return;
      try {
        await move(key, to);
        const old = tbody.querySelector('tr[data-key="' + CSS.escape(key) + '"]');
        if (old) old.remove();
        panel.hidden = true;
        say(key + " is now " + to + ".");
      } catch (e) { say(e.message, true); }
    });
    const acts = el("p", { class: "inline" });
    acts.append(a, ren);
    body.appendChild(acts);
    // Share link.
    const sh = el("form", { class: "share" });
    const sel = el("select", { id: "share-expiry", "aria-label": "Link lasts" });
    [["1 hour", 3600], ["1 day", 86400], ["7 days", 604800]].forEach(function (o) { sel.appendChild(el("option", { value: String(o[1]) }, o[0])); });
    const go = el("button", { type: "submit" }, "Share link");
    const out = el("input", { id: "share-url", readonly: "", "aria-label": "Share link", class: "share-url" });
    out.hidden = true;
    sh.append(el("label", { for: "share-expiry" }, "Link lasts"), sel, go, out);
    sh.addEventListener("submit", async function (ev) {
      ev.preventDefault();
      try {
        const r = await api("POST", "/console/api/share", { bucket: bucket, key: key, seconds: Number(sel.value) });
        out.value = r.url;
        out.hidden = false;
        out.select();
        if (navigator.clipboard) navigator.clipboard.writeText(r.url).then(function () { say("Link copied; it works until " + when(r.expires) + "."); }, function () {});
      } catch (e) { say(e.message, true); }
    });
    body.appendChild(sh);
    if (d.versions && d.versions.length) {
      body.appendChild(el("h3", {}, "Versions"));
      const ul = el("ul", { class: "versions" });
      d.versions.forEach(function (v) {
        const li = el("li");
        li.appendChild(el("span", {}, (v.deleteMarker ? "delete marker" : humanSize(v.size)) + " · " + when(v.modified) + (v.latest ? " · latest" : "")));
        if (!v.deleteMarker) {
          const vq = new URLSearchParams({ bucket: bucket, key: key, versionId: v.id });
          li.appendChild(el("a", { href: "/console/download?" + vq, download: "" }, "Download"));
        }
        if (!v.deleteMarker && !v.latest) {
          const rs = el("button", { type: "button" }, "Restore");
          rs.addEventListener("click", async function () {
            try {
              await api("POST", "/console/api/restore", { bucket: bucket, key: key, versionId: v.id });
              say("The version of " + when(v.modified) + " is the latest again.");
              showDetails(key);
            } catch (e) { say(e.message, true); }
          });
          li.appendChild(rs);
        }
        const del = el("button", { type: "button", class: "danger" }, "Delete version");
        del.addEventListener("click", async function () {
          if (!confirm("Delete this version for good?")) return;
          try {
            const r = await api("POST", "/console/api/delete", { bucket: bucket, key: key, versions: [v.id] });
            if (r.failed.length) say(r.failed[0].message, true); else { li.remove(); say("Version deleted."); }
          } catch (e) { say(e.message, true); }
        });
        li.appendChild(del);
        ul.appendChild(li);
      });
      body.appendChild(ul);
    }
    panel.hidden = false;
    panel.focus();
  }
  tbody.addEventListener("click", function (ev) {
    const b = ev.target.closest("button.name");
    if (b) { opener = b; showDetails(b.dataset.key); }
  });
})();

// The metrics dashboard: reads the gateway's counters every few seconds
// and draws rates from their differences.
(function () {
  "use strict";
  const dash = document.getElementById("dashboard");
  if (!dash) return;
  const every = Number(dash.dataset.interval) || 5000;
  const windowMs = 5 * 60 * 1000;
  const snaps = [];
  const colors = ["#1f5fa8", "#d97706", "#b3261e"];

  function fmtBytes(n) {
    if (n < 1024) return n.toFixed(0) + " B";
    const u = "KMGTPE"; let i = -1;
    do { n /= 1024; i++; } while (n >= 1024 && i < u.length - 1);
    return n.toFixed(1) + " " + u[i] + "iB";
  }
  function fmtMs(s) { return s === null ? "–" : (s * 1000 < 10 ? (s * 1000).toFixed(1) : (s * 1000).toFixed(0)) + " ms"; }

  // quantile estimates a quantile from cumulative histogram buckets, as
  // Prometheus's histogram_quantile does.
  function quantile(q, buckets) {
    const total = buckets.length ? buckets[buckets.length - 1].count : 0;
    if (total <= 0) return null;
    const rank = q * total;
    let prevLE = 0, prevCount = 0;
    for (const b of buckets) {
      if (b.count >= rank) {
        if (b.le < 0) return prevLE;
        return prevLE + (b.le - prevLE) * ((rank - prevCount) / Math.max(b.count - prevCount, 1e-9));
      }
      prevLE = b.le < 0 ? prevLE : b.le; prevCount = b.count;
    }
    return prevLE;
  }
  function sorted(lat) {
    return (lat || []).slice().sort(function (a, b) { return (a.le < 0 ? Infinity : a.le) - (b.le < 0 ? Infinity : b.le); });
  }
  function diffBuckets(a, b) {
    const prev = {};
    sorted(a.latency).forEach(function (x) { prev[x.le] = x.count; });
    return sorted(b.latency).map(function (x) { return { le: x.le, count: x.count - (prev[x.le] || 0) }; });
  }

  // chart draws series ([[time, value]...]) as lines over the window.
  function chart(id, series, fmt) {
    const svg = document.getElementById(id);
    const W = 300, H = 90, top = 12, bottom = H - 4;
    const now = Date.now();
    let max = 0;
    series.forEach(function (s) { s.points.forEach(function (p) { if (p[1] > max) max = p[1]; }); });
    if (max <= 0) max = 1;
    const ns = "http://www.w3.org/2000/svg";
    svg.replaceChildren();
    const axis = document.createElementNS(ns, "line");
    axis.setAttribute("class", "axis"); axis.setAttribute("x1", "0"); axis.setAttribute("x2", String(W));
    axis.setAttribute("y1", String(bottom)); axis.setAttribute("y2", String(bottom));
    svg.appendChild(axis);
    const label = document.createElementNS(ns, "text");
    label.setAttribute("x", "2"); label.setAttribute("y", "9"); label.textContent = fmt(max);
    svg.appendChild(label);
    series.forEach(function (s, i) {
      const pl = document.createElementNS(ns, "polyline");
      pl.setAttribute("stroke", colors[i % colors.length]);
      pl.setAttribute("points", s.points.map(function (p) {
        const x = W - (now - p[0]) / windowMs * W;
        const y = bottom - (p[1] / max) * (bottom - top);
        return x.toFixed(1) + "," + y.toFixed(1);
      }).join(" "));
      svg.appendChild(pl);
    });
  }

  function render() {
    if (snaps.length < 2) return;
    const rate = [], success = [], p50 = [], p90 = [], p99 = [], bin = [], bout = [];
    for (let i = 1; i < snaps.length; i++) {
      const a = snaps[i - 1], b = snaps[i];
      const dt = (new Date(b.time) - new Date(a.time)) / 1000;
      if (dt <= 0) continue;
      const t = new Date(b.time).getTime();
      const req = b.requests - a.requests, failed = b.failed - a.failed;
      rate.push([t, req / dt]);
      success.push([t, req > 0 ? 100 * (req - failed) / req : 100]);
      const lat = diffBuckets(a, b);
      p50.push([t, quantile(0.5, lat) || 0]); p90.push([t, quantile(0.9, lat) || 0]); p99.push([t, quantile(0.99, lat) || 0]);
      bin.push([t, (b.bytesIn - a.bytesIn) / dt]); bout.push([t, (b.bytesOut - a.bytesOut) / dt]);
    }
    const last = function (arr) { return arr.length ? arr[arr.length - 1][1] : 0; };
    document.getElementById("m-rate").textContent = last(rate).toFixed(1);
    document.getElementById("m-success").textContent = last(success).toFixed(1) + " %";
    const served = rate.length && last(rate) > 0;
    document.getElementById("m-latency").textContent = served ? fmtMs(last(p50)) + " · " + fmtMs(last(p90)) + " · " + fmtMs(last(p99)) : "no requests";
    document.getElementById("m-bytes").textContent = fmtBytes(last(bin)) + " · " + fmtBytes(last(bout));
    chart("c-rate", [{ points: rate }], function (v) { return v.toFixed(1) + "/s"; });
    chart("c-success", [{ points: success }], function (v) { return v.toFixed(0) + " %"; });
    chart("c-latency", [{ points: p50 }, { points: p90 }, { points: p99 }], function (v) { return fmtMs(v); });
    chart("c-bytes", [{ points: bin }, { points: bout }], function (v) { return fmtBytes(v) + "/s"; });
    const first = snaps[0], cur = snaps[snaps.length - 1];
    const tbody = document.querySelector("#errors tbody");
    tbody.replaceChildren();
    const codes = Object.keys(cur.errors).sort(function (x, y) { return cur.errors[y] - cur.errors[x]; });
    if (!codes.length) {
      const tr = document.createElement("tr"); const td = document.createElement("td");
      td.colSpan = 3; td.textContent = "No errors since the gateway started."; tr.appendChild(td); tbody.appendChild(tr);
    }
    codes.forEach(function (code) {
      const tr = document.createElement("tr");
      [code, String(cur.errors[code] - (first.errors[code] || 0)), String(cur.errors[code])].forEach(function (v, i) {
        const td = document.createElement("td"); td.textContent = v; if (i) td.className = "num"; tr.appendChild(td);
      });
      tbody.appendChild(tr);
    });
  }

  function renderStatus(st) {
    const dl = document.getElementById("volume");
    if (!st) { document.getElementById("status-panel").hidden = true; return; }
    const rows = [["Volume", st.volume], ["Version", st.version], ["Up since", new Date(st.started).toLocaleString()], ["Buckets", String(st.buckets)],
      ["Used", fmtBytes(st.usedBytes) + (st.capacityBytes ? " of " + fmtBytes(st.capacityBytes) : " (no capacity limit)")],
      ["Inodes", String(st.usedInodes) + (st.inodeLimit ? " of " + st.inodeLimit : "")]];
    dl.replaceChildren();
    rows.forEach(function (r) {
      const dt = document.createElement("dt"); dt.textContent = r[0];
      const dd = document.createElement("dd"); dd.textContent = r[1];
      if (r[0] === "Used" && st.capacityBytes) {
        const m = document.createElement("div"); m.className = "meter";
        const s = document.createElement("span"); s.style.width = Math.min(100, 100 * st.usedBytes / st.capacityBytes).toFixed(1) + "%";
        m.appendChild(s); dd.appendChild(m);
      }
      dl.append(dt, dd);
    });
    const tbody = document.querySelector("#sessions tbody");
    tbody.replaceChildren();
    (st.sessions || []).forEach(function (s) {
      const tr = document.createElement("tr");
      [s.host, String(s.pid), s.process || "", s.version || "", new Date(s.started).toLocaleString(), new Date(s.heartbeat).toLocaleTimeString()].forEach(function (v) {
        const td = document.createElement("td"); td.textContent = v; tr.appendChild(td);
      });
      tbody.appendChild(tr);
    });
  }

  const status = document.getElementById("status");
  async function tick() {
    try {
      const res = await fetch("/console/api/metrics", { credentials: "same-origin" });
      if (res.status === 401) { location.href = "/console/signin?next=" + encodeURIComponent(location.pathname); return; }
      const data = await res.json();
      if (!res.ok) throw new Error(data.error || res.status);
      snaps.push(data);
      const cutoff = new Date(data.time).getTime() - windowMs;
      while (snaps.length > 2 && new Date(snaps[0].time).getTime() < cutoff) snaps.shift();
      render();
      renderStatus(data.status);
      status.hidden = true;
      dash.dataset.samples = String(snaps.length);
    } catch (e) {
      status.textContent = "The metrics could not be read: " + e.message;
      status.className = "status error";
      status.hidden = false;
    }
  }
  tick();
  setInterval(tick, every);
})();
