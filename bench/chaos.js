#!/usr/bin/env node
// Chaos run of cluster mode, as an outside check would do it (issue 14):
// three herald nodes on one redis-server behind a round-robin TCP
// balancer, 30 pages on the official socket.io-client (WebSocket, the
// seed's WELCOME/REGISTER) spread over the nodes, 600 triggers at 20/s
// sent round-robin to the nodes. After 6 s node 2 is killed with SIGKILL
// (its pages reconnect through the balancer and recover on the others);
// 6 s later Redis is killed, and started again 10 s after: empty, as a
// Redis without persistence comes back, or with CHAOS_REDIS_KEEP=1 with
// its data (an append-only file fsync'd on every write). With
// CHAOS_REDIS_STALL=1 Redis is frozen (SIGSTOP) for those 10 s instead,
// as a busy or stopped process is, and then resumes with whatever it was
// sent meanwhile. 2 s and 6 s into the outage, a third of the pages drop
// their transport and reconnect through the balancer, mostly to another
// node.
//
//   make chaos                      (builds herald, runs this both ways, ~90 s)
//   make chaos-stall                (Redis frozen, ~45 s)
//   HERALD=path node bench/chaos.js  a herald binary of your own
//
// It fails (exit 1) if a page gets an alert twice, gets one node's alerts
// out of order, or misses one. While Redis is away each node delivers to
// its own pages, and journals and sends to the others what it delivered
// alone once Redis is back: two nodes' alerts fired during the outage may
// reach a page in either order (counted, not failed). Ports 16500 and
// 16510-16513 on 127.0.0.1.
'use strict';
const { spawn } = require('child_process');
const net = require('net');
const http = require('http');
const { io } = require(require('path').join(__dirname, '..', 'node_modules', 'socket.io-client'));

const HERALD = process.env.HERALD || 'herald';
const REDIS_PORT = 16500, LB_PORT = 16510, NODE_PORTS = [16511, 16512, 16513];
const CODES = 10, PAGES = 30, TRIGGERS = 600, RATE = 20; // triggers/s
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const t0 = Date.now();
const log = (...a) => console.log(((Date.now() - t0) / 1000).toFixed(1) + 's', ...a);

let redis;
// Whatever happens, nothing this run started outlives it.
process.on('exit', () => {
  for (const p of [redis, ...nodes]) if (p && p.pid && p.exitCode === null) p.kill('SIGKILL');
});
// A missing program is a clear error, not a stack trace.
function need(proc, what) {
  proc.on('error', (err) => {
    console.error(`chaos.js: cannot start ${what}: ${err.message}`);
    process.exit(2);
  });
  return proc;
}
const KEEP = process.env.CHAOS_REDIS_KEEP === '1';
const STALL = process.env.CHAOS_REDIS_STALL === '1';
const redisDir = KEEP ? require('fs').mkdtempSync(require('path').join(require('os').tmpdir(), 'chaos-redis-')) : null;
process.on('exit', () => { if (redisDir) require('fs').rmSync(redisDir, { recursive: true, force: true }); });
function startRedis() {
  const persistence = KEEP ? ['--appendonly', 'yes', '--appendfsync', 'always', '--dir', redisDir] : ['--appendonly', 'no'];
  redis = need(spawn('redis-server', ['--port', String(REDIS_PORT), '--save', '', ...persistence, '--loglevel', 'warning'], { stdio: 'ignore' }),
    'redis-server (apt-get install redis-server)');
}
// The nodes' own files (outbox-PORT.db: what a node delivers alone while
// Redis is away), fresh for each run: a node restarted within the run
// finds its own again.
const dataDir = require('fs').mkdtempSync(require('path').join(require('os').tmpdir(), 'chaos-data-'));
process.on('exit', () => require('fs').rmSync(dataDir, { recursive: true, force: true }));
const nodes = [];
function startNode(i) {
  // CHAOS_LOGS=DIR keeps each node's whole log, at DEBUG, in DIR/node<i>.log.
  const logs = process.env.CHAOS_LOGS ? ['-l', 'DEBUG', '--log-limit', 'off', '-f', require('path').join(process.env.CHAOS_LOGS, `node${i}.log`)] : [];
  const p = spawn(HERALD, ['-p', String(NODE_PORTS[i]), '--redis', `redis://127.0.0.1:${REDIS_PORT}/0`, '--admin-token', 'tok',
    '--trusted-proxies', '127.0.0.1', '--data', dataDir, ...logs], { stdio: ['ignore', 'ignore', 'pipe'] });
  need(p, `herald (${HERALD}; set HERALD=path)`);
  p.stderr.on('data', (d) => { for (const l of String(d).split('\n')) if (/level=(ERROR|WARN)/.test(l) && !/journal append failed/.test(l)) log(`node${i}:`, l.slice(0, 240)); });
  nodes[i] = p;
}
// Round-robin TCP balancer; a backend that refuses is skipped. backendOf
// maps a client's port to the node it was sent to (for the report).
let rr = 0;
const backendOf = new Map();
const lb = net.createServer((c) => {
  c.pause();
  const tryN = (left) => {
    const port = NODE_PORTS[rr++ % 3];
    const b = net.connect(port, '127.0.0.1');
    b.once('connect', () => { backendOf.set(c.remotePort, NODE_PORTS.indexOf(port)); c.pipe(b); b.pipe(c); c.resume(); });
    b.once('error', () => { if (left > 0) tryN(left - 1); else c.destroy(); });
    c.on('error', () => b.destroy()); b.on('close', () => c.destroy()); c.on('close', () => b.destroy());
  };
  tryN(3);
});

