import { Stack, type StackProps } from "aws-cdk-lib";
import type { Construct } from "constructs";
import { addSealtrailOutputs, Sealtrail, type SealtrailProps } from "./sealtrail";

/** Stack props: the usual StackProps plus every Sealtrail prop, flat. */
export interface SealtrailStackProps extends StackProps, SealtrailProps {}

/**
 * The deployable sealtrail stack: one Sealtrail construct and its outputs ApiUrl, BucketName, TableName,
 * CheckpointKeyArn and CheckpointPublicKey.
 */
export class SealtrailStack extends Stack {
  public readonly sealtrail: Sealtrail;

  constructor(scope: Construct, id: string, props: SealtrailStackProps) {
    super(scope, id, props);
    this.sealtrail = new Sealtrail(this, "Sealtrail", {
      issuer: props.issuer,
      audience: props.audience,
      retentionDays: props.retentionDays,
      chains: props.chains,
      tenantClaim: props.tenantClaim,
      subjectIssuers: props.subjectIssuers,
      subjectTokenLeewaySeconds: props.subjectTokenLeewaySeconds,
      indexTtlDays: props.indexTtlDays,
      scopes: props.scopes,
      leaseSeconds: props.leaseSeconds,
      alarmEmail: props.alarmEmail,
      throttleRateLimit: props.throttleRateLimit,
      throttleBurstLimit: props.throttleBurstLimit,
      logRetention: props.logRetention,
      authFailureAlarmThreshold: props.authFailureAlarmThreshold,
      watchedActions: props.watchedActions,
      verificationPeriod: props.verificationPeriod,
      verificationMaxAge: props.verificationMaxAge,
      replica: props.replica,
    });
    addSealtrailOutputs(this, this.sealtrail);
  }
}
