// The admin API as the dashboard uses it. Every call carries the admin token the user typed; the
// token lives in sessionStorage only (this tab), never in a URL or in the page.

const TOKEN_KEY = "switchboard.adminToken";

export const session = {
  token: () => sessionStorage.getItem(TOKEN_KEY),
  save: (token) => sessionStorage.setItem(TOKEN_KEY, token),
  clear: () => sessionStorage.removeItem(TOKEN_KEY),
};

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/** Reads the V4 error envelope's first message; falls back to the status. */
async function failure(response) {
  let message = `HTTP ${response.status}`;
  try {
    const body = await response.json();
    if (body?.errors?.[0]?.message) message = body.errors[0].message;
  } catch {
    // Not JSON: keep the status.
  }
  return new ApiError(response.status, message);
}

export function createApi(account, token) {
  const base = `/client/v4/accounts/${encodeURIComponent(account)}/ai-gateway/gateways`;
  const gatewayBase = (gateway) => `${base}/${encodeURIComponent(gateway)}`;

  async function call(path, init = {}) {
    const headers = { authorization: `Bearer ${token}`, ...(init.headers ?? {}) };
    const response = await fetch(path, { ...init, headers, cache: "no-store" });
    if (!response.ok) throw await failure(response);
    return response;
  }
  const json = async (path, init) => (await call(path, init)).json();

  return {
    async gateways() {
      return (await json(`${base}?per_page=50`)).result;
    },
    /** `filters`: [{key, operator, value: [...]}], sent in the JSON encoding the logs API accepts. */
    async logs(gateway, { page = 1, perPage = 25, filters = [] } = {}) {
      const query = new URLSearchParams({ page: String(page), per_page: String(perPage), order_by: "created_at", order_by_direction: "desc" });
      if (filters.length > 0) query.set("filters", JSON.stringify(filters));
      const body = await json(`${gatewayBase(gateway)}/logs?${query}`);
      return { rows: body.result, info: body.result_info };
    },
    async log(gateway, id) {
      return (await json(`${gatewayBase(gateway)}/logs/${encodeURIComponent(id)}`)).result;
    },
    /** The captured body as text, or null when it was not captured. */
    async body(gateway, id, side) {
      try {
        return await (await call(`${gatewayBase(gateway)}/logs/${encodeURIComponent(id)}/${side}`)).text();
      } catch (error) {
        if (error instanceof ApiError && error.status === 404) return null;
        throw error;
      }
    },
    async feedback(gateway, id, feedback) {
      const init = { method: "PATCH", headers: { "content-type": "application/json" }, body: JSON.stringify({ feedback }) };
      return (await json(`${gatewayBase(gateway)}/logs/${encodeURIComponent(id)}`, init)).result;
    },
    async analytics(gateway, { start, end, bucket, groupBy }) {
      const query = new URLSearchParams({ start_date: start.toISOString(), end_date: end.toISOString(), bucket });
      if (groupBy) query.set("group_by", groupBy);
      return (await json(`${gatewayBase(gateway)}/analytics?${query}`)).result;
    },
  };
}
