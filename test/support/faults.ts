/**
 * Injects failures into AWS SDK clients at the command level: before the request (an error, a
 * timeout, a 409) or after it succeeded (the response is lost). Rules fire on the first `times`
 * matching calls, so retries can succeed or keep failing.
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

export function injectFaults(client: S3Client | DynamoDBClient, rules: readonly FaultRule[]): FaultLog {
  const remaining = rules.map((rule) => rule.times);
  const log: FaultLog = { fired: 0 };
  // biome-ignore lint/suspicious/noExplicitAny: the middleware stack's generic types differ per client.
  (client.middlewareStack as any).add(
    (
      next: (args: { input: Record<string, unknown> }) => Promise<unknown>,
      context: { commandName: string },
    ) =>
      async (args: { input: Record<string, unknown> }) => {
        const index = rules.findIndex(
          (rule, i) =>
            (remaining[i] as number) > 0 &&
            rule.command === context.commandName &&
            (rule.match?.(args.input) ?? true),
        );
        if (index < 0) return next(args);
        remaining[index] = (remaining[index] as number) - 1;
        log.fired++;
        const rule = rules[index] as FaultRule;
        if (rule.kind === "lost-response") {
          await next(args);
          throw faultError("timeout");
        }
        throw faultError(rule.kind);
      },
    { step: "initialize", name: "sealtrailFaultInjection" },
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
