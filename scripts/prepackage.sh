#!/usr/bin/env bash
# azd prepackage hook of service `api`: compile before anything is uploaded, and check that the
# output is what the Functions host loads (package.json "main" → dist/functions/index.js).
# The platform builds again from the same sources (remoteBuild), so a type error stops here
# instead of in a remote build log.
set -euo pipefail
cd "$(dirname "$0")/.."

[ -d node_modules ] || npm ci --no-audit --no-fund
npm run build

main="$(node -p "require('./package.json').main")"
[ -f "$main" ] || {
  printf 'ERROR: package.json "main" is %s, which the build did not produce.\n' "$main" >&2
  exit 1
}
printf '  built %s\n' "$main" >&2
