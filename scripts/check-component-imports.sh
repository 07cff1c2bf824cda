#!/usr/bin/env bash
# Fails when a component (receiver, processor, exporter, extension, converter) imports another
# component: components meet only through internal/ contracts (internal/auditstore) and the
# collector's host. Prints the picture of what each component imports from this module.
set -euo pipefail
cd "$(dirname "$0")/.."
mod=$(go list -m)
components=$(ls -d receiver/*/ processor/*/ exporter/*/ extension/*/ confmap/converter/*/ | sed 's#/$##')
status=0
for c in $components; do
  own="$mod/$c"
  deps=$(go list -deps "./$c" | grep "^$mod/" | grep -v "^$own\(/\|$\)" || true)
  inner=$(echo "$deps" | grep -E "^$mod/(receiver|processor|exporter|extension|confmap/converter)/" || true)
  echo "$c -> $(echo "$deps" | sed "s#^$mod/##" | grep -v '/internal/metadata' | tr '\n' ' ')"
  if [ -n "$inner" ]; then
    echo "  imports another component: $inner" >&2
    status=1
  fi
done
exit $status
