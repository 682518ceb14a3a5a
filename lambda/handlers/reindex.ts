/** Scheduled job: indexes every link that has no "indexed" marker. */
import { configFromEnv, type SealtrailConfig } from "../config";
import { type ReindexResult, reindexAllChains } from "../ingest/reindex";
import { createArchiveStores, type RuntimeOverrides } from "../runtime";

export function createReindexJob(
  config: SealtrailConfig,
  overrides: RuntimeOverrides = {},
): () => Promise<ReindexResult> {
  const { objects, index, logger } = createArchiveStores(config, overrides);
  return async () => {
    const result = await reindexAllChains({
      objects,
      index,
      chainCount: config.chains,
      indexTtlDays: config.indexTtlDays,
      onProblem: (message, detail) => logger.error(message, detail),
    });
    if (result.linksIndexed > 0 || result.linksRejected > 0) logger.info("reindex finished", { ...result });
    return result;
  };
}

let cached: (() => Promise<ReindexResult>) | undefined;

export async function handler(): Promise<ReindexResult> {
  cached ??= createReindexJob(configFromEnv());
  return cached();
}
