/**
 * Watched actions: the actions whose events the write path counts by outcome, each with an alarm
 * threshold (failed logins, permission and role changes). One definition of what a pattern is and what
 * it matches, shared by the ingest service (which counts) and the stack (which alarms on the count).
 *
 * A pattern is an action name (`user.login`: that action only) or a prefix ending in `.*`
 * (`permission.*`: every action that starts with `permission.`). The metric's dimension is the
 * pattern, never the action, so the number of metrics stays the number of patterns times the outcomes.
 */
import * as z from "zod";
import { EventInputSchema, OUTCOMES } from "./schema";

export type Outcome = (typeof OUTCOMES)[number];

/** One watched action: what is counted, and when its alarm fires. */
export interface WatchedAction {
  /** An action name, or a prefix ending in `.*`. */
  readonly pattern: string;
  /** Only events with this outcome raise the alarm; without it, events of every outcome count. */
  readonly outcome?: Outcome;
  /** Matching events per 5 minutes that raise the alarm (at least 1). */
  readonly threshold: number;
}

/** Failed logins (brute force, credential stuffing) and changes to who may do what. */
export const DEFAULT_WATCHED_ACTIONS: readonly WatchedAction[] = [
  { pattern: "user.login", outcome: "failure", threshold: 20 },
  { pattern: "permission.*", threshold: 10 },
  { pattern: "role.*", threshold: 10 },
];

/** What the write path counts when it is given no patterns: those of the defaults. */
export const DEFAULT_WATCHED_PATTERNS: readonly string[] = watchedPatterns(DEFAULT_WATCHED_ACTIONS);

/** Each pattern is one metric per outcome, and one alarm per entry: a bound on both. */
export const MAX_WATCHED_ACTIONS = 20;

const PREFIX_WILDCARD = ".*";

const actionName = EventInputSchema.shape.action;

/** The action prefix of a `prefix.*` pattern (with its dot), or undefined for an exact action. */
function prefixOf(pattern: string): string | undefined {
  return pattern.endsWith(PREFIX_WILDCARD) ? pattern.slice(0, -1) : undefined;
}

/** Why `pattern` is not a watched-action pattern, or undefined when it is one. */
export function patternProblem(pattern: unknown): string | undefined {
  const hint = 'give an action name (e.g. "user.login") or a prefix ending in ".*" (e.g. "role.*")';
  if (typeof pattern !== "string" || pattern === "") return `is missing: ${hint}`;
  const prefix = prefixOf(pattern);
  const name = prefix === undefined ? pattern : prefix.slice(0, -1);
  if (name === "" || !actionName.safeParse(name).success) {
    return `${JSON.stringify(pattern)} is not an action name nor a prefix ending in ".*" (action names are letters, digits and . _ : / -): ${hint}`;
  }
  return undefined;
}

/** The pattern matches the action: equal to it, or (for `prefix.*`) a longer action with that prefix. */
export function patternMatches(pattern: string, action: string): boolean {
  const prefix = prefixOf(pattern);
  if (prefix === undefined) return pattern === action;
  return action.length > prefix.length && action.startsWith(prefix);
}

/** The distinct patterns of a list, in first-seen order: what the write path counts. */
export function watchedPatterns(watched: readonly WatchedAction[]): string[] {
  return [...new Set(watched.map((entry) => entry.pattern))];
}

/** Events that matched one pattern with one outcome. */
export interface WatchedActionCount {
  readonly pattern: string;
  readonly outcome: Outcome;
  readonly count: number;
}

/**
 * Counts events per pattern and outcome. An event matching two patterns (`role.*` and `role.assign`)
 * counts once for each; one pattern counts it once.
 */
export function countWatchedActions(
  patterns: readonly string[],
  events: readonly { readonly action: string; readonly outcome: Outcome }[],
): WatchedActionCount[] {
  const counts = new Map<string, { pattern: string; outcome: Outcome; count: number }>();
  for (const event of events) {
    for (const pattern of patterns) {
      if (!patternMatches(pattern, event.action)) continue;
      const key = JSON.stringify([pattern, event.outcome]);
      const entry = counts.get(key) ?? { pattern, outcome: event.outcome, count: 0 };
      entry.count++;
      counts.set(key, entry);
    }
  }
  return [...counts.values()];
}

const WatchedActionSchema = z.strictObject({
  pattern: z
    .string({ error: 'is missing: give an action name or a prefix ending in ".*"' })
    .superRefine((pattern, ctx) => {
      const problem = patternProblem(pattern);
      if (problem) ctx.addIssue({ code: "custom", message: problem });
    }),
  outcome: z.enum(OUTCOMES, { error: `must be one of ${OUTCOMES.join(", ")}` }).optional(),
  threshold: z
    .number({ error: "must be a number of events per 5 minutes" })
    .int("must be a whole number")
    .min(1, "must be at least 1")
    .max(Number.MAX_SAFE_INTEGER),
});

/**
 * Every problem of a watched-action list, each naming the entry and field, what is wrong and the fix;
 * empty when the list is valid. `name` is how the caller calls the list (a prop, a context key).
 */
export function watchedActionProblems(name: string, value: unknown): string[] {
  if (!Array.isArray(value)) {
    return [
      `${name} must be a list of {pattern, outcome?, threshold}, got ${JSON.stringify(value)}: pass e.g. [{"pattern":"user.login","outcome":"failure","threshold":20}]`,
    ];
  }
  const problems: string[] = [];
  if (value.length > MAX_WATCHED_ACTIONS) {
    problems.push(
      `${name} has ${value.length} entries, at most ${MAX_WATCHED_ACTIONS} are allowed: watch prefixes ("role.*") instead of single actions`,
    );
  }
  const seen = new Set<string>();
  value.forEach((entry, index) => {
    if (typeof entry !== "object" || entry === null || Array.isArray(entry)) {
      problems.push(
        `${name}[${index}] must be an object {pattern, outcome?, threshold}, got ${JSON.stringify(entry)}`,
      );
      return;
    }
    const parsed = WatchedActionSchema.safeParse(entry);
    if (!parsed.success) {
      for (const issue of parsed.error.issues) {
        const field = issue.path.length > 0 ? `.${issue.path.join(".")}` : "";
        const message =
          issue.code === "unrecognized_keys"
            ? `has unknown field(s) ${issue.keys.join(", ")}: an entry has pattern, outcome (optional) and threshold`
            : issue.message;
        problems.push(`${name}[${index}]${field} ${message}`);
      }
      return;
    }
    const key = JSON.stringify([parsed.data.pattern, parsed.data.outcome ?? null]);
    if (seen.has(key)) {
      problems.push(
        `${name}[${index}] watches ${parsed.data.pattern} (${parsed.data.outcome ?? "every outcome"}) a second time: remove one of the two entries`,
      );
    }
    seen.add(key);
  });
  return problems;
}
