// linkctl supervisor page: call list, per-call leg timeline, daily figures, live
// updates over server-sent events. Plain ES2017, no build step, no CDN.
"use strict";

(function () {
  const ROLE = { "citizen": "市民", "agent-12345": "12345坐席", "agent-110": "110坐席" };
  const KEY = { "transfer": "一键转接", "three-way": "三方通话", "hand-over": "移交", "keep": "保留",
    "undetermined": "待定", "cancel": "取消", "emergency": "紧急转110" };
  const OUTCOME = { "": "进行中", "completed": "已转接", "no-answer": "无应答回退", "busy": "忙回退",
    "unavailable": "不可达回退", "cancelled": "已取消", "caller-hangup": "市民挂机", "handed-over": "移交对方",
    "kept": "本方保留", "undetermined": "待定（首接方保留）", "failed": "失败" };
  const MODE = { "one-key": "一键转接", "three-way": "三方通话", "emergency": "紧急" };
  const SVGNS = "http://www.w3.org/2000/svg";

  const state = { calls: new Map(), selected: "", source: null, statsTimer: 0 };
  const $ = (id) => document.getElementById(id);

  function token() { return sessionStorage.getItem("linkctl-token") || ""; }

  async function api(path) {
    const headers = { "Accept": "application/json" };
    if (token()) headers["Authorization"] = "Bearer " + token();
    const res = await fetch(path, { headers });
    const body = await res.json().catch(() => ({}));
    if (!res.ok) {
      const e = body.error || {};
      throw new Error((e.message || res.statusText) + (e.field ? "（" + e.field + "）" : ""));
    }
    return body;
  }

  function t(v) { return v ? new Date(v) : null; }
  function hms(d) { return d ? d.toLocaleTimeString("zh-CN", { hour12: false }) : "—"; }
  // hmsFine adds tenths of a second for short calls, where whole seconds all look alike.
  function hmsFine(d, fine) { return d && fine ? hms(d) + "." + Math.floor(d.getMilliseconds() / 100) : hms(d); }
  function shortCall(c) {
    const a = t(c.started), b = t(c.ended) || new Date();
    return a && b - a < 10000;
  }
  function dt(d) { return d ? d.toLocaleString("zh-CN", { hour12: false }) : "—"; }
  function el(tag, attrs, text) {
    const e = document.createElement(tag);
    for (const k in attrs || {}) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function svg(tag, attrs, text) {
    const e = document.createElementNS(SVGNS, tag);
    for (const k in attrs || {}) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function legName(l) {
    const who = l.agent || (l.endpoint || "").split("/").pop() || l.channel_id;
    return (ROLE[l.role] || l.role) + " " + who;
  }
  function lastOutcome(c) {
    const tr = c.transfers || [];
    return tr.length ? tr[tr.length - 1].outcome || "" : null;
  }

  // ---- call list ----
  function upsert(c) {
    const have = state.calls.get(c.id);
    if (have && (have.version || 0) > (c.version || 0)) return false;
    state.calls.set(c.id, c);
    return true;
  }

  function renderList() {
    const tbody = $("calls").querySelector("tbody");
    tbody.textContent = "";
    const calls = Array.from(state.calls.values()).sort((a, b) => (b.started || "").localeCompare(a.started || ""));
    for (const c of calls) {
      const tr = el("tr", { "data-id": c.id, "tabindex": "0" });
      if (c.id === state.selected) tr.className = "sel";
      const lo = lastOutcome(c);
      const tickets = [c.ticket_12345 && "12345:" + c.ticket_12345, c.ticket_110 && "110:" + c.ticket_110].filter(Boolean).join("\n");
      const cells = [dt(t(c.started)), c.first_platform || "", c.owner_platform || "", c.caller_number || "",
        tickets, c.category || (c.emergency ? "紧急警情" : ""), lo === null ? "—" : (OUTCOME[lo] || lo),
        c.outcome || "", c.ended ? "已结束" : "通话中"];
      cells.forEach((v, i) => tr.appendChild(el("td", i === 4 ? { "class": "tickets" } : {}, v)));
      tr.addEventListener("click", () => select(c.id));
      tr.addEventListener("keydown", (e) => { if (e.key === "Enter") select(c.id); });
      tbody.appendChild(tr);
    }
    if (!calls.length) {
      const tr = el("tr"); const td = el("td", { colspan: "9", "class": "muted" }, "暂无通话记录");
      tr.appendChild(td); tbody.appendChild(tr);
    }
  }

  async function loadCalls() {
    const form = new FormData($("filters"));
    const q = new URLSearchParams();
    for (const [k, v] of form.entries()) {
      if (!v) continue;
      if (k === "to" && /^\d{4}-\d{2}-\d{2}$/.test(v)) {
        // the API's "to" is exclusive: a picked end date includes that whole day
        const d = new Date(v + "T00:00:00");
        d.setDate(d.getDate() + 1);
        q.set(k, d.getFullYear() + "-" + String(d.getMonth() + 1).padStart(2, "0") + "-" + String(d.getDate()).padStart(2, "0"));
      } else {
        q.set(k, v);
      }
    }
    $("list-error").hidden = true;
    try {
      const body = await api("/v1/calls" + (q.toString() ? "?" + q : ""));
      state.calls.clear();
      for (const c of body.calls || []) upsert(c);
      renderList();
      if (!state.selected && body.calls && body.calls.length) select(body.calls[0].id);
      else if (state.selected) renderDetail();
    } catch (e) {
      $("list-error").textContent = "查询失败：" + e.message;
      $("list-error").hidden = false;
    }
  }

  function select(id) {
    state.selected = id;
    renderList();
    renderDetail();
  }

  // ---- detail and timeline ----
  function renderDetail() {
    const c = state.calls.get(state.selected);
    $("detail-empty").hidden = !!c;
    $("detail-body").hidden = !c;
    if (!c) return;
    const dl = $("summary");
    dl.textContent = "";
    const rows = [["通话编号", c.id], ["首接平台", c.first_platform], ["现归属平台", c.owner_platform],
      ["主叫号码", c.caller_number], ["12345 工单号", c.ticket_12345], ["110 警单号", c.ticket_110],
      ["事项分类", c.category], ["紧急", c.emergency ? "是" : ""], ["状态", c.state], ["结果", c.outcome],
      ["开始", dt(t(c.started))], ["结束", c.ended ? dt(t(c.ended)) : "通话中"], ["结束原因", c.end_cause]];
    for (const [k, v] of rows) {
      if (!v) continue;
      dl.appendChild(el("dt", {}, k));
      dl.appendChild(el("dd", {}, v));
    }
    drawTimeline(c);
    renderLinks(c);
    renderEvents(c);
  }

  function legEnd(l, c, now) {
    return t(l.hung_up) || t(l.left) || t(c.ended) || now;
  }

  function drawTimeline(c) {
    const box = $("timeline");
    box.textContent = "";
    const legs = c.legs || [];
    const now = new Date();
    let t0 = t(c.started) || now, t1 = t(c.ended) || now;
    for (const l of legs) {
      const a = t(l.created); if (a && a < t0) t0 = a;
      const b = legEnd(l, c, now); if (b > t1) t1 = b;
    }
    const span = Math.max(1000, t1 - t0);
    const W = 900, left = 170, right = 130, rowH = 34, top = 34;
    const H = top + rowH * legs.length + 46;
    const x = (d) => left + (W - left - right) * ((d - t0) / span);
    const root = svg("svg", { viewBox: "0 0 " + W + " " + H, width: "100%", role: "img",
      "aria-label": "通话段时间线 / legs timeline", "class": "tl" });
    // time axis
    const ticks = 6;
    for (let i = 0; i <= ticks; i++) {
      const d = new Date(t0.getTime() + span * i / ticks);
      const xx = x(d);
      root.appendChild(svg("line", { x1: xx, x2: xx, y1: top - 6, y2: H - 40, "class": "grid" }));
      root.appendChild(svg("text", { x: xx, y: top - 12, "class": "tick", "text-anchor": "middle" }, hmsFine(d, span < 10000)));
    }
    legs.forEach((l, i) => {
      const y = top + i * rowH;
      const g = svg("g", { "class": "leg " + l.role, "data-channel": l.channel_id });
      g.appendChild(svg("text", { x: 6, y: y + 20, "class": "lbl" }, legName(l)));
      const c0 = t(l.created) || t0, ans = t(l.answered), br = t(l.bridged), end = legEnd(l, c, now);
      const bar = (from, to, cls, title) => {
        if (!from || !to || to < from) return;
        const r = svg("rect", { x: x(from), y: y + 6, width: Math.max(2, x(to) - x(from)), height: 18, rx: 3, "class": cls });
        r.appendChild(svg("title", {}, title + "：" + hms(from) + " – " + hms(to)));
        g.appendChild(r);
      };
      bar(c0, ans || end, "ring", "振铃");
      if (ans) bar(ans, end, "talk", "已接通");
      if (br) bar(br, t(l.left) || end, "bridged", "在桥");
      if (l.hung_up || l.cause_txt) {
        g.appendChild(svg("text", { x: x(end) + 4, y: y + 20, "class": "cause" },
          l.cause_txt ? "✕ " + l.cause_txt : "✕"));
      }
      root.appendChild(g);
    });
    const yk = top + rowH * legs.length + 8;
    (c.transfers || []).forEach((tr) => {
      const a = t(tr.requested), b = t(tr.completed) || t(tr.answered) || (tr.outcome ? a : now);
      const r = svg("rect", { x: x(a), y: yk, width: Math.max(3, x(b) - x(a)), height: 10, "class": "xfer" });
      r.appendChild(svg("title", {}, (MODE[tr.mode] || tr.mode) + " " + tr.direction + " → " + (OUTCOME[tr.outcome] || tr.outcome)));
      root.appendChild(r);
      root.appendChild(svg("text", { x: x(a), y: yk + 24, "class": "xlbl" },
        (MODE[tr.mode] || tr.mode) + " → " + (OUTCOME[tr.outcome || ""] || tr.outcome)));
    });
    (c.softkeys || []).forEach((k) => {
      const xx = x(t(k.at));
      const m = svg("g", { "class": "key" + (k.accepted ? "" : " refused") });
      m.appendChild(svg("line", { x1: xx, x2: xx, y1: top, y2: yk - 2 }));
      m.appendChild(svg("path", { d: "M" + (xx - 5) + " " + (top - 4) + " l10 0 l-5 7 z" }));
      m.appendChild(svg("title", {}, (KEY[k.key] || k.key) + " · " + k.agent + " · " + (k.accepted ? "已执行" : "被拒绝：" + (k.reason || ""))));
      root.appendChild(m);
    });
    box.appendChild(root);
  }

  function renderLinks(c) {
    const ul = $("links");
    ul.textContent = "";
    const now = new Date();
    const legs = (c.legs || []).filter((l) => l.bridged);
    let n = 0;
    for (let i = 0; i < legs.length; i++) {
      for (let j = i + 1; j < legs.length; j++) {
        const a = legs[i], b = legs[j];
        const from = new Date(Math.max(t(a.bridged), t(b.bridged)));
        const to = new Date(Math.min(t(a.left) || legEnd(a, c, now), t(b.left) || legEnd(b, c, now)));
        if (to <= from) continue;
        n++;
        const fine = shortCall(c);
        ul.appendChild(el("li", {}, legName(a) + " ↔ " + legName(b) + "　" + hmsFine(from, fine) + " – " + hmsFine(to, fine)));
      }
    }
    if (!n) ul.appendChild(el("li", { "class": "muted" }, "暂无接通记录"));
  }

  function renderEvents(c) {
    const ol = $("events");
    ol.textContent = "";
    const items = [];
    for (const k of c.softkeys || []) {
      items.push([t(k.at), "软按键 " + (KEY[k.key] || k.key) + "（" + k.agent + "，" + (k.source || "") + "）" +
        (k.accepted ? " 已执行" : " 被拒绝：" + (k.reason || ""))]);
    }
    for (const tr of c.transfers || []) {
      items.push([t(tr.requested), (MODE[tr.mode] || tr.mode) + " " + tr.direction + (tr.category ? " [" + tr.category + "]" : "") +
        " → " + (OUTCOME[tr.outcome || ""] || tr.outcome) + (tr.reason ? "（" + tr.reason + "）" : "")]);
    }
    items.sort((a, b) => a[0] - b[0]);
    const fine = shortCall(c);
    for (const [at, text] of items) ol.appendChild(el("li", {}, hmsFine(at, fine) + "　" + text));
    if (!items.length) ol.appendChild(el("li", { "class": "muted" }, "无"));
  }

  // ---- daily figures ----
  function kv(title, obj) {
    const div = el("div", { "class": "fig" });
    div.appendChild(el("h4", {}, title));
    const keys = Object.keys(obj || {});
    if (!keys.length) div.appendChild(el("p", { "class": "muted" }, "—"));
    const ul = el("ul");
    for (const k of keys.sort()) ul.appendChild(el("li", {}, (OUTCOME[k] || k) + "：" + obj[k]));
    div.appendChild(ul);
    return div;
  }
  function relabel(obj, names) {
    const out = {};
    for (const k in obj || {}) out[names[k] || k] = obj[k];
    return out;
  }
  function num(title, v) {
    const div = el("div", { "class": "fig num" });
    div.appendChild(el("h4", {}, title));
    div.appendChild(el("p", { "class": "big" }, String(v)));
    return div;
  }
  async function loadStats() {
    const body = $("fig-body");
    try {
      const d = $("fig-date").value;
      const s = await api("/v1/stats/daily" + (d ? "?date=" + d : ""));
      body.textContent = "";
      body.appendChild(num("通话数", s.calls || 0));
      body.appendChild(num("转办数", s.transfers || 0));
      body.appendChild(num("无应答回退", s.no_answer_fallbacks || 0));
      body.appendChild(num("回流", s.bounce_backs || 0));
      body.appendChild(num("对方接听中位时长（秒）", (s.median_answer_seconds || 0).toFixed(1)));
      body.appendChild(kv("按方向", s.by_direction));
      body.appendChild(kv("按方式", relabel(s.by_mode, MODE)));
      body.appendChild(kv("按结果", s.by_outcome));
      body.appendChild(kv("三方通话处置", s.three_way_resolutions));
      body.appendChild(kv("系统推送", s.pushes));
      body.appendChild(kv("按事项分类", s.by_category));
    } catch (e) {
      body.textContent = "";
      body.appendChild(el("p", { "class": "error" }, "统计加载失败：" + e.message));
    }
  }

  // ---- live updates ----
  function connect() {
    if (state.source) state.source.close();
    const url = "/v1/events" + (token() ? "?access_token=" + encodeURIComponent(token()) : "");
    const src = new EventSource(url);
    state.source = src;
    const live = $("live");
    let dropped = false;
    src.onopen = () => {
      live.textContent = "● 实时"; live.className = "live on";
      if (dropped) { dropped = false; loadCalls(); } // catch up on what the gap missed
    };
    src.onerror = () => { dropped = true; live.textContent = "● 重连中"; live.className = "live off"; };
    src.addEventListener("call", (ev) => {
      let c;
      try { c = JSON.parse(ev.data); } catch (e) { return; }
      if (!upsert(c)) return;
      renderList();
      if (c.id === state.selected || !state.selected) select(c.id);
      if (c.ended) {
        clearTimeout(state.statsTimer);
        state.statsTimer = setTimeout(loadStats, 500);
      }
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    const today = new Date();
    $("fig-date").value = today.getFullYear() + "-" + String(today.getMonth() + 1).padStart(2, "0") + "-" + String(today.getDate()).padStart(2, "0");
    $("token").value = token();
    $("save-token").addEventListener("click", () => {
      sessionStorage.setItem("linkctl-token", $("token").value.trim());
      loadCalls(); loadStats(); connect();
    });
    $("filters").addEventListener("submit", (e) => { e.preventDefault(); loadCalls(); });
    $("fig-date").addEventListener("change", loadStats);
    loadCalls();
    loadStats();
    connect();
    setInterval(() => { if (state.selected) { const c = state.calls.get(state.selected); if (c && !c.ended) drawTimeline(c); } }, 1000);
  });
})();
