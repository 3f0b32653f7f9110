#!/usr/bin/env bash
# Three herald nodes on one local Redis, for trying cluster mode by hand:
#
#   examples/cluster/run.sh          starts redis-server (port 6390) and
#                                    herald on 8081, 8082, 8083
#   curl 'localhost:8082/notify?code=abc&event=follow&user=ada'
#                                    reaches a page on any of the three
#
# Put nginx.conf or the Caddyfile in front for one address. Ctrl-C stops
# everything it started.
set -euo pipefail
cd "$(dirname "$0")/../.."
go build -o /tmp/herald-cluster ./cmd/herald
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; wait' EXIT INT TERM
redis-server --port 6390 --save "" --appendonly no --loglevel warning &
pids+=($!)
sleep 0.5
for port in 8081 8082 8083; do
	/tmp/herald-cluster -p "$port" --redis redis://127.0.0.1:6390/0 --admin-token "${HERALD_ADMIN_TOKEN:-dev}" \
		--trusted-proxies 127.0.0.1,::1 &
	pids+=($!)
done
wait
