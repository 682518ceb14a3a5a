/**
 * Finds what JSON.parse would silently change in a JSON text, and what sealtrail refuses anywhere
 * in a body: nesting deeper than a bound, duplicate keys (JSON.parse keeps the last one), numbers
 * a double cannot hold exactly (JSON.parse rounds them), keys that reach an object's prototype, and
 * strings with unpaired surrogates (not encodable as UTF-8). An archive stores what it was sent or
 * refuses it; these are the ways a parsed body differs from its text.
 *
 * One pass over the text with an explicit stack: no recursion, so no depth can overflow it. The
 * text must already be valid JSON (JSON.parse succeeded); the scanner does not check syntax.
 */

export type JsonPathSegment = string | number;

export type JsonTextProblemCode =
  | "nesting_too_deep"
  | "duplicate_key"
  | "imprecise_number"
  | "forbidden_key"
  | "invalid_unicode";

export interface JsonTextProblem {
  readonly code: JsonTextProblemCode;
  /** Where, from the root: object keys and array indexes. */
  readonly path: readonly JsonPathSegment[];
  readonly message: string;
}

export interface JsonTextLimits {
  /** Objects and arrays nested deeper than this are refused (the root container is level 1). */
  readonly maxDepth: number;
  /** The scan stops once this many problems are found. */
  readonly maxProblems: number;
}

/** Keys that could reach an object's prototype when a consumer merges the JSON carelessly. */
export const FORBIDDEN_KEYS: ReadonlySet<string> = new Set(["__proto__", "constructor", "prototype"]);

interface Frame {
  readonly isObject: boolean;
  /** Keys seen so far (objects only). */
  readonly keys: Set<string> | undefined;
  /** The current member's key (objects) or index (arrays). */
  segment: JsonPathSegment;
  /** Objects: the next string is a key. */
  expectKey: boolean;
}

const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
/**
 * A plain decimal (no exponent) of at most 15 digits is always exact: any two such decimals differ
 * by more than a double's precision (DBL_DIG is 15). The common case, decided without converting.
 */
const SHORT_DECIMAL = /^-?(?=[0-9.]{1,16}$)[0-9]+(?:\.[0-9]+)?$/;

/** A decimal number as sign, significant digits (no leading or trailing zeros) and exponent. */
function decimalOf(text: string): { negative: boolean; digits: string; exponent: number } {
  const match = /^(-?)([0-9]*)(?:\.([0-9]*))?(?:[eE]([+-]?[0-9]+))?$/.exec(text);
  if (!match) return { negative: false, digits: "NaN", exponent: 0 };
  const fraction = match[3] ?? "";
  let digits = `${match[2] ?? ""}${fraction}`;
  let exponent = Number(match[4] ?? 0) - fraction.length;
  digits = digits.replace(/^0+/, "");
  const trailing = /0*$/.exec(digits)?.[0].length ?? 0;
  digits = digits.slice(0, digits.length - trailing);
  exponent += trailing;
  if (digits === "") return { negative: false, digits: "", exponent: 0 };
  return { negative: match[1] === "-", digits, exponent };
}

/**
 * True when the number written is the number stored: its decimal value equals the value of the
 * double JSON.parse makes of it, as JSON.stringify writes that double back. `1.0`, `1e2` and
 * `-0` keep their value (stored as `1`, `100`, `0`); `12345678901234567890`, `0.1000000000000000001`,
 * `1e-400` (0) and `1e400` (Infinity, stored as null) do not.
 */
export function isExactNumber(text: string): boolean {
  if (SHORT_DECIMAL.test(text) && text.replace(/[-.]/g, "").length <= 15) return true;
  const value = Number(text);
  if (!Number.isFinite(value)) return false;
  const written = decimalOf(text);
  const stored = decimalOf(String(value));
  return (
    written.negative === stored.negative &&
    written.digits === stored.digits &&
    written.exponent === stored.exponent
  );
}

/** The end (exclusive) of the string token that starts at `start` (a quote). */
function stringEnd(text: string, start: number): number {
  let i = start + 1;
  for (;;) {
    const quote = text.indexOf('"', i);
    if (quote === -1) return text.length;
    let backslashes = 0;
    for (let j = quote - 1; j > start && text.charCodeAt(j) === 0x5c; j--) backslashes++;
    if (backslashes % 2 === 0) return quote + 1;
    i = quote + 1;
  }
}

/** The string a token denotes; only tokens with escapes need decoding. */
function decodeString(token: string): string {
  return token.includes("\\") ? (JSON.parse(token) as string) : token.slice(1, -1);
}

