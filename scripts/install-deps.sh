#!/usr/bin/env bash
# Installs everything the tests need on a fresh machine, from the package registries.
# Idempotent: safe to run again. Go tools (ocb, staticcheck; mdatagen from internal/tools) are
# built by the Makefile into .tools/.
#   - Go: expected at /usr/local/go (the machine image has it).
#   - Chromium (Debian's package): the web viewer's browser test drives it headless.
#   - Node.js and npm (Debian's packages, when missing; Node 18 or later): cmd/auditctl's test
#     runs the independent evidence verifier (verifier/node/verify.mjs) against auditctl's.
#   - ZooKeeper (Debian's zookeeper 3.8, and the JRE it depends on): the ClickHouse cluster of
#     scripts/clickhouse/start-cluster.sh coordinates its two replicas with it. The
#     clickhouse-server packages are installed by scripts/clickhouse/start.sh when missing.
#   - The example applications' modules (scripts/install-examples.sh): tests/examples runs
#     examples/go and examples/node.
set -euo pipefail

if ! command -v go >/dev/null 2>&1; then
  echo "install-deps: Go is required (expected at /usr/local/go/bin/go)" >&2
  exit 1
fi
go version

apt_packages=()
[ -x /usr/bin/chromium ] || apt_packages+=(chromium)
command -v node >/dev/null 2>&1 || apt_packages+=(nodejs)
command -v npm >/dev/null 2>&1 || apt_packages+=(npm)
[ -f /usr/share/java/zookeeper.jar ] || apt_packages+=(zookeeper)

if [ ${#apt_packages[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: need root to install: ${apt_packages[*]}" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${apt_packages[@]}" >/dev/null
fi
/usr/bin/chromium --version
node --version

bash "$(dirname "$0")/install-examples.sh"
