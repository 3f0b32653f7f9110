#!/usr/bin/env bash
# Runs the issue-4 load scenarios against herald and the Node reference
# (official socket.io 4.8.1, bench/reference/server.js), one fresh server per
# scenario, with herald-load sharing the machine; prints a table with
# herald/Node ratios and keeps the raw JSON lines under bench/results/.
#
#   bench/compare.sh                 scenarios A, B, C on both servers (~1 min)
#   bench/compare.sh --full          also D: 10,000 pages idle for 60 s (~3 min more)
#   bench/compare.sh --only node     some servers only: herald, node, egress,
#                                    herald-memory (comma list; egress is
#                                    bench/profile, the Socket.IO sink without
#                                    router: see BENCHMARKS.md; herald-memory is
#                                    herald with its journal in memory, for the
#                                    journal's cost: the table then adds a
#                                    herald/herald-memory row)
#   bench/compare.sh --scenarios A,C a subset
#   bench/compare.sh --repeat 3      each scenario 3 times per server,
#                                    alternating; the table shows medians
#   bench/compare.sh --pin           servers (and Redis) on the first half of the
#                                    CPUs, herald-load on the rest, reading
#                                    through io_uring (-reader auto), so neither
#                                    server pays for the loader; on 2 CPUs herald
#                                    then has one core, as Node's one thread
#                                    does (see BENCHMARKS.md, tenth pass). The
#                                    default on 4 CPUs or more, and with --cluster
#   bench/compare.sh --no-pin        everything on every CPU (the default on
#                                    fewer than 4 CPUs, where pinning would
#                                    leave herald one core for B)
#   bench/compare.sh --cluster       scenarios E (as fast as it goes) and F
#                                    (100 triggers/s, for latency): three herald nodes (--redis)
#                                    against three Node socket.io servers with
#                                    the official @socket.io/redis-adapter, one
#                                    fresh redis-server each; pages spread over
#                                    the nodes, triggers round-robin; prints the
#                                    Redis commands per trigger; pinned as with
#                                    --pin unless --no-pin (both sides run
#                                    several processes, and on a small machine
#                                    the loader's cores decide the result)
#
# Environment: HERALD_PORT (18080), NODE_PORT (18090), REDIS_PORT (16390,
# --cluster), HERALD_ARGS (extra
# flags for herald; "--data :memory:" keeps the journal off the disk),
# HERALD_BIN (a herald binary to measure instead of building this tree,
# e.g. an older commit's, to compare two trees on the same machine),
# LOADER_ARGS (extra flags for herald-load, e.g. "-cpuprofile loader.prof"),
# HOLD (D's hold time, 60s). Loopback only; bounded in time;
# every process it starts is stopped on exit.
set -euo pipefail

cd "$(dirname "$0")/.."
full=0
only=""
scenarios="A,B,C"
repeat=1
cluster=0
pin=auto
while (($#)); do
	case "$1" in
	--full) full=1 ;;
	--cluster) cluster=1; scenarios="E,F" ;;
	--only) only="$2"; shift ;;
	--scenarios) scenarios="$2"; shift ;;
	--repeat) repeat="$2"; shift ;;
	--pin) pin=1 ;;
	--no-pin) pin=0 ;;
	-h | --help) sed -n '2,47p' "$0"; exit 0 ;;
	*) echo "compare.sh: unknown argument $1" >&2; exit 2 ;;
	esac
	shift
done
((full)) && scenarios="$scenarios,D"
servers="herald node"
[[ -n "$only" ]] && servers="${only//,/ }"
for tool in go node curl jq; do
	command -v "$tool" >/dev/null || { echo "compare.sh: $tool is required" >&2; exit 2; }
done

HERALD_PORT=${HERALD_PORT:-18080}
NODE_PORT=${NODE_PORT:-18090}
EGRESS_PORT=${EGRESS_PORT:-18070}
HOLD=${HOLD:-60s}
REDIS_PORT=${REDIS_PORT:-16390}
if ((cluster)); then
	command -v redis-server >/dev/null || { echo "compare.sh: --cluster needs redis-server" >&2; exit 2; }
