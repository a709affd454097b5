// The log detail drawer: summary, attempts, feedback thumbs and both bodies, pretty-printed and
// open at once. Every value goes in as text: bodies and model names are client data.

import { ApiError } from "./api.js";
import { format } from "./format.js";

function node(tag, className, text) {
  const element = document.createElement(tag);
  if (className) element.className = className;
  if (text !== undefined && text !== null) element.textContent = text;
  return element;
}

/** JSON pretty-printed; SSE streams pretty-print each `data:` line; anything else as it came. */
export function pretty(text) {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text
      .split("\n")
      .map((line) => {
        const match = /^data: (.*)$/.exec(line);
        if (!match) return line;
        try {
          return `data: ${JSON.stringify(JSON.parse(match[1]))}`;
        } catch {
          return line;
        }
      })
      .join("\n");
  }
}

function facts(log) {
  const list = node("dl", "facts");
  const rows = [
    ["Time", new Date(log.created_at).toLocaleString()],
    ["Provider", log.provider],
    ["Model", log.model ?? "—"],
    ["Request", `${log.method} ${log.path}`],
    ["Status", `${log.status_code}${log.success ? "" : " (error)"}${log.cached ? " · cache hit" : ""}`],
    ["Duration", format.ms(log.duration)],
    ["First byte", log.time_to_first_byte === null ? "—" : format.ms(log.time_to_first_byte)],
    ["Tokens", `${log.tokens_in ?? "—"} in · ${log.tokens_out ?? "—"} out`],
    ["Cost", log.cost === null ? "—" : format.usd(log.cost)],
  ];
  if (log.error_message) rows.push(["Error", `${log.error_code ?? ""} ${log.error_message}`.trim()]);
  if (log.metadata) rows.push(["Metadata", log.metadata]);
  for (const [term, value] of rows) list.append(node("dt", "", term), node("dd", "", value));
  return list;
}

function attempts(log) {
  const section = node("section", "attempts");
  section.append(node("h3", "", `Attempts (${log.attempts?.length ?? 0})`));
  if (!log.attempts?.length) {
    section.append(node("p", "empty", "No upstream attempt: the gateway answered by itself (cache hit or refusal)."));
    return section;
  }
  const table = node("table");
  table.append(node("thead"));
  const head = node("tr");
  for (const title of ["Step", "Provider", "Status", "Duration", "First byte", "Error"]) head.append(node("th", "", title));
  table.tHead.append(head);
  const body = node("tbody");
  for (const attempt of log.attempts) {
    const row = node("tr");
    const cells = [attempt.step, attempt.provider, attempt.status ?? "—", format.ms(attempt.durationMs), attempt.ttfbMs === null ? "—" : format.ms(attempt.ttfbMs), attempt.error ?? ""];
    for (const cell of cells) row.append(node("td", "", String(cell)));
    body.append(row);
  }
  table.append(body);
  section.append(table);
  return section;
}

function bodyBlock(title, text, truncated) {
  const section = node("section", "body-block");
  section.append(node("h3", "", truncated ? `${title} (cut at logs.maxPayloadBytes)` : title));
  section.append(text === null ? node("p", "empty", "Not captured (payload logging is off for this gateway).") : node("pre", "body", pretty(text)));
  return section;
}

function thumbs(api, gateway, log, onError) {
  const group = node("div", "thumbs");
  group.setAttribute("role", "group");
  group.setAttribute("aria-label", "Feedback");
  const buttons = [
    [1, "👍", "Good answer"],
    [-1, "👎", "Bad answer"],
  ].map(([value, icon, label]) => {
    const button = node("button", "thumb", icon);
    button.type = "button";
    button.title = label;
    button.dataset.feedback = String(value);
    button.setAttribute("aria-pressed", String(log.feedback === value));
    button.addEventListener("click", async () => {
      // A second click on the chosen thumb clears the feedback.
      const next = log.feedback === value ? 0 : value;
      try {
        const updated = await api.feedback(gateway, log.id, next);
        log.feedback = updated.feedback;
        for (const b of buttons) b.setAttribute("aria-pressed", String(Number(b.dataset.feedback) === log.feedback));
      } catch (error) {
        onError(error);
      }
    });
    return button;
  });
  group.append(node("span", "", "Feedback"), ...buttons);
  return group;
}

/** Fills `panel` with the detail of one log; `onError` reports a failed call (a 401 signs out). */
export async function showDetail(panel, api, gateway, id, onError) {
  panel.hidden = false;
  panel.replaceChildren(node("p", "empty", "Loading…"));
  try {
    const [log, request, response] = await Promise.all([api.log(gateway, id), api.body(gateway, id, "request"), api.body(gateway, id, "response")]);
    const head = node("div", "detail-head");
    const close = node("button", "close", "✕");
    close.type = "button";
    close.title = "Close";
    close.addEventListener("click", () => {
      panel.hidden = true;
    });
    head.append(node("h2", "", `Log ${log.id}`), thumbs(api, gateway, log, onError), close);
    const bodies = node("div", "bodies");
    bodies.append(bodyBlock("Request body", request, log.request_body_truncated), bodyBlock("Response body", response, log.response_body_truncated));
    panel.replaceChildren(head, facts(log), bodies, attempts(log));
  } catch (error) {
    panel.replaceChildren(node("p", "error", error instanceof ApiError ? error.message : "Could not load this log."));
    onError(error);
  }
}
