#!/usr/bin/env bash
# Stops the server scripts/clickhouse/start.sh started and removes its directory.
# Idempotent: nothing running is not an error. Set CLICKHOUSE_KEEP=1 to keep the files.
set -euo pipefail

dir="${CLICKHOUSE_DIR:-/tmp/otelcol-audit-clickhouse}"
if [ -f "$dir/pid" ]; then
	pid="$(cat "$dir/pid")"
	if kill -0 "$pid" 2>/dev/null; then
		kill "$pid"
		for _ in $(seq 60); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.5
		done
		if kill -0 "$pid" 2>/dev/null; then
			echo "clickhouse/stop.sh: pid $pid ignored SIGTERM for 30s; sending SIGKILL" >&2
			kill -9 "$pid" || true
		fi
	fi
	rm -f "$dir/pid"
fi
if [ "${CLICKHOUSE_KEEP:-}" != 1 ]; then
	rm -rf "$dir"
fi
