#!/usr/bin/env bash
# Checks that the built library needs nothing beyond the C runtime (no OpenSSL, no libpq), so
# that the same .so drops into other images of the same PostgreSQL major.
set -euo pipefail
lib=$1
needed=$(readelf -d "$lib" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | sort)
allowed='^(libc\.so\.6|libm\.so\.6|libgcc_s\.so\.1|libpthread\.so\.0|libdl\.so\.2|librt\.so\.1|ld-linux-x86-64\.so\.2)$'
bad=$(printf '%s\n' "$needed" | grep -Ev "$allowed" || true)
printf 'NEEDED: %s\n' "$(printf '%s ' $needed)"
if [ -n "$bad" ]; then
  echo "check_links: $lib needs more than the C runtime: $bad" >&2
  echo "links: 0 passed, 1 failed"
  exit 1
fi
echo "links: 1 passed, 0 failed"
