// The view lives in the URL hash, "#/<page>?<filters>", so that it can be bookmarked and
// shared, and works under any APP_BASE_PATH (the path itself never changes).

import { zoneParameter } from "./format.js";
import { isMember } from "./session.js";

const FILTER_KEYS = ["range", "start", "end", "model", "source", "api_key", "instance", "result", "stream", "refresh"];
const MULTI = new Set(["model", "source", "api_key", "instance"]);
const OWNER_FILTERS = new Set(["source", "api_key"]); // a member's answers are their own key's; credentials are refused

export function route() {
  const hash = location.hash.replace(/^#\/?/, "");
  const [page, query = ""] = hash.split("?");
  return { page: page || "overview", params: new URLSearchParams(query) };
}

export function hrefFor(page, params) {
  const query = String(params);
  return `#/${page}${query ? `?${query}` : ""}`;
}

/** The current filters with ``changes`` applied (an array for the multi-value ones, null
 * or "" to remove); page-only parameters are dropped unless ``keepPage``. */
export function withChanges(params, changes, keepPage = false) {
  const next = new URLSearchParams();
  for (const [key, value] of params) {
    if (keepPage || FILTER_KEYS.includes(key)) next.append(key, value);
  }
  for (const [key, value] of Object.entries(changes)) {
    next.delete(key);
    for (const item of MULTI.has(key) && Array.isArray(value) ? value : [value]) {
      if (item != null && item !== "") next.append(key, item);
    }
  }
  return next;
}

/** Go to a view. The body says "loading" at once, so a test (or a reader) never mistakes
 * the previous view for the new one. */
export function navigate(page, params, replace = false) {
  const href = hrefFor(page, params);
  if (href === location.hash) return;
  document.body.dataset.loaded = "false";
  if (replace) {
    history.replaceState(null, "", href);
    window.dispatchEvent(new HashChangeEvent("hashchange"));
  } else {
    location.hash = href;
  }
}

/** The query of a usage endpoint: the filters a page uses, with its default range (a
 * member's session sends no key or credential filter), and the viewer's zone when chosen. */
export function apiParams(params, page, extra = {}) {
  const query = new URLSearchParams();
  if (page.range) {
    const range = params.get("range") || page.range;
    query.set("range", range);
    if (range === "custom") {
      for (const key of ["start", "end"]) if (params.get(key)) query.set(key, params.get(key));
    }
  }
  if (page.filters) {
    for (const key of MULTI) {
      if (isMember() && OWNER_FILTERS.has(key)) continue;
      for (const value of params.getAll(key)) query.append(key, value);
    }
    if (params.get("result")) query.set("result", params.get("result"));
    if (page.stream && params.get("stream")) query.set("stream", params.get("stream"));
  }
  for (const [key, value] of Object.entries(extra)) if (value != null && value !== "") query.set(key, value);
  if (zoneParameter()) query.set("tz", zoneParameter());
  return query;
}
