#!/usr/bin/env bash
# azd postprovision hook: finish the Entra side once the Function App exists.
#   1. register the sign-in redirect URI of App Service Authentication (https://<app>/.auth/login/aad/callback)
#   2. trust the app's managed identity as the registration's credential (federated identity
#      credential): App Service Authentication signs in users without any client secret
#   3. give the approver group (QB_APPROVER_GROUP_ID) the Query.Approve app role
#   4. print how to give the agent and people their roles
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=scripts/common.sh
. "$here/common.sh"

# A clean clone has no policy file yet: write a starter one from this environment (never overwrites).
"$here/starter-policy.sh"

require_azure_cli
app_id="$(azd_value QB_API_CLIENT_ID)"
base_url="$(azd_value QB_PUBLIC_BASE_URL)"
tenant_id="$(azd_value AZURE_TENANT_ID)"
identity_principal_id="$(azd_value AZURE_MANAGED_IDENTITY_PRINCIPAL_ID)"
approver_group="$(azd_value QB_APPROVER_GROUP_ID)"
audience="$(azd_value QB_AUDIENCE)"
auth_enabled="$(azd_value QB_AUTH_ENABLED)"

[ -n "$app_id" ] || die "QB_API_CLIENT_ID is not set: the preprovision hook did not run. Run 'azd provision' again."
[ -n "$base_url" ] || die "QB_PUBLIC_BASE_URL is not set: provisioning did not finish."
object_id="$(az ad app show --id "$app_id" --query id -o tsv --only-show-errors)"
sp_id="$(az ad sp show --id "$app_id" --query id -o tsv --only-show-errors)"

step "Sign-in redirect URI"
callback="${base_url%/}/.auth/login/aad/callback"
redirects="$(json_str "$callback")"
while IFS= read -r uri; do
  if [ -n "$uri" ] && [ "$uri" != "$callback" ]; then
    redirects="$redirects,$(json_str "$uri")"
  fi
done < <(az ad app show --id "$app_id" --query 'web.redirectUris[]' -o tsv --only-show-errors)
# ID tokens are issued to the hybrid sign-in flow of App Service Authentication only.
body="{\"web\":{\"homePageUrl\":$(json_str "$base_url"),\"redirectUris\":[${redirects}],\"implicitGrantSettings\":{\"enableIdTokenIssuance\":true,\"enableAccessTokenIssuance\":false}}}"
retry az rest --method PATCH --uri "$GRAPH/applications/$object_id" --headers 'Content-Type=application/json' \
  --body "$body" --only-show-errors >/dev/null || die "could not register the redirect URI $callback."
info "$callback"

step "Managed identity as the app registration's credential"
if [ -z "$identity_principal_id" ]; then
  warn "AZURE_MANAGED_IDENTITY_PRINCIPAL_ID is not set; skipping the federated credential."
else
  fic_name="query-broker-managed-identity"
  issuer="https://login.microsoftonline.com/${tenant_id}/v2.0"
  fic="{\"name\":\"$fic_name\",\"issuer\":\"$issuer\",\"subject\":\"$identity_principal_id\",\"audiences\":[\"api://AzureADTokenExchange\"],\"description\":\"App Service Authentication of the Function App signs in with its managed identity\"}"
  existing_subject="$(az ad app federated-credential list --id "$app_id" --query "[?name=='$fic_name'].subject | [0]" -o tsv --only-show-errors)"
  if [ -z "$existing_subject" ]; then
    retry az ad app federated-credential create --id "$app_id" --parameters "$fic" --only-show-errors >/dev/null ||
      die "could not add the federated credential to application $app_id."
    info "trusts managed identity $identity_principal_id"
  elif [ "$existing_subject" != "$identity_principal_id" ]; then
    retry az ad app federated-credential update --id "$app_id" --federated-credential-id "$fic_name" --parameters "$fic" --only-show-errors >/dev/null ||
      die "could not update the federated credential of application $app_id."
    info "now trusts managed identity $identity_principal_id (was $existing_subject)"
  else
    info "already trusts managed identity $identity_principal_id"
  fi
fi

if [ -n "$approver_group" ]; then
  step "Approver group"
  "$here/assign-role.sh" Query.Approve "$approver_group" ||
    warn "could not assign Query.Approve to group $approver_group (assigning groups needs Entra ID P1); assign approvers one by one with scripts/assign-role.sh."
fi

if [ "$auth_enabled" != "true" ]; then
  warn "App Service Authentication was not configured in this run (the app registration id reached provisioning too late)."
  warn "Run 'azd provision' once more; the approval page's sign-in needs it."
fi

step "Next steps"
cat >&2 <<TEXT
  Broker:     ${base_url}
  Audience:   ${audience}      (qb.yaml: audience)
  Tenant:     ${tenant_id}   (qb.yaml: tenant)

  Give identities their app roles (an agent's service principal, a person, or a group):
    scripts/assign-role.sh Query.Read  <agent app id | service principal object id>
    scripts/assign-role.sh Query.Write <agent app id | service principal object id>
    scripts/assign-role.sh Query.Approve <user@contoso.com | group object id>
    scripts/assign-role.sh Audit.Read  <user@contoso.com | group object id>

  First token for an agent (client credentials of its own app registration):
    az login --service-principal -u <agent app id> --tenant ${tenant_id} <credential> --allow-no-subscriptions
    az account get-access-token --resource ${audience} --query accessToken -o tsv

  docs/deploy.md has the rest: the first query, the first approval, locking the audit retention.
TEXT
