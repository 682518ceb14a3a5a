/**
 * What a function's own code publishes as CloudWatch metrics, checked against the alarm the stack
 * creates: run `act` under the function's deployed environment with metrics on (vitest turns them
 * off), capture stdout where Powertools writes its EMF documents, and hold a document to the alarm's
 * namespace, metric name and dimensions. A renamed metric or dimension fails here, not in production.
 */
import { expect, vi } from "vitest";

export type EmfDocument = {
  _aws: { CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string }[] }[] };
} & Record<string, unknown>;

/** The EMF documents `act` writes, with `environment` (a function's Variables) in place. */
export function emfDocumentsOf(environment: Record<string, string>, act: () => void): EmfDocument[] {
  for (const [name, value] of Object.entries(environment)) vi.stubEnv(name, value);
  vi.stubEnv("POWERTOOLS_METRICS_DISABLED", "false");
  const lines: string[] = [];
  const write = vi.spyOn(process.stdout, "write").mockImplementation((chunk) => {
    lines.push(String(chunk));
    return true;
  });
  try {
    act();
  } finally {
    write.mockRestore();
    vi.unstubAllEnvs();
  }
  return lines.map((line) => JSON.parse(line) as EmfDocument);
}

/** The document publishes the alarm's metric in its namespace, with its dimension names and values. */
export function expectEmfFeedsAlarm(document: EmfDocument | undefined, alarm: Record<string, unknown>): void {
  const dimensions = alarm.Dimensions as { Name: string; Value: string }[];
  const [directive] = document?._aws.CloudWatchMetrics ?? [];
  expect(directive?.Namespace).toBe(alarm.Namespace);
  expect(directive?.Metrics.map((m) => m.Name)).toContain(alarm.MetricName);
  expect(directive?.Dimensions.map((set) => [...set].sort())).toEqual([dimensions.map((d) => d.Name).sort()]);
  for (const { Name, Value } of dimensions) expect(document?.[Name], Name).toBe(Value);
}
