'use strict';
// Shared by the Node scenario programs (autobahnjs.cjs, wampy.mjs): the
// command line, the one JSON result line, the payloads and the checks.
//
// Every program is run as
//
//   node PROGRAM URL REALM SERIALIZER SCENARIO
//
// (URL ws://... for WebSocket, rs://host:port or unix:///path for RawSocket)
// and prints exactly one JSON result line
//
//   {"client":..., "lib":..., "serializer":..., "scenario":..., "result":"pass"|"fail"|"skip", "detail":...}
//
// Scenarios that play one side of a mixed case also print a
// {"event":"ready"} line once they are ready (registered, subscribed) so
// the Go test can start the other side without sleeping.

const SCENARIO_TIMEOUT_MS = Number(process.env.INTEROP_SCENARIO_TIMEOUT_MS) || 40000;

function emit(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

// The payloads every client sends; the Go test does not look at them.
const ARGS = [1, -2, 2 ** 40, 3.25, 'h\u00e9llo \u2713 \u{1F680}', true, false, null, [1, [2, 'x']], { a: 1, b: [true, 'y'] }];
const KWARGS = { x: 1, s: 'text', nested: { k: 'v', list: [1, 2, 3] }, empty_list: [], empty_dict: {} };

function binaryPayload() {
  const b = Buffer.alloc(256);
  for (let i = 0; i < 256; i++) b[i] = i;
  return b;
}

const ONE_MIB = 1024 * 1024;
function bigString() {
  // 1 MiB of ASCII, not one repeated byte, so a truncation or a shuffle shows.
  const unit = 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ+/';
  return unit.repeat(ONE_MIB / unit.length);
}

function isBytes(v) {
  return v instanceof Uint8Array || v instanceof ArrayBuffer;
}

function toBuffer(v) {
  if (v instanceof ArrayBuffer) return Buffer.from(v);
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
}

function deepEqual(a, b) {
  if (isBytes(a) || isBytes(b)) {
    return isBytes(a) && isBytes(b) && toBuffer(a).equals(toBuffer(b));
  }
  if (typeof a === 'bigint' || typeof b === 'bigint') {
    return BigInt(a) === BigInt(b);
  }
  if (a === b) return true;
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    return a.length === b.length && a.every((v, i) => deepEqual(v, b[i]));
  }
  const ka = Object.keys(a).sort();
  const kb = Object.keys(b).sort();
  return deepEqual(ka, kb) && ka.every((k) => deepEqual(a[k], b[k]));
}

function fmt(v) {
  let s;
  try {
    s = JSON.stringify(v, (k, x) => {
      if (typeof x === 'bigint') return x.toString() + 'n';
      if (x && x.type === 'Buffer' && Array.isArray(x.data)) return 'bytes:' + Buffer.from(x.data).toString('hex');
      if (isBytes(x)) return 'bytes:' + toBuffer(x).toString('hex');
      return x;
    });
  } catch (e) {
    s = String(v);
  }
  if (s === undefined) s = String(v);
  return s.length > 300 ? s.slice(0, 300) + `...(${s.length} chars)` : s;
}

function check(cond, msg) {
  if (!cond) throw new Error(msg);
}

function checkEqual(got, want, what) {
  if (!deepEqual(got, want)) throw new Error(`${what}: got ${fmt(got)}, want ${fmt(want)}`);
}

function deferred() {
  let resolve, reject;
  const promise = new Promise((res, rej) => { resolve = res; reject = rej; });
  return { promise, resolve, reject };
}

// Inbox collects what a handler receives so a scenario can await the next
// item (with a bound) instead of sleeping.
class Inbox {
  constructor() { this.items = []; this.waiters = []; }
  push(x) {
    const w = this.waiters.shift();
    if (w) w.resolve(x); else this.items.push(x);
  }
  next(what, ms = 10000) {
    if (this.items.length) return Promise.resolve(this.items.shift());
    const d = deferred();
    this.waiters.push(d);
    const t = setTimeout(() => {
      const i = this.waiters.indexOf(d);
      if (i >= 0) this.waiters.splice(i, 1);
      d.reject(new Error(`timed out after ${ms} ms waiting for ${what}`));
    }, ms);
    return d.promise.finally(() => clearTimeout(t));
  }
  get length() { return this.items.length; }
}

function withTimeout(promise, ms, what) {
  let t;
  return Promise.race([
    promise.finally(() => clearTimeout(t)),
    new Promise((_, rej) => { t = setTimeout(() => rej(new Error(`timed out after ${ms} ms: ${what}`)), ms); }),
  ]);
}

// Lines from stdin, for the mixed-case roles that run until the Go test
// closes their standard input.
function stdinClosed() {
  return new Promise((resolve) => {
    process.stdin.on('end', resolve);
    process.stdin.on('error', resolve);
    process.stdin.resume();
  });
}

// run parses the command line, runs the scenario and prints its line. A
// scenario is an async function(ctx) that throws to fail, or returns
// {skip: reason} when the client cannot do it, or a detail string.
async function run(client, lib, scenarios) {
  const [url, realm, serializer, scenario] = process.argv.slice(2);
  const line = { client, lib, serializer, scenario, result: 'fail', detail: '' };
  const finish = (code) => {
    emit(line);
    process.stdout.write('', () => process.exit(code));
  };
  process.on('unhandledRejection', (e) => {
    process.stderr.write(`unhandled rejection: ${e && e.stack || e}\n`);
  });
  if (!url || !realm || !serializer || !scenario) {
    line.detail = `usage: node ${process.argv[1]} URL REALM SERIALIZER SCENARIO`;
    return finish(2);
  }
  const fn = scenarios[scenario];
  if (!fn) {
    line.detail = `unknown scenario ${scenario}`;
    return finish(2);
  }
  const transport = { 'ws:': 'websocket', 'wss:': 'websocket', 'rs:': 'rawsocket', 'unix:': 'rawsocket' }[URL.canParse(url) ? new URL(url).protocol : ''];
  if (!transport) {
    line.detail = `unsupported URL ${url}`;
    return finish(2);
  }
  try {
    const out = await withTimeout(Promise.resolve().then(() => fn({ url, realm, serializer, transport })), SCENARIO_TIMEOUT_MS, scenario);
    if (out && out.skip) {
      line.result = 'skip';
      line.detail = out.skip;
    } else {
      line.result = 'pass';
      line.detail = typeof out === 'string' ? out : '';
    }
    return finish(0);
  } catch (e) {
    line.detail = (e && e.message) ? e.message : fmt(e);
    const uri = e && [e.errorUri, e.error].find((x) => typeof x === 'string');
    if (uri) {
      // a WAMP error from the library: name its URI and payload
      line.detail += ` (${uri} ${fmt(e.argsList || e.args || [])} ${fmt(e.argsDict || e.kwargs || {})})`;
    } else if (e && e.error && e.error.message) {
      line.detail += `: ${e.error.message}`;
    }
    if (e && e.stack) process.stderr.write(e.stack + '\n');
    return finish(1);
  }
}

module.exports = {
  emit, run, ARGS, KWARGS, ONE_MIB, binaryPayload, bigString, isBytes, toBuffer, deepEqual, fmt, check, checkEqual,
  deferred, Inbox, withTimeout, stdinClosed, SCENARIO_TIMEOUT_MS,
};
