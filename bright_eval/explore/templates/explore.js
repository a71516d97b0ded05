// bright-eval explorer: plain JavaScript, no dependencies. Three views on one page, chosen by the URL's
// hash (#/, #/task/<task>?a=&b=&c=&m=&f=&s=, #/query/<task>/<qid>?show=), so links and the back button work
// from file://. Task and query data are loaded on demand: from inert JSON blocks in a single-file site,
// else by adding a script element for data/... that calls BE.put (file:// allows scripts, not fetch()).
"use strict";

window.BE = (function () {
  const store = {}, waiting = {}, inline = {};
  document.querySelectorAll("script[data-key]").forEach(function (s) { inline[s.dataset.key] = s; });
  function put(key, obj) {
    store[key] = obj;
    (waiting[key] || []).forEach(function (w) { w.resolve(obj); });
    delete waiting[key];
  }
  function need(key, file) {
    if (key in store) return Promise.resolve(store[key]);
    if (inline[key]) { store[key] = JSON.parse(inline[key].textContent); return Promise.resolve(store[key]); }
    return new Promise(function (resolve, reject) {
      const first = !waiting[key];
      (waiting[key] = waiting[key] || []).push({ resolve: resolve, reject: reject });
      if (!first) return;
      const s = document.createElement("script");
      s.src = file;
      s.onerror = function () {
        (waiting[key] || []).forEach(function (w) { w.reject(new Error("could not load " + file)); });
        delete waiting[key];
      };
      document.head.appendChild(s);
    });
  }
  return { put: put, need: need };
})();

