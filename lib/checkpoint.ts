/**
 * The checkpoint run of DESIGN.md ("Checkpoint run"): every minute one function (reserved concurrency 1)
 * reads every chain forward from the heads it signed last and signs checkpoint seq+1 with a KMS
 * ECC_NIST_P256 key that only its role may use for signing. It keeps its state in a bucket only its role
 * may write. The public key is read back at deployment (a small custom resource,
 * lambda/custom-resources/public-key-reader.ts) so the stack can output it. Infrastructure only: the run itself is lambda/handlers/checkpoint.ts.
 */
import { CustomResource, Duration, RemovalPolicy, Stack, Validations } from "aws-cdk-lib";
import { Metric, type MetricOptions } from "aws-cdk-lib/aws-cloudwatch";
import { Rule, Schedule } from "aws-cdk-lib/aws-events";
import { LambdaFunction } from "aws-cdk-lib/aws-events-targets";
import { AnyPrincipal, Effect, PolicyStatement, type Role } from "aws-cdk-lib/aws-iam";
import { type IKey, Key, KeySpec, KeyUsage } from "aws-cdk-lib/aws-kms";
import type { NodejsFunction } from "aws-cdk-lib/aws-lambda-nodejs";
import type { RetentionDays } from "aws-cdk-lib/aws-logs";
import type { Bucket } from "aws-cdk-lib/aws-s3";
import { Construct } from "constructs";
import { CHECKPOINT_ENV } from "../lambda/checkpoint/config";
import { CHECKPOINT_METRICS, METRICS_NAMESPACE } from "../lambda/core/metrics";
import { CHAINS_PREFIX, CHECKPOINTS_PREFIX } from "../lambda/core/paths";
import { ownRole, sealtrailFunction, wildcardFinding } from "./function";
import { reservedKeyPolicy, reserveKeyUse } from "./key-policy";
import { reserveStateBucket, stateBucket } from "./state-bucket";

/** POWERTOOLS_SERVICE_NAME of the signer, and so the `service` dimension of its metrics. */
export const CHECKPOINT_SERVICE_NAME = CHECKPOINT_METRICS.service;
/** POWERTOOLS_SERVICE_NAME of the deployment-time public key reader (it emits no metrics). */
export const PUBLIC_KEY_READER_SERVICE_NAME = "sealtrail-checkpoint-public-key";
/** Metric names the signer emits (lambda/handlers/checkpoint.ts), one data point per run. */
export { CHECKPOINT_METRICS };

export interface CheckpointSignerProps {
  /** The archive bucket the signer reads chains/ from and appends checkpoints/ to. */
  readonly archiveBucket: Bucket;
  /** Key of the archive bucket; also encrypts the signer state (see the state bucket). */
  readonly archiveKey: IKey;
  /** Destination of the state bucket's server access logs (prefix `checkpoint-state/`). */
  readonly accessLogBucket: Bucket;
  /** Environment shared by every sealtrail function (SEALTRAIL_CHAINS among it). */
  readonly environment: Record<string, string>;
  readonly logRetention: RetentionDays;
}

/**
 * The signing key, the signer's state bucket, the signer function, its one-minute schedule, and the
 * deployment-time read of the public key. Alarms are the caller's (see `metricRefused`, `metricSigned`).
 */
export class CheckpointSigner extends Construct {
  /** KMS ECC_NIST_P256 SIGN_VERIFY key; only `fn`'s role may kms:Sign with it. */
  public readonly key: Key;
  /** The signer's own state: one JSON object replaced with If-Match; only `fn`'s role may write it. */
  public readonly stateBucket: Bucket;
  /** The checkpoint run (reserved concurrency 1). */
  public readonly fn: NodejsFunction;
  /** EventBridge rule: rate(1 minute) → `fn`. */
  public readonly schedule: Rule;
  /**
   * The signing key's public key: base64 of its DER SubjectPublicKeyInfo, as KMS GetPublicKey returns it,
   * read at deployment by a custom resource (a CloudFormation token).
   */
  public readonly publicKeyDerBase64: string;

