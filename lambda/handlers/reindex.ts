/**
 * Scheduled job: indexes every link that has no "indexed" marker. A link it cannot index is logged and
 * counted (REINDEX_METRICS, watched by the stack's alarms) and the run goes on; a chain it cannot read
 * at all fails the invocation once every other chain is done, so the errors alarm sees an outage.
 */
import { Metrics, MetricUnit } from "@aws-lambda-powertools/metrics";
import { REINDEX_METRICS, type ReindexResult, reindexAllChains } from "../ingest/reindex";
import { configFromEnv, type SealtrailConfig } from "../runtime/config";
import { createArchiveStores, type RuntimeOverrides } from "../runtime/wiring";

/** What the job needs of Powertools' Metrics (tests pass a recorder). */
export interface ReindexMetricsSink {
  addMetric(name: string, unit: Parameters<Metrics["addMetric"]>[1], value: number): unknown;
  publishStoredMetrics(): unknown;
}

export interface ReindexJobOptions {
  readonly metrics?: ReindexMetricsSink;
}

/** Some chains could not be read: everything else was indexed, these are tried again next run. */
export class ReindexIncompleteError extends Error {
  constructor(readonly result: ReindexResult) {
    super(
      `reindex could not read chain(s) ${result.chainsFailed.join(", ")}; the next run tries again ` +
        "(see the logged errors)",
    );
    this.name = "ReindexIncompleteError";
  }
}

/** The job's metrics as the stack's alarms watch them (REINDEX_METRICS: namespace, `service` dimension). */
export function createReindexMetrics(): Metrics {
  return new Metrics({ namespace: REINDEX_METRICS.namespace, serviceName: REINDEX_METRICS.service });
}

export function createReindexJob(
  config: SealtrailConfig,
  overrides: RuntimeOverrides = {},
  options: ReindexJobOptions = {},
): () => Promise<ReindexResult> {
  const { objects, index, logger } = createArchiveStores(config, overrides);
  const metrics = options.metrics ?? createReindexMetrics();
  return async () => {
    const result = await reindexAllChains({
      objects,
      index,
      chainCount: config.chains,
      indexTtlDays: config.indexTtlDays,
      onProblem: (message, detail) => logger.error(message, detail),
    });
    metrics.addMetric(REINDEX_METRICS.linksIndexed, MetricUnit.Count, result.linksIndexed);
    metrics.addMetric(REINDEX_METRICS.linksRejected, MetricUnit.Count, result.linksRejected);
    metrics.addMetric(REINDEX_METRICS.linksFailed, MetricUnit.Count, result.linksFailed);
    metrics.publishStoredMetrics();
    const eventful =
      result.linksIndexed > 0 ||
      result.linksRejected > 0 ||
      result.linksFailed > 0 ||
      result.chainsFailed.length > 0;
    if (eventful) logger.info("reindex finished", { ...result });
    if (result.chainsFailed.length > 0) throw new ReindexIncompleteError(result);
    return result;
  };
}

let cached: (() => Promise<ReindexResult>) | undefined;

export async function handler(): Promise<ReindexResult> {
  cached ??= createReindexJob(configFromEnv());
  return cached();
}
