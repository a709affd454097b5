// The dashboard's controller: sign-in, gateway and range pickers, overview, logs explorer, live tail.
// Gateway picker: one gateway at a time ("default" first), so every number is the API's own, exact
// one; merging percentiles across gateways would need the raw durations.

import { ApiError, createApi, session } from "./api.js";
import { barList, timeChart } from "./charts.js";
import { showDetail } from "./detail.js";
import { format } from "./format.js";

const $ = (id) => document.getElementById(id);
const account = document.querySelector('meta[name="switchboard-account"]').content;
const RANGES = {
  "1h": { ms: 3_600_000, bucket: "minute", label: "the last hour" },
  "24h": { ms: 86_400_000, bucket: "hour", label: "the last 24 hours" },
  "7d": { ms: 7 * 86_400_000, bucket: "hour", label: "the last 7 days" },
  "30d": { ms: 30 * 86_400_000, bucket: "day", label: "the last 30 days" },
};
const PER_PAGE = 25;
const state = { api: null, gateway: null, range: "24h", page: 1, tail: null, seen: new Set() };

function node(tag, className, text) {
  const element = document.createElement(tag);
  if (className) element.className = className;
  if (text !== undefined && text !== null) element.textContent = text;
  return element;
}

// ---- theme: follows the system until the toggle picks light or dark (kept in localStorage) ----
const THEMES = ["system", "light", "dark"];
function applyTheme(theme) {
  if (theme === "system") delete document.documentElement.dataset.theme;
  else document.documentElement.dataset.theme = theme;
  $("theme").textContent = `Theme: ${theme}`;
}
applyTheme(localStorage.getItem("switchboard.theme") ?? "system");
$("theme").addEventListener("click", () => {
  const current = localStorage.getItem("switchboard.theme") ?? "system";
  const next = THEMES[(THEMES.indexOf(current) + 1) % THEMES.length];
  localStorage.setItem("switchboard.theme", next);
  applyTheme(next);
});

// ---- sign-in ----
function showLogin(message) {
  stopTail();
  state.api = null;
  $("dash").hidden = true;
  $("controls").hidden = true;
  // Nothing from a previous session stays on the page.
  for (const id of ["tiles", "charts", "top-models", "top-providers", "detail"]) $(id).replaceChildren();
  $("detail").hidden = true;
  $("logs-table").tBodies[0].replaceChildren();
  $("login").hidden = false;
  $("login-error").hidden = !message;
  $("login-error").textContent = message ?? "";
  $("token").focus();
}

function handleError(error) {
  if (error instanceof ApiError && (error.status === 401 || error.status === 403)) {
    session.clear();
    showLogin(`The gateway refused this token (${error.status}): ${error.message}`);
    return;
  }
  $("error").hidden = false;
  $("error").textContent = error instanceof ApiError ? `The admin API answered ${error.status}: ${error.message}` : `Could not reach the gateway: ${error.message}`;
}

async function signIn(token) {
  const api = createApi(account, token);
  let gateways;
  try {
    gateways = await api.gateways();
  } catch (error) {
    handleError(error);
    return;
  }
  session.save(token);
  state.api = api;
  const picker = $("gateway");
  picker.replaceChildren(...gateways.map((g) => node("option", "", g.id)));
  const ids = gateways.map((g) => g.id);
  state.gateway = ids.includes(state.gateway) ? state.gateway : ids.includes("default") ? "default" : ids[0];
  picker.value = state.gateway;
  $("login").hidden = true;
  $("controls").hidden = false;
  $("dash").hidden = false;
  await refresh();
}

$("login-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const token = $("token").value.trim();
  $("token").value = "";
  if (token) signIn(token);
});
$("signout").addEventListener("click", () => {
  session.clear();
  showLogin();
});

// ---- overview ----
function tile(label, value, note) {
  const card = node("div", "card tile");
  card.append(node("span", "tile-label", label), node("strong", "tile-value", value));
  if (note) card.append(node("span", "tile-note", note));
  return card;
}

