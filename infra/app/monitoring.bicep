// Log Analytics + workspace-based Application Insights. Local (instrumentation key) authentication
// is disabled: the app sends telemetry with its managed identity (APPLICATIONINSIGHTS_AUTHENTICATION_STRING)
// and holds the Monitoring Metrics Publisher role on this component only.
param logAnalyticsName string
param appInsightsName string
param location string
param tags object = {}

@minValue(30)
@maxValue(730)
param retentionInDays int = 90

resource logAnalytics 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: logAnalyticsName
  location: location
  tags: tags
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: retentionInDays
  }
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: appInsightsName
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: logAnalytics.id
    IngestionMode: 'LogAnalytics'
    DisableLocalAuth: true
  }
}

output appInsightsName string = appInsights.name
output logAnalyticsId string = logAnalytics.id
