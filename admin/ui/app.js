// herald dashboard. Plain JavaScript, no build step, no dependencies.
// Live data arrives over Server-Sent Events (/admin/stream); actions are
// POSTs with the session's CSRF token in a header.
"use strict";
(function () {
  var csrf = "";
  var events = new Map();       // seq -> event view
  var order = [];               // seqs, newest first
  var selected = null;          // seq of the event shown in detail
  var codes = new Set();        // every code seen, for masking
  var status = null;
  var source = null;
  var MAX_EVENTS = 500;

  function $(id) { return document.getElementById(id); }

  // h builds an element; strings become text nodes (never HTML).
  function h(tag, attrs) {
    var el = document.createElement(tag);
    for (var k in attrs || {}) {
      var v = attrs[k];
      if (v == null || v === false) continue;
      if (k === "class") el.className = v;
      else if (k === "style") el.style.cssText = v; // CSSOM: allowed by the page's CSP
      else if (k === "text") el.textContent = v;
      else if (k.slice(0, 2) === "on") el.addEventListener(k.slice(2), v);
      else el.setAttribute(k, v === true ? "" : v);
    }
    for (var i = 2; i < arguments.length; i++) {
      var c = arguments[i];
      if (c == null || c === false) continue;
      if (Array.isArray(c)) c.forEach(function (x) { if (x) el.append(x); });
      else el.append(c);
    }
    return el;
  }

  // fill replaces el's children, skipping null and false, flattening arrays.
  function fill(el) {
    var kids = [];
    (function add(list) {
      list.forEach(function (c) { if (Array.isArray(c)) add(c); else if (c != null && c !== false) kids.push(c); });
    })(Array.prototype.slice.call(arguments, 1));
    el.replaceChildren.apply(el, kids);
  }

  function show(view) {
    ["view-loading", "view-off", "view-signin", "view-dash"].forEach(function (v) { $(v).hidden = v !== view; });
    $("top-actions").hidden = view !== "view-dash";
  }

  // ---- codes: masked unless revealed --------------------------------------
  function revealed() { return $("reveal").checked; }
  function learn(code) { if (code) codes.add(String(code)); }
  // A colour per code (FNV-1a, spread by the golden angle) tells codes
  // apart while they are masked, without showing any of their characters.
  function hue(s) { var x = 2166136261; for (var i = 0; i < s.length; i++) x = Math.imul(x ^ s.charCodeAt(i), 16777619) >>> 0; return Math.round((x % 1000) * 137.508) % 360; }
  function codeTag(code) {
    if (!code) return h("span", { class: "dim", text: "(not registered)" });
    learn(code);
    return h("span", { class: "codetag", title: revealed() ? code : "code hidden: tick Reveal codes" },
      h("span", { class: "swatch", style: "background:hsl(" + hue(code) + " 70% 60%)" }),
      revealed() ? code : "••••••");
  }
  function maskJSON(v) {
    var s = JSON.stringify(v, null, 2);
    if (revealed()) return s;
    codes.forEach(function (c) { s = s.split(JSON.stringify(c)).join('"••••••"'); });
    return s;
  }

  // ---- formatting ---------------------------------------------------------
  function clock(t) { var d = new Date(t); return isNaN(d) ? "" : d.toLocaleTimeString([], { hour12: false }); }
  function ago(t) {
    var s = Math.max(0, (Date.now() - new Date(t).getTime()) / 1000);
    if (s < 60) return Math.floor(s) + "s ago";
    if (s < 3600) return Math.floor(s / 60) + "m ago";
    if (s < 86400) return Math.floor(s / 3600) + "h " + Math.floor(s % 3600 / 60) + "m ago";
    return Math.floor(s / 86400) + "d ago";
  }
  function plural(n, one, many) { return n + " " + (n === 1 ? one : (many || one + "s")); }

  // ---- API ----------------------------------------------------------------
  function api(method, path, body) {
    var opts = { method: method, credentials: "same-origin", headers: {} };
    if (method !== "GET") opts.headers["X-CSRF-Token"] = csrf;
    if (body !== undefined) { opts.headers["Content-Type"] = "application/json"; opts.body = JSON.stringify(body); }
    return fetch(path, opts).then(function (r) {
      return r.text().then(function (t) {
        var j; try { j = JSON.parse(t); } catch (e) { j = { error: t || r.statusText }; }
        if (!r.ok) throw new Error(j.error || ("HTTP " + r.status));
        return j;
      });
    });
  }

  function start() {
    api("GET", "/admin/session").then(function (s) {
      if (!s.enabled) { $("off-help").textContent = s.help; show("view-off"); return; }
      if (!s.signed_in) { show("view-signin"); $("token").focus(); return; }
      csrf = s.csrf;
      show("view-dash");
      connect();
    }).catch(function (e) { $("view-loading").textContent = "herald is not answering: " + e.message; });
  }

  $("signin").addEventListener("submit", function (e) {
    e.preventDefault();
    $("signin-error").textContent = "";
    $("signin-button").disabled = true;
    api("POST", "/admin/login", { token: $("token").value }).then(function (s) {
      csrf = s.csrf; $("token").value = "";
      show("view-dash"); connect();
    }).catch(function (err) { $("signin-error").textContent = err.message; })
      .finally(function () { $("signin-button").disabled = false; });
  });

  $("signout").addEventListener("click", function () {
    api("POST", "/admin/logout").finally(function () { signedOut(); });
  });

  function signedOut() {
    if (source) source.close();
    source = null; csrf = ""; events.clear(); order = []; selected = null;
    show("view-signin");
  }

  // ---- live feed ----------------------------------------------------------
  function connect() {
    if (source) source.close();
    setLive("connecting");
    source = new EventSource("/admin/stream");
    source.addEventListener("open", function () { setLive("live"); });
    source.addEventListener("error", function () {
      if (source.readyState === EventSource.CLOSED) {
        // The server refused the stream: the session is gone.
        api("GET", "/admin/session").then(function (s) { if (!s.signed_in) signedOut(); else setTimeout(connect, 2000); });
      } else setLive("reconnecting");
    });
    source.addEventListener("history", function (m) {
      events.clear(); order = [];
      JSON.parse(m.data).forEach(function (ev) { put(ev, false); });
      renderEvents();
    });
    source.addEventListener("event", function (m) {
      var ev = JSON.parse(m.data);
      var fresh = !events.has(ev.seq);
      put(ev, fresh);
      renderEvents(fresh ? ev.seq : null);
    });
    source.addEventListener("status", function (m) { status = JSON.parse(m.data); renderStatus(); });
    source.addEventListener("signedout", function () { signedOut(); });
  }
  function setLive(state) { var l = $("live"); l.dataset.state = state; l.textContent = state; }

  function put(ev, fresh) {
    learn(ev.code);
    ev.deliveries.forEach(function (d) { learn(d.room); });
    if (!events.has(ev.seq)) {
      order.unshift(ev.seq);
      while (order.length > MAX_EVENTS) events.delete(order.pop());
    }
    events.set(ev.seq, ev);
  }

  // ---- event list ---------------------------------------------------------
  function outcomeLabel(ev) {
    if (ev.outcome === "rule") return ev.rules.join(", ");
    return ev.outcome;
  }

  function eventRow(ev, fresh) {
    var dels = ev.deliveries.map(function (d) {
      return h("span", { class: "del" },
        h("span", { class: "name", text: d.name }), "→", codeTag(d.room),
        h("span", { class: "reach" + (d.pages ? "" : " none"), text: plural(d.pages, "page") }),
        d.acks ? h("span", { class: "acks", text: "✓ " + plural(d.acks, "ack") }) : null);
    });
    if (!dels.length) dels = [h("span", { class: "dim", text: ev.outcome === "dropped" ? "dropped by " + ev.rules.join(", ") : "no rule, no code" })];
    return h("div", {
      class: "ev" + (selected === ev.seq ? " selected" : "") + (fresh ? " fresh" : ""), role: "listitem",
      "data-seq": ev.seq, "data-id": ev.id, "data-outcome": ev.outcome, "data-type": ev.type,
      onclick: function () { selected = selected === ev.seq ? null : ev.seq; renderEvents(); },
    },
      h("span", { class: "time", text: clock(ev.time) }),
      h("span", { class: "what", title: ev.source + " · " + ev.type }, h("span", { class: "src", text: ev.source + " · " }), ev.type),
      h("span", { class: "badge " + ev.outcome, title: outcomeLabel(ev), text: ev.outcome === "rule" ? ev.rules[0] || "rule" : ev.outcome }),
      h("span", { class: "dels" }, dels),
      h("span", { class: "meta", text: ev.errors && ev.errors.length ? "⚠ " + plural(ev.errors.length, "error") : (ev.latency_ms ? ev.latency_ms.toFixed(1) + " ms" : "") }));
  }

  function renderEvents(freshSeq) {
    var list = $("events");
    list.replaceChildren();
    if (!order.length) list.append(h("div", { class: "empty", text: "No events yet. Fire a test alert, or hit /notify?code=…&event=follow." }));
    order.forEach(function (seq) { list.append(eventRow(events.get(seq), seq === freshSeq)); });
    $("event-count").textContent = order.length ? plural(order.length, "event") + " (newest first)" : "";
    renderDetail();
  }

  function renderDetail() {
    var box = $("detail");
    var ev = selected != null && events.get(selected);
    if (!ev) { box.hidden = true; return; }
    box.hidden = false;
    var replayResult = h("output", { class: "result", id: "detail-replay-result" });
    fill(box,
      h("div", { class: "detail-head" },
        h("span", { class: "badge " + ev.outcome, text: outcomeLabel(ev) }),
        h("strong", { text: ev.source + " · " + ev.type }),
        h("span", { class: "dim mono", text: ev.id }),
        h("span", { class: "grow" }),
        replayResult,
        ev.deliveries.length ? h("button", { class: "small", type: "button", id: "detail-replay", onclick: function () { replayOne(ev, replayResult); } }, "Replay this alert") : null,
        h("button", { class: "small ghost", type: "button", onclick: function () { selected = null; renderEvents(); } }, "Close")),
      h("dl", { class: "kv" },
        h("dt", { text: "time" }), h("dd", { text: new Date(ev.time).toLocaleString() }),
        ev.code ? [h("dt", { text: "code" }), h("dd", {}, codeTag(ev.code))] : null,
        h("dt", { text: "rules" }), h("dd", { text: ev.rules.length ? ev.rules.join(", ") + " (generation " + ev.generation + ")" : ev.outcome }),
        ev.errors && ev.errors.length ? [h("dt", { text: "errors" }), h("dd", { class: "lasterr", text: ev.errors.join("\n") })] : null),
      h("div", { class: "cols" },
        h("div", {}, h("h3", { text: "Sent to pages" }),
          ev.deliveries.length ? ev.deliveries.map(function (d) {
            return h("div", {}, h("div", { class: "dim", style: "margin:4px 0" }, d.name + " → ", codeTag(d.room), " · " + plural(d.pages, "page") + (d.acks ? " · " + plural(d.acks, "ack") : "")),
              h("pre", { class: "json", text: maskJSON(d.payload) }));
          }) : h("p", { class: "dim", text: "nothing" })),
        h("div", {}, h("h3", { text: "As it arrived (secrets and personal fields hidden)" }),
          h("pre", { class: "json", id: "detail-arrived", text: maskJSON(ev.arrived) }))));
  }

  function replayed(r) {
    return "replayed " + plural(r.replayed || 0, "alert") + (r.pages != null ? " to " + plural(r.pages, "page") : "");
  }

  function replayOne(ev, out) {
    out.className = "result"; out.textContent = "replaying…";
    api("POST", "/admin/api/replay", { id: ev.id }).then(function (r) {
      out.className = "result ok"; out.textContent = replayed(r);
    }).catch(function (e) { out.className = "result bad"; out.textContent = e.message; });
  }

  // ---- side panels ----------------------------------------------------------
  // journalPill says whether alerts go out with their history (so pages
  // recover them and they can be replayed) or live only.
  function journalPill(j) {
    if (!j) return null;
    var why = j.last_failure ? j.last_failure.message : "";
    switch (j.state) {
      case "ok":
        return h("span", { class: "pill", id: "pill-journal", "data-state": "ok", title: "every alert is kept in the journal: pages recover what they missed, and it can be replayed" },
          h("span", { class: "dot ok" }), "history");
      case "memory":
        return h("span", { class: "pill", id: "pill-journal", "data-state": "memory", title: "the journal could not be kept on disk, so history lives in memory and ends at the next restart: " + j.store_error },
          h("span", { class: "dot warn" }), "history in memory");
      case "waiting":
        return h("span", { class: "pill", id: "pill-journal", "data-state": "waiting", title: "Redis is away: these alerts reached this node's pages only; they are journaled and sent to the other nodes once it is back. " + why },
          h("span", { class: "dot bad" }), h("b", { text: String(j.waiting) }), "waiting for Redis");
      default:
        return h("span", { class: "pill", id: "pill-journal", "data-state": "failing", title: "alerts still reach the pages, but are not kept: a page that is away will not get them. " + why },
          h("span", { class: "dot bad" }), "history failing · ", h("b", { text: String(j.failures) }), "live only");
    }
  }

  // suggestDryRun fills the dry run's event, until the streamer edits it,
  // with one the running rules file can receive: of its first Twitch or
  // Ko-fi instance, else what the trigger URL sends. A Twitch follow on a
  // file with no Twitch instance only ever says "unrouted".
  var dryRunEdited = false;
  function suggestDryRun(instances) {
    var box = $("dryrun-event");
    if (dryRunEdited || !box) return;
    var ev = { source: "trigger", type: "follow", code: "demo", data: { user: "ada" } };
    for (var i = 0; i < instances.length; i++) {
      var x = instances[i];
      if (x.type === "twitch") { ev = { source: x.name, type: "channel.follow", data: { user_name: "ada" } }; break; }
      if (x.type === "kofi") { ev = { source: x.name, type: "Donation", data: { from_name: "Ada", amount: "5.00", currency: "USD", is_public: true, message: "Keep it up!" } }; break; }
    }
    box.value = JSON.stringify(ev);
  }

  function renderStatus() {
    if (!status) return;
    var st = status.rules || {};
    var pages = status.pages || [];
    pages.forEach(function (p) { learn(p.code); });
    var loadFailed = !!st.last_error;
    var testsFailed = st.tests && st.tests.failed;
    fill($("pills"),
      h("span", { class: "pill", id: "pill-pages" }, h("span", { class: "dot " + (status.total_pages ? "ok" : "warn") }),
        h("b", { text: String(status.total_pages) }), status.total_pages === 1 ? "page" : "pages"),
      h("span", { class: "pill" }, h("span", { class: "dot " + (loadFailed ? "bad" : testsFailed ? "warn" : "ok") }),
        "rules ", h("b", { text: "gen " + st.generation }), loadFailed ? " · save refused" : ""),
      h("span", { class: "pill" }, h("b", { text: String((st.counters || {}).routed || 0) }), "routed"),
      (st.counters || {}).unrouted ? h("span", { class: "pill" }, h("span", { class: "dot warn" }), h("b", { text: String(st.counters.unrouted) }), "unrouted") : null,
      status.missed ? h("span", { class: "pill", title: "this tab fell behind and missed events; reload to catch up" }, h("span", { class: "dot warn" }), h("b", { text: String(status.missed) }), "missed") : null,
      journalPill(status.journal));

    // pages
    $("pages-total").textContent = plural(status.total_pages, "page") + " · " + plural(pages.filter(function (p) { return p.code; }).length, "code");
    fill($("pages"), pages.length ? pages.map(function (p) {
      var tr = Object.keys(p.transports).sort().map(function (t) { return h("span", { class: "chip", text: p.transports[t] + " " + t }); });
      return h("div", { class: "item page", "data-count": p.count },
        h("div", { class: "line" }, h("span", { class: "count", text: String(p.count) }), h("span", { class: "grow" }, codeTag(p.code)),
          tr, p.code ? h("button", { class: "small ghost", type: "button", title: "use this code in the actions", onclick: function () { useCode(p.code); } }, "use") : null),
        h("div", { class: "sub", text: "connected since " + clock(p.since) + " (" + ago(p.since) + ")" }));
    }) : [h("div", { class: "empty", text: "No page connected. Open your overlay in OBS." })]);

    suggestDryRun(st.instances || []);

    // ingress: the declared instances plus the built-in trigger URL
    var inst = (st.instances || []).slice();
    if (!inst.some(function (i) { return i.name === "trigger"; })) inst.unshift({ name: "trigger", type: "trigger", path: "/notify", builtin: true });
    fill($("ingress"), inst.map(function (i) {
      var t = (st.traffic || {})[i.name] || {};
      var ref = (st.refusals || {})[i.name] || {};
      var by = ref.by || {};
      var reasons = Object.keys(by).sort().map(function (r) { return h("span", { class: "chip bad", text: by[r] + " " + r.replace("_", " ") }); });
      var conn = i.connection;
      return h("div", { class: "item ingress", "data-name": i.name, "data-state": conn ? conn.state : null },
        h("div", { class: "line" }, h("strong", { text: i.name }), h("span", { class: "chip", text: i.type }),
          h("span", { class: "grow mono dim", text: i.path ? i.path + (i.builtin ? " (built in)" : "") : (conn ? "EventSub WebSocket" : "") }),
          conn ? h("span", { class: "chip state " + stateClass(conn.state), text: conn.state }) : null),
        conn ? connectionLines(conn) : null,
        h("div", { class: "line wrap" },
          h("span", { class: "chip ok", text: (t.published || 0) + " accepted" }),
          t.duplicates ? h("span", { class: "chip", text: t.duplicates + " duplicates" }) : null,
          reasons.length ? reasons : (t.refused ? h("span", { class: "chip bad", text: t.refused + " refused" }) : h("span", { class: "chip", text: "0 refused" }))),
        ref.last ? h("div", { class: "lasterr", text: "last refusal " + clock(ref.last.at) + ": " + ref.last.reason }) : null);
    }));

    // rules
    var c = st.counters || {};
    var err = st.last_error;
    fill($("rules-state"),err ? h("span", { class: "chip bad", text: "last save refused" }) : h("span", { class: "chip ok", text: "loaded" }));
    fill($("rules"),
      h("div", { class: "mono", style: "overflow-wrap:anywhere", text: st.file || "(none)" }),
      h("div", { class: "sub dim", text: "generation " + st.generation + " · loaded " + clock(st.loaded_at) + " (" + ago(st.loaded_at) + ") · " + plural(st.rules, "rule") +
        " · tests " + ((st.tests || {}).run || 0) + " run, " + ((st.tests || {}).failed || 0) + " failed" }),
      h("div", { class: "rules-grid" },
        [["routed", c.routed], ["dropped", c.dropped], ["unrouted", c.unrouted], ["expr errors", c.expr_errors]].map(function (x) {
          return h("div", { class: "stat" }, h("span", { class: "n", text: String(x[1] || 0) }), h("span", { class: "l", text: x[0] }));
        })),
      (st.tests && st.tests.failures && st.tests.failures.length) ? h("ul", { class: "failures" }, st.tests.failures.map(function (f) { return h("li", { text: f }); })) : null,
      ruleErrors(st),
      warnings(st),
      err ? h("div", { class: "loaderr", id: "rules-error" },
        h("div", { class: "dim", text: "Save at " + clock(err.at) + " refused; generation " + st.generation + " keeps running." }),
        (err.errors && err.errors.length ? err.errors : [{ msg: err.message }]).map(function (e) {
          var pos = e.file ? e.file.split("/").pop() + ":" + e.line + (e.col ? ":" + e.col : "") : "";
          return h("div", { class: "poserr" }, h("div", {}, h("span", { class: "pos", title: e.file || "", text: pos }), pos ? " " : "", e.msg),
            e.source ? h("pre", {}, e.source + (e.col ? "\n" : ""), e.col ? h("span", { class: "caret", text: " ".repeat(e.col - 1) + "^" }) : null) : null);
        })) : null);
  }

  // ---- a connection of its own (Twitch EventSub) ---------------------------
  function stateClass(state) { return state === "connected" ? "ok" : state === "stopped" ? "bad" : "warn"; }
  var SUB_LABEL = { enabled: "", pending: "pending", missing_scope: "missing scope", refused: "refused", revoked: "revoked", failed: "failed" };
  var SUB_CLASS = { enabled: "ok", pending: "", missing_scope: "bad", refused: "bad", revoked: "bad", failed: "bad" };
  function connectionLines(c) {
    var subs = (c.subscriptions || []).map(function (s) {
      var label = s.type.replace(/^channel\./, "") + (SUB_LABEL[s.status] ? " · " + SUB_LABEL[s.status] : "");
      var why = s.detail ? s.detail : s.status;
      if (s.retry_at) why += " · asked again at " + clock(s.retry_at);
      return h("span", { class: "chip sub-status " + (SUB_CLASS[s.status] || ""), "data-type": s.type, "data-status": s.status, title: s.type + ": " + why }, label);
    });
    return [].concat(
      c.state === "connected" ? h("div", { class: "sub conn" },
        "session since " + clock(c.connected_since) + " (" + ago(c.connected_since) + ")",
        c.last_keepalive ? h("span", { class: "keepalive", text: " · alive " + ago(c.last_keepalive) }) : null) : null,
      subs.length ? h("div", { class: "line wrap" }, subs) : null,
      (c.subscriptions || []).filter(function (s) { return s.status !== "enabled" && s.status !== "pending" && s.detail; }).map(function (s) {
        var who = s.detail.indexOf(s.type) >= 0 ? "" : s.type + ": ";
        return h("div", { class: "lasterr", text: who + s.detail + (s.retry_at ? " (asked again at " + clock(s.retry_at) + ")" : "") });
      }),
      c.last_error && c.state !== "connected" ? h("div", { class: "lasterr", text: "last error " + clock(c.last_error_at) + ": " + c.last_error }) : null);
  }

  // splitPos cuts "file:line:col: message" into the position and the rest.
  function splitPos(s) {
    var m = /^(.+?):(\d+)(?::(\d+))?: ([\s\S]*)$/.exec(s || "");
    if (!m) return { pos: "", msg: s || "" };
    return { pos: m[1].split(/[\\/]/).pop() + ":" + m[2] + (m[3] ? ":" + m[3] : ""), file: m[1], msg: m[4] };
  }
  function posLine(s, cls) {
    var p = splitPos(s);
    return h("div", { class: "poserr " + (cls || "") }, p.pos ? h("span", { class: "pos", title: p.file, text: p.pos }) : null, p.pos ? " " : "", p.msg);
  }

  function ruleErrors(st) {
    var byRule = st.rule_errors || {};
    var names = Object.keys(byRule).sort(function (a, b) { return byRule[b].count - byRule[a].count || (a < b ? -1 : 1); });
    if (!names.length) return null;
    return h("div", { class: "rule-errors", id: "rule-errors" },
      h("h3", { text: "Rule errors since start" }),
      names.map(function (n) {
        var e = byRule[n];
        var what = e.skipped ? plural(e.skipped, "time") + " skipped" + (e.count > e.skipped ? ", " + (e.count - e.skipped) + " part left out" : "") : "part left out, alert sent";
        return h("div", { class: "rule-error", "data-rule": n },
          h("div", { class: "line" }, h("strong", { text: n }), h("span", { class: "chip bad", text: plural(e.count, "error") }),
            h("span", { class: "grow dim", text: what }), h("span", { class: "dim", text: "last " + ago(e.last_at) })),
          posLine(stripRule(e.last, n)));
      }));
  }
  // stripRule leaves out the rule's own name, shown above it.
  function stripRule(s, name) { return (s || "").split('rule "' + name + '": ').join(""); }

  function warnings(st) {
    var w = st.warnings || [];
    if (!w.length) return null;
    return h("div", { class: "warnings", id: "rules-warnings" },
      h("h3", { text: plural(w.length, "warning") + " when loaded" }),
      w.map(function (x) { return posLine(x.replace(/: warning: /, ": "), "warn"); }));
  }

  function useCode(code) { $("test-code").value = code; $("replay-code").value = code; }

  // ---- actions ------------------------------------------------------------
  document.querySelectorAll(".tabs button").forEach(function (b) {
    b.addEventListener("click", function () {
      document.querySelectorAll(".tabs button").forEach(function (x) { x.setAttribute("aria-selected", String(x === b)); });
      document.querySelectorAll(".tab-body").forEach(function (f) { f.hidden = f.dataset.tab !== b.dataset.tab; });
    });
  });

  function parseFields(text) {
    text = text.trim();
    if (!text) return {};
    if (text[0] === "{") return JSON.parse(text);
    var out = {};
    text.split("\n").forEach(function (line) {
      var i = line.indexOf("=");
      if (i > 0) out[line.slice(0, i).trim()] = line.slice(i + 1).trim();
    });
    return out;
  }

  // sent says what a test alert became: "sent FOLLOW to 1 page", or for
  // several codes "sent RAID to 2 codes: 1 page in all" (the event list
  // has each code's count).
  function sent(ds, pages) {
    if (!ds.length) return "sent nothing";
    var names = ds.map(function (x) { return x.name; }).filter(function (n, i, a) { return a.indexOf(n) === i; }).join(", ");
    var rooms = ds.map(function (x) { return x.room; }).filter(function (n, i, a) { return a.indexOf(n) === i; }).length;
    if (rooms < 2) return "sent " + names + " to " + plural(pages, "page");
    return "sent " + names + " to " + rooms + " codes: " + plural(pages, "page") + " in all (each code's in the event list)";
  }

  function result(el, ok, text) { el.className = "result " + (ok ? "ok" : "bad"); el.textContent = text; }

  $("form-test").addEventListener("submit", function (e) {
    e.preventDefault();
    var out = $("test-result"), fields;
    try { fields = parseFields($("test-fields").value); } catch (err) { result(out, false, "fields: " + err.message); return; }
    var code = $("test-code").value.trim(), name = $("test-event").value.trim();
    fields.code = code; fields.event = name;
    // The event /notify?code&event&fields would make, so the streamer's
    // rules (source == "trigger") treat the test as the real thing.
    api("POST", "/admin/api/route", { source: "trigger", type: name, code: code, data: fields }).then(function (r) {
      result(out, r.pages > 0, r.unrouted ? "unrouted" : r.dropped ? "dropped by " + r.matched.join(", ") : sent(r.deliveries || [], r.pages));
    }).catch(function (err) { result(out, false, err.message); });
  });

  $("form-replay").addEventListener("submit", function (e) {
    e.preventDefault();
    var out = $("replay-result");
    api("POST", "/admin/api/replay", { room: $("replay-code").value.trim(), last: Number($("replay-last").value) }).then(function (r) {
      result(out, true, replayed(r));
    }).catch(function (err) { result(out, false, err.message); });
  });

  $("dryrun-event").addEventListener("input", function () { dryRunEdited = true; });

  $("form-dryrun").addEventListener("submit", function (e) {
    e.preventDefault();
    var box = $("dryrun-result"), ev;
    try { ev = JSON.parse($("dryrun-event").value); } catch (err) { fill(box,h("div", { class: "result bad", text: "not JSON: " + err.message })); return; }
    api("POST", "/admin/api/route?dry_run=1", ev).then(function (r) {
      learn(ev.code);
      var head = r.dropped ? "dropped by " + r.matched.join(", ") : r.unrouted ? "unrouted: no rule acts and no code" :
        (r.matched.length ? "matched " + r.matched.join(", ") : "default route") + " → " + plural(r.deliveries.length, "delivery", "deliveries");
      fill(box,h("div", { class: "result " + (r.unrouted ? "bad" : "ok"), id: "dryrun-summary", text: head }),
        (r.errors || []).map(function (x) { return h("div", { class: "lasterr", text: x.pos + ": " + x.rule + ": " + x.error }); }),
        r.deliveries.map(function (d) {
          return h("div", {}, h("div", { class: "dim" }, d.name + " → ", codeTag(d.room), d.rule ? " (rule " + d.rule + ")" : ""), h("pre", { class: "json", text: maskJSON(d.payload) }));
        }));
    }).catch(function (err) { fill(box,h("div", { class: "result bad", text: err.message })); });
  });

  $("reveal").addEventListener("change", function () {
    document.querySelectorAll("input.secret").forEach(function (i) { i.classList.toggle("revealed", revealed()); });
    renderEvents(); renderStatus();
  });

  // Relative times ("5m ago") age without any request.
  setInterval(function () { if (status && !$("view-dash").hidden) renderStatus(); }, 30000);

  start();
})();
