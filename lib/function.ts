/**
 * The one way sealtrail builds a Lambda function, shared by the Sealtrail construct, the checkpoint
 * signer and the query API, plus helpers for a function's own role and cdk-nag's wildcard findings.
 */
import { existsSync } from "node:fs";
import { basename, extname } from "node:path";
import { fileURLToPath } from "node:url";
import { type Duration, RemovalPolicy, Stack, Validations } from "aws-cdk-lib";
import { Role, ServicePrincipal } from "aws-cdk-lib/aws-iam";
import { Architecture, Code, Runtime, Tracing } from "aws-cdk-lib/aws-lambda";
import {
  type BundlingOptions,
  NodejsFunction,
  type NodejsFunctionProps,
  OutputFormat,
} from "aws-cdk-lib/aws-lambda-nodejs";
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
 * How every function is bundled from source: scripts/build-construct.ts prebuilds the packaged code with
 * these same options (by synthesizing the construct from source), so both ways give the same files.
 */
const BUNDLING: BundlingOptions = {
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
};

const RUNTIME = Runtime.NODEJS_24_X;

/**
 * BUNDLING as the esbuild options `NodejsFunction` gives esbuild for it (the target from the runtime),
 * so that the bundle benchmark and the bundle-budget test measure the code Lambda runs.
 */
export const HANDLER_ESBUILD_OPTIONS = {
  bundle: true,
  platform: "node",
  target: RUNTIME.name.replace(/^nodejs(\d+)\.x$/, "node$1"),
  format: "esm",
  mainFields: BUNDLING.mainFields ?? [],
  banner: { js: BUNDLING.banner ?? "" },
  minify: BUNDLING.minify ?? false,
} as const;

/**
 * The prebuilt Lambda code of the installed package: dist/lambda/ beside dist/index.js, the bundle of
 * this module. From the repository's source (lib/function.ts) there is no lib/lambda/, so the functions
 * are bundled from source as `cdk synth` always did.
 */
const PREBUILT = fileURLToPath(new URL("./lambda/", import.meta.url));
const prebuilt = existsSync(PREBUILT);

/** The prebuilt code's directory name of a handler module: its file name without the extension. */
export function prebuiltName(entry: string): string {
  return basename(entry, extname(entry));
}

/** The handler module each function bundled from source was built from, for scripts/build-construct.ts. */
const entries = new WeakMap<NodejsFunction, string>();

/** The absolute path of the handler module `fn` was bundled from; undefined for prebuilt code. */
export function bundledEntry(fn: NodejsFunction): string | undefined {
  return entries.get(fn);
}

/** The function's code: the package's prebuilt directory when there is one, else bundled from source. */
function functionCode(entry: string): Pick<NodejsFunctionProps, "entry" | "code" | "handler" | "bundling"> {
  if (!prebuilt) return { entry, handler: "handler", bundling: BUNDLING };
  const dir = `${PREBUILT}${prebuiltName(entry)}`;
  if (!existsSync(dir)) {
    throw new Error(
      `the packaged sealtrail has no prebuilt code for ${prebuiltName(entry)} (${dir}): ` +
        "rebuild the package with `npm pack` (scripts/build-construct.ts builds every function)",
    );
  }
  return { code: Code.fromAsset(dir), handler: "index.handler" };
}

/**
 * One function: ARM64, current Node.js, ESM bundled by local esbuild (or prebuilt so, in the package),
 * source maps, tracing (unless turned off), its own role and log group. The role, log group and function
 * are children of `scope` named `${id}Role`, `${id}Logs` and `id`.
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

  const entry = fileURLToPath(new URL(options.entry, import.meta.url));
  const fn = new NodejsFunction(scope, id, {
    ...functionCode(entry),
    description: options.description,
    runtime: RUNTIME,
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
  });
  if (!prebuilt) entries.set(fn, entry);

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
