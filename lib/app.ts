/**
 * Builds the sealtrail CDK app from context (`cdk synth -c issuer=… -c audience=…`). bin/app.ts runs it;
 * the infra tests build the same app, so what they check is what `cdk synth` produces.
 */
import { Annotations, type App, Validations } from "aws-cdk-lib";
import { AwsSolutionsChecks } from "cdk-nag";
import type { Node } from "constructs";
import type { SubjectIssuer } from "../lambda/config";
import type { SealtrailProps } from "./sealtrail";
import { SealtrailStack } from "./sealtrail-stack";

/**
 * Used when no issuer is given. `.invalid` can never resolve (RFC 2606), so an API deployed with it
 * rejects every token: the placeholder fails closed.
 */
export const PLACEHOLDER_ISSUER = "https://issuer.invalid/sealtrail-placeholder";
export const PLACEHOLDER_AUDIENCE = "sealtrail-placeholder-audience";
export const DEFAULT_STACK_NAME = "Sealtrail";

/** The context keys the app reads, each given as `-c key=value`. */
export const CONTEXT_KEYS = [
  "issuer",
  "audience",
  "retentionDays",
  "chains",
  "tenantClaim",
  "indexTtlDays",
  "subjectIssuers",
  "alarmEmail",
  "stackName",
] as const;

export interface AppConfig {
  readonly stackName: string;
  readonly props: SealtrailProps;
  /** Context keys that were missing and replaced by placeholders. */
  readonly placeholders: readonly ("issuer" | "audience")[];
}

/**
 * Reads the Sealtrail props from context. Values from `-c` arrive as strings, values from cdk.json as
 * JSON, so both forms are accepted (`audience` as "a,b" or ["a","b"]). A malformed value fails with the
 * flag to fix; a missing issuer or audience becomes a placeholder, reported in `placeholders`.
 */
export function appConfigFromContext(node: Node): AppConfig {
  const issuer = optionalString(node, "issuer");
  const audience = optionalList(node, "audience");
  const placeholders: ("issuer" | "audience")[] = [];
  if (issuer === undefined) placeholders.push("issuer");
  if (audience === undefined) placeholders.push("audience");

  return {
    stackName: optionalString(node, "stackName") ?? DEFAULT_STACK_NAME,
    placeholders,
    props: {
      issuer: issuer ?? PLACEHOLDER_ISSUER,
      audience: audience ?? [PLACEHOLDER_AUDIENCE],
      retentionDays: optionalInteger(node, "retentionDays"),
      chains: optionalInteger(node, "chains"),
      tenantClaim: optionalString(node, "tenantClaim"),
      indexTtlDays: optionalInteger(node, "indexTtlDays"),
      subjectIssuers: optionalSubjectIssuers(node),
      alarmEmail: optionalString(node, "alarmEmail"),
    },
  };
}

/**
 * Adds the sealtrail stack to the app and runs cdk-nag's AwsSolutions checks on synthesis (cdk-nag 3 is a
 * policy validation plugin: unacknowledged errors fail `cdk synth`).
 *
 * Without issuer/audience context the app still synthesizes, so `npx cdk synth` works offline with no
 * arguments (CI, reviews, diffs), but the stack carries a warning that `cdk synth` and `cdk deploy` print.
 * The placeholders fail closed: a deployed API with them accepts no token at all.
 */
export function configureApp(app: App): SealtrailStack {
  const config = appConfigFromContext(app.node);
  const stack = new SealtrailStack(app, config.stackName, {
    ...config.props,
    description: "sealtrail: tamper-evident audit log archive (write path, query API, checkpoints, search)",
  });
  if (config.placeholders.length > 0) {
    Annotations.of(stack).addWarningV2(
      "@sealtrail/app:placeholderAuthorizer",
      `No ${config.placeholders.join(" or ")} context: the JWT authorizer uses placeholder values ` +
        `(${PLACEHOLDER_ISSUER}, ${PLACEHOLDER_AUDIENCE}) that no token matches. Deploy with ` +
        "-c issuer=https://<your identity provider> -c audience=<accepted audience>[,<another>]",
    );
  }
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return stack;
}

function raw(node: Node, key: string): unknown {
  const value: unknown = node.tryGetContext(key);
  if (value === undefined || value === null) return undefined;
  if (typeof value === "string" && value.trim() === "") return undefined;
  return value;
}

function optionalString(node: Node, key: string): string | undefined {
  const value = raw(node, key);
  if (value === undefined) return undefined;
  if (typeof value !== "string") {
    throw new Error(`Context ${key} must be a string, got ${JSON.stringify(value)}: pass -c ${key}=<value>`);
  }
  return value.trim();
}

function optionalList(node: Node, key: string): string[] | undefined {
  const value = raw(node, key);
  if (value === undefined) return undefined;
  const items = Array.isArray(value) ? value : typeof value === "string" ? value.split(",") : undefined;
  if (items === undefined || !items.every((item) => typeof item === "string")) {
    throw new Error(
      `Context ${key} must be a comma-separated list, got ${JSON.stringify(value)}: pass -c ${key}=a,b`,
    );
  }
  const list = items.map((item) => item.trim()).filter((item) => item !== "");
  return list.length > 0 ? list : undefined;
}

function optionalInteger(node: Node, key: string): number | undefined {
  const value = raw(node, key);
  if (value === undefined) return undefined;
  const text = String(value).trim();
  if (!/^\d+$/.test(text)) {
    throw new Error(
      `Context ${key} must be a whole number, got ${JSON.stringify(value)}: pass e.g. -c ${key}=30`,
    );
  }
  return Number(text);
}

/** A JSON array of {issuer, jwksUrl, audiences}; the construct checks each field. */
function optionalSubjectIssuers(node: Node): SubjectIssuer[] | undefined {
  const key = "subjectIssuers";
  const value = raw(node, key);
  if (value === undefined) return undefined;
  let parsed: unknown = value;
  if (typeof value === "string") {
    try {
      parsed = JSON.parse(value);
    } catch {
      parsed = undefined;
    }
  }
  if (!Array.isArray(parsed) || !parsed.every((item) => typeof item === "object" && item !== null)) {
    throw new Error(
      `Context ${key} must be a JSON array, got ${String(value)}: pass e.g. ` +
        `-c '${key}=[{"issuer":"https://idp.example.com","jwksUrl":"https://idp.example.com/jwks.json","audiences":["app"]}]'`,
    );
  }
  return parsed as SubjectIssuer[];
}
