// modhost dashboard: the admin API client. The token lives in this tab's session storage only.

const TOKEN_KEY = 'modhost.token';

export function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function setToken(value) {
  if (value) sessionStorage.setItem(TOKEN_KEY, value);
  else sessionStorage.removeItem(TOKEN_KEY);
}

// A refused or failed call: the API's `{"error": {code, message, problems}}` with the status.
export class ApiFailure extends Error {
  constructor(status, body) {
    const error = (body && body.error) || {};
    super(error.message || `the server answered ${status}`);
    this.status = status;
    this.code = error.code || `http-${status}`;
    this.problems = error.problems || [];
  }
}

function headers(extra = {}) {
  const all = { ...extra };
  const current = token();
  if (current) all.authorization = `Bearer ${current}`;
  return all;
}

// Sends a request; resolves the raw Response when it succeeded, throws ApiFailure otherwise.
export async function send(method, path, { body, contentType, accept, signal } = {}) {
  const extra = {};
  if (contentType) extra['content-type'] = contentType;
  if (accept) extra.accept = accept;
  const response = await fetch(path, { method, headers: headers(extra), body, signal, cache: 'no-store' });
  if (!response.ok) {
    let parsed = null;
    try {
      parsed = await response.json();
    } catch {
      parsed = null;
    }
    throw new ApiFailure(response.status, parsed);
  }
  return response;
}

// A JSON call: `api('POST', '/v1/tenants', {id: …})`.
export async function api(method, path, json) {
  const response = await send(method, path, json === undefined ? {} : {
    body: JSON.stringify(json),
    contentType: 'application/json',
  });
  const text = await response.text();
  return text ? JSON.parse(text) : null;
}

export const get = (path) => api('GET', path);

// A text answer (OpenMetrics).
export async function getText(path) {
  return (await send('GET', path)).text();
}

// Builds `path?name=value&…` from the non-empty values.
export function withQuery(path, query) {
  const parts = Object.entries(query)
    .filter(([, value]) => value !== undefined && value !== null && value !== '')
    .map(([name, value]) => `${encodeURIComponent(name)}=${encodeURIComponent(value)}`);
  return parts.length ? `${path}?${parts.join('&')}` : path;
}

// Follows a server-sent event stream read with fetch (EventSource cannot send the token header).
// Calls `onOpen()` once the server answered (it is subscribed by then), then
// `onEvent({event, data})` per event; resolves when the stream ends or `signal` aborts.
export async function followEvents(path, onEvent, signal, onOpen = () => {}) {
  const response = await send('GET', path, { accept: 'text/event-stream', signal });
  onOpen();
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value.replace(/\r\n/g, '\n');
      let end;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let event = 'message';
        const data = [];
        for (const line of block.split('\n')) {
          if (line.startsWith('event:')) event = line.slice(6).trim();
          else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
        }
        if (data.length) onEvent({ event, data: data.join('\n') });
      }
    }
  } catch (error) {
    if (signal && signal.aborted) return;
    throw error;
  }
}

// Fetches a file with the token and hands it to the browser as a download.
export async function download(path, filename) {
  const blob = await (await send('GET', path)).blob();
  const url = URL.createObjectURL(blob);
  const link = document.createElement('a');
  link.href = url;
  link.download = filename;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}
