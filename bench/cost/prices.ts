/**
 * The list prices the cost benchmark multiplies by: us-east-1, on-demand, no free tier, no discount.
 * From AWS's public pricing pages (below), as published when this table was dated; the machines that
 * run the benchmark have no internet, so the table is not fetched, and a change of price is a change
 * to this file (and to docs/cost.md, which shows it).
 */
export const PRICES = {
  dated: "2026-12-07",
  region: "us-east-1",
  sources: {
    lambda: "https://aws.amazon.com/lambda/pricing/",
    apiGateway: "https://aws.amazon.com/api-gateway/pricing/",
    s3: "https://aws.amazon.com/s3/pricing/",
    dynamodb: "https://aws.amazon.com/dynamodb/pricing/on-demand/",
    kms: "https://aws.amazon.com/kms/pricing/",
    cloudtrail: "https://aws.amazon.com/cloudtrail/pricing/",
  },
  lambda: {
    /** Arm64, per GB-second of duration (first pricing tier). */
    perGbSecond: 0.0000133334,
    perRequest: 0.2 / 1e6,
  },
  apiGateway: {
    /** HTTP API, first 300 million requests a month; each started 512 KB of a request counts as one. */
    perRequest: 1.0 / 1e6,
    meteringBytes: 512 * 1024,
  },
  s3: {
    /** S3 Standard: PUT, COPY, POST and LIST requests. */
    perPut: 0.005 / 1000,
    perList: 0.005 / 1000,
    /** GET, SELECT and every other request. */
    perGet: 0.0004 / 1000,
    /** First 50 TB a month. */
    perGbMonth: 0.023,
  },
  dynamodb: {
    /** On-demand, since the November 2024 reduction. */
    perWriteUnit: 0.625 / 1e6,
    perReadUnit: 0.125 / 1e6,
    /** Standard table class. */
    perGbMonth: 0.25,
    /** Continuous backups (point-in-time recovery), on the table's size. */
    pitrPerGbMonth: 0.2,
    /** Bytes DynamoDB adds to each item (and each GSI copy) for storage billing. */
    itemOverheadBytes: 100,
  },
  kms: {
    perRequest: 0.03 / 10_000,
    perKeyMonth: 1,
  },
  cloudtrail: {
    /** Data events delivered to S3: $0.10 per 100,000. */
    perDataEvent: 0.1 / 100_000,
  },
} as const;

export const GB = 1024 ** 3;
export const MONTHS = { oneYear: 12, sevenYears: 84 } as const;