/**
 * Checks a valid JSON text; returns [] when its parsed value is exactly what it says. One function,
 * over 80 lines, on purpose: a single pass over every ingest body whose cursor, container stack and
 * surrogate search are shared by every branch; split up, each token would pay a call and that state
 * would be passed around. The per-token decisions are the small functions above.
 */
export function findJsonTextProblems(text: string, limits: JsonTextLimits): JsonTextProblem[] {
  const problems: JsonTextProblem[] = [];
  const stack: Frame[] = [];
  const pathHere = (): JsonPathSegment[] => stack.map((frame) => frame.segment);
  const report = (code: JsonTextProblemCode, message: string) => {
    problems.push({ code, path: pathHere(), message });
  };
  const length = text.length;
  // Where the next escaped surrogate (`\\uD800`–`\\uDFFF`) starts: only strings holding one can be
  // malformed. Found once per occurrence, so the scan stays linear.
  const SURROGATE_ESCAPE = /\\u[dD][89a-fA-F]/g;
  let nextSurrogateEscape = -1;
  const surrogateEscapeWithin = (start: number, end: number): boolean => {
    if (nextSurrogateEscape !== Number.POSITIVE_INFINITY && nextSurrogateEscape < start) {
      SURROGATE_ESCAPE.lastIndex = start;
      nextSurrogateEscape = SURROGATE_ESCAPE.exec(text)?.index ?? Number.POSITIVE_INFINITY;
    }
    return nextSurrogateEscape < end;
  };
  let i = 0;
  while (i < length && problems.length < limits.maxProblems) {
    const c = text.charCodeAt(i);
    switch (c) {
      case 0x7b /* { */:
      case 0x5b /* [ */:
        {
          if (stack.length >= limits.maxDepth) {
            report(
              "nesting_too_deep",
              `nests objects and arrays more than ${limits.maxDepth} levels deep; flatten it`,
            );
            return problems;
          }
          const isObject = c === 0x7b;
          stack.push({
            isObject,
            keys: isObject ? new Set() : undefined,
            segment: isObject ? "" : 0,
            expectKey: isObject,
          });
          i++;
          break;
        }
      case 0x7d /* } */:
      case 0x5d /* ] */:
        stack.pop();
        i++;
        break;
      case 0x2c /* , */:
        {
          const top = stack.at(-1);
          if (top?.isObject) top.expectKey = true;
          else if (top) top.segment = (top.segment as number) + 1;
          i++;
          break;
        }
      case 0x3a /* : */:
        {
          const top = stack.at(-1);
          if (top) top.expectKey = false;
          i++;
          break;
        }
      case 0x22 /* " */:
        {
          const end = stringEnd(text, i);
          const top = stack.at(-1);
          if (top?.isObject && top.expectKey) {
            const key = decodeString(text.slice(i, end));
            top.segment = key;
            if (!key.isWellFormed()) {
              report("invalid_unicode", "a key contains an unpaired surrogate (\\ud800-\\udfff); remove it");
            } else if (FORBIDDEN_KEYS.has(key)) {
              report("forbidden_key", `the key "${key}" is not allowed anywhere; rename it`);
            } else if (top.keys?.has(key)) {
              report("duplicate_key", `the key "${key}" appears twice in one object; send it once`);
            }
            top.keys?.add(key);
          } else if (surrogateEscapeWithin(i, end) && !decodeString(text.slice(i, end)).isWellFormed()) {
            report("invalid_unicode", "contains an unpaired surrogate (\\ud800-\\udfff); send valid Unicode");
          }
          i = end;
          break;
        }
      case 0x74 /* t */:
      case 0x6e /* n */:
        i += 4;
        break;
      case 0x66 /* f */:
        i += 5;
        break;
      default: {
        if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
          NUMBER.lastIndex = i;
          const token = NUMBER.exec(text)?.[0] ?? text[i] ?? "";
          if (!isExactNumber(token)) {
            report(
              "imprecise_number",
              `the number ${token.length > 40 ? `${token.slice(0, 40)}…` : token} cannot be stored exactly ` +
                "(a 64-bit float rounds it); send it as a string",
            );
          }
          i += Math.max(token.length, 1);
        } else {
          i++; // whitespace
        }
      }
    }
  }
  return problems;
}

/** `events[0].details.a`: keys after dots (or quoted in brackets when they are not plain names), indexes in brackets. */
export function formatJsonPath(path: readonly JsonPathSegment[]): string {
  let out = "";
  for (const segment of path) {
    if (typeof segment === "number") out += `[${segment}]`;
    else if (/^[A-Za-z_$][A-Za-z0-9_$-]*$/.test(segment)) out += out === "" ? segment : `.${segment}`;
    else out += `[${JSON.stringify(segment)}]`;
  }
  return out;
}
