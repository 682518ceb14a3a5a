/**
 * Builds the sealtrail CDK app from context (`cdk synth -c issuer=… -c audience=…`). bin/app.ts runs it;
 * the infra tests build the same app, so what they check is what `cdk synth` produces.
 */
import { Annotations, type App, Duration, Validations } from "aws-cdk-lib";
import { AwsSolutionsChecks } from "cdk-nag";
import type { Node } from "constructs";
import { type ContextValues, DEFAULT_STACK_NAME, readContext } from "./context";
import { SealtrailReplicaStack } from "./replica";
import type { SealtrailReplicaDestination } from "./replication";
import type { SealtrailProps } from "./sealtrail";
import { SealtrailStack } from "./sealtrail-stack";

/**
 * Used when no issuer is given. `.invalid` can never resolve (RFC 2606), so an API deployed with it
 * rejects every token: the placeholder fails closed.
 */
export const PLACEHOLDER_ISSUER = "https://issuer.invalid/sealtrail-placeholder";
export const PLACEHOLDER_AUDIENCE = "sealtrail-placeholder-audience";

export interface AppConfig {
  readonly stackName: string;
  readonly props: SealtrailProps;
  /** Context keys that were missing and replaced by placeholders. */
  readonly placeholders: readonly ("issuer" | "audience")[];
  /** `replicaSourceRoleArn`: the app also builds the replica stack, admitting this role. */
  readonly replicaSourceRoleArn?: string;
}

/**
 * Reads the Sealtrail props from context with the definitions of lib/context.ts: a malformed value or a
 * key that is neither sealtrail's nor CDK's own fails with the flag to fix; a missing issuer or audience
 * becomes a placeholder, reported in `placeholders`.
 */
export function appConfigFromContext(node: Node): AppConfig {
  const context = readContext(node.getAllContext() as Record<string, unknown>);
  const placeholders: ("issuer" | "audience")[] = [];
  if (context.issuer === undefined) placeholders.push("issuer");
  if (context.audience === undefined) placeholders.push("audience");

  return {
    stackName: context.stackName ?? DEFAULT_STACK_NAME,
    placeholders,
    replicaSourceRoleArn: context.replicaSourceRoleArn,
    props: {
      issuer: context.issuer ?? PLACEHOLDER_ISSUER,
      audience: context.audience ?? [PLACEHOLDER_AUDIENCE],
      retentionDays: context.retentionDays,
      chains: context.chains,
      tenantClaim: context.tenantClaim,
      indexTtlDays: context.indexTtlDays,
      subjectIssuers: context.subjectIssuers,
      subjectTokenLeewaySeconds: context.subjectTokenLeewaySeconds,
      alarmEmail: context.alarmEmail,
      authFailureAlarmThreshold: context.authFailureAlarmThreshold,
      watchedActions: context.watchedActions,
      verificationPeriod: minutes(context.verificationPeriodMinutes),
      verificationMaxAge: minutes(context.verificationMaxAgeMinutes),
      replica: replicaFromContext(context),
      privacy: context.privacy,
    },
  };
}

/** The `replica` prop: both ARNs or neither; Time Control only with them. */
function replicaFromContext(context: ContextValues): SealtrailReplicaDestination | undefined {
  const { replicaBucketArn: bucketArn, replicaKeyArn: keyArn, replicaTimeControl: timeControl } = context;
  if (bucketArn === undefined && keyArn === undefined) {
    if (timeControl !== undefined) {
      throw new Error(
        "context replicaTimeControl applies to a replica: give -c replicaBucketArn=… -c replicaKeyArn=… too, or remove it",
      );
    }
    return undefined;
  }
  if (bucketArn === undefined || keyArn === undefined) {
    const missing = bucketArn === undefined ? "replicaBucketArn" : "replicaKeyArn";
    throw new Error(
      `context ${missing} is missing: a replica needs both replicaBucketArn and replicaKeyArn ` +
        "(the replica stack's ReplicaBucketArn and ReplicaKeyArn outputs; docs/operations.md, Replica)",
    );
  }
  return { bucketArn, keyArn, timeControl };
}

function minutes(value: number | undefined): Duration | undefined {
  return value === undefined ? undefined : Duration.minutes(value);
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
  if (config.replicaSourceRoleArn !== undefined) {
    // Deployed on its own in the replica's account and region: `cdk deploy <stackName>Replica`.
    new SealtrailReplicaStack(app, `${config.stackName}Replica`, {
      sourceReplicationRoleArn: config.replicaSourceRoleArn,
      retentionDays: config.props.retentionDays,
      description: "sealtrail: the archive's locked replica (Object Lock COMPLIANCE, append-only)",
    });
  }
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
