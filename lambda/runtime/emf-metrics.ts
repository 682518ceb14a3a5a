/**
 * The access metrics' adapter: the services record points (lambda/core/metrics.ts) during a request, the
 * handler publishes them once it has answered, through Powertools Metrics (EMF lines on stdout, which
 * CloudWatch turns into metrics). Powertools gives every metric of one publish the same dimensions, so
 * the points are published in one EMF document per dimension set.
 */
import { Metrics, MetricUnit } from "@aws-lambda-powertools/metrics";
import { type AccessMetrics, METRICS_NAMESPACE, type MetricPoint } from "../core/metrics";

/** What the adapter needs of Powertools' Metrics (a Metrics instance is one). */
export interface MetricsSink {
  addDimension(name: string, value: string): unknown;
  addMetric(name: string, unit: Parameters<Metrics["addMetric"]>[1], value: number): unknown;
  publishStoredMetrics(): unknown;
}

/** Powertools Metrics of one sealtrail function: the namespace, and `service` as the alarms expect it. */
export function powertoolsMetrics(service: string): Metrics {
  return new Metrics({ namespace: METRICS_NAMESPACE, serviceName: service });
}

/** Points held until `publish`, summed per metric and dimension set. */
export class BufferedAccessMetrics implements AccessMetrics {
  private readonly pending = new Map<
    string,
    { dimensions: Readonly<Record<string, string>>; sums: Map<string, number> }
  >();

  /** `onError` hears a publish that failed: metrics never fail the request they describe. */
  constructor(
    private readonly sink: MetricsSink,
    private readonly onError: (error: unknown) => void = () => {},
  ) {}

  record(point: MetricPoint): void {
    const dimensions = Object.entries(point.dimensions).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    const key = JSON.stringify(dimensions);
    const group = this.pending.get(key) ?? { dimensions: point.dimensions, sums: new Map() };
    group.sums.set(point.metric.name, (group.sums.get(point.metric.name) ?? 0) + point.value);
    this.pending.set(key, group);
  }

  /** One EMF document per dimension set recorded since the last publish; nothing when none was. */
  publish(): void {
    const groups = [...this.pending.values()];
    this.pending.clear();
    for (const { dimensions, sums } of groups) {
      try {
        for (const [name, value] of Object.entries(dimensions)) this.sink.addDimension(name, value);
        for (const [name, value] of sums) this.sink.addMetric(name, MetricUnit.Count, value);
      } catch (error) {
        this.onError(error);
      } finally {
        try {
          // Also clears the dimensions added above (the default `service` dimension stays).
          this.sink.publishStoredMetrics();
        } catch (error) {
          this.onError(error);
        }
      }
    }
  }
}
