#!/usr/bin/env bash
# Runs the issue-4 load scenarios against herald and the Node reference
# (official socket.io 4.8.1, bench/reference/server.js), one fresh server per
# scenario, with herald-load sharing the machine; prints a table with
# herald/Node ratios and keeps the raw JSON lines under bench/results/.
#
#   bench/compare.sh                 scenarios A, B, C on both servers (~1 min)
#   bench/compare.sh --full          also D: 10,000 pages idle for 60 s (~3 min more)
#   bench/compare.sh --only node     some servers only: herald, node, egress
#                                    (comma list; egress is bench/profile, the
#                                    Socket.IO sink without router: see
#                                    BENCHMARKS.md)
#   bench/compare.sh --scenarios A,C a subset
#   bench/compare.sh --repeat 3      each scenario 3 times per server,
#                                    alternating; the table shows medians
#
# Environment: HERALD_PORT (18080), NODE_PORT (18090), HERALD_ARGS (extra
# flags for herald; "--data :memory:" keeps the journal off the disk),
# HOLD (D's hold time, 60s). Loopback only; bounded in time;
# every process it starts is stopped on exit.
set -euo pipefail

cd "$(dirname "$0")/.."
full=0
only=""
scenarios="A,B,C"
repeat=1
while (($#)); do
	case "$1" in
	--full) full=1 ;;
	--only) only="$2"; shift ;;
	--scenarios) scenarios="$2"; shift ;;
	--repeat) repeat="$2"; shift ;;
	-h | --help) sed -n '2,20p' "$0"; exit 0 ;;
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
bin=$(mktemp -d)
results="bench/results/$(date +%Y%m%d-%H%M%S)"
mkdir -p "$results"
raw="$results/raw.jsonl"
server_pid=""

cleanup() {
	stop_server
	rm -rf "$bin"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "building herald and herald-load…"
[[ " $servers " == *" herald "* ]] && go build -o "$bin/herald" ./cmd/herald
[[ " $servers " == *" egress "* ]] && go build -o "$bin/egress" ./bench/profile
go build -o "$bin/herald-load" ./cmd/herald-load

# start_server NAME: starts a fresh server, sets server_pid and port.
start_server() {
	local want_port
	case "$1" in herald) want_port=$HERALD_PORT ;; node) want_port=$NODE_PORT ;; *) want_port=$EGRESS_PORT ;; esac
	# A leftover server on the port would answer the readiness probe and be
	# measured in place of the fresh one.
	if curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$want_port/"; then
		echo "compare.sh: something already listens on 127.0.0.1:$want_port; stop it or set the *_PORT variables" >&2
		exit 1
	fi
	case "$1" in
	herald)
		port=$HERALD_PORT
		# shellcheck disable=SC2086 # HERALD_ARGS is a list of flags
		# A fresh journal per run (bbolt, fsync'd group commits, herald's
		# default); HERALD_ARGS="--data :memory:" measures without the disk.
		"$bin/herald" -p "$port" --data "$(mktemp -d -p "$bin")" ${HERALD_ARGS:-} >>"$results/herald.log" 2>&1 &
		;;
	node)
		port=$NODE_PORT
		node bench/reference/server.js "$port" >>"$results/node.log" 2>&1 &
		;;
	egress)
		port=$EGRESS_PORT
		"$bin/egress" -p "$port" >>"$results/egress.log" 2>&1 &
		;;
	*) echo "compare.sh: unknown server $1 (herald, node, egress)" >&2; exit 2 ;;
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

# run NAME SERVER herald-load flags…
run() {
	local name=$1 srv=$2
	shift 2
	start_server "$srv"
	echo
	echo "== scenario $name on $srv: herald-load $*"
	"$bin/herald-load" -url "http://127.0.0.1:$port" -label "$name/$srv" -pid "$server_pid" -out "$raw" "$@" ||
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
)
read -r load _ </proc/loadavg
if awk -v l="$load" 'BEGIN { exit !(l > 0.5) }'; then
	echo "compare.sh: warning: 1-minute load average is $load; other work on this machine skews the figures" >&2
fi
IFS=, read -ra list <<<"$scenarios"
for s in "${list[@]}"; do
	[[ -n "${args[$s]:-}" ]] || { echo "compare.sh: unknown scenario $s" >&2; exit 2; }
	for ((i = 1; i <= repeat; i++)); do
		for srv in $servers; do
			# shellcheck disable=SC2086 # args are word lists
			run "$s" "$srv" ${args[$s]}
		done
	done
done

echo
echo "== results ($raw): medians over $repeat run(s); ok = every run passed"
jq -rs -f bench/table.jq "$raw" | column -t -s $'\t'
