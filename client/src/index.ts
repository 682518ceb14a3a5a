/**
 * @sealtrail/client: a batching client for sealtrail's ingest API. The access-log middleware
 * lives in its own subpaths: `@sealtrail/client/express`, `/fastify`, `/node` and `/lambda`.
 */
export type {
  AuditClient,
  AuditClientOptions,
  ClientLogger,
  ClientStats,
  DroppedEvents,
  RejectedEvent,
} from "./client.js";
export { createAuditClient } from "./client.js";
export type { Clock } from "./clock.js";
export { AuditEventError, DeliveryError, type EventProblem } from "./errors.js";
export type { RetryOptions } from "./retry.js";
export type { AuditEvent, Receipt } from "./server-types.js";
export {
  type ClientCredentialsOptions,
  clientCredentials,
  type TokenFunction,
  type TokenSource,
} from "./token.js";
