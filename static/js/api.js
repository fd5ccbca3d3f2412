// The JSON API, relative to the page, so that any APP_BASE_PATH works.

export class SignInNeeded extends Error {}

/** An answer other than 2xx: the API's words (``error``), its status and details. */
export class ApiError extends Error {
  constructor(status, body) {
    super(body?.error || `HTTP ${status}`);
    this.status = status;
    this.detail = body?.detail ?? null;
  }
}

/** The address of an API route (also what a download link points at). */
export function apiUrl(path, params) {
  return `api/v1/${path}${params && String(params) ? `?${params}` : ""}`;
}

/** ``type``: the body is sent as it is (a file) with that Content-Type; else as JSON. */
async function request(method, path, { params, body, type } = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = type || "application/json";
  const response = await fetch(apiUrl(path, params), {
    method, headers, body: body === undefined || type ? body : JSON.stringify(body), credentials: "same-origin",
  });
  const data = await response.json().catch(() => null);
  if (response.status === 401 && path !== "auth/login") throw new SignInNeeded(data?.error);
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

export const api = {
  get: (path, params) => request("GET", path, { params }),
  post: (path, body = {}, params) => request("POST", path, { body, params }),
  put: (path, body) => request("PUT", path, { body }),
  del: (path, params) => request("DELETE", path, { params }),
  upload: (path, file, type, params) => request("POST", path, { body: file, type, params }),
};

/** A model name as one path segment of /pricing/<model> (it may hold / : *). */
export function modelPath(model) {
  return `pricing/${encodeURIComponent(model)}`;
}

/** Run what a button or form asked for: an API error goes to ``onError``; a 401 is left to
 * the page-wide handler, which shows the sign-in form. */
export async function act(action, onError) {
  try {
    return await action();
  } catch (error) {
    if (error instanceof SignInNeeded) throw error;
    onError(error);
    return undefined;
  }
}
