/** Shared setup of the infra tests: apps built like `cdk synth` builds them (cdk.json feature flags). */
import { readFileSync } from "node:fs";
import { App } from "aws-cdk-lib";
import { Template } from "aws-cdk-lib/assertions";
import { configureApp } from "../../lib/app";

/** The context of cdk.json, so the tests see the feature flags `cdk synth` applies. */
export function cdkJsonContext(): Record<string, unknown> {
  const cdkJson = JSON.parse(readFileSync(new URL("../../cdk.json", import.meta.url), "utf8")) as {
    context?: Record<string, unknown>;
  };
  return cdkJson.context ?? {};
}

export const TEST_CONTEXT = {
  issuer: "https://issuer.example.com",
  audience: "sealtrail,sealtrail-cli",
} as const;

/**
 * An app with cdk.json's context plus `context`. Unless `bundle` is set, asset bundling is skipped
 * (the same switch `cdk synth --exclusively` uses), so a template test does not run esbuild.
 */
export function newApp(context: Record<string, unknown> = {}, options: { bundle?: boolean } = {}): App {
  return new App({
    context: {
      ...cdkJsonContext(),
      ...(options.bundle ? {} : { "aws:cdk:bundling-stacks": [] }),
      ...context,
    },
  });
}

/** A resource of a synthesized template, as the infra tests read it. */
export interface TemplateResource {
  readonly Type: string;
  readonly Properties: Record<string, unknown>;
  readonly DeletionPolicy?: string;
  readonly UpdateReplacePolicy?: string;
}

/** The stack `cdk synth` builds from the test context, its template and its resources by logical id. */
export function synthesizeTestStack(): {
  app: App;
  template: Template;
  resources: Record<string, TemplateResource>;
} {
  const app = newApp({ ...TEST_CONTEXT });
  const template = Template.fromStack(configureApp(app));
  return { app, template, resources: template.toJSON().Resources };
}

export interface Statement {
  readonly Sid?: string;
  readonly Effect: "Allow" | "Deny";
  readonly Action: string | string[];
  readonly Resource?: unknown;
  readonly Principal?: unknown;
  readonly Condition?: Record<string, Record<string, unknown>>;
}

export const asArray = <T>(value: T | T[] | undefined): T[] =>
  value === undefined ? [] : Array.isArray(value) ? value : [value];

/** A CloudFormation reference as readable text: `<Logical.Arn>/events/*`. */
export function flatten(value: unknown): string {
  if (typeof value === "string") return value;
  if (value !== null && typeof value === "object") {
    const node = value as Record<string, unknown>;
    if (Array.isArray(node["Fn::Join"])) {
      const [delimiter, items] = node["Fn::Join"] as [string, unknown[]];
      return items.map(flatten).join(delimiter);
    }
    if (Array.isArray(node["Fn::GetAtt"])) return `<${(node["Fn::GetAtt"] as string[]).join(".")}>`;
    if (node.Ref !== undefined) return `<${String(node.Ref)}>`;
  }
  return JSON.stringify(value);
}

/** Logical id of the only resource of `type` whose logical id starts with `prefix`. */
export function logicalId(template: Template, type: string, prefix: string): string {
  const ids = Object.keys(template.findResources(type)).filter((id) => id.startsWith(prefix));
  if (ids.length !== 1)
    throw new Error(`expected one ${type} starting with ${prefix}, found ${ids.join(", ")}`);
  return ids[0] as string;
}

/** Every statement of the identity policies attached to a role (inline and AWS::IAM::Policy). */
export function roleStatements(template: Template, roleLogicalId: string): Statement[] {
  const statements: Statement[] = [];
  const role = template.findResources("AWS::IAM::Role")[roleLogicalId];
  for (const policy of asArray(role?.Properties?.Policies) as {
    PolicyDocument: { Statement: Statement[] };
  }[]) {
    statements.push(...policy.PolicyDocument.Statement);
  }
  for (const policy of Object.values(template.findResources("AWS::IAM::Policy"))) {
    const roles = asArray(policy.Properties.Roles) as { Ref?: string }[];
    if (roles.some((ref) => ref.Ref === roleLogicalId)) {
      statements.push(...(policy.Properties.PolicyDocument.Statement as Statement[]));
    }
  }
  if (role?.Properties?.ManagedPolicyArns) {
    throw new Error(
      `${roleLogicalId} has managed policies: ${JSON.stringify(role.Properties.ManagedPolicyArns)}`,
    );
  }
  return statements;
}

/** The role logical id of the Lambda function whose logical id starts with `prefix`. */
export function functionRole(template: Template, prefix: string): string {
  const fn =
    template.findResources("AWS::Lambda::Function")[logicalId(template, "AWS::Lambda::Function", prefix)];
  if (fn === undefined) throw new Error(`no function ${prefix}`);
  return (fn.Properties.Role as { "Fn::GetAtt": [string, string] })["Fn::GetAtt"][0];
}

/** An IAM pattern (`*` wildcards) matches a value; actions compare case-insensitively. */
export const matches = (pattern: string, value: string, ignoreCase = false) =>
  new RegExp(
    `^${pattern
      .split("*")
      .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, "\\$&"))
      .join(".*")}$`,
    ignoreCase ? "i" : "",
  ).test(value);
/** The statement allows `action` (IAM wildcards included). */
export const allowsAction = (s: Statement, action: string) =>
  s.Effect === "Allow" && asArray(s.Action).some((pattern) => matches(pattern, action, true));