function get(url) {
  return new Promise((resolve) => {
    http.get(url, (res) => { let b = ''; res.on('data', (d) => (b += d)); res.on('end', () => resolve({ status: res.statusCode, body: b })); })
      .on('error', (e) => resolve({ status: 0, body: String(e) }));
  });
}

(async () => {
  startRedis(); await sleep(500);
  for (let i = 0; i < 3; i++) startNode(i);
  await sleep(1500);
  lb.listen(LB_PORT, '127.0.0.1');
  const pages = [];
  for (let i = 0; i < PAGES; i++) {
    const code = 'chaos' + (i % CODES);
    const s = io(`http://127.0.0.1:${LB_PORT}`, { transports: ['websocket'], reconnectionDelay: 200, reconnectionDelayMax: 1000 });
    const pg = { i, code, got: [], how: new Map(), dups: 0, swaps: [], recovered: 0, newIds: 0, id: '', welcomes: 0, s, ev: [], on: [] };
    // A page is in its room once recovered, or once its REGISTER is
    // answered (herald acknowledges it when the page asks): only then can
    // it get an alert live.
    let node;
    const inRoom = () => pg.on.push({ node, from: Date.now(), to: Infinity });
    s.on('WELCOME', () => { pg.welcomes++; s.emit('REGISTER', { code }, inRoom); });
    s.on('connect', () => {
      if (s.recovered) pg.recovered++;
      // A recovered page keeps its socket.id, unless its old connection
      // was still open on the node it came back to (counted, not a fault).
      if (s.recovered && s.id !== pg.id) pg.newIds++;
      pg.id = s.id;
      const ws = s.io.engine && s.io.engine.transport && s.io.engine.transport.ws;
      const port = ws && ws._socket && ws._socket.localPort;
      node = backendOf.get(port);
      pg.ev.push(`connect node${node === undefined ? '?' : node} rec=${s.recovered} t=${((Date.now()-t0)/1000).toFixed(1)}`);
      if (s.recovered) inRoom();
    });
    s.on('disconnect', (r) => {
      pg.ev.push(`disconnect ${r} t=${((Date.now()-t0)/1000).toFixed(1)}`);
      if (pg.on.length) pg.on[pg.on.length - 1].to = Date.now();
    });
    s.on('TICK', (data, meta) => {
      const n = Number(data.n);
      const how = `${meta && meta.replayed ? 'replayed' : 'live'} t=${((Date.now() - t0) / 1000).toFixed(1)}`;
      if (pg.got.includes(n)) { pg.dups++; log(`DUPLICATE page${pg.i}(${code}): n=${n} ${how}, first ${pg.how.get(n)}; connects: ${pg.ev.join(', ')}`); }
      else if (pg.got.length && n < pg.got[pg.got.length - 1]) pg.swaps.push([pg.got[pg.got.length - 1], n]);
      pg.got.push(n);
      pg.how.set(n, how);
    });
    pages.push(pg);
    await sleep(20);
  }
  await sleep(2000);
  const fired = new Map(); // n → {code, status, at, node}
  let redisDown = [0, 0];
  const chaos = (async () => {
    await sleep(6000); log('SIGKILL node 2'); nodes[2].kill('SIGKILL');
    await sleep(6000);
    if (STALL) { log('freeze redis'); redis.kill('SIGSTOP'); } else { log('stop redis'); redis.kill('SIGKILL'); }
    redisDown[0] = Date.now();
    for (const at of [2000, 4000]) {
      await sleep(at);
      const moving = pages.filter((pg) => pg.i % 3 === (at === 2000 ? 0 : 1));
      log(`${moving.length} pages drop their transport`);
      for (const pg of moving) pg.s.io.engine.close();
    }
    await sleep(4000);
    if (STALL) { redis.kill('SIGCONT'); log('redis resumed'); } else { startRedis(); log('redis started'); }
    redisDown[1] = Date.now();
  })();
  for (let n = 1; n <= TRIGGERS; n++) {
    const code = 'chaos' + (n % CODES);
    const node = n % 3;
    const at = Date.now();
    get(`http://127.0.0.1:${NODE_PORTS[node]}/notify?code=${code}&event=tick&n=${n}`).then((a) => fired.set(n, { code, status: a.status, at, node, body: a.body }));
    await sleep(1000 / RATE);
  }
  await chaos;
  await sleep(8000);
  // Report.
  const ok = [...fired.entries()].filter(([, f]) => f.status === 200);
  const statuses = {};
  for (const [, f] of fired) statuses[f.status] = (statuses[f.status] || 0) + 1;
  log('trigger statuses', JSON.stringify(statuses));
  // While Redis is away each node delivers only to its own pages, and the
  // others' pages get those alerts once it is back: alerts of two nodes
  // fired during the outage can reach a page in either order. Such a swap
  // is counted, not failed. So is an alert fired during the outage to a
  // node the page was not on then: the page moved, and gets it once Redis
  // is back, after what its new node sent it meanwhile. Otherwise one
  // node's alerts keep their order always.
  const inOutage = (n) => { const f = fired.get(n); return f && f.at >= redisDown[0] - 500 && f.at <= redisDown[1] + 3000; };
  // The node a page was on when an alert fired at t and went out: within
  // 2.5 s, as the first alert of an outage waits for the journal's
  // timeout (2 s) before it goes to the node's pages.
  const nodeAt = (pg, t) => { const c = pg.on.find((c) => c.from <= t && t + 2500 < c.to); return c ? c.node : undefined; };
  let dups = 0, disorder = 0, edgeSwaps = 0, moved = 0, missing = 0, missingInOutage = 0, missed = [];
  for (const pg of pages) {
    dups += pg.dups;
    for (const [a, b] of pg.swaps) {
      const sameNode = fired.get(a)?.node === fired.get(b)?.node;
      if (!sameNode && (inOutage(a) || inOutage(b))) { edgeSwaps++; continue; }
      if (inOutage(b) && nodeAt(pg, fired.get(b).at) !== fired.get(b).node) { moved++; continue; }
      disorder++;
      const at = (n) => ((fired.get(n)?.at - t0) / 1000).toFixed(1);
      log(`OUT OF ORDER page${pg.i}(${pg.code}): n=${b} (node${fired.get(b)?.node}, fired t=${at(b)}, ${pg.how.get(b)}) after n=${a} (node${fired.get(a)?.node}, fired t=${at(a)}, ${pg.how.get(a)}); connects: ${pg.ev.join(', ')}`);
    }
    for (const [n, f] of ok) {
      if (f.code !== pg.code || pg.got.includes(n)) continue;
      missing++;
      if (inOutage(n)) missingInOutage++;
      missed.push(`page${pg.i}(${pg.code}) n=${n} node${f.node} t=${((f.at - t0) / 1000).toFixed(1)} [${pg.ev.join(', ')}]`);
    }
  }
  log(`Redis ${STALL ? 'frozen and resumed' : KEEP ? 'restarted with its data' : 'restarted empty'}; pages ${pages.length}; duplicates ${dups}; out of order ${disorder} (and ${edgeSwaps} swaps of two nodes' alerts fired during the outage, ${moved} from a node the page had left); missing ${missing} (${missingInOutage} fired during the Redis outage)`);
  log('recovered connects', pages.reduce((a, p) => a + p.recovered, 0), '(with a new socket.id', pages.reduce((a, p) => a + p.newIds, 0) + ')',
    'welcomes', pages.reduce((a, p) => a + p.welcomes, 0));
  if (missed.length) log('missing:', missed.slice(0, 20).join('; '), missed.length > 20 ? `… ${missed.length}` : '');
  for (const pg of pages) pg.s.close();
  for (const p of nodes) p.kill('SIGTERM');
  redis.kill('SIGTERM'); lb.close();
  const failed = dups > 0 || disorder > 0 || missing > 0 || ok.length === 0;
  if (failed) for (const pg of pages) log(`page${pg.i}(${pg.code}): ${pg.ev.join(', ')}`);
  log(failed ? 'FAIL' : 'PASS');
  setTimeout(() => process.exit(failed ? 1 : 0), 500);
})();