fi
# on_server and on_loader prefix the commands that start servers and the
# loader: empty, or taskset with --pin. taskset execs the command, so $!
# stays the server's pid.
on_server=()
on_loader=()
cpus=$(nproc 2>/dev/null || echo 1)
if [[ $pin == auto ]]; then
	# The loader costs about as much CPU per delivery as the server it
	# measures; on cores of its own it takes none from either server. With
	# 2 or 3 CPUs that would leave herald one core, too few for B's
	# 100,000 deliveries/s, so single servers share the CPUs there.
	pin=$cluster
	((cpus >= 4)) && pin=1
	if ((pin)) && ! command -v taskset >/dev/null; then
		echo "compare.sh: warning: runs unpinned here (pinning needs taskset); the loader shares the servers' cores" >&2
		pin=0
	fi
	if ((pin)) && ((cpus < 2)); then
		echo "compare.sh: warning: --cluster runs unpinned here (pinning needs 2 CPUs); the loader shares the servers' cores" >&2
		pin=0
	fi
fi
if ((pin)); then
	command -v taskset >/dev/null || { echo "compare.sh: --pin needs taskset (util-linux)" >&2; exit 2; }
	((cpus >= 2)) || { echo "compare.sh: --pin needs 2 CPUs or more" >&2; exit 2; }
	half=$((cpus / 2))
	on_server=(taskset -c "0-$((half - 1))")
	on_loader=(taskset -c "$half-$((cpus - 1))")
	# Later flags win: LOADER_ARGS="-reader goroutines" still can.
	LOADER_ARGS="-reader auto ${LOADER_ARGS:-}"
	echo "compare.sh: servers on CPUs 0-$((half - 1)), herald-load on $half-$((cpus - 1))"
fi
bin=$(mktemp -d)
results="bench/results/$(date +%Y%m%d-%H%M%S)"
mkdir -p "$results"
raw="$results/raw.jsonl"
server_pid=""
# The load tool is one client opening thousands of pages and firing
# thousands of triggers: herald's per-client limits (SECURITY.md) are off
# for it, as they would be for any load test from one machine.
no_limits=(--rate-requests off --rate-misses off --rate-handshakes off --rate-handshakes-total off
	--conns-per-ip 0 --conns-total 0 --bodies-per-ip 0)

cleanup() {
	stop_server
	stop_cluster
	rm -rf "$bin"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "building herald and herald-load…"
if [[ -n "${HERALD_BIN:-}" ]]; then
	cp "$HERALD_BIN" "$bin/herald"
elif [[ " $servers " == *" herald "* || " $servers " == *" herald-memory "* ]]; then
	go build -o "$bin/herald" ./cmd/herald
fi
[[ " $servers " == *" egress "* ]] && go build -o "$bin/egress" ./bench/profile
go build -o "$bin/herald-load" ./cmd/herald-load

# start_server NAME: starts a fresh server, sets server_pid and port.
start_server() {
	local want_port
	case "$1" in herald | herald-memory) want_port=$HERALD_PORT ;; node) want_port=$NODE_PORT ;; *) want_port=$EGRESS_PORT ;; esac
	# A leftover server on the port would answer the readiness probe and be
	# measured in place of the fresh one.
	if curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$want_port/"; then
		echo "compare.sh: something already listens on 127.0.0.1:$want_port; stop it or set the *_PORT variables" >&2
		exit 1
	fi
	case "$1" in
	herald)
		port=$HERALD_PORT
		# A fresh journal per run (bbolt, fsync'd group commits, herald's
		# default); HERALD_ARGS="--data :memory:" measures without the disk.
		# shellcheck disable=SC2086 # HERALD_ARGS is a list of flags
		"${on_server[@]}" "$bin/herald" -p "$port" --data "$(mktemp -d -p "$bin")" "${no_limits[@]}" ${HERALD_ARGS:-} >>"$results/herald.log" 2>&1 &
		;;
	herald-memory)
		# The same binary with the journal off the disk: what the journal's
		# fsync'd group commits cost (issue 10: A keeps >= 80 % of this).
		port=$HERALD_PORT
		# shellcheck disable=SC2086 # HERALD_ARGS is a list of flags
		"${on_server[@]}" "$bin/herald" -p "$port" "${no_limits[@]}" ${HERALD_ARGS:-} --data :memory: >>"$results/herald-memory.log" 2>&1 &
		;;
	node)
		port=$NODE_PORT
		"${on_server[@]}" node bench/reference/server.js "$port" >>"$results/node.log" 2>&1 &
		;;
	egress)
		port=$EGRESS_PORT
		"${on_server[@]}" "$bin/egress" -p "$port" >>"$results/egress.log" 2>&1 &
		;;
	*) echo "compare.sh: unknown server $1 (herald, node, egress, herald-memory)" >&2; exit 2 ;;
	esac
	server_pid=$!
	for _ in $(seq 100); do
		if curl -sf -o /dev/null "http://127.0.0.1:$port/heartbeat" && kill -0 "$server_pid" 2>/dev/null; then return 0; fi
		kill -0 "$server_pid" 2>/dev/null || break
		sleep 0.1
	done
	echo "compare.sh: $1 did not come up on 127.0.0.1:$port (see $results/$1.log)" >&2
	exit 1
}

