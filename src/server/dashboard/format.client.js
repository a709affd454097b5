// Number formats with their units, shared by charts, tiles, tables and the detail view.

const compact = new Intl.NumberFormat([], { notation: "compact", maximumFractionDigits: 1 });

export const format = {
  count: (n) => compact.format(n),
  tokens: (n) => `${compact.format(n)} tok`,
  ms: (n) => (n >= 10_000 ? `${(n / 1000).toFixed(1)} s` : n < 10 && n % 1 !== 0 ? `${n.toFixed(1)} ms` : `${Math.round(n)} ms`),
  usd: (n) => (n === 0 ? "$0" : n < 0.01 ? `$${n.toFixed(4)}` : `$${n.toFixed(2)}`),
  percent: (n) => `${(n * 100).toFixed(1)}%`,
};
