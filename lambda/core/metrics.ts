/**
 * The access-pattern metrics of the write and read paths: their names, the function (Powertools
 * `service` dimension) that emits each, and their other dimensions, defined once for the handlers that
 * emit them and the stack's alarms and dashboard (lib/alarms.ts), which build their CloudWatch metrics
 * from the same points. Also the names of the checkpoint signer's and the reindex job's metrics, for
 * their handlers and the alarms in lib/ alike.
 *
 * No runtime imports (type-only ones aside): lib/ reads these names without loading handler code.
 *
 * Every dimension is low-cardinality by construction: a refusal reason out of a fixed list, a watched
 * pattern out of the configured list, an outcome out of OUTCOMES. Never a tenant, actor or resource id:
 * each distinct dimension value is a metric of its own (and a cost), and ids belong in the archive.
 */
import type { IngestErrorCode } from "./ingest-errors";
import type { Outcome } from "./watched-actions";

/** POWERTOOLS_METRICS_NAMESPACE of every sealtrail function. */
export const METRICS_NAMESPACE = "Sealtrail";

/** The `service` dimension Powertools adds to every metric: the emitting function's service name. */
export const SERVICE_DIMENSION = "service";

/** Service names (POWERTOOLS_SERVICE_NAME) of the functions that emit access metrics. */
export const METRIC_SERVICES = {
  ingest: "sealtrail-ingest",
  query: "sealtrail-query",
} as const;

/**
 * The checkpoint signer's metrics (lambda/handlers/checkpoint.ts emits them, one data point per run;
 * lib/checkpoint.ts builds the alarms' metrics from them).
 */
export const CHECKPOINT_METRICS = {
  namespace: METRICS_NAMESPACE,
  /** The `service` dimension Powertools adds: the function's POWERTOOLS_SERVICE_NAME. */
  service: "sealtrail-checkpoint",
  signed: "CheckpointSigned",
  /** Links the signed checkpoint covers beyond the previous one. */
  newLinks: "CheckpointNewLinks",
  /** Another run wrote the checkpoint first: harmless, the next run goes on from it. */
  raced: "CheckpointRaced",
  /** The archive does not extend the last signed checkpoint: possibly tampering. */
  refused: "CheckpointRefused",
} as const;

/**
 * The reindex job's metrics (lambda/handlers/reindex.ts emits them, one data point each per run; the
 * stack's alarms in lib/ watch them).
 */
export const REINDEX_METRICS = {
  namespace: METRICS_NAMESPACE,
  /** The `service` dimension Powertools adds: the function's POWERTOOLS_SERVICE_NAME. */
  service: "sealtrail-reindex",
  linksIndexed: "ReindexLinksIndexed",
  /** Links whose batch object is missing or does not match them: for the verifier, possibly tampering. */
  linksRejected: "ReindexLinksRejected",
  /** Links whose events could not be written to the index: missing from search until a run succeeds. */
  linksFailed: "ReindexLinksFailed",
} as const;

/** The ingest refusals of a forwarded subject token (lambda/ingest/subject-token.ts answers them). */
export const SUBJECT_TOKEN_REFUSALS = [
  "invalid_subject_token",
  "subject_token_tenant_mismatch",
] as const satisfies readonly IngestErrorCode[];
export type SubjectTokenRefusal = (typeof SUBJECT_TOKEN_REFUSALS)[number];

export function isSubjectTokenRefusal(code: unknown): code is SubjectTokenRefusal {
  return SUBJECT_TOKEN_REFUSALS.includes(code as SubjectTokenRefusal);
}

/** Dimension names besides `service`. */
export const METRIC_DIMENSIONS = {
  /** SubjectTokensRefused: the error code answered (SUBJECT_TOKEN_REFUSALS). */
  reason: "reason",
  /** WatchedActions: the watched pattern that matched (never the action itself). */
  pattern: "pattern",
  /** WatchedActions: the event's outcome. */
  outcome: "outcome",
} as const;

/** Every access metric: its name and the service that emits it. All are counts. */
export const ACCESS_METRICS = {
  /** Events acknowledged by `POST /v1/events` (replays of an idempotent request are not counted again). */
  eventsIngested: { name: "EventsIngested", service: METRIC_SERVICES.ingest },
  /** `POST /v1/events` requests refused for their forwarded subject token, by `reason`. */
  subjectTokensRefused: { name: "SubjectTokensRefused", service: METRIC_SERVICES.ingest },
  /** Acknowledged events matching a watched pattern, by `pattern` and `outcome`. */
  watchedActions: { name: "WatchedActions", service: METRIC_SERVICES.ingest },
  /** Answered reads, each archived as one `audit.read` event. */
  reads: { name: "AuditReads", service: METRIC_SERVICES.query },
  /** Records (or checkpoints, proofs) the answered reads returned. */
  recordsRead: { name: "RecordsRead", service: METRIC_SERVICES.query },
  /** Answered reads of another tenant than the caller's own, with the admin scope. */
  crossTenantReads: { name: "CrossTenantReads", service: METRIC_SERVICES.query },
} as const;

export type AccessMetric = (typeof ACCESS_METRICS)[keyof typeof ACCESS_METRICS];

/** One data point: a count of `metric` with these dimensions (besides `service`). */
export interface MetricPoint {
  readonly metric: AccessMetric;
  readonly value: number;
  readonly dimensions: Readonly<Record<string, string>>;
}

/** The points, built one way for the emitter and the alarms. */
export const accessMetricPoints = {
  eventsIngested: (count: number): MetricPoint => ({
    metric: ACCESS_METRICS.eventsIngested,
    value: count,
    dimensions: {},
  }),
  subjectTokenRefused: (reason: SubjectTokenRefusal): MetricPoint => ({
    metric: ACCESS_METRICS.subjectTokensRefused,
    value: 1,
    dimensions: { [METRIC_DIMENSIONS.reason]: reason },
  }),
  watchedAction: (pattern: string, outcome: Outcome, count: number): MetricPoint => ({
    metric: ACCESS_METRICS.watchedActions,
    value: count,
    dimensions: { [METRIC_DIMENSIONS.pattern]: pattern, [METRIC_DIMENSIONS.outcome]: outcome },
  }),
  read: (): MetricPoint => ({ metric: ACCESS_METRICS.reads, value: 1, dimensions: {} }),
  recordsRead: (count: number): MetricPoint => ({
    metric: ACCESS_METRICS.recordsRead,
    value: count,
    dimensions: {},
  }),
  crossTenantRead: (): MetricPoint => ({ metric: ACCESS_METRICS.crossTenantReads, value: 1, dimensions: {} }),
} as const;

/** Where the services report their metrics (the port; lambda/runtime/emf-metrics.ts is the Powertools adapter). */
export interface AccessMetrics {
  record(point: MetricPoint): void;
}

/** Counts nothing: for callers that do not publish metrics. */
export const NO_ACCESS_METRICS: AccessMetrics = { record() {} };
