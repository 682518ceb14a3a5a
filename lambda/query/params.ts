/**
 * Query-string parsing for the query API: the zod schemas of lambda/core/api-schema.ts plus the
 * rules that span parameters. Every refusal is a 400 whose `code` says what is wrong and whose
 * `parameter` names the parameter.
 */
import type { z } from "zod";
import { type ListEventsQuery, ListEventsQuerySchema } from "../core/api-schema";
import { type ApiResponse, errorResponse } from "../http";

export type Parsed<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly response: ApiResponse };

function invalid(code: string, parameter: string, message: string): { ok: false; response: ApiResponse } {
  return { ok: false, response: errorResponse(400, code, message, { parameter }) };
}

/**
 * The parameters of the raw query string. API Gateway's `queryStringParameters` joins a repeated
 * parameter's values with commas, which a value could contain too; the raw string is unambiguous.
 */
export function queryParameters(
  rawQueryString: string | undefined,
  fallback: Readonly<Record<string, string | undefined>> | undefined,
): Parsed<Record<string, string>> {
  const parameters: Record<string, string> = {};
  if (rawQueryString === undefined) {
    for (const [name, value] of Object.entries(fallback ?? {}))
      if (value !== undefined) parameters[name] = value;
    return { ok: true, value: parameters };
  }
  for (const [name, value] of new URLSearchParams(rawQueryString)) {
    if (Object.hasOwn(parameters, name)) {
      return invalid("duplicate_parameter", name, `the parameter "${name}" is given more than once`);
    }
    parameters[name] = value;
  }
  return { ok: true, value: parameters };
}

/** Validates parameters against one route's schema; the first problem is the answer. */
export function parseParameters<S extends z.ZodType>(
  schema: S,
  parameters: Record<string, string>,
): Parsed<z.output<S>> {
  const result = schema.safeParse(parameters);
  if (result.success) return { ok: true, value: result.data };
  const issue = result.error.issues[0] as z.core.$ZodIssue;
  if (issue.code === "unrecognized_keys") {
    const name = issue.keys[0] as string;
    return invalid("unknown_parameter", name, `unknown parameter "${name}"`);
  }
  const name = String(issue.path[0] ?? "");
  return invalid("invalid_parameter", name, `${name}: ${issue.message}`);
}

/** The search filters, normalized (times in UTC with ms): what a cursor is bound to. A type, not an interface, so it is a plain record. */
export type EventFilters = {
  readonly actor?: string;
  readonly actor_iss?: string;
  readonly action?: string;
  readonly resource_type?: string;
  readonly resource_id?: string;
  readonly outcome?: string;
  readonly session_id?: string;
  readonly request_id?: string;
  readonly from?: string;
  readonly to?: string;
};

export interface ListEventsParameters {
  readonly filters: EventFilters;
  readonly limit: number;
  readonly cursor?: string;
  readonly tenant?: string;
}

/** `GET /v1/events`: schema, then the rules between parameters. */
export function parseListEvents(parameters: Record<string, string>): Parsed<ListEventsParameters> {
  const parsed = parseParameters(ListEventsQuerySchema, parameters);
  if (!parsed.ok) return parsed;
  const query: ListEventsQuery = parsed.value;
  if ((query.resource_type === undefined) !== (query.resource_id === undefined)) {
    const missing = query.resource_type === undefined ? "resource_type" : "resource_id";
    return invalid("missing_parameter", missing, "resource_type and resource_id are given together");
  }
  if (query.actor_iss !== undefined && query.actor === undefined) {
    return invalid("missing_parameter", "actor", "actor_iss narrows an actor: give actor as well");
  }
  if (query.from !== undefined && query.to !== undefined && query.from > query.to) {
    return invalid("invalid_time_range", "from", "from must not be later than to");
  }
  const { limit, cursor, tenant, ...filters } = query;
  return { ok: true, value: { filters, limit, cursor, tenant } };
}
