#!/usr/bin/env bash
# azd predeploy hook of service `api`: the policy file that ships with the app must accept the
# tokens this deployment's app registration issues. A wrong `audience` or `tenant` would make the
# broker refuse every request; better to stop the deployment with a message than ship that.
# Validation uses the broker's own loader (dist/src/policy/load.js), so the file is also checked
# against the full schema. Skip with QB_SKIP_POLICY_CHECK=true (e.g. a policy rendered later).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=scripts/common.sh
. "$here/common.sh"
cd "$here/.."

if [ "${QB_SKIP_POLICY_CHECK:-false}" = "true" ]; then
  warn "QB_SKIP_POLICY_CHECK=true: the policy file is deployed unchecked."
  exit 0
fi

policy="$(azd_value QB_POLICY_FILE)"
policy="${policy:-qb.yaml}"
[ -f "$policy" ] || "$here/starter-policy.sh" ||
  die "no policy file '$policy' at the project root. It is deployed with the app (QB_CONFIG); write one (README: 'Configuration: the policy file') with audience and tenant below."
[ -f dist/src/policy/load.js ] || npm run build >/dev/null

fields="$(node --input-type=module -e "
const { loadPolicyFile } = await import(new URL('./dist/src/policy/load.js', 'file://' + process.cwd() + '/').href);
try {
  const p = loadPolicyFile(process.argv[1]);
  const aud = [].concat(p.audience ?? []);
  process.stdout.write(aud.join(' ') + '\n' + (p.tenant ?? '') + '\n');
} catch (e) {
  process.stderr.write(String(e.message ?? e) + '\n');
  process.exit(1);
}
" "$policy")" || die "the policy file '$policy' is not valid (see above)."

policy_audience="$(printf '%s\n' "$fields" | sed -n 1p)"
policy_tenant="$(printf '%s\n' "$fields" | sed -n 2p)"
audience="$(azd_value QB_AUDIENCE)"
tenant_id="$(azd_value AZURE_TENANT_ID)"

problems=0
# `audience` may be a list (the identifier URI and the app id GUID): one of them must be this deployment's.
if [ -n "$audience" ] && [[ " $policy_audience " != *" $audience "* ]]; then
  printf "ERROR: %s has audience '%s'; this deployment's tokens carry aud '%s'.\n" "$policy" "${policy_audience// /, }" "$audience" >&2
  problems=1
fi
if [ -z "$policy_tenant" ]; then
  printf "ERROR: %s has no tenant; in Azure the broker needs it (tenant: %s).\n" "$policy" "${tenant_id:-<tenant id>}" >&2
  problems=1
elif [ -n "$tenant_id" ] && [ "$policy_tenant" != "$tenant_id" ]; then
  printf "ERROR: %s has tenant '%s'; the app registration is in tenant '%s'.\n" "$policy" "$policy_tenant" "$tenant_id" >&2
  problems=1
fi
[ "$problems" -eq 0 ] || die "fix $policy (or set QB_SKIP_POLICY_CHECK=true) and run 'azd deploy' again."
info "$policy: audience $policy_audience, tenant $policy_tenant"
