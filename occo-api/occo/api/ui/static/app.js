// The OCCO dashboard: plain JavaScript, no library. Every read and write is a REST path
// of the same service (the session cookie authenticates it, writes carry the CSRF token);
// one infrastructure's page follows its events as Server-Sent Events.
"use strict";

const CSRF = document.querySelector('meta[name="occo-csrf"]').content;
const INFRA = document.querySelector('meta[name="occo-infra"]').content;
const main = document.getElementById("main");
const noticeBox = document.getElementById("notice");
const STATE_ORDER = ["ready", "starting", "pending", "unhealthy", "unknown", "failed", "dropping"];

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function svg(tag, attrs, text) {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, value);
  if (text !== undefined) node.textContent = text;
  return node;
}

function notice(text, kind) {
  noticeBox.textContent = text;
  noticeBox.className = kind || "";
}

async function api(method, path) {
  const headers = {"Accept": "application/json"};
  if (method !== "GET") headers["X-CSRF-Token"] = CSRF;
  const response = await fetch(path, {method, headers, credentials: "same-origin"});
  if (response.status === 401) { window.location.assign("/ui/login"); throw new Error("logged out"); }
  let body = null;
  try { body = await response.json(); } catch (e) { body = null; }
  return {ok: response.ok, status: response.status, body};
}

function stateBadge(state) {
  return el("span", {class: `state state-${state}`}, state);
}

