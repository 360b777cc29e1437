#!/usr/bin/env bash
# Shared helpers for the azd hooks and scripts/assign-role.sh (sourced, not run).
# The app roles below are the contract between the app registration and the policy file
# (profiles match on them); scripts/preprovision.sh creates exactly these.

# value|allowed member types|display name|description
QB_APP_ROLES=(
  "Query.Read|Application,User|Query: read|Run read-only queries through Query Broker on the connections its policy allows."
  "Query.Write|Application,User|Query: write|Submit writes through Query Broker; risky writes wait for a human approval."
  "Query.Approve|User|Query: approve|Approve or reject writes held for approval (never your own)."
  "Audit.Read|Application,User|Audit: read|Read and verify the recorded Query Broker sessions."
  "PII.Read|Application,User|PII: read unmasked|See the columns the Query Broker policy masks, unmasked."
)

# Azure CLI's well-known client id: pre-authorized so people can run
# `az account get-access-token --resource <audience>` for the CLI and the approval API.
AZURE_CLI_CLIENT_ID="04b07795-8ddb-461a-bbee-02f9e1bf7b46"
GRAPH="https://graph.microsoft.com/v1.0"

info() { printf '  %s\n' "$*" >&2; }
step() { printf '\n==> %s\n' "$*" >&2; }
warn() { printf 'WARNING: %s\n' "$*" >&2; }
die() {
  printf 'ERROR: %s\n' "$*" >&2
  exit 1
}

require_azure_cli() {
  command -v az >/dev/null 2>&1 || die "Azure CLI (az) not found. Install it, then run 'az login'."
  az account show --only-show-errors >/dev/null 2>&1 || die "Azure CLI is not signed in. Run 'az login' (same tenant as 'azd auth login')."
}

# A value from the azd environment: the hook's own environment first, then `azd env get-value`.
azd_value() {
  local name="$1" value="${!1:-}"
  if [ -z "$value" ] && command -v azd >/dev/null 2>&1; then
    value="$(azd env get-value "$name" 2>/dev/null || true)"
    # azd prints an error text instead of a value for unknown keys in some versions.
    case "$value" in ERROR:* | *"not found"*) value="" ;; esac
  fi
  printf '%s' "$value"
}

azd_set() {
  if command -v azd >/dev/null 2>&1; then
    azd env set "$1" "$2" >/dev/null
  fi
  export "$1=$2"
}

new_uuid() {
  if [ -r /proc/sys/kernel/random/uuid ]; then
    cat /proc/sys/kernel/random/uuid
  else
    uuidgen | tr '[:upper:]' '[:lower:]'
  fi
}

# Entra ID replication: an object created a moment ago may not be readable everywhere yet.
retry() {
  local attempt=1
  until "$@"; do
    if [ "$attempt" -ge 6 ]; then
      return 1
    fi
    sleep $((attempt * 5))
    attempt=$((attempt + 1))
  done
}

# JSON string literal of a plain value (the values here never contain quotes or backslashes).
json_str() { printf '"%s"' "$1"; }

# "a,b" → ["a","b"]
json_list() {
  local IFS=, out="" item
  for item in $1; do
    out="${out:+$out,}$(json_str "$item")"
  done
  printf '[%s]' "$out"
}

role_id_of() {
  # $1 = app id, $2 = role value
  az ad app show --id "$1" --query "appRoles[?value=='$2'].id | [0]" -o tsv --only-show-errors 2>/dev/null || true
}
