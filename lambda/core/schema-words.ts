/**
 * Why a value does not match a schema, in sealtrail's words ("must be a number, not a string")
 * rather than zod's ("Invalid input: expected number, received string"). One vocabulary for every
 * place a user reads such a reason: the ingest API's field errors (lambda/core/validation.ts), the
 * query API's parameter errors (lambda/query/params.ts) and the verifier's findings
 * (`describeSchemaIssues`). What differs between those places is said once per place in an
 * `IssueWording`; the rest is worded here.
 */
import type * as z from "zod";
import { formatJsonPath } from "./json-text";

/** A finished issue, or one an error map is asked to word. */
type Issue = z.core.$ZodIssue | z.core.$ZodRawIssue;

/** What differs between the places that word issues. */
export interface IssueWording {
  /** What is said of a value that is absent, given what it must be ("a string"). */
  readonly missing: (expected: string) => string;
  /**
   * Whether a wrong value is shown ('a string ("x")', "the number 3") or only named by its kind
   * ("a string", "3").
   */
  readonly showValues: boolean;
  /** For an issue this module has no words of its own for. */
  readonly otherwise: string;
}

/** zod's type names in plain words. */
const TYPE_WORDS: Readonly<Record<string, string>> = {
  string: "a string",
  number: "a number",
  int: "a whole number",
  boolean: "true or false",
  object: "a JSON object",
  array: "an array",
  null: "null",
};

/** What a schema expects ("int"), in plain words ("a whole number"). */
export function typeWords(expected: string): string {
  return TYPE_WORDS[expected] ?? expected;
}

/** The most characters of a value a message shows: enough to recognize it, too few to swamp it. */
const MAX_SHOWN_CHARACTERS = 40;

/** A value quoted for a message, bounded and with control characters escaped: `"abc"`, `"aaa…"`. */
export function quoted(value: unknown): string {
  const text = typeof value === "string" ? value : String(value);
  return JSON.stringify(
    text.length > MAX_SHOWN_CHARACTERS ? `${text.slice(0, MAX_SHOWN_CHARACTERS)}…` : text,
  );
}

/** What was given instead, for "must be X, not Y". */
export function givenWords(value: unknown, showValues: boolean): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "string") return showValues ? `a string (${quoted(value)})` : "a string";
  if (typeof value === "number") {
    if (!showValues) return String(value);
    return `${Number.isInteger(value) ? "the number" : "the fraction"} ${value}`;
  }
  if (typeof value === "boolean") return String(value);
  return typeof value === "object" ? "an object" : typeof value;
}

function counted(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? "" : "s"}`;
}

/** A length or size bound: "must not be empty", "must be at most 64 characters", "must be more than 0". */
function boundWords(origin: string, side: "least" | "most", limit: number, inclusive: boolean): string {
  if (origin === "string" && side === "least" && limit === 1 && inclusive) return "must not be empty";
  const n = inclusive ? limit : side === "least" ? limit + 1 : limit - 1;
  if (origin === "string") return `must be at ${side} ${counted(n, "character")}`;
  if (origin === "array" || origin === "set") return `must have at ${side} ${counted(n, "item")}`;
  return inclusive
    ? `must be at ${side} ${limit}`
    : `must be ${side === "least" ? "more" : "less"} than ${limit}`;
}

/**
 * What is wrong, as a predicate of the field ("must be a string, not the number 3"), for an issue
 * whose schema gave no words of its own. `value` is the value found at the issue's path: undefined
 * means the field is absent (JSON has no undefined), which tells a missing field from a wrong type.
 */
export function issueWords(issue: Issue, value: unknown, wording: IssueWording): string {
  switch (issue.code) {
    case "invalid_type": {
      const expected = typeWords(issue.expected);
      return value === undefined
        ? wording.missing(expected)
        : `must be ${expected}, not ${givenWords(value, wording.showValues)}`;
    }
    case "invalid_value": {
      const values = issue.values.map(String);
      return values.length === 1 ? `must be ${values[0]}` : `must be one of ${values.join(", ")}`;
    }
    case "too_small":
      return boundWords(issue.origin, "least", Number(issue.minimum), issue.inclusive !== false);
    case "too_big":
      return boundWords(issue.origin, "most", Number(issue.maximum), issue.inclusive !== false);
    case "invalid_format":
      return `must be a valid ${issue.format}`;
    case "invalid_union":
      return "matches none of the forms this field allows";
    default:
      return wording.otherwise;
  }
}

/** The verifier's sentences name the field and say what is wrong, without showing values. */
const SENTENCE_WORDING: IssueWording = {
  missing: () => "is missing",
  showValues: false,
  otherwise: "is not valid",
};

/**
 * One sentence per issue of a parse that used zod's own messages (at most `limit`, then how many
 * more), joined by "; ": "batch.leaf_index must be a number, not a string". `whole` names the
 * value itself, for issues about it rather than one of its fields: "the bundle", "the line".
 */
export function describeSchemaIssues(error: z.ZodError, input: unknown, whole: string, limit = 3): string {
  const sentences = error.issues.flatMap((issue) => issueSentences(issue, input, whole));
  const shown = sentences.slice(0, limit);
  const more = sentences.length - shown.length;
  return `${shown.join("; ")}${more > 0 ? `; and ${more} more` : ""}`;
}

function issueSentences(issue: z.core.$ZodIssue, input: unknown, whole: string): string[] {
  const field = fieldName(issue.path, whole);
  if (issue.code === "unrecognized_keys") {
    return issue.keys.map(
      (key) => `${fieldName([...issue.path, key], whole)} is not a field of ${field}; remove it`,
    );
  }
  // The schema's own messages are written in sealtrail's words already ("must not be empty");
  // zod's own start with "Invalid".
  if (issue.message.startsWith("must ")) return [`${field} ${issue.message}`];
  if (issue.code === "invalid_format" && !issue.message.startsWith("Invalid")) {
    return [`${field} is not valid: ${issue.message}`];
  }
  // zod 4 leaves the offending value out of an issue unless asked: look it up in the input.
  return [`${field} ${issueWords(issue, valueAt(input, issue.path), SENTENCE_WORDING)}`];
}

/** `batch.audit_path[2]`, or `whole` for the value itself. */
function fieldName(path: readonly PropertyKey[], whole: string): string {
  if (path.length === 0) return whole;
  return formatJsonPath(path.map((part) => (typeof part === "number" ? part : String(part))));
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let value = input;
  for (const part of path) {
    if (value === null || typeof value !== "object") return undefined;
    value = (value as Record<PropertyKey, unknown>)[part];
  }
  return value;
}