(function () {
  const OV = JSON.parse(document.getElementById("be-overview").textContent);
  const SYS = {}; OV.systems.forEach(function (s) { SYS[s.key] = s; });
  const METRICS = OV.metrics, EPS = OV.tie_eps;
  const views = { overview: document.getElementById("overview"), task: document.getElementById("task"), query: document.getElementById("query") };
  const crumbs = document.getElementById("crumbs"), status = document.getElementById("status");
  let lastOrder = {};   // task -> qids in the order the task view last listed them (for n/p on a query)
  let selected = 0;

  // -- small helpers ---------------------------------------------------------------------------------
  function h(tag, attrs) {
    const el = document.createElement(tag);
    for (const k in attrs || {}) {
      const v = attrs[k];
      if (v === null || v === undefined || v === false) continue;
      if (k === "text") el.textContent = v;
      else if (k === "cls") el.className = v;
      else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
      else el.setAttribute(k, v === true ? "" : v);
    }
    for (let i = 2; i < arguments.length; i++) add(el, arguments[i]);
    return el;
  }
  function add(el, c) {
    if (c === null || c === undefined || c === false) return;
    if (Array.isArray(c)) { c.forEach(function (x) { add(el, x); }); return; }
    el.appendChild(typeof c === "object" ? c : document.createTextNode(String(c)));
  }
  function pct(v, d) { return v === null || v === undefined ? "–" : (100 * v).toFixed(d === undefined ? 1 : d); }
  function signed(v) { return v === null || v === undefined || isNaN(v) ? "–" : (v > 0 ? "+" : "") + (100 * v).toFixed(1); }
  function fix(v, d) { return v === null || v === undefined || isNaN(v) ? "–" : v.toFixed(d); }
  function cls(v) { return v === null || isNaN(v) ? "" : v > EPS ? "win" : v < -EPS ? "loss" : "tie"; }
  function parseHash() {
    const raw = location.hash.replace(/^#\/?/, "");
    const qpos = raw.indexOf("?");
    const path = (qpos < 0 ? raw : raw.slice(0, qpos)).split("/").filter(Boolean).map(decodeURIComponent);
    const params = new URLSearchParams(qpos < 0 ? "" : raw.slice(qpos + 1));
    return { path: path, params: params };
  }
  function link(path, params) {
    const q = new URLSearchParams();
    for (const k in params || {}) if (params[k] !== null && params[k] !== undefined && params[k] !== "") q.set(k, params[k]);
    const s = q.toString();
    return "#/" + path.map(encodeURIComponent).join("/") + (s ? "?" + s : "");
  }
  function show(name) {
    for (const k in views) views[k].hidden = k !== name;
    status.textContent = "";
  }
  function setCrumbs(parts) {
    crumbs.textContent = "";
    parts.forEach(function (p, i) { add(crumbs, [i ? " › " : "", p[1] ? h("a", { href: p[1] }, p[0]) : p[0]]); });
  }
  function keyOf(x) {   // a system key, or a label ('rewriter + retriever') as report links give it
    if (SYS[x]) return x;
    const s = OV.systems.find(function (y) { return y.label === x; });
    return s ? s.key : null;
  }
  function taskSystems(task) { return OV.systems.filter(function (s) { return s.tasks.indexOf(task) >= 0; }); }

  // -- rank contrasts (also in tests/test_explore.py, which checks the page against it) -----------------
  function rbo(a, b, p) {   // extrapolated rank-biased overlap (Webber et al. 2010) at depth min(|a|, |b|)
    const k = Math.min(a.length, b.length);
    if (!k) return null;
    const sa = new Set(), sb = new Set();
    let x = 0, sum = 0;
    for (let d = 1; d <= k; d++) {
      const u = a[d - 1], v = b[d - 1];
      sa.add(u); if (sb.has(u)) x++;
      sb.add(v); if (sa.has(v)) x++;
      sum += (x / d) * Math.pow(p, d);
    }
    return (x / k) * Math.pow(p, k) + ((1 - p) / p) * sum;
  }
  function kendall(a, b) {   // tau-b over the union of two top-k lists; a document missing from one list ranks after its end
    const items = Array.from(new Set(a.concat(b)));
    if (items.length < 2) return null;
    const ra = new Map(a.map(function (d, i) { return [d, i]; })), rb = new Map(b.map(function (d, i) { return [d, i]; }));
    const x = items.map(function (d) { return ra.has(d) ? ra.get(d) : a.length; });
    const y = items.map(function (d) { return rb.has(d) ? rb.get(d) : b.length; });
    let c = 0, dis = 0, tx = 0, ty = 0;
    for (let i = 0; i < items.length; i++) for (let j = i + 1; j < items.length; j++) {
      const sx = Math.sign(x[i] - x[j]), sy = Math.sign(y[i] - y[j]);
      if (sx === 0 && sy === 0) continue;
      if (sx === 0) tx++; else if (sy === 0) ty++; else if (sx === sy) c++; else dis++;
    }
    const den = Math.sqrt((c + dis + tx) * (c + dis + ty));
    return den ? (c - dis) / den : null;
  }

  // -- task view -----------------------------------------------------------------------------------------
  function taskRows(T, a, b, mi) {
    const A = T.systems[a], B = T.systems[b];
    return T.qids.map(function (qid, i) {
      const ma = A && A.metrics[i] ? A.metrics[i][mi] : null, mb = B && B.metrics[i] ? B.metrics[i][mi] : null;
      const ta = A && A.top[i] ? A.top[i] : [], tb = B && B.top[i] ? B.top[i] : [];
      const best = function (S) {
        if (!S) return null;
        const r = S.gold_ranks[i].filter(function (x) { return x > 0; });
        return r.length ? Math.min.apply(null, r) : 0;
      };
      return { i: i, qid: qid, text: T.text[i], ma: ma, mb: mb, delta: ma === null || mb === null ? null : mb - ma,
               rbo: rbo(ta, tb, 0.9), tau: kendall(ta, tb), ga: best(A), gb: best(B), ngold: T.gold[i].length };
    });
  }

  function renderTask(task, params) {
    return BE.need("task/" + task, OV.task_files[task]).then(function (T) {
      const systems = taskSystems(task);
      const a = keyOf(params.get("a")) || (systems[0] || {}).key;
      const b = keyOf(params.get("b")) || (systems[1] || systems[0] || {}).key;
      const c = params.get("c") || "delta", m = params.get("m") || OV.metric, f = params.get("f") || "all";
      const s = (params.get("s") || "").toLowerCase(), order = params.get("o") || "";
      const mi = Math.max(0, METRICS.indexOf(m));
      const state = { a: a, b: b, c: c, m: m, f: f, s: params.get("s") || "", o: order };
      const go = function (change) { location.hash = link(["task", task], Object.assign({}, state, change)); };
      let rows = taskRows(T, a, b, mi);
      const counts = { wins: 0, ties: 0, losses: 0 };
      rows.forEach(function (r) { const k = cls(r.delta); if (k) counts[k === "win" ? "wins" : k === "loss" ? "losses" : "ties"]++; });
      rows = rows.filter(function (r) {
        if (f === "wins" && !(r.delta > EPS)) return false;
        if (f === "losses" && !(r.delta < -EPS)) return false;
        if (f === "unchanged" && !(r.delta !== null && Math.abs(r.delta) <= EPS)) return false;
        if (f === "nogold" && !(r.ngold && r.gb === 0)) return false;
        return !s || r.qid.toLowerCase() === s || r.text.toLowerCase().indexOf(s) >= 0;
      });
      const key = { delta: function (r) { return r.delta; }, tau: function (r) { return r.tau; }, rbo: function (r) { return r.rbo; } }[c] || function (r) { return r.delta; };
      const up = order ? order === "asc" : c !== "delta";   // Δ: largest gain first; τ / RBO: most different first
      rows.sort(function (x, y) {
        const kx = key(x), ky = key(y);
        if (kx === null || ky === null) return (kx === null) - (ky === null);
        return (up ? kx - ky : ky - kx) || x.i - y.i;
      });
      lastOrder[task] = rows.map(function (r) { return r.qid; });
      const view = views.task;
      view.textContent = "";
      setCrumbs([["overview", "#/"], [task, null]]);
      const sel = function (name, value, opts) {
        return h("select", { id: "sel-" + name, "aria-label": name, onchange: function (e) { const ch = {}; ch[name] = e.target.value; go(ch); } },
          opts.map(function (o) { return h("option", { value: o[0], selected: o[0] === value }, o[1]); }));
      };
      const sysOpts = systems.map(function (x) { return [x.key, x.label]; });
      const filters = [["all", "all"], ["wins", "wins " + counts.wins], ["losses", "losses " + counts.losses],
                       ["unchanged", "unchanged " + counts.ties], ["nogold", "no gold retrieved (B)"]];
      const search = h("input", { type: "search", id: "search", placeholder: "search query text or id ( / )", value: state.s,
        onkeydown: function (e) { if (e.key === "Enter") go({ s: e.target.value }); if (e.key === "Escape") e.target.blur(); } });
      add(view, [
        h("h1", null, task, " ", h("span", { cls: "badge" }, T.qids.length + " queries")),
        T.notes.length ? h("p", { cls: "note" }, T.notes.join("; ")) : null,
        h("div", { cls: "controls" },
          h("label", null, "A ", sel("a", a, sysOpts)), h("label", null, "B ", sel("b", b, sysOpts)),
          h("label", null, "sort by ", sel("c", c, [["delta", "Δ metric (B − A)"], ["tau", "Kendall τ of top-" + OV.depth], ["rbo", "RBO p=0.9 of top-" + OV.depth]])),
          h("label", null, "metric ", sel("m", m, METRICS.map(function (x) { return [x, x]; }))),
          h("button", { onclick: function () { go({ o: up ? "desc" : "asc" }); }, title: "reverse the order" }, up ? "ascending" : "descending")),
        h("div", { cls: "controls filters", role: "group", "aria-label": "filters" },
          filters.map(function (x) { return h("button", { "aria-pressed": String(x[0] === f), "data-filter": x[0], onclick: function () { go({ f: x[0] }); } }, x[1]); }),
          search, h("button", { onclick: function () { go({ s: search.value }); } }, "search")),
        h("p", { cls: "meta" }, rows.length + " shown · A = " + SYS[a].label + " · B = " + SYS[b].label +
          " · best gold rank: 0 means none in the run"),
      ]);
      const tbody = h("tbody");
      rows.forEach(function (r) {
        const href = link(["query", task, r.qid], { a: a, b: b, show: a === b ? a : a + "," + b });
        tbody.appendChild(h("tr", { "data-qid": r.qid },
          h("td", null, h("a", { href: href, cls: "qlink" }, r.qid)), h("td", { cls: "text", title: r.text.slice(0, 600) }, r.text.slice(0, 160)),
          h("td", { cls: "num" }, pct(r.ma)), h("td", { cls: "num" }, pct(r.mb)),
          h("td", { cls: "num " + cls(r.delta), "data-delta": r.delta === null ? "" : r.delta }, signed(r.delta)),
          h("td", { cls: "num" }, fix(r.tau, 2)), h("td", { cls: "num", "data-rbo": r.rbo === null ? "" : r.rbo }, fix(r.rbo, 2)),
          h("td", { cls: "num" }, r.ga === null ? "–" : r.ga || "none"), h("td", { cls: "num" }, r.gb === null ? "–" : r.gb || "none")));
      });
      add(view, h("div", { cls: "scroll" }, h("table", { cls: "qtable", id: "qtable" },
        h("thead", null, h("tr", null, ["qid", "query", m + " A", m + " B", "Δ", "τ", "RBO", "best gold A", "best gold B"].map(function (x, i) {
          return h("th", { cls: i > 1 ? "num" : "" }, x); }))), tbody)));
      selected = 0; markSelected();
      show("task");
    });
  }

  function markSelected() {
    const trs = views.task.querySelectorAll("#qtable tbody tr");
    trs.forEach(function (tr, i) { tr.classList.toggle("sel", i === selected); });
    if (trs[selected]) trs[selected].scrollIntoView({ block: "nearest" });
  }

  // -- query view ----------------------------------------------------------------------------------------
  function diffNode(ops) {
    return ops.map(function (o) { return h("span", { cls: o[0] === "+" ? "d-add" : o[0] === "-" ? "d-del" : "d-eq" }, o[1]); });
  }
  function words(ops, op) {
    const seen = new Set();
    ops.forEach(function (o) { if (o[0] === op) o[1].split(/\s+/).forEach(function (w) { w = w.toLowerCase().replace(/^\W+|\W+$/g, ""); if (w) seen.add(w); }); });
    return seen.size;
  }
  function docText(doc) {   // words the query's BM25 terms matched (worked out by the site builder with BM25's analyzer), highlighted
    const parts = [], re = /[\p{L}\p{N}_]+(?:['’.][\p{L}\p{N}_]+)*/gu;
    let last = 0, m;
    while ((m = re.exec(doc.text)) !== null) {
      const term = doc.words[m[0]];
      if (term === undefined) continue;
      parts.push(doc.text.slice(last, m.index), h("mark", { title: "matches term '" + term + "'" }, m[0]));
      last = m.index + m[0].length;
    }
    parts.push(doc.text.slice(last));
    return parts;
  }

  function renderQuery(task, qid, params) {
    return BE.need("task/" + task, OV.task_files[task]).then(function (T) {
      const i = T.qids.indexOf(qid);
      if (i < 0) throw new Error("no query " + qid + " in " + task);
      return BE.need("q/" + task + "/" + qid, T.files[i]).then(function (Q) { drawQuery(task, qid, i, T, Q, params); });
    });
  }

  function drawQuery(task, qid, i, T, Q, params) {
    const systems = taskSystems(task);
    let shown = (params.get("show") || "").split(",").map(keyOf).filter(function (k) { return k && T.systems[k]; });
    const keep = { a: keyOf(params.get("a")), b: keyOf(params.get("b")) };
    if (!shown.length) shown = [keep.a, keep.b].filter(function (k, j, all) { return k && T.systems[k] && all.indexOf(k) === j; });
    if (!shown.length) shown = systems.slice(0, 2).map(function (s) { return s.key; });
    const view = views.query;
    view.textContent = "";
    setCrumbs([["overview", "#/"], [task, link(["task", task], keep)], ["query " + qid, null]]);
    const order = lastOrder[task] || T.qids, at = order.indexOf(qid);
    const nav = function (j) { return j >= 0 && j < order.length ? link(["query", task, order[j]], Object.assign({ show: shown.join(",") }, keep)) : null; };
    const prev = nav(at - 1), next = nav(at + 1);
    const gold = new Set(Q.gold), excl = new Set(Q.excluded);
    add(view, [
      h("h1", null, task + " · query " + qid),
      h("div", { cls: "pager" }, prev ? h("a", { href: prev, id: "prev" }, "‹ previous (p)") : null, next ? h("a", { href: next, id: "next" }, "next (n) ›") : null,
        h("a", { href: link(["task", task], keep) }, "back to the task (u)")),
      h("div", { cls: "syspick", role: "group", "aria-label": "systems shown" }, systems.map(function (s) {
        return h("label", null, h("input", { type: "checkbox", "data-sys": s.key, checked: shown.indexOf(s.key) >= 0, onchange: function (e) {
          const next = systems.map(function (x) { return x.key; }).filter(function (k) { return k === s.key ? e.target.checked : shown.indexOf(k) >= 0; });
          location.hash = link(["query", task, qid], Object.assign({ show: next.join(",") }, keep));
        } }), " " + s.label);
      })),
      h("h2", null, "Original query"), h("div", { cls: "box" }, h("pre", { cls: "qtext", id: "original" }, Q.original)),
    ]);
    // rewrites: one block per distinct rewriter among the shown systems
    const byRw = {};
    shown.forEach(function (k) { const rw = Q.rewrites[SYS[k].rewriter]; if (rw) (byRw[SYS[k].rewriter] = byRw[SYS[k].rewriter] || { diff: rw, keys: [] }).keys.push(k); });
    add(view, h("h2", null, "Rewrites against the original (", h("span", { cls: "d-add" }, "added"), " / ", h("span", { cls: "d-del" }, "dropped"), ")"));
    Object.keys(byRw).forEach(function (name) {
      const x = byRw[name];
      add(view, h("div", { cls: "box" }, h("b", null, name), " ",
        h("span", { cls: "badge" }, words(x.diff, "+") + " words added, " + words(x.diff, "-") + " dropped"),
        h("div", { cls: "rewrite", "data-sys": x.keys.join(","), "data-rewriter": name }, diffNode(x.diff))));
    });
    if (Q.reasoning !== null || Q.gold_answer !== null) {
      add(view, h("details", { cls: "box", open: true }, h("summary", null, "BRIGHT's reasoning note and gold answer"),
        h("p", null, h("b", null, "reasoning: "), Q.reasoning || "(none)"),
        h("pre", { cls: "qtext" }, h("b", null, "gold answer: "), Q.gold_answer && Q.gold_answer !== "N/A" ? Q.gold_answer : "(none)")));
    }
    // metrics
    add(view, [h("h2", null, "Per-query metrics"), h("div", { cls: "scroll" }, h("table", { id: "metrics" },
      h("thead", null, h("tr", null, h("th", null, "system"), METRICS.map(function (m) { return h("th", { cls: "num" }, m); }))),
      h("tbody", null, shown.map(function (k) {
        const row = T.systems[k].metrics[i];
        return h("tr", null, h("td", null, SYS[k].label), METRICS.map(function (m, j) {
          const v = row ? row[j] : null;
          return h("td", { cls: "num", "data-sys": k, "data-metric": m, "data-value": v === null ? "" : v }, fix(v, 4));
        }));
      }))))]);
    // gold ranks
    if (Q.gold.length) {
      add(view, [h("h2", null, "Rank of each gold document"), h("div", { cls: "scroll" }, h("table", { id: "goldranks" },
        h("thead", null, h("tr", null, h("th", null, "gold document"), shown.map(function (k) { return h("th", { cls: "num" }, SYS[k].label); }))),
        h("tbody", null, Q.gold.map(function (g, gi) {
          return h("tr", null, h("td", { cls: "doc" }, h("span", { cls: "star" }, "★ "), g), shown.map(function (k) {
            const S = T.systems[k], r = S.gold_ranks[i][gi];
            return h("td", { cls: "num grank " + (r && r <= OV.depth ? "top" : r ? "" : "none"), "data-sys": k, "data-doc": g, "data-rank": r },
              r ? "#" + r : "not in top-" + S.run_depth[i]);
          }));
        }))))]);
    } else if (!T.has_examples) {
      add(view, h("p", { cls: "note" }, "gold ids unknown: the data source's examples were not available"));
    }
    if (Q.excluded_n) {
      add(view, h("details", { cls: "box" }, h("summary", null, Q.excluded_n + " excluded ids (BRIGHT removes them before ranking)"),
        h("p", { cls: "doc", id: "excluded" }, Q.excluded.join(", ") + (Q.excluded_n > Q.excluded.length ? ", …" : ""))));
    }
    // rankings side by side
    add(view, h("h2", null, "Top " + OV.depth + " of each system (★ gold)"));
    if (Q.doc_note) add(view, h("p", { cls: "note" }, Q.doc_note));
    add(view, h("div", { cls: "rankings", id: "rankings" }, shown.map(function (k) {
      const rows = Q.rankings[k] || [], via = Q.via[k] || {}, terms = Q.terms[Q.terms_of[k]] || {};
      let n = 0;
      return h("div", { "data-sys": k }, h("h3", null, SYS[k].label,
          SYS[k].first_stage ? h("div", { cls: "via" }, "reranks " + SYS[SYS[k].first_stage].label) : null),
        h("ol", null, rows.map(function (r) {
          const d = r[0], isGold = gold.has(d), isEx = r[2] === 1 || excl.has(d);
          if (!isEx) n++;
          const vias = Object.keys(via).map(function (vk) { const x = via[vk][d]; return SYS[vk].retriever + (x ? " #" + x : " –"); });
          const t = terms[d];
          return h("li", { cls: (isGold ? "gold" : "") + (isEx ? " excluded" : ""), "data-doc": d, "data-gold": isGold ? "1" : "0", "data-rank": isEx ? "" : n },
            h("span", { cls: "rk" }, isEx ? "×" : "#" + n), isGold ? h("span", { cls: "star", title: "gold" }, "★ ") : null,
            h("span", { cls: "doc" }, d), h("span", { cls: "score" }, fix(r[1], 3)),
            isEx ? h("div", { cls: "via" }, "excluded id: not counted") : null,
            vias.length ? h("div", { cls: "via" }, (SYS[k].first_stage ? "first stage: " : "fused from: ") + vias.join(", ")) : null,
            t ? h("div", { cls: "terms" }, SYS[k].first_stage ? "first-stage BM25 terms: " : "BM25 terms: ", t.map(function (p) { return h("span", null, h("b", null, p[0] === null ? "+" + p[2] + " more" : p[0]), " " + p[1].toFixed(2) + " "); })) : null,
            Q.docs[d] ? h("details", { open: isGold }, h("summary", null, "text"), h("p", { cls: "dtext" }, docText(Q.docs[d]))) : null);
        })));
    })));
    const goldNotShown = Q.gold.filter(function (g) { return Q.docs[g] && !shown.some(function (k) { return (Q.rankings[k] || []).some(function (r) { return r[0] === g; }); }); });
    if (goldNotShown.length) {
      add(view, [h("h2", null, "Gold documents outside the lists above"), goldNotShown.map(function (g) {
        return h("details", { cls: "box" }, h("summary", null, h("span", { cls: "star" }, "★ "), g), h("p", { cls: "dtext" }, docText(Q.docs[g])));
      })]);
    }
    show("query");
    window.scrollTo(0, 0);
  }

  // -- routing and keys ------------------------------------------------------------------------------------
  function route() {
    const r = parseHash();
    let p;
    if (r.path[0] === "task" && r.path[1] && OV.task_files[r.path[1]]) p = renderTask(r.path[1], r.params);
    else if (r.path[0] === "query" && r.path[2] !== undefined && OV.task_files[r.path[1]]) p = renderQuery(r.path[1], r.path[2], r.params);
    else { setCrumbs([["overview", null]]); show("overview"); return; }
    status.textContent = "loading…";
    p.catch(function (e) { status.textContent = "error: " + e.message; });
  }
  window.addEventListener("hashchange", route);
  document.addEventListener("keydown", function (e) {
    const tag = (e.target.tagName || "").toLowerCase();
    if (tag === "input" || tag === "select" || tag === "textarea" || e.ctrlKey || e.metaKey || e.altKey) return;
    const r = parseHash();
    if (!views.task.hidden) {
      const n = views.task.querySelectorAll("#qtable tbody tr").length;
      if (e.key === "j" || e.key === "ArrowDown") { selected = Math.min(n - 1, selected + 1); markSelected(); e.preventDefault(); }
      else if (e.key === "k" || e.key === "ArrowUp") { selected = Math.max(0, selected - 1); markSelected(); e.preventDefault(); }
      else if (e.key === "Enter") { const a = views.task.querySelectorAll("#qtable tbody tr .qlink")[selected]; if (a) location.hash = a.getAttribute("href"); }
      else if (e.key === "/") { document.getElementById("search").focus(); e.preventDefault(); }
      else if (e.key === "u") location.hash = "#/";
    } else if (!views.query.hidden) {
      const id = e.key === "n" ? "next" : e.key === "p" ? "prev" : null;
      if (id && document.getElementById(id)) location.hash = document.getElementById(id).getAttribute("href");
      else if (e.key === "u") location.hash = link(["task", r.path[1]], { a: r.params.get("a"), b: r.params.get("b") });
    }
  });
  route();
})();
