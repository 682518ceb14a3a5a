/** Records what a job emits through Powertools' Metrics, for tests: the sum per metric name, and publishes. */
import type { ReindexMetricsSink } from "../../lambda/handlers/reindex";

export interface MetricsRecorder extends ReindexMetricsSink {
  /** Sum of every value added per metric name since the recorder was made. */
  values(): Record<string, number>;
  readonly published: () => number;
}

export function metricsRecorder(): MetricsRecorder {
  const sums: Record<string, number> = {};
  let published = 0;
  return {
    addMetric(name: string, _unit: unknown, value: number) {
      sums[name] = (sums[name] ?? 0) + value;
    },
    publishStoredMetrics() {
      published++;
    },
    values: () => ({ ...sums }),
    published: () => published,
  };
}
