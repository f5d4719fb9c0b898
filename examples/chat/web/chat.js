// The chat page: the WebSocket chat of the seed article, on WAMP.
//
//   - a message is an event of chat.message (kwargs name and text), published
//     with disclose_me so that every subscriber knows which session sent it;
//   - chat.history, registered by the chat service (../service), answers the
//     last messages, so a page that opens or reloads shows what was said;
//   - who is online comes from the router's session meta API
//     (wamp.session.list, wamp.session.on_join, wamp.session.on_leave); the
//     chat service is recognised through the registration meta API.
//
// The page connects to the router that served it (ws[s]://<host>/ws), or to
// the one named by ?router=ws://host:port/ws, in realm ?realm= (realm1).
'use strict';

(function () {
  const TOPIC = 'chat.message';
  const HISTORY = 'chat.history';
  const MAX_NAME = 40;
  const MAX_TEXT = 500;
  const MAX_SHOWN = 200;

  const params = new URLSearchParams(location.search);
  const routerURL = params.get('router') ||
    (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws';
  const realm = params.get('realm') || 'realm1';

  const $ = (id) => document.getElementById(id);
  const form = document.forms.publish;
  const statusEl = $('status');
  const noticeEl = $('notice');
  const messagesEl = $('messages');
  const presenceEl = $('presence');
  const countEl = $('online-count');

  form.name.value = localStorage.getItem('chat.name') ||
    'guest-' + Math.floor(1000 + Math.random() * 9000);

  // State of the current session; reset on each (re)connection.
  let session = null;
  let shown = new Set(); // publication ids on the page
  let historyShown = false; // until then, live messages wait in pending
  let pending = [];
  const online = new Set(); // session ids in the realm
  const left = new Set(); // session ids seen leaving (a late list must not bring them back)
  const services = new Set(); // sessions that registered chat.history
  const names = new Map(); // session id -> the name on its last message

  function setStatus(state, text) {
    statusEl.dataset.state = state;
    statusEl.textContent = text;
  }

  function notice(text) {
    noticeEl.textContent = text || '';
    noticeEl.hidden = !text;
  }

  function setFormEnabled(on) {
    for (const el of form.elements) el.disabled = !on;
  }

  function wampError(err) {
    if (err && err.error) return err.error + (err.args && err.args[0] ? ': ' + err.args[0] : '');
    return String(err);
  }

  // show puts a message at the top of the list, once per publication.
  function show(m) {
    if (shown.has(m.publication)) return;
    shown.add(m.publication);
    if (m.session) {
      names.set(m.session, m.name);
      renderPresence();
    }
    const el = document.createElement('div');
    el.className = 'message';
    if (session && m.session === session.id) el.classList.add('mine');
    el.dataset.publication = String(m.publication);
    const time = document.createElement('span');
    time.className = 'time';
    const when = new Date(m.time);
    time.textContent = when.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
    time.title = when.toLocaleString();
    const name = document.createElement('span');
    name.className = 'name';
    name.textContent = m.name;
    const text = document.createElement('span');
    text.className = 'text';
    text.textContent = m.text;
    el.append(time, name, text);
    messagesEl.prepend(el);
    while (messagesEl.childElementCount > MAX_SHOWN) messagesEl.lastElementChild.remove();
  }

  function valid(m) {
    return typeof m.name === 'string' && typeof m.text === 'string' && m.text.trim() !== '' &&
      m.name.length <= MAX_NAME && m.text.length <= MAX_TEXT;
  }

  // An event of chat.message, sent by any page (this one included).
  function onMessage(args, kwargs, details) {
    const m = {
      publication: details.publication,
      session: details.publisher || 0,
      name: kwargs && kwargs.name,
      text: kwargs && kwargs.text,
      time: new Date().toISOString(),
    };
    if (!valid(m)) return;
    if (historyShown) show(m);
    else pending.push(m);
  }

  async function loadHistory(s) {
    try {
      const list = await s.call(HISTORY);
      if (s !== session) return;
      for (const m of list) if (valid(m)) show(m); // oldest first: the newest ends on top
      notice('');
    } catch (err) {
      if (s !== session) return;
      notice('No history: the chat service is not running (go run ./examples/chat/service). ' +
        'Messages still reach everyone online. (' + wampError(err) + ')');
    }
    historyShown = true;
    for (const m of pending) show(m);
    pending = [];
  }

  function renderPresence() {
    const items = [];
    let people = 0;
    for (const id of online) {
      const li = document.createElement('li');
      li.dataset.session = String(id);
      const who = document.createElement('span');
      who.className = 'who';
      if (session && id === session.id) {
        li.classList.add('you');
        who.textContent = form.name.value.trim() + ' (you)';
      } else if (services.has(id)) {
        li.classList.add('service');
        who.textContent = 'chat service';
      } else {
        who.textContent = names.get(id) || 'someone quiet';
      }
      if (!services.has(id)) people++;
      const sid = document.createElement('span');
      sid.className = 'id';
      sid.textContent = ' #' + id;
      li.append(who, sid);
      items.push(li);
    }
    presenceEl.replaceChildren(...items);
    countEl.textContent = '(' + people + ')';
  }

  async function loadPresence(s) {
    // Subscribe first, then list: no join or leave falls in between.
    await s.subscribe('wamp.session.on_join', ([info]) => {
      online.add(info.session);
      renderPresence();
    });
    await s.subscribe('wamp.session.on_leave', ([id]) => {
      left.add(id);
      online.delete(id);
      services.delete(id);
      renderPresence();
    });
    await s.subscribe('wamp.registration.on_create', ([id, reg]) => {
      if (!reg || reg.uri !== HISTORY) return;
      services.add(id);
      renderPresence();
      if (!historyShown || !noticeEl.hidden) loadHistory(s); // the service (re)started
    });
    const ids = await s.call('wamp.session.list');
    for (const id of ids) if (!left.has(id)) online.add(id);
    const reg = await s.call('wamp.registration.lookup', [HISTORY]);
    if (reg !== null && reg !== undefined) {
      for (const id of await s.call('wamp.registration.list_callees', [reg])) services.add(id);
    }
    renderPresence();
  }

  const connection = new autobahn.Connection({
    url: routerURL,
    realm: realm,
    max_retries: -1, // keep trying, with a growing delay
    max_retry_delay: 30,
  });

  connection.onopen = async function (s) {
    session = s;
    shown = new Set();
    historyShown = false;
    pending = [];
    online.clear();
    left.clear();
    services.clear();
    messagesEl.replaceChildren();
    notice('');
    setStatus('connecting', 'Joining ' + realm + '…');
    try {
      await s.subscribe(TOPIC, onMessage);
      await loadPresence(s);
      await loadHistory(s);
    } catch (err) {
      if (s !== session) return;
      setStatus('failed', 'Joined, but the chat could not start: ' + wampError(err));
      return;
    }
    if (s !== session) return;
    document.body.dataset.session = String(s.id);
    setFormEnabled(true);
    setStatus('online', 'Online as session ' + s.id);
  };

  connection.onclose = function (reason, details) {
    session = null;
    delete document.body.dataset.session;
    setFormEnabled(false);
    const retry = details.will_retry ? ' Retrying in ' + Math.round(details.retry_delay) + ' s.'
      : ' Reload the page to connect again.';
    if (reason === 'unreachable' || reason === 'unsupported') {
      setStatus('failed', 'Cannot connect to ' + routerURL + ': the router is down, or refused this page' +
        ' (for instance because its Origin, ' + location.origin + ', is not allowed).' + retry);
    } else {
      const why = details.reason ? ' (' + details.reason + ')' : '';
      setStatus('closed', 'Connection ' + reason + why + '.' + retry);
    }
    return false; // let autobahn retry as configured
  };

  form.name.addEventListener('change', () => {
    localStorage.setItem('chat.name', form.name.value.trim());
    renderPresence();
  });

  form.onsubmit = async function (event) {
    event.preventDefault();
    const name = form.name.value.trim();
    const text = form.message.value.trim();
    if (!session || !name || !text) return;
    localStorage.setItem('chat.name', name);
    try {
      await session.publish(TOPIC, [], { name, text },
        { acknowledge: true, exclude_me: false, disclose_me: true });
      form.message.value = '';
      notice('');
    } catch (err) {
      notice('Not sent: ' + wampError(err));
    }
    form.message.focus();
  };

  setFormEnabled(false);
  setStatus('connecting', 'Connecting to ' + routerURL + '…');
  connection.open();
})();
