/*!
 * herald NotificationService: the page-side helper for herald alert pages.
 * Plain ES2017, no build step. Needs the Socket.IO client loaded first:
 *   <script src="/socket.io/socket.io.js"></script>
 *   <script src="/sources/notificationservice.js" data-code="YOUR_CODE"></script>
 *
 *   const ns = new NotificationService({ code: 'YOUR_CODE' });
 *   ns.on('FOLLOW', (data, meta) => show(data.user_name + ' followed'));
 *
 * Full documentation: sources/README.md.
 */
(function (root) {
  'use strict';

  // The <script> element that loaded this file, read while it is running:
  // its data-* attributes are one place a page can put its options.
  var currentScript = typeof document !== 'undefined' ? document.currentScript : null;

  // Events of the page protocol that are not alerts.
  var PROTOCOL_EVENTS = { WELCOME: true, ERROR: true };

  var DEFAULTS = {
    code: '',          // the page's code; see resolveOptions for other sources
    url: undefined,    // server URL; undefined = the page's own origin
    path: '/socket.io/',
    // WebSocket first: one connection, no polling round trips, and herald's
    // fastest delivery path; polling is the fallback behind proxies that
    // refuse WebSockets. Pass ['polling', 'websocket'] for the client default.
    transports: ['websocket', 'polling'],
    debug: false,      // log to the console
    dedupe: 200,       // how many recent event ids to remember (0 = off)
    autoConnect: true, // connect in the constructor
    io: undefined      // the Socket.IO client function; default: the global io
  };

  function queryParam(name) {
    if (typeof location === 'undefined' || !location.search) return null;
    try {
      return new URLSearchParams(location.search).get(name);
    } catch (e) {
      return null;
    }
  }

  function dataAttr(name) {
    if (!currentScript || !currentScript.getAttribute) return null;
    return currentScript.getAttribute('data-' + name);
  }

  function truthy(v) {
    return v === true || v === '1' || v === 'true' || v === 'yes' || v === 'on';
  }

  // resolveOptions merges, in order of precedence: the options object, the
  // page URL (?code=, ?debug=, ?server=), then the script tag's data-code,
  // data-debug and data-url attributes.
  function resolveOptions(options) {
    var o = Object.assign({}, DEFAULTS, options || {});
    if (!o.code) o.code = queryParam('code') || dataAttr('code') || '';
    o.code = String(o.code);
    if (!(options && 'debug' in options)) {
      var d = queryParam('debug');
      if (d === null) d = dataAttr('debug');
      o.debug = truthy(d);
    }
    if (o.url === undefined) o.url = queryParam('server') || dataAttr('url') || undefined;
    return o;
  }

  // The journal position (herald's "<epoch>-<offset>", the last argument of
  // every alert) of the last alert shown is kept per code in
  // sessionStorage, so a page that is reloaded asks herald for what it did
  // not show: what fired while it was away, and what it had received but
  // not yet shown (an alert box queues them). Storage may be missing or
  // refused (private modes, file:// pages): then a reload simply starts
  // fresh.
  var OFFSET_KEY = 'herald.offset.';

  function loadOffset(code) {
    try {
      return root.sessionStorage ? root.sessionStorage.getItem(OFFSET_KEY + code) : null;
    } catch (e) {
      return null;
    }
  }

  function saveOffset(code, offset) {
    try {
      if (root.sessionStorage) root.sessionStorage.setItem(OFFSET_KEY + code, offset);
    } catch (e) { /* storage full or refused: recovery after a reload is lost, nothing else */ }
  }

  // The alerts shown lately (event id and name) are kept in sessionStorage
  // too, so a reloaded page does not show again one it showed before the
  // reload (a retried webhook, or an alert its server sent it while it
  // could not journal it and then, journaled, again). One received but not
  // yet shown is kept only in memory, so a reload shows it.
  var SEEN_KEY = 'herald.seen';

  function loadSeen() {
    try {
      var raw = root.sessionStorage ? root.sessionStorage.getItem(SEEN_KEY) : null;
      var keys = raw ? JSON.parse(raw) : [];
      return Array.isArray(keys) ? keys.filter(function (k) { return typeof k === 'string'; }) : [];
    } catch (e) {
      return []; // refused storage or a damaged value: start fresh
    }
  }

  function saveSeen(keys) {
    try {
      if (root.sessionStorage) root.sessionStorage.setItem(SEEN_KEY, JSON.stringify(keys));
    } catch (e) { /* storage full or refused: a reload forgets, nothing else */ }
  }

  // positionBefore is the position just before "<epoch>-<offset>" (herald
  // sends what comes after a position; offsets only grow), or null.
  function positionBefore(pos) {
    var i = pos.lastIndexOf('-');
    var n = Number(pos.slice(i + 1));
    if (i <= 0 || !(n >= 1) || Math.floor(n) !== n) return null;
    return pos.slice(0, i + 1) + String(n - 1);
  }

  // mask shows enough of a code to recognise it in a console, not to use it.
  function mask(code) {
    if (!code) return '(none)';
    return code.length <= 4 ? '****' : code.slice(0, 2) + '…' + code.slice(-1);
  }

  /**
   * NotificationService connects a page to herald (or the original Python
   * service), registers its code and hands every alert to the handlers
   * registered with on().
   *
   * Status values, reported to onStatus handlers and in ns.status:
   * 'idle', 'connecting', 'connected', 'registered', 'disconnected', 'error';
   * ns.statusDetail says why (the error, the disconnect reason).
   */
  function NotificationService(options) {
    if (!(this instanceof NotificationService)) return new NotificationService(options);
    this.options = resolveOptions(options);
    this.code = this.options.code;
    this.status = 'idle';
    this.statusDetail = null; // why: the error, the disconnect reason, the transport
    this.socket = null;
    this._handlers = {};    // event name -> [fn]
    this._any = [];         // fn(event, data, meta)
    this._status = [];      // fn(status, detail)
    // recent alerts, "<meta.id>\u0000<event>", oldest first
    this._seenOrder = this.options.dedupe > 0 ? loadSeen().slice(-this.options.dedupe) : [];
    this._seen = new Set(this._seenOrder);
    this._showing = new Map(); // key -> Promise settled once it is shown
    this._positions = [];      // alerts not yet shown, oldest first: {code, offset, shown}
    this._registeredWaiters = [];
    if (this.options.autoConnect) this.connect();
  }

  var proto = NotificationService.prototype;

  /** on(event, fn): fn(data, meta, event) for every alert named event. Returns this. */
  proto.on = function (event, fn) {
    (this._handlers[event] = this._handlers[event] || []).push(fn);
    return this;
  };

  /** off(event, fn): removes a handler added with on(); without fn, all of them. */
  proto.off = function (event, fn) {
    if (!fn) {
      delete this._handlers[event];
    } else if (this._handlers[event]) {
      this._handlers[event] = this._handlers[event].filter(function (h) { return h !== fn; });
    }
    return this;
  };

  /** onAny(fn): fn(event, data, meta) for every alert, whatever its name. */
  proto.onAny = function (fn) {
    this._any.push(fn);
    return this;
  };

  /** onStatus(fn): fn(status, detail) on every status change; called at once with the current one. */
  proto.onStatus = function (fn) {
    this._status.push(fn);
    this._call(fn, [this.status, this.statusDetail]);
    return this;
  };

  /** whenRegistered(): a Promise resolved the next time (or now, if) the page is registered. */
  proto.whenRegistered = function () {
    var self = this;
    if (this.status === 'registered') return Promise.resolve(this.code);
    return new Promise(function (resolve) { self._registeredWaiters.push(resolve); });
  };

  /** setCode(code): registers under another code (leaves the old room). */
  proto.setCode = function (code) {
    this.code = String(code || '');
    if (this.socket) {
      this.socket.auth = this._auth(); // used by the next reconnection
      if (this.socket.connected) this._register();
    }
    return this;
  };

  /** connect(): opens the connection (done by the constructor unless autoConnect is false). */
  proto.connect = function () {
    if (this.socket) return this;
    var io = this.options.io || root.io;
    if (typeof io !== 'function') {
      this._setStatus('error', 'the Socket.IO client is not loaded: add <script src="/socket.io/socket.io.js"></script> first');
      return this;
    }
    if (!this.code) {
      this._setStatus('error', 'no code: pass {code}, add ?code=… to the page URL, or data-code to the script tag');
      return this;
    }
    var opts = {
      path: this.options.path,
      // herald registers a code given in the handshake without a round trip,
      // and replays what the page missed after offset (a reloaded page);
      // servers that ignore both still get REGISTER on WELCOME.
      auth: this._auth()
    };
    if (this.options.transports) {
      opts.transports = this.options.transports;
      // Without it the client gives up after the first transport fails.
      opts.tryAllTransports = true;
    }
    this.socket = this.options.url ? io(this.options.url, opts) : io(opts);
    this._wire(this.socket);
    this._setStatus('connecting', null);
    return this;
  };

  /** disconnect(): closes the connection for good (no reconnection). */
  proto.disconnect = function () {
    if (this.socket) {
      this.socket.close();
      this.socket = null;
    }
    this._setStatus('disconnected', 'closed by the page');
    return this;
  };

  // _auth is the CONNECT auth: the code and, when this tab has shown an
  // alert for it before, the last position. The object stays the socket's
  // auth, and _track keeps its offset current for every reconnection.
  proto._auth = function () {
    // acks: herald asks this page to acknowledge each journaled alert once
    // its handlers are done (see _dispatch), and counts it in the history.
    var auth = { code: this.code, acks: true };
    var offset = loadOffset(this.code);
    if (offset) auth.offset = offset;
    return auth;
  };

  // _track notes an alert's position (its last string argument; an
  // acknowledgement callback, when herald asked for one, comes after it)
  // and returns the function to call once it is shown. The kept position
  // moves only past alerts shown, in the order they came: one still queued
  // behind another is sent again after a reload.
  proto._track = function (args) {
    var last = args[args.length - 1];
    if (typeof last === 'function') last = args[args.length - 2];
    if (typeof last !== 'string' || !this.code) return function () {};
    var pos = { code: this.code, offset: last, shown: false };
    this._positions.push(pos);
    if (!loadOffset(this.code)) {
      // The first alert this tab got for the code: until it is shown, the
      // position kept is the one just before it, so a reload asks for it.
      var before = positionBefore(last);
      if (before) this._keepPosition(this.code, before);
    }
    var self = this;
    return function () {
      pos.shown = true;
      while (self._positions.length && self._positions[0].shown) {
        var p = self._positions.shift();
        self._keepPosition(p.code, p.offset);
      }
    };
  };

  proto._keepPosition = function (code, offset) {
    saveOffset(code, offset);
    if (code === this.code && this.socket && this.socket.auth) this.socket.auth.offset = offset;
  };

  proto._wire = function (socket) {
    var self = this;
    socket.on('connect', function () {
      self._setStatus('connected', socket.io && socket.io.engine ? socket.io.engine.transport.name : null);
      // A connection herald recovered (a network drop, a herald restart)
      // keeps its room and gets no WELCOME: it is registered as it was,
      // unless setCode() named another code meanwhile.
      if (!socket.recovered) return;
      if (self._joined === self.code) self._registered(self.code);
      else self._register();
    });
    socket.on('disconnect', function (reason) {
      self._setStatus('disconnected', reason);
      // The client does not reconnect after a server-side disconnect; a
      // browser source must come back on its own.
      if (reason === 'io server disconnect') socket.connect();
    });
    socket.on('connect_error', function (err) {
      self._setStatus('disconnected', err && err.message);
    });
    socket.on('WELCOME', function () {
      // Every connection (first or reconnect) gets WELCOME: answer it.
      self._register();
    });
    socket.on('ERROR', function (data) {
      self._log('server error', data);
    });
    socket.onAny(function (event, data, meta) {
      if (PROTOCOL_EVENTS[event]) return;
      var args = Array.prototype.slice.call(arguments, 1);
      var ack = typeof args[args.length - 1] === 'function' ? args[args.length - 1] : null;
      self._dispatch(event, data, meta, ack, self._track(args));
    });
  };

  proto._register = function () {
    var self = this;
    var code = this.code;
    this._log('REGISTER', mask(code));
    this.socket.emit('REGISTER', { code: code }, function (reply) {
      // herald acks {ok, code|error}; the original service acks nothing.
      if (reply && reply.ok === false) {
        self._setStatus('error', reply.error || 'registration refused');
        return;
      }
      if (code !== self.code) return; // superseded by setCode()
      self._registered(code);
    });
  };

  proto._registered = function (code) {
    this._joined = code; // the room herald keeps this connection in
    this._setStatus('registered', mask(code));
    var waiters = this._registeredWaiters;
    this._registeredWaiters = [];
    waiters.forEach(function (resolve) { resolve(code); });
  };

  // _dispatch hands an alert to the handlers. It counts as shown once every
  // handler returned and every promise a handler returned settled (an
  // alert box that queues alerts resolves its promise when the alert was
  // on screen): then herald gets the acknowledgement it asked for
  // ("acked" means "shown"), and shown() moves the kept position.
  proto._dispatch = function (event, data, meta, ack, shown) {
    var key = null;
    var code = this.code;
    // herald knows an acknowledgement by its offset in the page's room of
    // the moment: one for an alert of a code the page has left since
    // (setCode) would count on the new room's alert of that offset. It is
    // not sent; the old room's history shows that alert unacknowledged.
    var self = this;
    if (ack) {
      var sendAck = ack;
      ack = function () { if (code === self.code) sendAck(); };
    }
    if (meta && meta.id !== undefined && this.options.dedupe > 0) {
      // A repeat is the same event under the same name (a retried
      // webhook): it shows once, and is acknowledged once the first copy
      // was shown. One event may become several alerts of different
      // names, and a replay (meta.replayed: the dashboard's, or an alert
      // that waited for a page) is sent again on purpose: those show.
      key = meta.id + '\u0000' + event;
      if (this._seen.has(key)) {
        if (!meta.replayed) {
          this._log('duplicate dropped', event, meta.id);
          (this._showing.get(key) || Promise.resolve()).then(function () {
            shown();
            if (ack) ack();
          });
          return;
        }
      } else {
        this._seen.add(key);
        this._seenOrder.push(key);
        while (this._seenOrder.length > this.options.dedupe) this._seen.delete(this._seenOrder.shift());
      }
    }
    this._log('alert', event, data, meta);
    var results = [];
    (this._handlers[event] || []).slice().forEach(function (fn) { results.push(self._call(fn, [data, meta, event])); });
    this._any.slice().forEach(function (fn) { results.push(self._call(fn, [event, data, meta])); });
    var done = Promise.all(results.map(function (r) { return Promise.resolve(r).catch(function () {}); }));
    if (key) this._showing.set(key, done);
    done.then(function () {
      if (key) {
        self._showing.delete(key);
        self._saveShown();
      }
      shown();
      if (ack) ack();
    });
  };

  // _saveShown keeps the recent alerts that were shown, not those still
  // waiting for their turn: after a reload those must show.
  proto._saveShown = function () {
    var showing = this._showing;
    saveSeen(this._seenOrder.filter(function (k) { return !showing.has(k); }));
  };

  proto._setStatus = function (status, detail) {
    this.status = status;
    this.statusDetail = detail === undefined ? null : detail;
    this._log('status', status, detail === null || detail === undefined ? '' : detail);
    var self = this;
    this._status.slice().forEach(function (fn) { self._call(fn, [status, detail]); });
  };

  // _call runs a handler so that one failing handler cannot stop the others.
  proto._call = function (fn, args) {
    try {
      return fn.apply(null, args);
    } catch (e) {
      if (typeof console !== 'undefined') console.error('[herald] handler failed:', e);
      return undefined;
    }
  };

  proto._log = function () {
    if (!this.options.debug || typeof console === 'undefined') return;
    console.log.apply(console, ['[herald]'].concat(Array.prototype.slice.call(arguments)));
  };

  NotificationService.version = '1';
  root.NotificationService = NotificationService;
  if (typeof module === 'object' && module.exports) module.exports = NotificationService;
})(typeof window !== 'undefined' ? window : globalThis);
