// Small hand-written SVG charts: one time chart (bars or lines, y axis with units, x axis with
// times) and one horizontal bar list. Every value is set as text or an attribute, never as markup.

const SVG = "http://www.w3.org/2000/svg";
const W = 420;
const H = 170;
const M = { left: 52, right: 12, top: 12, bottom: 26 };

function el(name, attributes = {}, text) {
  const node = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

/** 1, 2 or 5 times a power of ten, at least `value`: axis maxima people read at a glance. */
function niceMax(value) {
  if (!(value > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 5, 10]) if (step * power >= value) return step * power;
  return 10 * power;
}

export function formatTime(iso, bucket) {
  const date = new Date(iso);
  if (bucket === "day") return date.toLocaleDateString([], { month: "short", day: "numeric" });
  if (bucket === "hour") return date.toLocaleString([], { weekday: "short", hour: "2-digit", minute: "2-digit" });
  return date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

/**
 * @param options.series [{name, cls, values: (number|null)[]}]; `kind` "bar" stacks nothing: bars of
 *   several series sit side by side; "line" draws one path per series, broken where a value is null.
 * @param options.format formats an axis or tooltip value with its unit ("12 ms", "$0.42").
 */
export function timeChart({ title, starts, bucket, series, kind, format }) {
  const card = document.createElement("div");
  card.className = "card chart";
  const head = document.createElement("h3");
  head.textContent = title;
  card.append(head);
  if (series.length > 1) {
    const legend = document.createElement("div");
    legend.className = "legend";
    for (const s of series) {
      const item = document.createElement("span");
      item.className = `key ${s.cls}`;
      item.textContent = s.name;
      legend.append(item);
    }
    card.append(legend);
  }

  const svg = el("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": title });
  const plotW = W - M.left - M.right;
  const plotH = H - M.top - M.bottom;
  const n = Math.max(starts.length, 1);
  const max = niceMax(Math.max(0, ...series.flatMap((s) => s.values.filter((v) => v !== null))));
  const y = (v) => M.top + plotH - (v / max) * plotH;
  const x = (i) => M.left + ((i + 0.5) * plotW) / n;

  for (const tick of [0, max / 2, max]) {
    svg.append(el("line", { class: "grid", x1: M.left, x2: W - M.right, y1: y(tick), y2: y(tick) }));
    svg.append(el("text", { class: "axis", x: M.left - 6, y: y(tick) + 4, "text-anchor": "end" }, format(tick)));
  }
  const labelled = new Set([0, Math.floor((starts.length - 1) / 2), starts.length - 1]);
  for (const i of labelled) {
    if (starts[i] === undefined) continue;
    const anchor = i === 0 ? "start" : i === starts.length - 1 ? "end" : "middle";
    const at = anchor === "start" ? M.left : anchor === "end" ? W - M.right : x(i);
    svg.append(el("text", { class: "axis", x: at, y: H - 8, "text-anchor": anchor }, formatTime(starts[i], bucket)));
  }

  if (kind === "bar") {
    const slot = plotW / n;
    const width = Math.max(1, (slot * 0.8) / series.length);
    series.forEach((s, k) => {
      s.values.forEach((v, i) => {
        if (!(v > 0)) return;
        const rect = el("rect", { class: `data ${s.cls}`, x: M.left + i * slot + slot * 0.1 + k * width, y: y(v), width, height: Math.max(1, y(0) - y(v)) });
        rect.append(el("title", {}, `${formatTime(starts[i], bucket)} · ${s.name}: ${format(v)}`));
        svg.append(rect);
      });
    });
  } else {
    for (const s of series) {
      let d = "";
      let pen = "M";
      s.values.forEach((v, i) => {
        if (v === null) {
          pen = "M";
          return;
        }
        d += `${pen}${x(i).toFixed(1)},${y(v).toFixed(1)}`;
        pen = "L";
        // Dots (and their tooltips) only while buckets are wide enough to tell apart.
        if (n > 31) return;
        const dot = el("circle", { class: `dot ${s.cls}`, cx: x(i), cy: y(v), r: 2.5 });
        dot.append(el("title", {}, `${formatTime(starts[i], bucket)} · ${s.name}: ${format(v)}`));
        svg.append(dot);
      });
      if (d) svg.append(el("path", { class: `data line ${s.cls}`, d }));
    }
  }
  svg.append(el("line", { class: "baseline", x1: M.left, x2: W - M.right, y1: y(0), y2: y(0) }));
  card.append(svg);
  return card;
}

/** A ranked list with a proportional bar per row: `rows` [{label, value, detail}]. */
export function barList(rows, format) {
  const list = document.createElement("ol");
  list.className = "barlist";
  const max = Math.max(...rows.map((r) => r.value), 1);
  for (const row of rows) {
    const item = document.createElement("li");
    const label = document.createElement("span");
    label.className = "label";
    label.textContent = row.label;
    label.title = row.label;
    const svg = el("svg", { viewBox: "0 0 100 8", preserveAspectRatio: "none", class: "meter", "aria-hidden": "true" });
    svg.append(el("rect", { class: "data bar-a", x: 0, y: 0, height: 8, width: Math.max(0.5, (row.value / max) * 100) }));
    const value = document.createElement("span");
    value.className = "value";
    value.textContent = `${format(row.value)}${row.detail ? ` · ${row.detail}` : ""}`;
    item.append(label, svg, value);
    list.append(item);
  }
  return list;
}
