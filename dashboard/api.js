// Requests to the collector API. Every failure becomes an ApiError whose
// message is the API's own `error` text when it sent one.

export class ApiError extends Error {
  constructor(message, status, body = null) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.body = body;
  }
}

async function readJson(response) {
  const type = response.headers.get("Content-Type") || "";
  if (!type.includes("application/json")) return null;
  try {
    return await response.json();
  } catch {
    return null;
  }
}

// Fetches `path` and returns its JSON body; raises ApiError on a network
// failure, a non-2xx status or a body that is not JSON.
export async function getJson(path, headers = {}) {
  let response;
  try {
    response = await fetch(path, {
      headers: { Accept: "application/json", ...headers },
      cache: "no-store",
      credentials: "same-origin",
    });
  } catch (error) {
    throw new ApiError(
      `cannot reach the collector for ${path}: ${error.message}`,
      0,
    );
  }

  const body = await readJson(response);
  if (!response.ok) {
    const message =
      body && typeof body.error === "string"
        ? body.error
        : `${path} failed with HTTP ${response.status} ${response.statusText}`.trim();
    throw new ApiError(message, response.status, body);
  }
  if (body === null) {
    throw new ApiError(
      `${path} returned HTTP ${response.status} without a JSON body`,
      response.status,
    );
  }
  return body;
}

// Builds a query string from the entries of `params` that are set.
export function query(params) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== null && value !== undefined && value !== "")
      search.set(name, value);
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}
