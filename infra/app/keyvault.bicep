// Key Vault for the database passwords the policy names (credentials.keyVaultSecret) and the Teams
// webhook URL. RBAC mode (no access policies), soft delete with purge protection: a deleted secret
// or vault can be recovered for 90 days and cannot be purged early, not even by an owner.
param name string
param location string
param tags object = {}

@secure()
@description('Teams Workflows webhook URL; the secret is created only when a value is given')
param teamsWebhookUrl string = ''
param teamsWebhookSecretName string

@description('true: no public network access, reachable only through the private endpoint')
param privateOnly bool = false

resource vault 'Microsoft.KeyVault/vaults@2025-05-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: subscription().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
    enablePurgeProtection: true
    enabledForDeployment: false
    enabledForDiskEncryption: false
    enabledForTemplateDeployment: false
    publicNetworkAccess: privateOnly ? 'Disabled' : 'Enabled'
    networkAcls: {
      defaultAction: privateOnly ? 'Deny' : 'Allow'
      bypass: 'AzureServices'
    }
  }
}

// Written through the management plane by the deployment, so it works with public access disabled.
resource teamsWebhook 'Microsoft.KeyVault/vaults/secrets@2025-05-01' = if (!empty(teamsWebhookUrl)) {
  parent: vault
  name: teamsWebhookSecretName
  properties: {
    value: teamsWebhookUrl
    contentType: 'text/uri-list'
  }
}

output id string = vault.id
output name string = vault.name
output vaultUri string = vault.properties.vaultUri
output teamsWebhookSecretName string = teamsWebhookSecretName
