#!/usr/bin/env bash
# Write a starter policy file when the project has none, so `azd up` from a clean clone deploys a
# broker that answers (health, its tenant, its audience) instead of stopping for a hand-written
# qb.yaml. Called by the postprovision hook (and by predeploy when the file is still missing).
# An existing file is never touched. Values come from the azd environment:
#   AZURE_TENANT_ID, QB_AUDIENCE, QB_API_CLIENT_ID   tenant and both audience forms (required)
#   QB_POLICY_FILE                                    file name (default qb.yaml)
#   QB_DATABASE_HOST                                  the PostgreSQL server the broker fronts (optional)
#   QB_DATABASE_NAME (postgres), QB_DATABASE_PORT (5432), QB_DATABASE_USER (qb_broker)
#   QB_DATABASE_SECRET (Key Vault secret with the login's password; default <connection>-password)
#   QB_DATABASE_ENTRA=true                            the managed identity's token as the password
# Edit the file afterwards (README: "Configuration: the policy file") and run `azd deploy`.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=scripts/common.sh
. "$here/common.sh"
cd "$here/.."

policy="$(azd_value QB_POLICY_FILE)"
policy="${policy:-qb.yaml}"
if [ -f "$policy" ]; then
  info "$policy exists; left as it is."
  exit 0
fi

tenant_id="$(azd_value AZURE_TENANT_ID)"
audience="$(azd_value QB_AUDIENCE)"
client_id="$(azd_value QB_API_CLIENT_ID)"
[ -n "$tenant_id" ] || die "AZURE_TENANT_ID is not set; cannot write a starter $policy."
[ -n "$audience" ] || die "QB_AUDIENCE is not set (the preprovision hook sets it); cannot write a starter $policy."

db_host="$(azd_value QB_DATABASE_HOST)"
db_name="$(azd_value QB_DATABASE_NAME)"
db_name="${db_name:-postgres}"
db_port="$(azd_value QB_DATABASE_PORT)"
db_port="${db_port:-5432}"
db_user="$(azd_value QB_DATABASE_USER)"
db_user="${db_user:-qb_broker}"
db_entra="$(azd_value QB_DATABASE_ENTRA)"
db_secret="$(azd_value QB_DATABASE_SECRET)"
db_secret="${db_secret:-main-password}"

case "$db_port" in *[!0-9]* | '') die "QB_DATABASE_PORT must be a number (got '$db_port')." ;; esac
for v in "$tenant_id" "$audience" "$client_id" "$db_host" "$db_name" "$db_user" "$db_secret"; do
  case "$v" in *[\'\"\\:\ \#\{\}\[\],]*) [ "$v" = "$audience" ] || die "the value '$v' cannot go into a starter policy unquoted; write $policy by hand." ;; esac
done

{
  printf '# Starter policy written by scripts/starter-policy.sh from the azd environment.\n'
  printf '# Edit it (README: "Configuration: the policy file"), then run `azd deploy`.\n'
  printf '# The broker refuses every query until a profile below matches the caller.\n'
  if [ -n "$client_id" ]; then
    printf '# Both audience forms: api://... (tokens for <uri>/.default) and the app id (tokens for <appId>/.default).\n'
    printf "audience: ['%s', '%s']\n" "$audience" "$client_id"
  else
    printf "audience: '%s'\n" "$audience"
  fi
  printf 'tenant: %s\n' "$tenant_id"
  if [ -n "$db_host" ]; then
    printf 'connections:\n'
    printf '  main:\n'
    printf '    host: %s\n    port: %s\n    database: %s\n    user: %s\n    ssl: true\n' "$db_host" "$db_port" "$db_name" "$db_user"
    if [ "$db_entra" = "true" ]; then
      printf '    credentials: { entra: true }\n'
    else
      printf '    credentials: { keyVaultSecret: %s }   # az keyvault secret set --name %s ...\n' "$db_secret" "$db_secret"
    fi
    printf 'profiles:\n'
    printf '  agent-read:\n    match: { roles: [Query.Read] }\n    connections: [main]\n    access: read\n'
    printf '  agent-write:\n    match: { roles: [Query.Write] }\n    connections: [main]\n    access: write\n'
    printf '    approval:\n      approvers: { roles: [Query.Approve] }\n'
  else
    printf '# No database yet: set QB_DATABASE_HOST (azd env set) and delete this file to have it rewritten,\n'
    printf '# or add a connection and profiles by hand.\n'
    printf 'connections: {}\n'
    printf 'profiles: {}\n'
  fi
  printf 'auditors: { roles: [Audit.Read] }\n'
} >"$policy"
info "wrote a starter $policy (tenant $tenant_id, audience $audience${client_id:+ and $client_id}${db_host:+, database $db_host/$db_name})"
