/**
 * The one way sealtrail builds a Lambda function, shared by the Sealtrail construct, the checkpoint
 * signer and the query API, plus helpers for a function's own role and cdk-nag's wildcard findings.
 */
import { fileURLToPath } from "node:url";
import { type Duration, RemovalPolicy, Stack, Validations } from "aws-cdk-lib";
import { Role, ServicePrincipal } from "aws-cdk-lib/aws-iam";
import { Architecture, Runtime, Tracing } from "aws-cdk-lib/aws-lambda";
import { NodejsFunction, OutputFormat } from "aws-cdk-lib/aws-lambda-nodejs";
import { LogGroup, type RetentionDays } from "aws-cdk-lib/aws-logs";
import type { Construct, IConstruct } from "constructs";

export interface SealtrailFunctionOptions {
  /** Handler module, relative to this directory (lib/), e.g. "../lambda/handlers/ingest.ts". */
  readonly entry: string;
  readonly description: string;
  /** POWERTOOLS_SERVICE_NAME: the logger's service and the metrics' `service` dimension. */
  readonly serviceName: string;
  readonly timeout: Duration;
  readonly memorySize: number;
  readonly environment: Record<string, string>;
  readonly logRetention: RetentionDays;
  /** @default - unreserved */
  readonly reservedConcurrentExecutions?: number;
  /** Retries of a failed asynchronous invocation (EventBridge targets are asynchronous). @default 2 */
  readonly retryAttempts?: number;
  /** How long an asynchronous event may wait (throttled) before Lambda drops it. @default 6 hours */
  readonly maxEventAge?: Duration;
  /**
   * X-Ray active tracing (adds xray:PutTraceSegments and xray:PutTelemetryRecords to the role).
   * @default true
   */
  readonly tracing?: boolean;
}

/**
 * One function: ARM64, current Node.js, ESM bundled by local esbuild, source maps, tracing (unless
 * turned off), its own role and log group. The role, log group and function are children of `scope` named `${id}Role`,
 * `${id}Logs` and `id`.
 */
export function sealtrailFunction(
  scope: Construct,
  id: string,
  options: SealtrailFunctionOptions,
): NodejsFunction {
  const tracing = options.tracing ?? true;
  // An own role instead of the AWSLambdaBasicExecutionRole managed policy (AwsSolutions-IAM4): the
  // function may write to its own log group and nothing else.
  const role = new Role(scope, `${id}Role`, {
    assumedBy: new ServicePrincipal("lambda.amazonaws.com"),
    description: options.description,
  });
  const logGroup = new LogGroup(scope, `${id}Logs`, {
    retention: options.logRetention,
    removalPolicy: RemovalPolicy.RETAIN,
  });
  logGroup.grantWrite(role);

  const fn = new NodejsFunction(scope, id, {
    entry: fileURLToPath(new URL(options.entry, import.meta.url)),
    handler: "handler",
    description: options.description,
    runtime: Runtime.NODEJS_24_X,
    architecture: Architecture.ARM_64,
    timeout: options.timeout,
    memorySize: options.memorySize,
    reservedConcurrentExecutions: options.reservedConcurrentExecutions,
    retryAttempts: options.retryAttempts,
    maxEventAge: options.maxEventAge,
    tracing: tracing ? Tracing.ACTIVE : Tracing.DISABLED,
    role,
    logGroup,
    environment: {
      ...options.environment,
      POWERTOOLS_SERVICE_NAME: options.serviceName,
      NODE_OPTIONS: "--enable-source-maps",
    },
    bundling: {
      // jose v6 is ESM-only, so the bundle is ESM (index.mjs). Dependencies still written as CommonJS
      // call require() at run time: the banner gives ESM code a require function.
      format: OutputFormat.ESM,
      mainFields: ["module", "main"],
      banner:
        "import { createRequire as __sealtrailCreateRequire } from 'node:module';" +
        "const require = __sealtrailCreateRequire(import.meta.url);",
      minify: true,
      sourceMap: true,
      sourcesContent: false,
      // Bundle the pinned AWS SDK versions the code is tested with, not the runtime's copy.
      bundleAwsSDK: true,
      // Bundling uses the project's esbuild (a devDependency); Docker is never needed.
      forceDockerBundling: false,
    },
  });

  if (tracing) {
    Validations.of(role).acknowledge({
      id: wildcardFinding(scope, "*"),
      reason:
        "Tracing.ACTIVE adds xray:PutTraceSegments and xray:PutTelemetryRecords, which support no " +
        "resource-level permissions: AWS requires Resource '*' for them.",
    });
  }
  return fn;
}

/** The role `sealtrailFunction` gave `fn`: its own, so statements added to it reach no other function. */
export function ownRole(fn: NodejsFunction): Role {
  const role = fn.role;
  if (!(role instanceof Role)) throw new Error(`${fn.node.path} has no role of its own`);
  return role;
}

/** The id cdk-nag gives an AwsSolutions-IAM5 finding for this resource (its own flattening of references). */
export function wildcardFinding(scope: IConstruct, resource: string): string {
  return `AwsSolutions-IAM5[Resource::${flattenReference(Stack.of(scope).resolve(resource))}]`;
}

function flattenReference(value: unknown): string {
  if (typeof value === "string") return value.replace(/\$\{/g, "<").replace(/\}/g, ">");
  if (value !== null && typeof value === "object") {
    const node = value as Record<string, unknown>;
    if (Array.isArray(node["Fn::Join"])) {
      const [delimiter, items] = node["Fn::Join"] as [string, unknown[]];
      return items.map(flattenReference).join(delimiter);
    }
    if (Array.isArray(node["Fn::GetAtt"])) {
      const [resource, attribute] = node["Fn::GetAtt"] as [unknown, unknown];
      return `<${flattenReference(resource)}.${flattenReference(attribute)}>`;
    }
    if (node.Ref !== undefined) return `<${flattenReference(node.Ref)}>`;
  }
  return JSON.stringify(value);
}
