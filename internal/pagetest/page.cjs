// page.cjs is a page as internal/pagetest drives it: the official
// socket.io-client in Node, speaking one JSON object per line.
//
// Configuration comes in PAGETEST_CONFIG (JSON): url, path, transports,
// code, handshake, query, acks (ask herald for ack ids, auth.acks, and
// acknowledge every event that carries one once it is reported), ackFirst
// (with acks, acknowledge only the first N of them: the rest wait, as
// alerts waiting their turn in a page's queue; 0 for all),
// localAddress (the address to connect from). The client module is loaded from
// PAGETEST_NODE_MODULES, the repository's node_modules.
//
// stdout, one object per line:
//   {"type":"connect","id":…,"transport":…,"recovered":…}
//   {"type":"event","event":NAME,"args":[…]}   every server event, in order
//   {"type":"registered","seq":N,"reply":…}    the server acked REGISTER #N
//   {"type":"disconnect","reason":…}
//   {"type":"connect_error","message":…}
// stdin, one object per line:
//   {"cmd":"register","code":C,"seq":N}       send REGISTER {code: C} (with ack)
//   {"cmd":"close"}                           disconnect and exit
//   {"cmd":"disconnect"}                      leave (socket.disconnect()), keeping the session
//   {"cmd":"connect"}                         come back (socket.connect()): recovery if the server kept it
//   {"cmd":"connect","url":U}                 come back to another server (another node), with the same session
// The process exits when stdin closes, so a dead test never leaves it behind.
'use strict';
const path = require('path');
const readline = require('readline');
const { io } = require(path.join(process.env.PAGETEST_NODE_MODULES, 'socket.io-client'));

const cfg = JSON.parse(process.env.PAGETEST_CONFIG);
const out = (obj) => process.stdout.write(JSON.stringify(obj) + '\n');

const opts = {
  path: cfg.path || '/socket.io/',
  reconnectionDelay: 100,
  reconnectionDelayMax: 500,
};
if (cfg.transports && cfg.transports.length) opts.transports = cfg.transports;
if (cfg.query) opts.query = cfg.query;
if (cfg.localAddress) opts.localAddress = cfg.localAddress;
if (cfg.handshake && cfg.code) opts.auth = { code: cfg.code };
if (cfg.acks) opts.auth = Object.assign(opts.auth || {}, { acks: true });

// Register on WELCOME, like the seed's pages, unless the code went in the
// handshake. A later register command changes the code and re-registers.
let code = cfg.handshake ? '' : (cfg.code || '');
let seq = 0;
let acks = 0; // acknowledgements sent (ackFirst)

const socket = io(cfg.url, opts);

function register() {
  const mySeq = seq;
  socket.emit('REGISTER', { code }, (reply) => out({ type: 'registered', seq: mySeq, reply: reply === undefined ? null : reply }));
}

socket.on('connect', () => out({ type: 'connect', id: socket.id, transport: socket.io.engine.transport.name, recovered: socket.recovered }));
socket.on('disconnect', (reason) => out({ type: 'disconnect', reason: String(reason) }));
socket.on('connect_error', (err) => out({ type: 'connect_error', message: String(err && err.message) }));
socket.onAny((event, ...args) => {
  // An event with an ack id ends with the client's ack function.
  const ack = typeof args[args.length - 1] === 'function' ? args.pop() : null;
  out({ type: 'event', event, args, acked: ack !== null });
  if (ack && cfg.acks && (!cfg.ackFirst || acks++ < cfg.ackFirst)) ack();
  if (event === 'WELCOME' && code) register();
});

const rl = readline.createInterface({ input: process.stdin });
rl.on('line', (line) => {
  let msg;
  try { msg = JSON.parse(line); } catch (e) { return; }
  if (msg.cmd === 'register') {
    code = msg.code;
    seq = msg.seq;
    if (socket.connected) register();
  } else if (msg.cmd === 'disconnect') {
    socket.disconnect();
  } else if (msg.cmd === 'connect') {
    if (msg.url) socket.io.uri = msg.url; // the Manager opens its next transport there
    socket.connect();
  } else if (msg.cmd === 'close') {
    quit();
  }
});
rl.on('close', quit);

// quit disconnects cleanly, then gives the DISCONNECT packet a moment to
// leave before the process ends (the server copes without it, later).
function quit() {
  socket.close();
  setTimeout(() => process.exit(0), 100);
}
