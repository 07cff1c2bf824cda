#!/usr/bin/env bash
# Installs what the example applications need (tests/examples runs them against the collector):
#   - examples/node: its npm modules, exactly as package-lock.json locks them (npm ci), into
#     examples/node/node_modules (untracked). Needs node and npm.
#   - examples/go: its own module's dependencies (go mod download), so that the test's build
#     does not fetch them.
# Idempotent: npm ci runs only when node_modules is missing or older than the lock file.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"

(cd "$root/examples/go" && go mod download)
echo "install-examples: examples/go modules downloaded" >&2

cd "$root/examples/node"
if ! command -v npm >/dev/null || ! command -v node >/dev/null; then
	echo "install-examples: node and npm are required for examples/node (Debian: apt-get install -y nodejs npm)" >&2
	exit 1
fi
if [ -f node_modules/.package-lock.json ] && [ node_modules/.package-lock.json -nt package-lock.json ]; then
	echo "install-examples: examples/node modules already installed" >&2
	exit 0
fi
npm ci --no-audit --no-fund >&2
echo "install-examples: examples/node modules installed (node $(node --version))" >&2
