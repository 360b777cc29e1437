#!/usr/bin/env bash
# Give an identity one of the broker's app roles.
#
#   scripts/assign-role.sh <role> <principal>
#
#   role       Query.Read | Query.Write | Query.Approve | Audit.Read | PII.Read
#   principal  a person:            user@contoso.com, or a user object id
#              a group:             group object id (needs Entra ID P1 or above)
#              an agent / service:  its application (client) id or service principal object id;
#                                   a managed identity: its principal (object) id
#
# The role shows up in the `roles` claim of the next token the principal gets. Uses the azd
# environment for the broker's app registration (QB_API_CLIENT_ID), or the variable if exported.
# Idempotent: an existing assignment is left as it is.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=scripts/common.sh
. "$here/common.sh"

usage() {
  sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}
[ $# -eq 2 ] || usage
role="$1"
principal="$2"

require_azure_cli
app_id="$(azd_value QB_API_CLIENT_ID)"
[ -n "$app_id" ] || die "QB_API_CLIENT_ID is not set. Run 'azd provision' first, or export QB_API_CLIENT_ID."
resource_sp="$(az ad sp show --id "$app_id" --query id -o tsv --only-show-errors)"

role_id="$(role_id_of "$app_id" "$role")"
[ -n "$role_id" ] || die "application $app_id has no app role '$role' (known: Query.Read, Query.Write, Query.Approve, Audit.Read, PII.Read)."

# Resolve the principal to an object id and its kind.
kind=""
principal_id=""
if [[ "$principal" == *@* ]]; then
  principal_id="$(az ad user show --id "$principal" --query id -o tsv --only-show-errors)" && kind=user
else
  if principal_id="$(az ad sp show --id "$principal" --query id -o tsv --only-show-errors 2>/dev/null)" && [ -n "$principal_id" ]; then
    kind=servicePrincipal
  elif principal_id="$(az ad group show --group "$principal" --query id -o tsv --only-show-errors 2>/dev/null)" && [ -n "$principal_id" ]; then
    kind=group
  elif principal_id="$(az ad user show --id "$principal" --query id -o tsv --only-show-errors 2>/dev/null)" && [ -n "$principal_id" ]; then
    kind=user
  fi
fi
[ -n "$kind" ] && [ -n "$principal_id" ] || die "no user, group or service principal found for '$principal'."

member_types="$(az ad app show --id "$app_id" --query "appRoles[?value=='$role'].allowedMemberTypes | [0] | join(',', @)" -o tsv --only-show-errors)"
if [ "$kind" = servicePrincipal ] && [[ ",$member_types," != *,Application,* ]]; then
  die "$role is for people only (allowed: $member_types); an application cannot hold it."
fi
if [ "$kind" != servicePrincipal ] && [[ ",$member_types," != *,User,* ]]; then
  die "$role is for applications only (allowed: $member_types)."
fi

existing="$(az rest --method GET --uri "$GRAPH/servicePrincipals/$resource_sp/appRoleAssignedTo?\$top=999" \
  --query "length(value[?principalId=='$principal_id' && appRoleId=='$role_id'])" -o tsv --only-show-errors)"
if [ "$existing" != "0" ]; then
  info "$kind $principal already holds $role"
  exit 0
fi

body="{\"principalId\":\"$principal_id\",\"resourceId\":\"$resource_sp\",\"appRoleId\":\"$role_id\"}"
retry az rest --method POST --uri "$GRAPH/servicePrincipals/$resource_sp/appRoleAssignedTo" \
  --headers 'Content-Type=application/json' --body "$body" --only-show-errors >/dev/null ||
  die "could not assign $role to $kind $principal."
info "$kind $principal ($principal_id) now holds $role"