function renderOverview(analytics, models, providers) {
  const t = analytics.totals;
  $("tiles").replaceChildren(
    tile("Requests", format.count(t.requests)),
    tile("Errors", format.count(t.errors), t.requests ? `${format.percent(t.errors / t.requests)} of requests` : ""),
    tile("Tokens", format.tokens(t.tokens_in + t.tokens_out), `${format.count(t.tokens_in)} in · ${format.count(t.tokens_out)} out`),
    tile("Cost", format.usd(t.cost)),
    tile("Cache hits", format.count(t.cached), t.requests ? `${format.percent(t.cached / t.requests)} hit rate` : ""),
    tile("Latency", t.p50_ms === null ? "—" : format.ms(t.p50_ms), t.p95_ms === null ? "" : `p50 · p95 ${format.ms(t.p95_ms)}`),
  );
  const range = RANGES[state.range];
  if (t.requests === 0) {
    const empty = node("div", "card empty-state");
    empty.append(
      node("h3", "", `No requests in ${range.label}`),
      node("p", "", `Send one through ${location.origin}/v1/${account}/${state.gateway}/{provider}/…, or pick a longer range or another gateway.`),
    );
    $("charts").replaceChildren(empty);
  } else {
    const s = analytics.series;
    const starts = s.map((b) => b.start);
    const chart = (title, kind, format, series) => timeChart({ title, starts, bucket: analytics.bucket, kind, format, series });
    $("charts").replaceChildren(
      chart("Requests", "bar", format.count, [{ name: "requests", cls: "c1", values: s.map((b) => b.requests) }]),
      chart("Tokens", "line", format.tokens, [
        { name: "in", cls: "c1", values: s.map((b) => b.tokens_in) },
        { name: "out", cls: "c2", values: s.map((b) => b.tokens_out) },
      ]),
      chart("Cost (USD)", "bar", format.usd, [{ name: "cost", cls: "c3", values: s.map((b) => b.cost) }]),
      chart("Errors", "bar", format.count, [{ name: "errors", cls: "c4", values: s.map((b) => b.errors) }]),
      chart("Cache hits", "bar", format.count, [{ name: "cache hits", cls: "c5", values: s.map((b) => b.cached) }]),
      chart("Latency", "line", format.ms, [
        { name: "p50", cls: "c1", values: s.map((b) => b.p50_ms) },
        { name: "p95", cls: "c2", values: s.map((b) => b.p95_ms) },
      ]),
    );
  }
  const groups = (result, target, what) => {
    const rows = (result.groups ?? []).slice(0, 8).map((g) => ({ label: g.key ?? `(no ${what})`, value: g.requests, detail: format.usd(g.cost) }));
    $(target).replaceChildren(rows.length ? barList(rows, (n) => `${format.count(n)} req`) : node("p", "empty", `No ${what} in ${range.label} yet.`));
  };
  groups(models, "top-models", "model");
  groups(providers, "top-providers", "provider");
  $("providers-list").replaceChildren(...(providers.groups ?? []).map((g) => Object.assign(node("option"), { value: g.key ?? "" })));
}

async function loadOverview() {
  const range = RANGES[state.range];
  const end = new Date();
  const query = { start: new Date(end.getTime() - range.ms), end, bucket: range.bucket };
  const [analytics, models, providers] = await Promise.all([
    state.api.analytics(state.gateway, query),
    state.api.analytics(state.gateway, { ...query, groupBy: "model" }),
    state.api.analytics(state.gateway, { ...query, groupBy: "provider" }),
  ]);
  renderOverview(analytics, models, providers);
}

// ---- logs explorer ----
function currentFilters() {
  const form = new FormData($("filters"));
  const filters = [];
  const provider = String(form.get("provider") ?? "").trim();
  const model = String(form.get("model") ?? "").trim();
  const status = String(form.get("status") ?? "").trim();
  const success = String(form.get("success") ?? "");
  if (provider) filters.push({ key: "provider", operator: "eq", value: [provider] });
  if (model) filters.push({ key: "model", operator: "contains", value: [model] });
  if (/^\d{3}$/.test(status)) filters.push({ key: "status_code", operator: "eq", value: [Number(status)] });
  if (success) filters.push({ key: "success", operator: "eq", value: [success === "true"] });
  return filters;
}