stop_server() {
	[[ -z "$server_pid" ]] && return 0
	kill "$server_pid" 2>/dev/null || true
	# Bounded wait: a server that ignores SIGTERM for 5 s is killed.
	for _ in $(seq 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
	kill -9 "$server_pid" 2>/dev/null || true
	wait "$server_pid" 2>/dev/null || true
	server_pid=""
}

# start_cluster NAME: a fresh redis-server and three nodes of NAME on
# consecutive ports; sets cluster_pids, urls and redis_before.
cluster_pids=()
start_cluster() {
	local base i p
	"${on_server[@]}" redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no --loglevel warning \
		>>"$results/redis.log" 2>&1 &
	cluster_pids=($!)
	for _ in $(seq 50); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
	case "$1" in herald) base=$HERALD_PORT ;; node) base=$NODE_PORT ;; *) echo "compare.sh: --cluster runs herald and node" >&2; exit 2 ;; esac
	urls=""
	for i in 0 1 2; do
		p=$((base + i))
		if [[ $1 == herald ]]; then
			# shellcheck disable=SC2086 # HERALD_ARGS is a list of flags
			"${on_server[@]}" "$bin/herald" -p "$p" --redis "redis://127.0.0.1:$REDIS_PORT/0" "${no_limits[@]}" ${HERALD_ARGS:-} >>"$results/herald-$i.log" 2>&1 &
		else
			REDIS_URL="redis://127.0.0.1:$REDIS_PORT" "${on_server[@]}" node bench/reference/server.js "$p" >>"$results/node-$i.log" 2>&1 &
		fi
		cluster_pids+=($!)
		for _ in $(seq 100); do curl -sf -o /dev/null "http://127.0.0.1:$p/heartbeat" && break; sleep 0.1; done
		urls+="${urls:+,}http://127.0.0.1:$p"
	done
	redis_before=$(redis-cli -p "$REDIS_PORT" info stats | tr -d '\r' | awk -F: '/^total_commands_processed:/ {print $2}')
}

