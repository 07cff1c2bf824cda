#!/usr/bin/env bash
# Stops the cluster scripts/clickhouse/start-cluster.sh started (both replicas, then ZooKeeper)
# and removes its directory. Idempotent: nothing running is not an error. Set
# CLICKHOUSE_KEEP=1 to keep the files (logs) for a look after a failure.
set -euo pipefail

dir="${CLICKHOUSE_CLUSTER_DIR:-/tmp/otelcol-audit-clickhouse-cluster}"

stop() {
	local f="$1" pid
	[ -f "$f" ] || return 0
	pid="$(cat "$f")"
	if kill -0 "$pid" 2>/dev/null; then
		kill "$pid" 2>/dev/null || true
		for _ in $(seq 60); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.5
		done
		if kill -0 "$pid" 2>/dev/null; then
			echo "clickhouse/stop-cluster.sh: pid $pid ignored SIGTERM for 30s; sending SIGKILL" >&2
			kill -9 "$pid" 2>/dev/null || true
		fi
	fi
	rm -f "$f"
}

stop "$dir/ch1/pid"
stop "$dir/ch2/pid"
stop "$dir/zk/pid"
if [ "${CLICKHOUSE_KEEP:-}" != 1 ]; then
	rm -rf "$dir"
fi
