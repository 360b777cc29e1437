#!/usr/bin/env bash
# azd preprovision hook: create (or bring up to date) the Entra ID app registration of the broker
# API, and store what provisioning needs in the azd environment:
#   QB_API_CLIENT_ID   application (client) id → App Service Authentication
#   QB_AUDIENCE        identifier URI = the `aud` of the tokens the broker accepts (qb.yaml `audience`)
#   AZURE_TENANT_ID    tenant of the app registration (qb.yaml `tenant`)
# The registration gets the app roles Query.Read, Query.Write, Query.Approve, Audit.Read, PII.Read,
# a delegated scope `user_impersonation` (people signing in to the approval page or the CLI), and
# "assignment required", so only identities that were given a role can get a token at all.
# Safe to re-run: existing role and scope ids are kept, so assignments survive.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=scripts/common.sh
. "$here/common.sh"

require_azure_cli
env_name="${AZURE_ENV_NAME:?run this through azd (AZURE_ENV_NAME is not set)}"

cli_tenant="$(az account show --query tenantId -o tsv)"
tenant_id="$(azd_value AZURE_TENANT_ID)"
if [ -z "$tenant_id" ]; then
  tenant_id="$cli_tenant"
elif [ "$tenant_id" != "$cli_tenant" ]; then
  die "azd environment tenant $tenant_id differs from the Azure CLI tenant $cli_tenant. Run 'az login --tenant $tenant_id'."
fi
azd_set AZURE_TENANT_ID "$tenant_id"

audience="$(azd_value QB_AUDIENCE)"
audience="${audience:-api://query-broker-${env_name}}"
display_name="Query Broker (${env_name})"

step "Entra app registration for ${audience}"
app_id="$(azd_value QB_API_CLIENT_ID)"
if [ -n "$app_id" ] && ! az ad app show --id "$app_id" --query appId -o tsv --only-show-errors >/dev/null 2>&1; then
  warn "QB_API_CLIENT_ID=$app_id does not exist (deleted?); looking it up by identifier URI."
  app_id=""
fi
if [ -z "$app_id" ]; then
  app_id="$(az ad app list --identifier-uri "$audience" --query '[0].appId' -o tsv --only-show-errors)"
fi
if [ -z "$app_id" ]; then
  app_id="$(az ad app create --display-name "$display_name" --sign-in-audience AzureADMyOrg --query appId -o tsv --only-show-errors)"
  info "created application $app_id"
  retry az ad app show --id "$app_id" --query appId -o tsv --only-show-errors >/dev/null ||
    die "the new application $app_id did not become readable; re-run 'azd provision'."
else
  info "using application $app_id"
fi
object_id="$(az ad app show --id "$app_id" --query id -o tsv)"

# Identifier URI. A tenant policy may only allow api://<appId>: fall back to it and say so.
if ! az ad app update --id "$app_id" --identifier-uris "$audience" --only-show-errors 2>/dev/null; then
  fallback="api://${app_id}"
  warn "the tenant refused identifier URI ${audience}; using ${fallback}. Set the same value as 'audience' in qb.yaml."
  audience="$fallback"
  retry az ad app update --id "$app_id" --identifier-uris "$audience" --only-show-errors ||
    die "could not set the identifier URI of application $app_id."
fi

# App roles, keeping the id of every role that exists already.
roles_json=""
for spec in "${QB_APP_ROLES[@]}"; do
  IFS='|' read -r value member_types role_display description <<<"$spec"
  id="$(role_id_of "$app_id" "$value")"
  id="${id:-$(new_uuid)}"
  roles_json="${roles_json:+$roles_json,}{\"id\":$(json_str "$id"),\"value\":$(json_str "$value"),\"displayName\":$(json_str "$role_display"),\"description\":$(json_str "$description"),\"allowedMemberTypes\":$(json_list "$member_types"),\"isEnabled\":true}"
done

scope_id="$(az ad app show --id "$app_id" --query "api.oauth2PermissionScopes[?value=='user_impersonation'].id | [0]" -o tsv)"
scope_id="${scope_id:-$(new_uuid)}"
scope_json="{\"id\":\"$scope_id\",\"value\":\"user_impersonation\",\"type\":\"User\",\"isEnabled\":true,\"adminConsentDisplayName\":\"Use Query Broker as the signed-in user\",\"adminConsentDescription\":\"Lets the app call Query Broker with the signed-in user's app roles.\",\"userConsentDisplayName\":\"Use Query Broker as you\",\"userConsentDescription\":\"Lets the app call Query Broker with your app roles.\"}"

body_file="$(mktemp)"
trap 'rm -f "$body_file"' EXIT

# v1 access tokens (requestedAccessTokenVersion 1): `aud` is the identifier URI, which is what the
# policy's `audience` names. groupMembershipClaims ApplicationGroup: a `groups` claim lists only
# the groups assigned to this application, never every group of the user.
cat >"$body_file" <<JSON
{
  "signInAudience": "AzureADMyOrg",
  "groupMembershipClaims": "ApplicationGroup",
  "appRoles": [${roles_json}],
  "api": {
    "requestedAccessTokenVersion": 1,
    "oauth2PermissionScopes": [${scope_json}]
  }
}
JSON
retry az rest --method PATCH --uri "$GRAPH/applications/$object_id" --headers 'Content-Type=application/json' \
  --body "@$body_file" --only-show-errors >/dev/null || die "could not update the app roles of application $app_id."

# Pre-authorize the Azure CLI for the scope (it must exist first, hence a second update).
cat >"$body_file" <<JSON
{
  "api": {
    "requestedAccessTokenVersion": 1,
    "oauth2PermissionScopes": [${scope_json}],
    "preAuthorizedApplications": [{ "appId": "${AZURE_CLI_CLIENT_ID}", "delegatedPermissionIds": ["${scope_id}"] }]
  }
}
JSON
retry az rest --method PATCH --uri "$GRAPH/applications/$object_id" --headers 'Content-Type=application/json' \
  --body "@$body_file" --only-show-errors >/dev/null || die "could not pre-authorize the Azure CLI on application $app_id."

# The service principal (enterprise application) is what roles are assigned on.
sp_id="$(az ad sp show --id "$app_id" --query id -o tsv --only-show-errors 2>/dev/null || true)"
if [ -z "$sp_id" ]; then
  sp_id="$(retry az ad sp create --id "$app_id" --query id -o tsv --only-show-errors)" ||
    die "could not create the service principal of application $app_id."
  info "created service principal $sp_id"
fi
# Only principals that hold one of the roles can get a token for the broker.
retry az rest --method PATCH --uri "$GRAPH/servicePrincipals/$sp_id" --headers 'Content-Type=application/json' \
  --body '{"appRoleAssignmentRequired": true}' --only-show-errors >/dev/null ||
  die "could not require role assignment on service principal $sp_id."

azd_set QB_API_CLIENT_ID "$app_id"
azd_set QB_API_OBJECT_ID "$object_id"
azd_set QB_API_SP_OBJECT_ID "$sp_id"
azd_set QB_AUDIENCE "$audience"
info "client id ${app_id}, audience ${audience}, tenant ${tenant_id}"