stop_cluster() {
	((${#cluster_pids[@]})) || return 0
	kill "${cluster_pids[@]}" 2>/dev/null || true
	for _ in $(seq 50); do kill -0 "${cluster_pids[@]}" 2>/dev/null || break; sleep 0.1; done
	kill -9 "${cluster_pids[@]}" 2>/dev/null || true
	wait "${cluster_pids[@]}" 2>/dev/null || true
	cluster_pids=()
}

# run_cluster NAME SERVER herald-load flags…: one cluster run, then the
# Redis commands it cost per trigger (warmup and probes included).
run_cluster() {
	local name=$1 srv=$2 triggers after
	shift 2
	start_cluster "$srv"
	echo
	echo "== scenario $name on 3 × $srv + redis: herald-load -url $urls $*"
	# shellcheck disable=SC2086 # LOADER_ARGS is a list of flags
	"${on_loader[@]}" "$bin/herald-load" -url "$urls" -any-count -label "$name/$srv" -out "$raw" ${LOADER_ARGS:-} "$@" ||
		echo "compare.sh: scenario $name on $srv FAILED (exit $?)" >&2
	after=$(redis-cli -p "$REDIS_PORT" info stats | tr -d '\r' | awk -F: '/^total_commands_processed:/ {print $2}')
	triggers=$(tail -n 1 "$raw" | jq '.triggers // 0')
	echo "$name/$srv: Redis commands executed (commands inside Lua scripts included): $((after - redis_before)) for $triggers measured triggers (+ warmup and probes)" | tee -a "$results/redis-commands.txt"
	redis-cli -p "$REDIS_PORT" info commandstats | tr -d '\r' | grep '^cmdstat' | sort -t= -k2 -n -r >"$results/redis-commandstats-$name-$srv.txt"
	stop_cluster
}

# run NAME SERVER herald-load flags…
run() {
	local name=$1 srv=$2
	shift 2
	start_server "$srv"
	echo
	echo "== scenario $name on $srv: herald-load $*"
	# shellcheck disable=SC2086 # LOADER_ARGS is a list of flags
	"${on_loader[@]}" "$bin/herald-load" -url "http://127.0.0.1:$port" -label "$name/$srv" -pid "$server_pid" -out "$raw" ${reader[$name]:-} ${LOADER_ARGS:-} "$@" ||
		echo "compare.sh: scenario $name on $srv FAILED (exit $?)" >&2
	stop_server
}

# Warmup triggers (ignored by pages) let Node's JIT and Go's heap settle
# before the measured ones; both servers get the same.
declare -A args=(
	[A]="-pages 1000 -codes 10 -triggers 1000 -concurrency 8 -warmup 300"
	[B]="-pages 1000 -codes 10 -triggers 5000 -rate 1000 -concurrency 64 -warmup 300"
	[C]="-pages 100 -codes 100 -triggers 20000 -concurrency 16 -warmup 2000"
	[D]="-pages 10000 -codes 100 -hold $HOLD -dialers 64"
	[E]="-pages 3000 -codes 30 -triggers 3000 -concurrency 16 -warmup 300"
	[F]="-pages 3000 -codes 30 -triggers 2000 -rate 100 -concurrency 16 -warmup 300"
)
# B measures latency: on shared cores the loader's reader adds its own
# scheduling delay to every latency it records, and a goroutine per page
# costs the loader about twice the CPU per delivery of one io_uring loop
# per CPU (BENCHMARKS.md, tenth and seventeenth passes). So B reads
# through io_uring where the kernel allows it, pinned or not, on both
# servers; LOADER_ARGS="-reader goroutines" still can choose.
declare -A reader=([B]="-reader auto")
read -r load _ </proc/loadavg
if awk -v l="$load" 'BEGIN { exit !(l > 0.5) }'; then
	echo "compare.sh: warning: 1-minute load average is $load; other work on this machine skews the figures" >&2
fi
IFS=, read -ra list <<<"$scenarios"
for s in "${list[@]}"; do
	[[ -n "${args[$s]:-}" ]] || { echo "compare.sh: unknown scenario $s" >&2; exit 2; }
	for ((round = 1; round <= repeat; round++)); do
		for srv in $servers; do
			# shellcheck disable=SC2086 # args are word lists
			if ((cluster)); then
				run_cluster "$s" "$srv" ${args[$s]}
			else
				run "$s" "$srv" ${args[$s]}
			fi
		done
	done
done

echo
echo "== results ($raw): medians over $repeat run(s); ok = every run passed"
jq -rs -f bench/table.jq "$raw" | column -t -s $'\t'