function age(seconds) {
  if (seconds < 90) return `${Math.round(seconds)} s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
  return `${Math.round(seconds / 3600)} h`;
}

// ------------------------------------------------------------------ the list

async function showList() {
  document.getElementById("title").textContent = "Infrastructures";
  const answer = await api("GET", "/infrastructures/");
  if (!answer.ok) { notice(answer.body?.message || `HTTP ${answer.status}`, "error"); return; }
  const rows = answer.body.items.map((item) => el("tr", {},
    el("td", {}, item.name ? el("a", {href: `/ui/infra/${item.infra_id}`}, item.name) : "(damaged)"),
    el("td", {class: "wide"}, el("code", {}, item.infra_id.slice(0, 8))),
    el("td", {}, stateBadgeOf(item.status)),
    el("td", {class: "num"}, item.ready === null ? "-" : `${item.ready}/${item.wanted}`),
    el("td", {}, item.maintained ? "maintained" : "not maintained"),
    el("td", {class: "last-event"}, item.last_event ? describe(item.last_event) : "-"),
    el("td", {class: "wide"}, item.busy ? `busy: ${item.busy}` : "")));
  const table = el("table", {id: "infrastructures"},
    el("thead", {}, el("tr", {}, el("th", {}, "Name"), el("th", {class: "wide"}, "Id"),
      el("th", {}, "State"), el("th", {}, "Ready / wanted"), el("th", {}, "Maintenance"),
      el("th", {}, "Last event"), el("th", {class: "wide"}, "Job"))),
    el("tbody", {}, ...rows));
  main.replaceChildren(rows.length ? el("div", {class: "table-wrap"}, table)
    : el("p", {}, "No infrastructure in the store yet: occo build, or POST /infrastructures/."));
}

function stateBadgeOf(status) {
  return el("span", {class: `state state-${status}`}, status);
}

// ------------------------------------------------------------------ one infrastructure

function levels(graph) {
  // a node's column: one more than the deepest of its dependencies (dependencies left)
  const deps = {};
  for (const node of graph.nodes) deps[node.name] = [];
  for (const edge of graph.edges) deps[edge.dependent].push(edge.dependency);
  const level = {};
  const visit = (name, seen) => {
    if (level[name] !== undefined) return level[name];
    if (seen.has(name)) return 0;
    seen.add(name);
    level[name] = deps[name].length ? 1 + Math.max(...deps[name].map((d) => visit(d, seen))) : 0;
    return level[name];
  };
  for (const node of graph.nodes) visit(node.name, new Set());
  return level;
}

function drawGraph(graph) {
  const level = levels(graph);
  const columns = {};
  for (const node of graph.nodes) (columns[level[node.name]] ||= []).push(node);
  const W = 210, H = 96, GX = 70, GY = 24;
  const place = {};
  let width = 0, height = 0;
  for (const [col, nodes] of Object.entries(columns)) {
    nodes.forEach((node, row) => {
      const x = 10 + Number(col) * (W + GX), y = 10 + row * (H + GY);
      place[node.name] = {x, y};
      width = Math.max(width, x + W + 10);
      height = Math.max(height, y + H + 10);
    });
  }
  const picture = svg("svg", {width, height, viewBox: `0 0 ${width} ${height}`, role: "img",
    "aria-label": "dependency graph: each box a node, arrows to what it depends on"});
  for (const edge of graph.edges) {
    const from = place[edge.dependent], to = place[edge.dependency];
    const x1 = from.x, y1 = from.y + H / 2, x2 = to.x + W, y2 = to.y + H / 2;
    picture.append(svg("line", {class: "edge", x1, y1, x2: x2 + 8, y2}));
    picture.append(svg("polygon", {class: "head",
      points: `${x2},${y2} ${x2 + 10},${y2 - 5} ${x2 + 10},${y2 + 5}`}));
  }
  for (const node of graph.nodes) {
    const {x, y} = place[node.name];
    const group = svg("g", {class: "node", "data-node": node.name});
    group.append(svg("rect", {class: `box health-${node.health}`, x, y, width: W, height: H, rx: 4}));
    group.append(svg("text", {class: "name", x: x + 8, y: y + 18}, node.name));
    group.append(svg("text", {x: x + 8, y: y + 36, class: "counts"},
      `${node.ready}/${node.wanted} ready (${node.min}-${node.max})`));
    const states = Object.entries(node.states).map(([s, n]) => `${n} ${s}`).join(", ") || "no instances";
    group.append(svg("text", {x: x + 8, y: y + 54, class: "states"}, states));
    group.append(svg("text", {x: x + 8, y: y + 72, class: "muted"}, node.type));
    picture.append(group);
  }
  return el("div", {class: "graph"}, picture);
}

async function act(method, path, done) {
  const answer = await api(method, path);
  const message = answer.body?.message;
  if (!answer.ok) notice(`${method} ${path}: ${message || `HTTP ${answer.status}`}`, "error");
  else notice(done(answer.body || {}), "ok");
  scheduleRefresh();
  return answer;
}

// the cards outlive the re-renders: what a user is typing is never replaced
const cards = new Map();
function nodeCard(infra, node) {
  const known = cards.get(node.name);
  if (known) {
    const input = known.querySelector("input");
    if (!input.dataset.dirty && document.activeElement !== input) input.value = node.wanted;
    known.querySelector(".range").textContent = ` ${node.min} to ${node.max}`;
    return known;
  }
  const input = el("input", {type: "number", value: node.wanted,
    "aria-label": `instances of ${node.name}`, name: "count",
    oninput: () => { input.dataset.dirty = "1"; }});
  const form = el("form", {class: "scale", "data-node": node.name, onsubmit: (event) => {
    event.preventDefault();
    delete input.dataset.dirty;
    act("POST", `/infrastructures/${infra}/scaleto/${encodeURIComponent(node.name)}/${input.value}`,
      (body) => {
        const clamp = (body.warnings || []).join("; ");
        return `${node.name}: scaling to ${body.target ?? input.value}` + (clamp ? ` (${clamp})` : "");
      });
  }}, el("label", {}, "Scale to "), input, el("button", {type: "submit"}, "Apply"));
  const card = el("div", {class: "node-card"}, el("strong", {}, node.name),
    el("span", {class: "muted range"}, ` ${node.min} to ${node.max}`), form);
  cards.set(node.name, card);
  return card;
}

// at most this many instance rows: the ones not ready first (what needs looking at)
const MAX_ROWS = 200;

// the last health result: what the last maintenance pass (or a refresh) found at the
// cloud and by the node's health check, and how long ago; an instance no pass has looked
// at yet says so (its state is the build's own)
function lastCheck(inst, now) {
  const checked = inst.confirmed_by === "maintenance" || inst.confirmed_by === "refresh";
  const found = inst.failure ? `failed: ${inst.failure}`
    : inst.state === "ready" ? "healthy" : inst.state;
  if (!checked) return inst.failure ? found : "not checked yet";
  return `${found} (${age(Math.max(0, now - inst.confirmed_at))} ago)`;
}

// the rows outlive the re-renders too (a Drop button keeps the focus): one per instance,
// its cells rewritten in place
const rowsById = new Map();
function instanceRow(infra, node, inst) {
  let row = rowsById.get(inst.instance_id);
  if (!row) {
    const short = inst.instance_id.slice(0, 8);
    row = el("tr", {"data-instance": inst.instance_id},
      el("td", {}, el("code", {}, short)), el("td", {}, node.name), el("td", {}), el("td", {}),
      el("td", {class: "wide"}), el("td", {class: "wide health"}),
      el("td", {}, el("button", {type: "button", class: "danger",
        "aria-label": `drop instance ${short} of ${node.name}`,
        onclick: () => act("POST",
          `/infrastructures/${infra}/scaledown/${encodeURIComponent(node.name)}/${inst.instance_id}`,
          () => `${node.name}: dropping ${short}`)}, "Drop")));
    rowsById.set(inst.instance_id, row);
  }
  return row;
}

function fillRow(row, inst, now) {
  const [, , state, address, created, health] = row.children;
  state.replaceChildren(stateBadge(inst.state), inst.outdated ? " outdated" : "");
  address.textContent = (inst.addresses || []).join(", ");
  created.textContent = inst.created_at ? age(now - inst.created_at) : "";
  health.textContent = lastCheck(inst, now);
}

let instancesView = null;
function instancesTable(infra, status, now) {
  if (!instancesView) {
    instancesView = {hidden: el("p", {class: "muted", id: "hidden-rows"}), body: el("tbody", {})};
    instancesView.wrap = el("div", {class: "table-wrap"}, instancesView.hidden,
      el("table", {id: "instances"},
        el("thead", {}, el("tr", {}, el("th", {}, "Instance"), el("th", {}, "Node"),
          el("th", {}, "State"), el("th", {}, "Address"), el("th", {class: "wide"}, "Age"),
          el("th", {class: "wide"}, "Last health check"), el("th", {}, ""))),
        instancesView.body));
  }
  const all = [];
  for (const node of status.nodes) for (const inst of node.instances) all.push([node, inst]);
  all.sort((a, b) => (a[1].state === "ready") - (b[1].state === "ready"));
  const listed = all.slice(0, MAX_ROWS);
  const rows = listed.map(([node, inst]) => {
    const row = instanceRow(infra, node, inst);
    fillRow(row, inst, now);
    return row;
  });
  const present = new Set(all.map(([, inst]) => inst.instance_id));
  for (const id of rowsById.keys()) if (!present.has(id)) rowsById.delete(id);
  keepChildren(instancesView.body, rows);
  const hidden = all.length - rows.length;
  instancesView.hidden.hidden = hidden <= 0;
  instancesView.hidden.textContent = hidden > 0
    ? `${hidden} more instances are not listed (the graph counts them all)` : "";
  return instancesView.wrap;
}

let refreshTimer = null;
let refreshing = false;
let renderCost = 0;   // ms the last refresh took: the next waits at least 4 times that
function scheduleRefresh() {
  if (!INFRA || refreshTimer) return;
  refreshTimer = setTimeout(async () => {
    refreshTimer = null;
    if (refreshing) { scheduleRefresh(); return; }
    refreshing = true;
    const began = performance.now();
    try { await renderInfra(); } finally {
      refreshing = false;
      renderCost = performance.now() - began;
    }
  }, Math.max(250, 4 * renderCost));
}

// The page's parts are made once and updated in place: an element that is taken out of
// the document loses the focus, so a re-render that rebuilt them would drop what a user
// (or a keyboard) is in the middle of typing or pressing.
let layout = null;
let shown = {infra: "", name: "", maintained: false};
function pageLayout() {
  if (layout) return layout;
  const maintain = el("button", {type: "button", id: "maintain", onclick: () => act("POST",
    `/infrastructures/${shown.infra}/${shown.maintained ? "detach" : "attach"}`,
    (body) => body.maintained ? "maintained: healed and scaled by occo serve" : "no longer maintained")});
  const destroy = el("button", {type: "button", class: "danger", id: "destroy", onclick: () => {
    if (!window.confirm(`Destroy ${shown.name} and every instance of it?`)) return;
    act("DELETE", `/infrastructures/${shown.infra}`, () => `destroying ${shown.name}`);
  }}, "Destroy");
  layout = {summary: el("p", {id: "summary"}), maintain,
    actions: el("div", {class: "actions"}, maintain, destroy),
    graph: el("div", {class: "graph-slot"}), nodes: el("div", {class: "nodes-actions"}),
    instances: el("div", {class: "instances-slot"}),
    events: el("ol", {id: "events", "aria-live": "polite"})};
  return layout;
}

// replace a container's children only when they are not already these, in this order
function keepChildren(container, children) {
  const now = container.children;
  if (now.length === children.length && children.every((child, i) => now[i] === child)) return;
  container.replaceChildren(...children);
}

async function renderInfra() {
  const answer = await api("GET", `/ui/api/infra/${encodeURIComponent(INFRA)}`);
  if (!answer.ok) {
    layout = null;
    main.replaceChildren(el("p", {class: "error"}, answer.body?.message || `HTTP ${answer.status}`));
    return false;
  }
  const {graph, status, now} = answer.body;
  shown = {infra: status.infra_id, name: status.name, maintained: status.maintained};
  document.getElementById("title").textContent = `${status.name} (${status.infra_id.slice(0, 8)}): ${status.status}`;
  const parts = pageLayout();
  if (!main.contains(parts.summary)) {
    main.replaceChildren(parts.summary, parts.actions, el("h2", {}, "Graph"), parts.graph,
      el("h2", {}, "Nodes"), parts.nodes, el("h2", {}, "Instances"), parts.instances,
      el("h2", {}, "Events"), parts.events);
  }
  parts.summary.replaceChildren(`${status.ready} of ${status.instances} instances ready; `,
    stateBadgeOf(status.status), status.maintained ? " maintained" : " not maintained");
  parts.maintain.textContent = status.maintained ? "Stop maintaining" : "Maintain";
  parts.graph.replaceChildren(drawGraph(graph));
  keepChildren(parts.nodes, graph.nodes.map((n) => nodeCard(status.infra_id, n)));
  keepChildren(parts.instances, [instancesTable(status.infra_id, status, now)]);
  document.body.dataset.renders = String(Number(document.body.dataset.renders || 0) + 1);
  return true;
}

function describe(event) {
  const d = event.details || {};
  const who = [event.node_name, (event.instance_id || "").slice(0, 8)].filter(Boolean).join(" ");
  const why = d.message || d.reason || "";
  return `${new Date(event.time * 1000).toLocaleTimeString()} ${event.type} ${who}${why ? ": " + why : ""}`;
}

function follow(infra) {
  // EventSource reconnects by itself, sending Last-Event-ID: the stream resumes after
  // the last event this page saw, also after the service restarted
  const source = new EventSource(`/ui/api/infra/${encodeURIComponent(infra)}/events`);
  // lines are added once a frame, however many events came: a build's burst of events
  // costs one layout, not one each
  let pending = [];
  const flush = () => {
    const lines = pending;
    pending = [];
    const log = document.getElementById("events");
    if (!log || !lines.length) return;
    log.append(...lines);
    while (log.children.length > 500) log.firstChild.remove();
    log.scrollTop = log.scrollHeight;
  };
  source.addEventListener("occo", (message) => {
    const event = JSON.parse(message.data);
    if (!pending.length) requestAnimationFrame(flush);
    pending.push(el("li", {"data-position": event.position, "data-type": event.type,
      "data-time": event.time}, describe(event)));
    if (pending.length > 500) pending.splice(0, pending.length - 500);
    document.body.dataset.lastEvent = event.position;
    scheduleRefresh();
  });
  source.addEventListener("error", () => { document.body.dataset.stream = "reconnecting"; });
  source.addEventListener("open", () => { document.body.dataset.stream = "open"; });
}

async function start() {
  try {
    if (INFRA) {
      if (await renderInfra()) follow(INFRA);
      setInterval(scheduleRefresh, 5000);   // ages and states without events too
    } else {
      await showList();
      setInterval(showList, 3000);
    }
  } catch (error) {
    notice(String(error), "error");
  }
}

start();