  constructor(scope: Construct, id: string, props: CheckpointSignerProps) {
    super(scope, id);

    // The key policy of lib/key-policy.ts: the account administers the key (and may read the public key,
    // which auditors fetch) but cannot sign, and no IAM policy or grant can let it; only the signer role
    // may kms:Sign (added below, once the role exists). The auditor's saved last checkpoint (`sealtrail
    // verify --state`) still rejects any checkpoint that does not extend it, should an administrator
    // rewrite the policy.
    this.key = new Key(this, "SigningKey", {
      description: "sealtrail: signs checkpoints (ES256); only the checkpoint signer may sign",
      keySpec: KeySpec.ECC_NIST_P256,
      keyUsage: KeyUsage.SIGN_VERIFY,
      // Asymmetric keys cannot rotate; a new key means a new `kid` in the published JWKS.
      enableKeyRotation: false,
      removalPolicy: RemovalPolicy.RETAIN,
      policy: reservedKeyPolicy({
        administerSid: "AllowAccountToAdministerTheKeyButNotSign",
        accountReads: {
          sid: "AllowAccountToReadThePublicKey",
          actions: ["kms:DescribeKey", "kms:GetPublicKey"],
        },
      }),
    });

    // lib/state-bucket.ts: the archive key encrypts it (the state holds chain sizes, heads and tree
    // frontiers: hashes of archive objects); the bucket policy below protects its integrity.
    this.stateBucket = stateBucket(this, {
      archiveKey: props.archiveKey,
      accessLogBucket: props.accessLogBucket,
      accessLogPrefix: "checkpoint-state/",
    });

    this.fn = sealtrailFunction(this, "Function", {
      entry: "../lambda/handlers/checkpoint.ts",
      description: "sealtrail: signs the next checkpoint when every chain extends the last one signed",
      serviceName: CHECKPOINT_SERVICE_NAME,
      // Shorter than the schedule, so a run ends before the next one starts.
      timeout: Duration.seconds(55),
      memorySize: 1024,
      // One run at a time; the state's If-Match is the second line of defence.
      reservedConcurrentExecutions: 1,
      // A failed or throttled run is not retried: the next minute's run is the retry.
      retryAttempts: 0,
      maxEventAge: Duration.minutes(1),
      environment: {
        ...props.environment,
        [CHECKPOINT_ENV.bucket]: props.archiveBucket.bucketName,
        [CHECKPOINT_ENV.stateBucket]: this.stateBucket.bucketName,
        [CHECKPOINT_ENV.keyId]: this.key.keyArn,
        POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
      },
      logRetention: props.logRetention,
    });
    const role = ownRole(this.fn);

    reserveKeyUse(this.key, role, {
      actions: ["kms:Sign"],
      allowSid: "AllowSignerToSign",
      denySid: "DenySigningToEveryoneButTheSigner",
    });

    reserveStateBucket(this.stateBucket, role, {
      denyWrites: "DenyStateWritesExceptBySigner",
      denyDeletion: "DenyStateDeletion",
    });

    // Only the signer may write checkpoints/, whatever IAM policies say (the archive's append-only policy
    // still applies to it: If-None-Match: * on every put, no deletes).
    props.archiveBucket.addToResourcePolicy(
      new PolicyStatement({
        sid: "DenyCheckpointWritesExceptBySigner",
        effect: Effect.DENY,
        principals: [new AnyPrincipal()],
        actions: ["s3:PutObject"],
        resources: [props.archiveBucket.arnForObjects(`${CHECKPOINTS_PREFIX}*`)],
        conditions: { ArnNotEquals: { "aws:PrincipalArn": role.roleArn } },
      }),
    );

    this.grantSignerAccess(role, props);

    this.schedule = new Rule(this, "Schedule", {
      description: "sealtrail: sign the next checkpoint",
      schedule: Schedule.rate(Duration.minutes(1)),
      targets: [new LambdaFunction(this.fn, { retryAttempts: 0 })],
    });

    this.publicKeyDerBase64 = this.readPublicKey(props.logRetention);
  }

  /** CheckpointRefused: the signer found a history that does not extend the one it signed last. */
  public metricRefused(options: MetricOptions = {}): Metric {
    return this.metric(CHECKPOINT_METRICS.refused, options);
  }

  /** CheckpointSigned: a checkpoint was signed (one per successful run). */
  public metricSigned(options: MetricOptions = {}): Metric {
    return this.metric(CHECKPOINT_METRICS.signed, options);
  }

  private metric(metricName: string, options: MetricOptions): Metric {
    return new Metric({
      namespace: CHECKPOINT_METRICS.namespace,
      metricName,
      // Powertools metrics 2.x adds one default dimension, `service`, set to the Metrics' serviceName
      // (else POWERTOOLS_SERVICE_NAME). A metric emitted with further dimensions is another metric.
      dimensionsMap: { service: CHECKPOINT_SERVICE_NAME },
      statistic: "Sum",
      period: Duration.minutes(5),
      ...options,
    });
  }