function logRow(log, fresh) {
  const row = node("tr", fresh ? "new" : "");
  row.tabIndex = 0;
  row.dataset.id = log.id;
  const status = node("td", "", "");
  status.append(node("span", `pill ${log.success ? "ok" : "bad"}`, String(log.status_code)));
  if (log.cached) status.append(node("span", "pill cached", "cached"));
  const tokens = log.tokens_in === null && log.tokens_out === null ? "—" : format.count((log.tokens_in ?? 0) + (log.tokens_out ?? 0));
  row.append(
    node("td", "nowrap", new Date(log.created_at).toLocaleString()),
    node("td", "", log.provider),
    node("td", "model", log.model ?? "—"),
    status,
    node("td", "num", format.ms(log.duration)),
    node("td", "num", tokens),
    node("td", "num", log.cost === null ? "—" : format.usd(log.cost)),
  );
  const open = () => {
    for (const other of row.parentElement.children) other.classList.remove("selected");
    row.classList.add("selected");
    showDetail($("detail"), state.api, state.gateway, log.id, handleError);
  };
  row.addEventListener("click", open);
  row.addEventListener("keydown", (event) => event.key === "Enter" && open());
  return row;
}

async function loadLogs() {
  const filters = currentFilters();
  const { rows, info } = await state.api.logs(state.gateway, { page: state.page, perPage: PER_PAGE, filters });
  const firstLoad = state.seen.size === 0;
  $("logs-table").tBodies[0].replaceChildren(...rows.map((log) => logRow(log, !firstLoad && !state.seen.has(log.id))));
  for (const log of rows) state.seen.add(log.id);
  const empty = $("logs-empty");
  empty.hidden = rows.length > 0;
  empty.textContent =
    filters.length > 0
      ? "No log matches these filters. Clear a filter or widen it (the model filter matches any part of the name)."
      : `No logs yet in gateway "${state.gateway}". Send a request through ${location.origin}/v1/${account}/${state.gateway}/{provider}/… and it shows up here (turn on Live tail to watch).`;
  const pages = Math.max(1, info?.total_pages ?? 1);
  $("page-info").textContent = `Page ${state.page} of ${pages} · ${format.count(info?.total_count ?? rows.length)} logs`;
  $("prev").disabled = state.page <= 1;
  $("next").disabled = state.page >= pages;
}

function guarded(work) {
  return async () => {
    if (!state.api) return;
    $("error").hidden = true;
    try {
      await work();
    } catch (error) {
      handleError(error);
    }
  };
}

const refresh = guarded(() => Promise.all([loadOverview(), loadLogs()]));
const reloadLogs = guarded(loadLogs);

$("filters").addEventListener("submit", (event) => {
  event.preventDefault();
  state.page = 1;
  reloadLogs();
});
$("prev").addEventListener("click", () => {
  state.page = Math.max(1, state.page - 1);
  reloadLogs();
});
$("next").addEventListener("click", () => {
  state.page += 1;
  reloadLogs();
});
$("refresh").addEventListener("click", refresh);
$("gateway").addEventListener("change", (event) => {
  state.gateway = event.target.value;
  state.page = 1;
  state.seen.clear();
  $("detail").hidden = true;
  refresh();
});
for (const button of $("range").querySelectorAll("button")) {
  button.addEventListener("click", () => {
    state.range = button.dataset.range;
    for (const other of $("range").querySelectorAll("button")) other.setAttribute("aria-pressed", String(other === button));
    guarded(loadOverview)();
  });
}

// ---- live tail: the newest page every 2 s while on; one poll at a time ----
function stopTail() {
  clearTimeout(state.tail);
  state.tail = null;
  $("tail").checked = false;
}
async function tick() {
  if (!$("tail").checked || !state.api) return;
  state.page = 1;
  await reloadLogs();
  if ($("tail").checked) state.tail = setTimeout(tick, 2000);
}
$("tail").addEventListener("change", () => (($("tail").checked ? tick : stopTail)()));

const saved = session.token();
if (saved) signIn(saved);
else showLogin();
