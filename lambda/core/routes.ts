/**
 * The route keys of the HTTP API, as API Gateway names them (`METHOD /path`): defined once for the stack
 * (lib/sealtrail.ts, lib/query.ts), the query handler and local mode (bin/local.ts).
 *
 * Pure data (and how to split a key) with no imports, so the CDK app can read the routes without loading any handler or AWS SDK
 * code (test/infra/lib-imports.test.ts keeps lib/ off lambda/handlers/).
 */

/** The write route: the ingest function serves it, with the write scope. */
export const INGEST_ROUTE = "POST /v1/events";

/** The read routes: the query function serves them, each with the read scope. */
export const QUERY_ROUTES = [
  "GET /v1/events",
  "GET /v1/events/{id}",
  "GET /v1/events/{id}/proof",
  "GET /v1/checkpoints/latest",
] as const;
export type QueryRouteKey = (typeof QUERY_ROUTES)[number];

/**
 * The data-subject routes, present only when privacy is on; the query function serves them.
 * Erasure needs the erase scope, a legal hold the admin scope.
 */
export const SUBJECT_ROUTES = {
  erase: "POST /v1/subjects/erase",
  hold: "POST /v1/subjects/hold",
} as const;
export type SubjectRouteKey = (typeof SUBJECT_ROUTES)[keyof typeof SUBJECT_ROUTES];

/** The method and the path of a route key: `POST /v1/subjects/erase` → POST, /v1/subjects/erase. */
export function routeParts(routeKey: string): { readonly method: string; readonly path: string } {
  const space = routeKey.indexOf(" ");
  return { method: routeKey.slice(0, space), path: routeKey.slice(space + 1) };
}
