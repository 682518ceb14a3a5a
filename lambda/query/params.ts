/**
 * Query-string parsing for the query API: the zod schemas of lambda/core/api-schema.ts plus the
 * rules that span parameters. Every refusal is a 400 whose `code` says what is wrong and whose
 * `parameter` names the parameter.
 */
import * as z from "zod";
import { type ListEventsQuery, ListEventsQuerySchema } from "../core/api-schema";
import { issueWords, quoted, typeWords } from "../core/schema-words";
import { type ApiResponse, errorResponse } from "../runtime/http";

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
      return invalid(
        "duplicate_parameter",
        name,
        `the parameter ${name} is given more than once: give it once (a search takes one value per filter)`,
      );
    }
    parameters[name] = value;
  }
  return { ok: true, value: parameters };
}

/** Stands in for zod's own wording: where a schema gave no message, params.ts words it. */
const UNWORDED = "\u0000unworded";

/**
 * What a parameter must be, in sealtrail's words, for an issue its schema did not word. A number
 * arrives as text, so its whole range is said at once ("a whole number from 1 to 1000"), whatever
 * was wrong with it.
 */
function requirement(
  schema: z.ZodType | undefined,
  issue: z.core.$ZodIssue,
  given: string | undefined,
): string {
  const json = schema ? (z.toJSONSchema(schema, { io: "input", unrepresentable: "any" }) as JsonSchema) : {};
  if (issue.code !== "invalid_value" && (json.type === "integer" || json.type === "number")) {
    const kind = typeWords(json.type === "integer" ? "int" : "number");
    if (json.minimum !== undefined && json.maximum !== undefined)
      return `must be ${kind} from ${json.minimum} to ${json.maximum}`;
    if (json.minimum !== undefined) return `must be ${kind} of at least ${json.minimum}`;
    if (json.maximum !== undefined) return `must be ${kind} of at most ${json.maximum}`;
    return `must be ${kind}`;
  }
  return issueWords(issue, given, {
    missing: (expected) => `is missing: give ${expected}`,
    showValues: true,
    otherwise: json.description ? `is not valid here (${json.description})` : "is not a valid value",
  });
}

interface JsonSchema {
  readonly type?: string;
  readonly minimum?: number;
  readonly maximum?: number;
  readonly description?: string;
}

/**
 * Validates parameters against one route's schema; the first problem is the answer. Messages name
 * the parameter and its value, say what it must be, and never pass zod's own wording through.
 */
export function parseParameters<S extends z.ZodObject>(
  schema: S,
  parameters: Record<string, string>,
): Parsed<z.output<S>> {
  const result = schema.safeParse(parameters, { error: () => UNWORDED });
  if (result.success) return { ok: true, value: result.data };
  const issue = result.error.issues[0] as z.core.$ZodIssue;
  const accepted = Object.keys(schema.shape);
  if (issue.code === "unrecognized_keys") {
    const name = issue.keys[0] as string;
    const takes =
      accepted.length === 0 ? "this route takes no parameters" : `this route takes ${accepted.join(", ")}`;
    return invalid("unknown_parameter", name, `unknown parameter "${name}": ${takes}`);
  }
  const name = String(issue.path[0] ?? "");
  const field = schema.shape[name] as z.ZodType | undefined;
  const value = Object.hasOwn(parameters, name) ? parameters[name] : undefined;
  const what = issue.message === UNWORDED ? requirement(field, issue, value) : issue.message;
  const given = value === undefined ? "" : ` (given: ${quoted(value)})`;
  return invalid("invalid_parameter", name, `the parameter ${name} ${what}${given}`);
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
    const [missing, given] =
      query.resource_type === undefined ? ["resource_type", "resource_id"] : ["resource_id", "resource_type"];
    return invalid(
      "missing_parameter",
      missing,
      `the parameter ${missing} is missing: ${given} narrows a search only together with ${missing}; give both`,
    );
  }
  if (query.actor_iss !== undefined && query.actor === undefined) {
    return invalid(
      "missing_parameter",
      "actor",
      "the parameter actor is missing: actor_iss narrows a search by actor; give actor as well",
    );
  }
  if (query.from !== undefined && query.to !== undefined && query.from > query.to) {
    return invalid(
      "invalid_time_range",
      "from",
      `the parameter from (${query.from}) is later than to (${query.to}): give a from that is not later than to`,
    );
  }
  const { limit, cursor, tenant, ...filters } = query;
  return { ok: true, value: { filters, limit, cursor, tenant } };
}
