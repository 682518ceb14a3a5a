/**
 * Injects failures into AWS SDK clients per HTTP attempt: before the request is sent (an error, a
 * timeout, a 409) or after it succeeded (the response is lost). Faults fire inside the SDK's retry
 * middleware, so the client's own retry policy (lambda/aws/clients.ts) meets each fault as it would a
 * real one. Rules fire on the first `times` matching attempts, so retries can succeed or keep failing.
 */
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { S3Client } from "@aws-sdk/client-s3";

export type FaultKind = "error" | "timeout" | "conflict" | "lost-response";

export interface FaultRule {
  readonly command: string;
  /** Only calls whose command input (as sent, before marshalling) this accepts. */
  readonly match?: (input: Record<string, unknown>) => boolean;
  readonly kind: FaultKind;
  readonly times: number;
}

export interface FaultLog {
  fired: number;
}

function faultError(kind: Exclude<FaultKind, "lost-response">): Error {
  switch (kind) {
    case "error":
      return Object.assign(new Error("injected: internal error"), {
        name: "InternalError",
        $metadata: { httpStatusCode: 500 },
      });
    case "timeout":
      return Object.assign(new Error("injected: socket timed out"), { name: "TimeoutError", $metadata: {} });
    case "conflict":
      return Object.assign(new Error("injected: a conflicting conditional operation is in progress"), {
        name: "ConditionalRequestConflict",
        $metadata: { httpStatusCode: 409 },
      });
  }
}

/** Where a call's matching rules are kept between the command's first step and each attempt. */
const MATCHING_RULES = Symbol("sealtrailFaultRules");
type FaultContext = { commandName: string; [MATCHING_RULES]?: number[] };

export function injectFaults(client: S3Client | DynamoDBClient, rules: readonly FaultRule[]): FaultLog {
  const remaining = rules.map((rule) => rule.times);
  const log: FaultLog = { fired: 0 };
  // biome-ignore lint/suspicious/noExplicitAny: the middleware stack's generic types differ per client.
  const stack = client.middlewareStack as any;
  // Rules match the command's input as the caller wrote it (before the document client marshals it)...
  stack.add(
    (next: (args: { input: Record<string, unknown> }) => Promise<unknown>, context: FaultContext) =>
      async (args: { input: Record<string, unknown> }) => {
        context[MATCHING_RULES] = rules.flatMap((rule, i) =>
          rule.command === context.commandName && (rule.match?.(args.input) ?? true) ? [i] : [],
        );
        return next(args);
      },
    { step: "initialize", name: "sealtrailFaultMatch" },
  );
  // ...and fire on each attempt the SDK's retry strategy makes.
  stack.addRelativeTo(
    (next: (args: unknown) => Promise<unknown>, context: FaultContext) => async (args: unknown) => {
      const index = context[MATCHING_RULES]?.find((i) => (remaining[i] as number) > 0);
      if (index === undefined) return next(args);
      remaining[index] = (remaining[index] as number) - 1;
      log.fired++;
      const rule = rules[index] as FaultRule;
      if (rule.kind === "lost-response") {
        await next(args);
        throw faultError("timeout");
      }
      throw faultError(rule.kind);
    },
    { relation: "after", toMiddleware: "retryMiddleware", name: "sealtrailFaultInjection" },
  );
  return log;
}

/** S3: the object key starts with `prefix`. */
export const keyStartsWith = (prefix: string) => (input: Record<string, unknown>) =>
  typeof input.Key === "string" && input.Key.startsWith(prefix);

/** DynamoDB item commands: the item's (or key's) `pk` starts with `prefix`. */
export const pkStartsWith = (prefix: string) => (input: Record<string, unknown>) => {
  const pk = ((input.Item ?? input.Key) as { pk?: unknown } | undefined)?.pk;
  return typeof pk === "string" && pk.startsWith(prefix);
};
