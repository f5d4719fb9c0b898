// wampy.js scenarios against a Junction router:
//
//   node wampy.mjs URL REALM SERIALIZER SCENARIO
//
// SERIALIZER is json, msgpack or cbor. See common.cjs for the output.

import { readFileSync } from 'node:fs';
import WebSocket from 'ws';
import { Wampy } from 'wampy';
import { JsonSerializer } from 'wampy/JsonSerializer.js';
import { MsgpackSerializer } from 'wampy/MsgpackSerializer.js';
import { CborSerializer } from 'wampy/CborSerializer.js';
import { sign as craSign } from 'wampy/wampcra.js';
import { sign as cryptosignSign } from 'wampy/cryptosign.js';
import c from './common.cjs';

const LIB = 'wampy ' + JSON.parse(readFileSync(new URL('./node_modules/wampy/package.json', import.meta.url))).version;

function makeSerializer(name) {
  const s = { json: JsonSerializer, msgpack: MsgpackSerializer, cbor: CborSerializer }[name];
  if (!s) throw new Error(`wampy has no serializer ${name}`);
  return new s();
}

// connect resolves with a joined client; its details are WELCOME.Details.
async function connect(ctx, extra = {}) {
  const w = new Wampy(ctx.url, {
    realm: ctx.realm,
    serializer: makeSerializer(ctx.serializer),
    ws: WebSocket,
    autoReconnect: false,
    ...extra,
  });
  const details = await c.withTimeout(w.connect(), 10000, 'WELCOME');
  return { w, details, close: () => c.withTimeout(w.disconnect(), 10000, 'disconnect') };
}

const payload = (argsList, argsDict) => ({ argsList, argsDict });

async function expectCallError(promise, uri) {
  let res;
  try {
    res = await promise;
  } catch (e) {
    if (e.errorUri === undefined) throw e;
    c.checkEqual(e.errorUri, uri, 'error URI');
    return e;
  }
  throw new Error(`call succeeded with ${c.fmt(res)}, want error ${uri}`);
}

async function closeAll(...xs) {
  await Promise.all(xs.map((x) => x.close()));
}

const echo = ({ argsList, argsDict }) => ({ argsList: argsList || [], argsDict: argsDict || {} });

async function echoPair(ctx) {
  const callee = await connect(ctx);
  await callee.w.register('com.interop.echo', echo);
  const caller = await connect(ctx);
  return { callee, caller };
}

async function pattern(ctx, subTopic, match, publish, want) {
  const sub = await connect(ctx);
  const inbox = new c.Inbox();
  await sub.w.subscribe(subTopic, ({ argsList, details }) => inbox.push({ topic: details.topic, v: argsList[0] }), { match });
  const pub = await connect(ctx);
  for (const t of publish) await pub.w.publish(t, payload([t]));
  for (const t of want) {
    const ev = await inbox.next(`event on ${t}`);
    c.checkEqual(ev.v, t, 'event payload');
    c.checkEqual(ev.topic, t, 'details.topic');
  }
  await closeAll(sub, pub);
}

