// linkctl supervisor page: call list, per-call leg timeline, daily figures, live
// updates over server-sent events. Plain ES2017, no build step, no CDN.
"use strict";

(function () {
  // zh-CN labels of the raw values the API sends; the raw value stays in a
  // tooltip (title) and an unknown value is shown raw.
  const ROLE = { "citizen": "市民", "agent-12345": "12345坐席", "agent-110": "110坐席" };
  const KEY = { "transfer": "一键转接", "three-way": "三方通话", "hand-over": "移交", "keep": "保留",
    "undetermined": "待定", "cancel": "取消", "emergency": "紧急转110" };
  const OUTCOME = { "": "进行中", "pending": "进行中", "completed": "已转接", "no-answer": "无应答回退",
    "busy": "忙回退", "unavailable": "不可达回退", "cancelled": "已取消", "caller-hangup": "市民挂机",
    "handed-over": "移交对方", "kept": "本方保留", "undetermined": "待定（首接方保留）", "failed": "失败",
    "answered": "已接听", "unanswered": "未接听", "interrupted": "中断", "transferred": "已转接" };
  const STATE = { "routing": "分配坐席中", "talking": "通话中", "transfer-ringing": "转接振铃中",
    "consult-ringing": "三方邀请振铃中", "emergency-ringing": "紧急转110振铃中", "three-way": "三方通话中",
    "ended": "已结束" };
  const MODE = { "one-key": "一键转接", "three-way": "三方通话", "emergency": "紧急" };
  const SOURCE = { "dtmf": "话机按键", "http": "坐席桌面", "refer": "话机转接键" };
  const PUSH = { "pushed": "已推送", "accepted": "已受理", "handled": "已办结", "fed-back": "已反馈", "returned": "已回流" };
  const DIRECTION = { "12345->110": "12345→110", "110->12345": "110→12345" };
  // Q.850 cause codes (Asterisk hangup causes).
  const CAUSE = { 0: "未知原因", 1: "空号", 3: "无路由", 16: "正常挂机", 17: "用户忙", 18: "无响应", 19: "无人接听",
    20: "用户不在线", 21: "拒接", 22: "号码已更改", 26: "已在别处接听", 27: "目的地故障", 28: "号码格式错误",
    31: "正常（未指定）", 34: "线路拥塞", 38: "网络故障", 41: "临时故障", 42: "交换设备拥塞", 44: "所需线路不可用",
    47: "资源不可用", 58: "承载能力不可用", 88: "目的地不兼容", 102: "超时", 127: "互通错误" };
  const CAUSE_TXT = { "Normal Clearing": 16, "User busy": 17, "No user responding": 18, "No answer": 19,
    "Subscriber absent": 20, "Call Rejected": 21, "Circuit/channel congestion": 34, "Unknown": 0 };
  const END = { "caller hung up": "市民挂机", "agent hung up": "坐席挂机", "caller gone before answer": "市民未接通即挂机",
    "recovered without citizen": "重启恢复时市民已离开", "normal": "正常结束" };
  const SVGNS = "http://www.w3.org/2000/svg";

  const state = { calls: new Map(), selected: "", source: null, statsTimer: 0, needToken: false, retry: 0 };
  const $ = (id) => document.getElementById(id);

  function token() { return sessionStorage.getItem("linkctl-token") || ""; }

  async function api(path) {
    const headers = { "Accept": "application/json" };
    if (token()) headers["Authorization"] = "Bearer " + token();
    const res = await fetch(path, { headers });
    const body = await res.json().catch(() => ({}));
    if (!res.ok) {
      const e = body.error || {};
      let msg = (e.message || res.statusText) + (e.field ? "（" + e.field + "）" : "");
      if (res.status === 401) {
        showNeedToken(e.message || "");
        msg = "需要访问令牌：请在右上角输入访问令牌后点“保存”。" + (e.message ? "（" + e.message + "）" : "");
      }
      const err = new Error(msg);
      err.status = res.status;
      throw err;
    }
    return body;
  }

  // showNeedToken stops the live stream (it cannot succeed without a token) and
  // says so instead of reconnecting for ever.
  function showNeedToken(detail) {
    state.needToken = true;
    if (state.source) { state.source.close(); state.source = null; }
    clearTimeout(state.retry);
    const live = $("live");
    live.textContent = "● 需要访问令牌";
    live.className = "live off need-token";
    live.title = detail || "需要访问令牌";
    $("token").classList.add("needed");
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
  // dtShort is for the call list: month/day and time, the year in the tooltip.
  function dtShort(d) {
    return d ? d.toLocaleString("zh-CN", { hour12: false, month: "numeric", day: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit" }) : "—";
  }
  function el(tag, attrs, text) {
    const e = document.createElement(tag);
    for (const k in attrs || {}) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    return e;
  }
  // label returns the zh-CN text of raw value v in names (v itself when unknown).
  function label(names, v) {
    if (v === undefined || v === null) return "";
    return Object.prototype.hasOwnProperty.call(names, v) ? names[v] : String(v);
  }
  // labelled is an element showing label(names, v) with the raw value as its tooltip.
  function labelled(tag, attrs, names, v) {
    const e = el(tag, attrs, label(names, v));
    if (v !== undefined && v !== null && v !== "" && label(names, v) !== String(v)) {
      e.setAttribute("title", String(v));
      e.dataset.raw = String(v);
    }
    return e;
  }
  // causeLabel is the zh-CN text of a leg's hangup cause (code first, then text).
  function causeLabel(l) {
    let code = l.cause;
    if (code === undefined && l.cause_txt && Object.prototype.hasOwnProperty.call(CAUSE_TXT, l.cause_txt)) code = CAUSE_TXT[l.cause_txt];
    if (code !== undefined && Object.prototype.hasOwnProperty.call(CAUSE, code)) return CAUSE[code];
    return l.cause_txt || (code !== undefined ? "原因码 " + code : "");
  }
  function causeRaw(l) { return [l.cause, l.cause_txt].filter((x) => x !== undefined && x !== "").join(" "); }
  function svg(tag, attrs, text) {
    const e = document.createElementNS(SVGNS, tag);
    for (const k in attrs || {}) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function legName(l) {
    const who = l.agent || (l.endpoint || "").split("/").pop() || l.channel_id;
    return label(ROLE, l.role) + " " + who;
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
      const cells = [dtShort(t(c.started)), c.first_platform || "", c.owner_platform || "", c.caller_number || "",
        tickets, c.category || (c.emergency ? "紧急警情" : "")];
      cells.forEach((v, i) => tr.appendChild(el("td", i === 0 ? { title: dt(t(c.started)) } : i === 4 ? { "class": "tickets" } : i === 5 ? { "class": "cat" } : {}, v)));
      tr.appendChild(lo === null ? el("td", {}, "—") : labelled("td", { "class": "xfer-outcome" }, OUTCOME, lo));
      tr.appendChild(c.outcome ? labelled("td", { "class": "outcome" }, OUTCOME, c.outcome) : el("td", { "class": "outcome" }, c.ended ? "—" : "进行中"));
      tr.appendChild(labelled("td", { "class": "state" }, STATE, c.ended ? "ended" : (c.state || "")));
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
      $("list-error").textContent = (e.status === 401 ? "" : "查询失败：") + e.message;
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
    // [label, value, names]: values with names are shown in zh-CN, raw in the tooltip.
    const rows = [["通话编号", c.id], ["首接平台", c.first_platform], ["现归属平台", c.owner_platform],
      ["主叫号码", c.caller_number], ["12345 工单号", c.ticket_12345], ["110 警单号", c.ticket_110],
      ["事项分类", c.category], ["紧急", c.emergency ? "是" : ""], ["状态", c.state, STATE], ["结果", c.outcome, OUTCOME],
      ["开始", dt(t(c.started))], ["结束", c.ended ? dt(t(c.ended)) : "通话中"], ["结束原因", c.end_cause, END]];
    for (const [k, v, names] of rows) {
      if (!v) continue;
      dl.appendChild(el("dt", {}, k));
      dl.appendChild(names ? labelled("dd", {}, names, v) : el("dd", {}, v));
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
      if (l.hung_up || l.cause_txt || l.cause !== undefined) {
        const why = causeLabel(l), raw = causeRaw(l);
        const ct = svg("text", { x: x(end) + 4, y: y + 20, "class": "cause", "data-raw": raw }, why ? "✕ " + why : "✕");
        if (raw) ct.appendChild(svg("title", {}, "挂机原因：" + (why || "") + "（" + raw + "）"));
        g.appendChild(ct);
      }
      root.appendChild(g);
    });
    const yk = top + rowH * legs.length + 8;
    (c.transfers || []).forEach((tr) => {
      const a = t(tr.requested), b = t(tr.completed) || t(tr.answered) || (tr.outcome ? a : now);
      const r = svg("rect", { x: x(a), y: yk, width: Math.max(3, x(b) - x(a)), height: 10, "class": "xfer" });
      r.appendChild(svg("title", {}, label(MODE, tr.mode) + " " + label(DIRECTION, tr.direction) + " → " +
        label(OUTCOME, tr.outcome || "") + "（" + tr.mode + ", " + tr.direction + ", " + (tr.outcome || "pending") + "）"));
      root.appendChild(r);
      root.appendChild(svg("text", { x: x(a), y: yk + 24, "class": "xlbl" },
        label(MODE, tr.mode) + " → " + label(OUTCOME, tr.outcome || "")));
    });
    (c.softkeys || []).forEach((k) => {
      const xx = x(t(k.at));
      const m = svg("g", { "class": "key" + (k.accepted ? "" : " refused") });
      m.appendChild(svg("line", { x1: xx, x2: xx, y1: top, y2: yk - 2 }));
      m.appendChild(svg("path", { d: "M" + (xx - 5) + " " + (top - 4) + " l10 0 l-5 7 z" }));
      m.appendChild(svg("title", {}, label(KEY, k.key) + "（" + k.key + "）· " + k.agent + " · " + (k.accepted ? "已执行" : "被拒绝：" + (k.reason || ""))));
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
      items.push([t(k.at), "软按键 " + label(KEY, k.key) + "（" + k.agent + (k.source ? "，" + label(SOURCE, k.source) : "") + "）" +
        (k.accepted ? " 已执行" : " 被拒绝：" + (k.reason || "")), [k.key, k.source].filter(Boolean).join(" ")]);
    }
    for (const tr of c.transfers || []) {
      items.push([t(tr.requested), label(MODE, tr.mode) + " " + label(DIRECTION, tr.direction) + (tr.category ? " [" + tr.category + "]" : "") +
        " → " + label(OUTCOME, tr.outcome || "") + (tr.reason ? "（" + label(END, tr.reason) + "）" : ""),
        [tr.mode, tr.direction, tr.outcome || "pending"].join(" ")]);
    }
    items.sort((a, b) => a[0] - b[0]);
    const fine = shortCall(c);
    for (const [at, text, raw] of items) ol.appendChild(el("li", raw ? { title: raw } : {}, hmsFine(at, fine) + "　" + text));
    if (!items.length) ol.appendChild(el("li", { "class": "muted" }, "无"));
  }

  // ---- daily figures ----
  // kv is one figure: counts by raw key, shown with names' zh-CN labels (raw key in the tooltip).
  function kv(title, obj, names) {
    const div = el("div", { "class": "fig" });
    div.appendChild(el("h4", {}, title));
    const keys = Object.keys(obj || {});
    if (!keys.length) div.appendChild(el("p", { "class": "muted" }, "—"));
    const ul = el("ul");
    for (const k of keys.sort()) {
      const li = labelled("li", {}, names || {}, k);
      li.textContent += "：" + obj[k];
      ul.appendChild(li);
    }
    div.appendChild(ul);
    return div;
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
      body.appendChild(kv("按方向", s.by_direction, DIRECTION));
      body.appendChild(kv("按方式", s.by_mode, MODE));
      body.appendChild(kv("按结果", s.by_outcome, OUTCOME));
      body.appendChild(kv("三方通话处置", s.three_way_resolutions, OUTCOME));
      body.appendChild(kv("系统推送（按方向）", s.pushes, DIRECTION));
      if (s.push_statuses) body.appendChild(kv("系统推送（按状态）", s.push_statuses, PUSH));
      body.appendChild(kv("按事项分类", s.by_category));
    } catch (e) {
      body.textContent = "";
      body.appendChild(el("p", { "class": "error" }, (e.status === 401 ? "" : "统计加载失败：") + e.message));
    }
  }

  // ---- live updates ----
  function connect() {
    if (state.source) state.source.close();
    state.source = null;
    clearTimeout(state.retry);
    if (state.needToken) return;
    const url = "/v1/events" + (token() ? "?access_token=" + encodeURIComponent(token()) : "");
    const src = new EventSource(url);
    state.source = src;
    const live = $("live");
    let dropped = false;
    src.onopen = () => {
      live.textContent = "● 实时"; live.className = "live on";
      if (dropped) { dropped = false; loadCalls(); } // catch up on what the gap missed
    };
    src.onerror = () => {
      if (state.needToken) return;
      dropped = true;
      live.textContent = "● 重连中"; live.className = "live off";
      if (src.readyState === EventSource.CLOSED) {
        // The browser gave up (the server answered an error, e.g. 401): find out
        // why and retry only when a token would not help.
        api("/v1/calls?limit=1").then(() => {
          state.retry = setTimeout(connect, 3000);
        }, (e) => {
          if (e.status === 401) return; // showNeedToken has said so
          live.textContent = "● 连接中断"; live.title = e.message;
          state.retry = setTimeout(connect, 5000);
        });
      }
    };
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
      state.needToken = false;
      $("token").classList.remove("needed");
      $("live").textContent = "● 连接中"; $("live").title = "实时更新 / live updates";
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
