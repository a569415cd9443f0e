// SPDX-License-Identifier: MIT
// api.js - every call the page makes to lossd: same origin, JSON, with the
// tab's API key when one is set. Nothing here computes: it only asks.

const KEY = 'lossd.apiKey';

export function apiKey() {
  return sessionStorage.getItem(KEY) || '';
}

export function setApiKey(key) {
  if (key) sessionStorage.setItem(KEY, key);
  else sessionStorage.removeItem(KEY);
}

// An error reply, or a failure to reach lossd, as one exception.
export class ApiError extends Error {
  constructor(status, body, path) {
    const e = body && body.error;
    const text = e ? (typeof e === 'string' ? e : e.message) : `HTTP ${status}`;
    super(`${path}: ${text}`);
    this.status = status;
    this.body = body;
  }
}

const listeners = new Set();
// fn(status) after every reply: the page shows "needs a key" on 401.
export function onReply(fn) {
  listeners.add(fn);
}

function headers(json) {
  const h = {};
  if (json) h['Content-Type'] = 'application/json';
  const key = apiKey();
  if (key) h.Authorization = `Bearer ${key}`;
  return h;
}

// The reply as {status, body, text}; never throws on an HTTP status.
export async function request(method, path, body) {
  const init = { method, headers: headers(body !== undefined) };
  if (body !== undefined) init.body = JSON.stringify(body);
  const resp = await fetch(path, init);
  const text = await resp.text();
  let parsed = null;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    parsed = null;
  }
  for (const fn of listeners) fn(resp.status);
  return { status: resp.status, body: parsed, text };
}

export async function get(path) {
  const r = await request('GET', path);
  if (r.status !== 200) throw new ApiError(r.status, r.body, path);
  return r.body;
}

export async function post(path, body) {
  const r = await request('POST', path, body);
  if (r.status !== 200) throw new ApiError(r.status, r.body, path);
  return r.body;
}

// POST /v1/batch: jobs [{path, body}] -> the results [{status, body}], in order.
export async function batch(jobs) {
  const reply = await post('/v1/batch', { jobs });
  return reply.results;
}

// The body of a batch result, or an ApiError for a failed job.
export function ok(result, path) {
  if (result.status !== 200) throw new ApiError(result.status, result.body, path);
  return result.body;
}