const scenarios = {
  async join(ctx) {
    const a = await connect(ctx);
    // wampy's MessagePack serializer (msgpackr) decodes every 64-bit integer
    // as a BigInt: an ID over 2^32 is one in MessagePack.
    const id = Number(a.w.getSessionId());
    c.check(Number.isInteger(id) && id >= 1 && id <= 2 ** 53, `session id ${id} not in [1, 2^53]`);
    c.check(a.details.roles && a.details.roles.broker && a.details.roles.dealer, `WELCOME roles lack broker/dealer: ${c.fmt(a.details.roles)}`);
    c.checkEqual(a.w._ws.protocol, 'wamp.2.' + ctx.serializer, 'negotiated subprotocol');
    await a.close();
    return `session ${id}`;
  },

  async rpc_args_kwargs(ctx) {
    const { callee, caller } = await echoPair(ctx);
    const res = await caller.w.call('com.interop.echo', payload(c.ARGS, c.KWARGS));
    c.checkEqual(res.argsList, c.ARGS, 'args');
    c.checkEqual(res.argsDict, c.KWARGS, 'kwargs');
    await closeAll(callee, caller);
  },

  async call_error(ctx) {
    const callee = await connect(ctx);
    await callee.w.register('com.interop.fail', ({ argsList }) => {
      throw { error: 'com.interop.error.oops', argsList: ['bad input', argsList[0]], argsDict: { code: 42 } };
    });
    const caller = await connect(ctx);
    const e = await expectCallError(caller.w.call('com.interop.fail', payload([7])), 'com.interop.error.oops');
    c.checkEqual(e.argsList, ['bad input', 7], 'error args');
    c.checkEqual(e.argsDict, { code: 42 }, 'error kwargs');
    await closeAll(callee, caller);
  },

  async no_such_procedure(ctx) {
    const a = await connect(ctx);
    await expectCallError(a.w.call('com.interop.nobody.home', payload([1])), 'wamp.error.no_such_procedure');
    await a.close();
  },

  async pubsub_ack(ctx) {
    // wampy always asks for acknowledgement: publish() resolves on PUBLISHED.
    const sub = await connect(ctx);
    const inbox = new c.Inbox();
    await sub.w.subscribe('com.interop.topic', ({ argsList, argsDict }) => inbox.push({ argsList, argsDict }));
    const pub = await connect(ctx);
    const n = 10;
    for (let i = 0; i < n; i++) {
      const p = await pub.w.publish('com.interop.topic', payload([i, ...c.ARGS], c.KWARGS));
      c.check(Number.isInteger(Number(p.publicationId)) && p.publicationId > 0, `PUBLISHED without a publication id: ${c.fmt(p)}`);
    }
    for (let i = 0; i < n; i++) {
      const ev = await inbox.next(`event ${i}`);
      c.checkEqual(ev.argsList, [i, ...c.ARGS], `event ${i} args`);
      c.checkEqual(ev.argsDict, c.KWARGS, `event ${i} kwargs`);
    }
    await closeAll(sub, pub);
  },

  async exclude_me(ctx) {
    const a = await connect(ctx);
    const inbox = new c.Inbox();
    await a.w.subscribe('com.interop.excl', ({ argsList }) => inbox.push(argsList[0]));
    await a.w.publish('com.interop.excl', payload(['own']));
    const b = await connect(ctx);
    await b.w.publish('com.interop.excl', payload(['marker']));
    c.checkEqual(await inbox.next('marker event'), 'marker', 'first event a received');
    await closeAll(a, b);
  },

  async exclude_me_false() {
    return { skip: 'wampy sends exclude_me only when it is true (publish drops exclude_me:false)' };
  },

  async pattern_prefix(ctx) {
    await pattern(ctx, 'com.interop.pfx', 'prefix',
      ['com.interop.pfx', 'com.interop.pfx.a', 'com.interop.other', 'com.interop.pfx.b.c', 'com.interop.pfx.end'],
      ['com.interop.pfx', 'com.interop.pfx.a', 'com.interop.pfx.b.c', 'com.interop.pfx.end']);
  },

  async pattern_wildcard(ctx) {
    await pattern(ctx, 'com.interop..event', 'wildcard',
      ['com.interop.a.event', 'com.interop.a.other', 'com.interop.b.event', 'com.interop.a.b.event', 'com.interop.z.event'],
      ['com.interop.a.event', 'com.interop.b.event', 'com.interop.z.event']);
  },

  async progressive_results(ctx) {
    const callee = await connect(ctx);
    await callee.w.register('com.interop.progress', ({ details, result_handler }) => {
      // wampy's callee does not announce progressive_call_results, so the
      // router leaves receive_progress out of INVOCATION.Details (as the
      // spec says); wampy sends the progressive YIELDs all the same and the
      // router passes them on to the caller, which asked for them.
      c.check(!details.receive_progress, `receive_progress sent to a callee that did not announce progressive_call_results: ${c.fmt(details)}`);
      for (let i = 1; i <= 3; i++) result_handler({ argsList: [i], argsDict: { step: i }, options: { progress: true } });
      return { argsList: ['done'], argsDict: { steps: 3 } };
    });
    const caller = await connect(ctx);
    const progress = [];
    const res = await caller.w.call('com.interop.progress', payload([]), {
      progress_callback: ({ argsList, argsDict }) => { progress.push({ args: argsList, kwargs: argsDict }); },
    });
    c.checkEqual(progress, [1, 2, 3].map((i) => ({ args: [i], kwargs: { step: i } })), 'progressive results');
    c.checkEqual({ args: res.argsList, kwargs: res.argsDict }, { args: ['done'], kwargs: { steps: 3 } }, 'final result');
    await closeAll(callee, caller);
  },

  async call_cancel(ctx) {
    // wampy callees do not announce call_canceling (and have no INTERRUPT
    // handler), so the router answers the caller itself.
    const callee = await connect(ctx);
    const started = c.deferred();
    await callee.w.register('com.interop.slow', () => { started.resolve(); return new Promise(() => {}); });
    await callee.w.register('com.interop.echo', echo);
    const caller = await connect(ctx);
    const call = caller.w.call('com.interop.slow', payload([]));
    const reqId = caller.w.getOpStatus().reqId;
    await c.withTimeout(started.promise, 10000, 'invocation');
    caller.w.cancel(reqId, { mode: 'killnowait' });
    await expectCallError(call, 'wamp.error.canceled');
    const res = await caller.w.call('com.interop.echo', payload(['after cancel']));
    c.checkEqual(res.argsList, ['after cancel'], 'call after cancel');
    await closeAll(callee, caller);
  },

  async shared_roundrobin(ctx) {
    const callees = [];
    for (let i = 0; i < 3; i++) {
      const x = await connect(ctx);
      await x.w.register('com.interop.shared', () => ({ argsList: [i] }), { invoke: 'roundrobin' });
      callees.push(x);
    }
    const caller = await connect(ctx);
    const got = [];
    for (let i = 0; i < 9; i++) got.push((await caller.w.call('com.interop.shared')).argsList[0]);
    c.checkEqual(got, got.map((_, i) => (got[0] + i) % 3), 'callee of each call');
    await closeAll(caller, ...callees);
    return `callees ${got.join(',')}`;
  },

  async session_meta(ctx) {
    const a = await connect(ctx);
    const joins = new c.Inbox();
    const leaves = new c.Inbox();
    await a.w.subscribe('wamp.session.on_join', ({ argsList }) => joins.push(argsList[0]));
    await a.w.subscribe('wamp.session.on_leave', ({ argsList }) => leaves.push(argsList[0]));
    const one = async (proc, args) => (await a.w.call(proc, payload(args || []))).argsList[0];
    const aid = a.w.getSessionId();
    c.checkEqual(await one('wamp.session.count'), 1, 'count with one session');
    c.checkEqual(await one('wamp.session.list'), [aid], 'list with one session');
    const b = await connect(ctx);
    const bid = b.w.getSessionId();
    c.checkEqual((await joins.next('wamp.session.on_join')).session, bid, 'on_join session');
    c.checkEqual(await one('wamp.session.count'), 2, 'count with two sessions');
    c.checkEqual([...(await one('wamp.session.list'))].sort(), [aid, bid].sort(), 'list with two sessions');
    const info = await one('wamp.session.get', [bid]);
    c.checkEqual(info.session, bid, 'wamp.session.get session');
    c.checkEqual(info.transport && info.transport.protocol, 'wamp.2.' + ctx.serializer, 'wamp.session.get transport.protocol');
    await b.close();
    c.checkEqual(await leaves.next('wamp.session.on_leave'), bid, 'on_leave session');
    c.checkEqual(await one('wamp.session.count'), 1, 'count after one left');
    await a.close();
  },

  async binary_payload(ctx) {
    if (ctx.serializer === 'json') {
      return { skip: 'wampy\'s JSON serializer is plain JSON.stringify: no binary conversion (the spec\'s "\\u0000"+base64 strings)' };
    }
    const callee = await connect(ctx);
    await callee.w.register('com.interop.bytes', ({ argsList }) => {
      const b = argsList[0];
      c.check(c.isBytes(b), `callee got ${c.fmt(b)}, not bytes`);
      return { argsList: [b, c.toBuffer(b).length, new Uint8Array(0)] };
    });
    const caller = await connect(ctx);
    const want = c.binaryPayload();
    const res = await caller.w.call('com.interop.bytes', payload([want]));
    c.check(c.isBytes(res.argsList[0]), `result ${c.fmt(res.argsList[0])} is not bytes`);
    c.checkEqual(res.argsList, [want, 256, Buffer.alloc(0)], 'result');
    await closeAll(callee, caller);
  },

  async payload_1mib(ctx) {
    const { callee, caller } = await echoPair(ctx);
    const big = c.bigString();
    const res = await caller.w.call('com.interop.echo', payload([big]));
    c.check(res.argsList[0] === big, `1 MiB result differs (length ${res.argsList[0] && res.argsList[0].length})`);
    const inbox = new c.Inbox();
    await callee.w.subscribe('com.interop.big', ({ argsList }) => inbox.push(argsList[0]));
    await caller.w.publish('com.interop.big', payload([big]));
    const ev = await inbox.next('1 MiB event');
    c.check(ev === big, `1 MiB event differs (length ${ev && ev.length})`);
    await closeAll(callee, caller);
  },

  async concurrent_calls(ctx) {
    const callee = await connect(ctx);
    await callee.w.register('com.interop.add', ({ argsList }) => ({ argsList: [argsList[0] + argsList[1]] }));
    const caller = await connect(ctx);
    const n = 2000;
    const calls = [];
    for (let i = 0; i < n; i++) calls.push(caller.w.call('com.interop.add', payload([i, 1000000])));
    const res = await Promise.all(calls);
    res.forEach((r, i) => { if (r.argsList[0] !== i + 1000000) throw new Error(`call ${i}: got ${c.fmt(r.argsList)}, want ${i + 1000000}`); });
    await closeAll(callee, caller);
    return `${n} calls`;
  },

  // --- authentication with wampy's wampcra and cryptosign plugins ---

  async auth_wampcra(ctx) {
    const auth = authConfig();
    const a = await connect(ctx, { authid: auth.cra.authid, authmethods: ['wampcra'], authMode: 'auto', authPlugins: { wampcra: craSign(auth.cra.secret) } });
    checkAuth(a.details, auth.cra.authid, auth.role, 'wampcra');
    await a.close();
  },

  async auth_wampcra_salted(ctx) {
    const auth = authConfig();
    const a = await connect(ctx, { authid: auth.cra_salted.authid, authmethods: ['wampcra'], authMode: 'auto', authPlugins: { wampcra: craSign(auth.cra_salted.secret) } });
    checkAuth(a.details, auth.cra_salted.authid, auth.role, 'wampcra');
    await a.close();
  },

  async auth_cryptosign(ctx) {
    const auth = authConfig();
    const a = await connect(ctx, {
      authid: auth.cryptosign.authid, authmethods: ['cryptosign'], authextra: { pubkey: auth.cryptosign.pubkey },
      authMode: 'auto', authPlugins: { cryptosign: cryptosignSign(auth.cryptosign.seed) },
    });
    checkAuth(a.details, auth.cryptosign.authid, auth.role, 'cryptosign');
    await a.close();
  },

  async auth_failure(ctx) {
    const auth = authConfig();
    let a;
    try {
      a = await connect(ctx, { authid: auth.cra.authid, authmethods: ['wampcra'], authMode: 'auto', authPlugins: { wampcra: craSign('not the secret') } });
    } catch (e) {
      c.checkEqual(e.errorUri, 'wamp.error.authentication_failed', `ABORT reason (${e.name})`);
      return;
    }
    await a.close();
    throw new Error('joined with a wrong secret');
  },

  // --- mixed cases: this side publishes to a subscriber of another client ---

  async mixed_publisher(ctx) {
    const a = await connect(ctx);
    const args = process.env.INTEROP_MIXED_BINARY === '1' ? [...c.ARGS, c.binaryPayload()] : c.ARGS;
    const n = Number(process.env.INTEROP_MIXED_EVENTS) || 5;
    for (let i = 0; i < n; i++) await a.w.publish('com.interop.mixed.topic', payload([i, ...args], c.KWARGS));
    await a.close();
    return `${n} events published`;
  },
};

function authConfig() {
  if (!process.env.INTEROP_AUTH) throw new Error('INTEROP_AUTH is not set');
  return JSON.parse(process.env.INTEROP_AUTH);
}

function checkAuth(details, authid, role, method) {
  c.checkEqual(details.authid, authid, 'WELCOME authid');
  c.checkEqual(details.authrole, role, 'WELCOME authrole');
  c.checkEqual(details.authmethod, method, 'WELCOME authmethod');
}

c.run('wampy', LIB, scenarios);
