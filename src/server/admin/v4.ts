/** Cloudflare's V4 API success envelope, which its SDKs unwrap (`result`) and paginate (`result_info`). */

export interface ResultInfo {
  page: number;
  per_page: number;
  count: number;
  total_count: number;
  total_pages: number;
}

export interface V4Success<T> {
  success: true;
  errors: [];
  messages: [];
  result: T;
  result_info?: ResultInfo;
}

/** `{success: true, errors: [], messages: [], result}`. */
export function ok<T>(result: T): V4Success<T> {
  return { success: true, errors: [], messages: [], result };
}

/** One page of a list, with the `result_info` the SDK's `V4PagePaginationArray` reads. */
export function page<T>(items: T[], total: number, pageNumber: number, perPage: number): V4Success<T[]> {
  return {
    ...ok(items),
    result_info: { page: pageNumber, per_page: perPage, count: items.length, total_count: total, total_pages: Math.ceil(total / perPage) },
  };
}
