// App settings and App Service Authentication of the Function App.
//
// App settings = the broker's own settings (passed in from main.bicep, exactly the names in
// src/settings.ts) + the Functions host's settings below. Every connection is identity-based:
// `<connection>__credential: managedidentity` + `__clientId` selects the user-assigned identity.
//
// App Service Authentication (Easy Auth) serves the approval page's browser sign-in only: it runs
// the Entra ID login (/.auth/login/aad) and keeps the session, while every request, signed in or
// not, still reaches the broker, which verifies bearer tokens itself (unauthenticated requests
// are allowed through; see docs/deploy.md for why). It authenticates to Entra ID with the managed
// identity as a federated credential of the app registration: no client secret exists.
param functionAppName string

@description('The broker settings (src/settings.ts), built in main.bicep')
param appSettings object
param identityClientId string
param hostStorageName string

@description('Fully qualified Service Bus namespace for the notifier trigger connection')
param serviceBusNamespace string
param appInsightsName string

param tenantId string
@description('Client id of the broker app registration; empty leaves App Service Authentication off')
param apiClientId string = ''
param apiAudience string

resource functionApp 'Microsoft.Web/sites@2024-11-01' existing = {
  name: functionAppName
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: appInsightsName
}

var authEnabled = !empty(apiClientId)

// The agent API: bearer tokens only, verified by the broker. Easy Auth never looks at these.
var agentApiPaths = [
  '/api/query'
  '/api/requests/*'
  '/api/mcp'
  '/api/connections'
  '/api/connections/*'
  '/api/sessions'
  '/api/sessions/*'
  '/api/openapi.json'
  '/api/health'
  '/api/.well-known/*'
]

var hostSettings = {
  // Host storage and the Durable Functions task hub (host.json: storageProvider AzureWebJobsStorage).
  AzureWebJobsStorage__accountName: hostStorageName
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identityClientId
  // The notifier's Service Bus trigger names this connection (connection: 'ServiceBusConnection').
  ServiceBusConnection__fullyQualifiedNamespace: serviceBusNamespace
  ServiceBusConnection__credential: 'managedidentity'
  ServiceBusConnection__clientId: identityClientId
  // The connection string only locates the component; ingestion is authorized by the identity.
  APPLICATIONINSIGHTS_CONNECTION_STRING: appInsights.properties.ConnectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'
}

// Easy Auth proves the app registration with a managed identity token (federated credential).
var federatedAuthSettings = {
  OVERRIDE_USE_MI_FIC_ASSERTION_CLIENTID: identityClientId
  WEBSITE_AUTH_AAD_ALLOWED_TENANTS: tenantId
}

resource settings 'Microsoft.Web/sites/config@2024-11-01' = {
  parent: functionApp
  name: 'appsettings'
  properties: union(appSettings, hostSettings, authEnabled ? federatedAuthSettings : {})
}

resource authentication 'Microsoft.Web/sites/config@2024-11-01' = if (authEnabled) {
  parent: functionApp
  name: 'authsettingsV2'
  // The federated-credential setting must exist before the provider that names it.
  dependsOn: [
    settings
  ]
  properties: {
    platform: {
      enabled: true
    }
    globalValidation: {
      // Agents call with bearer tokens the broker verifies itself; health and OpenAPI are public.
      requireAuthentication: false
      unauthenticatedClientAction: 'AllowAnonymous'
      // Easy Auth validates every bearer token it sees and answers 401 itself when one does not fit
      // its configuration. The agent API never reaches it: the broker is the only judge there.
      // Easy Auth fronts the human pages only (/api/approvals/*, /.auth/*).
      excludedPaths: agentApiPaths
    }
    httpSettings: {
      requireHttps: true
      forwardProxy: {
        convention: 'NoProxy'
      }
    }
    identityProviders: {
      azureActiveDirectory: {
        enabled: true
        registration: {
          clientId: apiClientId
          clientSecretSettingName: 'OVERRIDE_USE_MI_FIC_ASSERTION_CLIENTID'
          // The app registration issues v1 access tokens (requestedAccessTokenVersion 1, issuer
          // https://sts.windows.net/{tenant}/): the issuer here matches them, so an approver's bearer
          // token on the approval routes (qb approve) is not refused by the platform.
          openIdIssuer: 'https://sts.windows.net/${tenantId}/'
        }
        login: {
          // The sign-in also yields an access token for the broker API itself (aud = the audience,
          // v1 endpoint: `resource`), which the approval page verifies exactly like an agent's
          // bearer token (X-MS-TOKEN-AAD-ACCESS-TOKEN, signature checked by the broker).
          loginParameters: [
            'resource=${apiAudience}'
          ]
        }
        validation: {
          allowedAudiences: [
            apiAudience
            apiClientId
          ]
        }
      }
    }
    login: {
      tokenStore: {
        enabled: true
      }
      preserveUrlFragmentsForLogins: false
      cookieExpiration: {
        convention: 'FixedTime'
        timeToExpiration: '08:00:00'
      }
      nonce: {
        validateNonce: true
        nonceExpirationInterval: '00:05:00'
      }
    }
  }
}

output authEnabled bool = authEnabled