  /** Explicit least privilege: no deletes, puts only to checkpoints/ and the state, lists by prefix only. */
  private grantSignerAccess(role: Role, props: CheckpointSignerProps): void {
    const archive = props.archiveBucket;
    const readable = [CHAINS_PREFIX, CHECKPOINTS_PREFIX].map((prefix) => archive.arnForObjects(`${prefix}*`));
    role.addToPrincipalPolicy(
      new PolicyStatement({
        sid: "ReadChainLinksAndCheckpoints",
        actions: ["s3:GetObject"],
        resources: readable,
      }),
    );
    role.addToPrincipalPolicy(
      new PolicyStatement({
        sid: "ListChainLinksAndCheckpointsWithVersions",
        // Version listings show a second version or a delete marker under chains/ or checkpoints/.
        actions: ["s3:ListBucket", "s3:ListBucketVersions"],
        resources: [archive.bucketArn],
        conditions: { StringLike: { "s3:prefix": [`${CHAINS_PREFIX}*`, `${CHECKPOINTS_PREFIX}*`] } },
      }),
    );
    role.addToPrincipalPolicy(
      new PolicyStatement({
        sid: "AppendCheckpoints",
        actions: ["s3:PutObject"],
        resources: [archive.arnForObjects(`${CHECKPOINTS_PREFIX}*`)],
      }),
    );
    role.addToPrincipalPolicy(
      new PolicyStatement({
        sid: "ReadAndReplaceSignerState",
        actions: ["s3:GetObject", "s3:PutObject"],
        resources: [this.stateBucket.arnForObjects("*")],
      }),
    );
    role.addToPrincipalPolicy(
      new PolicyStatement({
        sid: "ListSignerState",
        // Without it a missing state object reads as 403 instead of 404.
        actions: ["s3:ListBucket"],
        resources: [this.stateBucket.bucketArn],
      }),
    );
    const stack = Stack.of(this);
    role.addToPrincipalPolicy(
      new PolicyStatement({
        sid: "UseArchiveKeyThroughS3",
        // SSE-KMS: GenerateDataKey to put, Decrypt to get (archive and state bucket share the key).
        actions: ["kms:Decrypt", "kms:GenerateDataKey"],
        resources: [props.archiveKey.keyArn],
        conditions: { StringEquals: { "kms:ViaService": `s3.${stack.region}.${stack.urlSuffix}` } },
      }),
    );
    role.addToPrincipalPolicy(
      new PolicyStatement({
        sid: "SignCheckpoints",
        actions: ["kms:Sign", "kms:GetPublicKey"],
        resources: [this.key.keyArn],
      }),
    );

    for (const arn of readable) {
      Validations.of(role).acknowledge({
        id: wildcardFinding(this, arn),
        reason:
          "Chain links and checkpoints are sequence-numbered objects whose keys are not known in advance; " +
          "the wildcard is limited to the one prefix the signer reads (and, for checkpoints/, appends to).",
      });
    }
    Validations.of(role).acknowledge({
      id: wildcardFinding(this, this.stateBucket.arnForObjects("*")),
      reason:
        "The state bucket is the signer's own, dedicated to its state object(s), and its bucket policy " +
        "denies every other principal any put; the runtime owns the state's key name.",
    });
  }

  /**
   * Reads the public key at deployment: the custom resource of lambda/custom-resources/public-key-reader.ts
   * (AwsCustomResource would mangle the DER bytes, aws/aws-cdk#19065; that file says why), bundled like
   * every other function. It answers CloudFormation itself, so no provider framework is needed; its
   * role may only GetPublicKey on the signing key and write its own logs (no tracing, so no X-Ray).
   */
  private readPublicKey(logRetention: RetentionDays): string {
    const reader = sealtrailFunction(this, "PublicKeyReader", {
      entry: "../lambda/custom-resources/public-key-reader.ts",
      description: "sealtrail: custom resource that returns the checkpoint public key (base64 DER SPKI)",
      serviceName: PUBLIC_KEY_READER_SERVICE_NAME,
      timeout: Duration.seconds(30),
      memorySize: 256,
      environment: {},
      logRetention,
      tracing: false,
    });
    ownRole(reader).addToPrincipalPolicy(
      new PolicyStatement({
        sid: "ReadThePublicKey",
        actions: ["kms:GetPublicKey"],
        resources: [this.key.keyArn],
      }),
    );
    const publicKey = new CustomResource(this, "PublicKey", {
      serviceToken: reader.functionArn,
      resourceType: "Custom::SealtrailCheckpointPublicKey",
      properties: { KeyId: this.key.keyArn },
    });
    return publicKey.getAttString("PublicKey");
  }
}
