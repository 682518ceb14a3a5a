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
    // Every prop passes through, none listed here, so a new Sealtrail prop cannot be dropped on the way;
    // the Stack's own props (env, description, …) are not Sealtrail props and it ignores them.
    this.sealtrail = new Sealtrail(this, "Sealtrail", props);
    addSealtrailOutputs(this, this.sealtrail);
  }
}
