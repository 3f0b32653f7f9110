#!/usr/bin/env node
// Node reference server for herald's benchmarks: the official socket.io
// 4.8.1 server (pinned in the repo's package.json) with the same public
// semantics as herald and the Python seed, so bench/compare.sh can run the
// same herald-load scenarios against both and report ratios.
//
//   node bench/reference/server.js [PORT]     (or PORT=… in the environment)
//
// Semantics:
//   - on connect: emit WELCOME {"message":"Please register your code"};
//   - handshake auth.code (or query.code) joins that room straight away;
//   - REGISTER {code} leaves the previous room and joins the new one;
//   - GET /notify?code=C&event=E&k=v… emits E upper-cased (spaces → _) with
//     every query parameter as data to room C and answers
//     {"success":1,"count":N,"msg":"Broadcast event to N clients"};
//   - GET /heartbeat answers {"status":"ok"} (readiness probe for scripts).
//
// Cluster mode (bench/compare.sh --cluster): with REDIS_URL set, the
// server uses the official @socket.io/redis-adapter (pinned in
// package.json), so an emit on any node reaches the room's sockets on every
// node; /notify then always emits, and its count is this node's sockets
// only (an exact count across nodes needs fetchSockets(), a request to
// every node per trigger, which herald-load's -any-count spares it).
// Loopback only: the workplace forbids load against other addresses.
"use strict";

const http = require("node:http");
const path = require("node:path");

// Resolve socket.io from the repo root's node_modules whatever the cwd is.
const root = path.join(__dirname, "..", "..");
const { Server } = require(require.resolve("socket.io", { paths: [root] }));
const version = require(path.join(root, "node_modules", "socket.io", "package.json")).version;

const port = Number(process.argv[2] || process.env.PORT || 8090);
const host = process.env.HOST || "127.0.0.1";

const httpServer = http.createServer(handle);
const io = new Server(httpServer, {
  serveClient: false,
  cors: { origin: "*" },
});
const clustered = Boolean(process.env.REDIS_URL);

// registered remembers each socket's current code so REGISTER can leave it.
io.on("connection", (socket) => {
  const auth = socket.handshake.auth || {};
  const initial = codeOf(auth.code) || codeOf(socket.handshake.query.code);
  if (initial) {
    socket.join(initial);
    socket.data.code = initial;
  }
  socket.emit("WELCOME", { message: "Please register your code" });
  socket.on("REGISTER", (data) => {
    const code = codeOf(data && data.code);
    if (!code) return;
    if (socket.data.code && socket.data.code !== code) {
      socket.leave(socket.data.code);
    }
    socket.join(code);
    socket.data.code = code;
  });
});

function codeOf(v) {
  return typeof v === "string" && v !== "" ? v : "";
}

function handle(req, res) {
  const url = new URL(req.url, "http://localhost");
  if (url.pathname === "/notify") return notify(url, res);
  if (url.pathname === "/heartbeat") return json(res, 200, { status: "ok" });
  json(res, 404, { error: "not found" });
}

function notify(url, res) {
  const params = {};
  for (const [k, v] of url.searchParams) {
    if (!(k in params)) params[k] = v; // first value wins, like herald
  }
  const code = params.code || "";
  const event = (params.event || "").toUpperCase().replace(/ /g, "_");
  if (!code || !event) {
    return json(res, 400, { success: 0, msg: "code and event are required" });
  }
  const room = io.sockets.adapter.rooms.get(code);
  const count = room ? room.size : 0;
  if (count > 0 || clustered) io.to(code).emit(event, params);
  json(res, 200, {
    success: 1,
    count,
    msg: `Broadcast event to ${count} clients`,
  });
}

function json(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "Content-Type": "application/json",
    "Content-Length": Buffer.byteLength(text),
  });
  res.end(text);
}

async function start() {
  if (clustered) {
    const { createAdapter } = require(require.resolve("@socket.io/redis-adapter", { paths: [root] }));
    const { createClient } = require(require.resolve("redis", { paths: [root] }));
    const pub = createClient({ url: process.env.REDIS_URL });
    const sub = pub.duplicate();
    await Promise.all([pub.connect(), sub.connect()]);
    io.adapter(createAdapter(pub, sub));
  }
  httpServer.listen(port, host, () => {
    console.log(`reference socket.io ${version} listening on http://${host}:${port} (pid ${process.pid})${clustered ? " with @socket.io/redis-adapter" : ""}`);
  });
}
start().catch((err) => {
  console.error(err);
  process.exit(1);
});

for (const sig of ["SIGINT", "SIGTERM"]) {
  process.on(sig, () => {
    io.close();
    process.exit(0);
  });
}
