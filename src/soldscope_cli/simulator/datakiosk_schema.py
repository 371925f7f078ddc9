"""The part of Amazon's analytics_salesAndTraffic_2024_04_24 schema the simulator serves, as SDL.

The same names, types and arguments as Amazon's file (models/analytics_salesAndTraffic_2024_04_24
.graphql, which the package does not ship); a conformance test holds this text against it, so a
query the simulator accepts is one Amazon's schema accepts.
"""

from __future__ import annotations

SDL = """
schema { query: Query }

directive @resultRetention(duration: String!) on FIELD_DEFINITION

scalar Date
scalar Long

type Query {
  analytics_salesAndTraffic_2024_04_24: Analytics_SalesAndTraffic_2024_04_24
}

enum AsinGranularity { CHILD PARENT SKU }
enum DateGranularity { DAY MONTH WEEK }

type Amount {
  amount: Float!
  currencyCode: String!
}

type Analytics_SalesAndTraffic_2024_04_24 {
  salesAndTrafficByAsin(
    aggregateBy: AsinGranularity!, endDate: Date!, marketplaceIds: [String!]!, startDate: Date!
  ): [SalesAndTrafficByAsin]
  salesAndTrafficByDate(
    aggregateBy: DateGranularity!, endDate: Date!, marketplaceIds: [String!]!, startDate: Date!
  ): [SalesAndTrafficByDate]
}

type ByDateSales {
  averageSalesPerOrderItem: Amount! @resultRetention(duration: "P30D")
  averageSellingPrice: Amount! @resultRetention(duration: "P30D")
  orderedProductSales: Amount! @resultRetention(duration: "P30D")
  orderedProductSalesB2B: Amount @resultRetention(duration: "P30D")
  ordersShipped: Long! @resultRetention(duration: "P30D")
  refundRate: Float! @resultRetention(duration: "P30D")
  totalOrderItems: Long! @resultRetention(duration: "P30D")
  unitsOrdered: Long! @resultRetention(duration: "P30D")
  unitsRefunded: Long! @resultRetention(duration: "P30D")
  unitsShipped: Long! @resultRetention(duration: "P30D")
}

type ByDateTraffic {
  browserPageViews: Long! @resultRetention(duration: "P30D")
  browserSessions: Long! @resultRetention(duration: "P30D")
  buyBoxPercentage: Float! @resultRetention(duration: "P30D")
  mobileAppPageViews: Long! @resultRetention(duration: "P30D")
  mobileAppSessions: Long! @resultRetention(duration: "P30D")
  orderItemSessionPercentage: Float! @resultRetention(duration: "P30D")
  pageViews: Long! @resultRetention(duration: "P30D")
  sessions: Long! @resultRetention(duration: "P30D")
  unitSessionPercentage: Float! @resultRetention(duration: "P30D")
}

type ByAsinSales {
  orderedProductSales: Amount! @resultRetention(duration: "P30D")
  orderedProductSalesB2B: Amount @resultRetention(duration: "P30D")
  totalOrderItems: Long! @resultRetention(duration: "P30D")
  unitsOrdered: Long! @resultRetention(duration: "P30D")
  unitsRefunded: Long! @resultRetention(duration: "P30D")
  refundRate: Float! @resultRetention(duration: "P30D")
}

type ByAsinTraffic {
  browserPageViews: Long! @resultRetention(duration: "P30D")
  buyBoxPercentage: Float! @resultRetention(duration: "P30D")
  mobileAppPageViews: Long! @resultRetention(duration: "P30D")
  pageViews: Long! @resultRetention(duration: "P30D")
  sessions: Long! @resultRetention(duration: "P30D")
  unitSessionPercentage: Float! @resultRetention(duration: "P30D")
}

type SalesAndTrafficByDate {
  endDate: Date! @resultRetention(duration: "P30D")
  marketplaceId: String! @resultRetention(duration: "P30D")
  sales: ByDateSales!
  startDate: Date! @resultRetention(duration: "P30D")
  traffic: ByDateTraffic!
}

type SalesAndTrafficByAsin {
  childAsin: String @resultRetention(duration: "P30D")
  endDate: Date! @resultRetention(duration: "P30D")
  marketplaceId: String! @resultRetention(duration: "P30D")
  parentAsin: String! @resultRetention(duration: "P30D")
  sales: ByAsinSales!
  sku: String @resultRetention(duration: "P30D")
  startDate: Date! @resultRetention(duration: "P30D")
  traffic: ByAsinTraffic!
}
"""
