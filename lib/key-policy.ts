/**
 * KMS keys whose cryptographic use is reserved to one role or a few: the checkpoint signing key
 * (kms:Sign, only the signer), the cursor MAC key (kms:GenerateMac/VerifyMac, only the query function)
 * and the privacy keys (lib/privacy.ts: only the ingest and query functions). The account administers
 * such a key but cannot use it, and no IAM policy or grant can change that.
 */
import {
  AccountRootPrincipal,
  AnyPrincipal,
  Effect,
  type IRole,
  PolicyDocument,
  PolicyStatement,
} from "aws-cdk-lib/aws-iam";
import type { Key } from "aws-cdk-lib/aws-kms";

/**
 * Administrative actions of the account on a reserved key: CDK's key-administrator list
 * (aws-kms ADMIN_ACTIONS) with kms:Create* narrowed to kms:CreateAlias, so it includes neither
 * kms:CreateGrant (a grant could hand out the reserved operation) nor any cryptographic operation.
 */
export const KEY_ADMIN_ACTIONS = [
  "kms:CreateAlias",
  "kms:Describe*",
  "kms:Enable*",
  "kms:List*",
  "kms:Put*",
  "kms:Update*",
  "kms:Revoke*",
  "kms:Disable*",
  "kms:Get*",
  "kms:Delete*",
  "kms:TagResource",
  "kms:UntagResource",
  "kms:ScheduleKeyDeletion",
  "kms:CancelKeyDeletion",
];

export interface ReservedKeyPolicyOptions {
  /** Sid of the account's administration statement, naming what it leaves out, e.g. `...ButNotSign`. */
  readonly administerSid: string;
  /** Further non-cryptographic actions the account may take, e.g. reading a public key. */
  readonly accountReads?: { readonly sid: string; readonly actions: readonly string[] };
}

/**
 * The initial policy of a reserved key; it replaces CDK's default "account root may kms:*" statement
 * (given `policy`, CDK adds none). Why this shape:
 * - KMS honours IAM policies for an action only if the key policy allows that action to the account.
 *   The account statement lists administration but no cryptographic operation, so no IAM policy
 *   (AdministratorAccess included) can confer one, and it omits kms:CreateGrant, so no grant can either
 *   (and an explicit Deny of kms:CreateGrant to everyone backs that up).
 * - The account keeps kms:PutKeyPolicy (in kms:Put*): CloudFormation updates the policy on every
 *   deploy, and KMS refuses a policy that locks its caller out of PutKeyPolicy. The price is that an
 *   administrator could rewrite the policy and then use the key; that is an explicit, CloudTrail-logged
 *   management event, not a standing permission.
 * - The one user is added with `reserveKeyUse` once its role exists.
 */
export function reservedKeyPolicy(options: ReservedKeyPolicyOptions): PolicyDocument {
  const account = new AccountRootPrincipal();
  const statements = [
    new PolicyStatement({
      sid: options.administerSid,
      principals: [account],
      actions: KEY_ADMIN_ACTIONS,
      resources: ["*"],
    }),
  ];
  if (options.accountReads !== undefined) {
    statements.push(
      new PolicyStatement({
        sid: options.accountReads.sid,
        principals: [account],
        actions: [...options.accountReads.actions],
        resources: ["*"],
      }),
    );
  }
  statements.push(
    new PolicyStatement({
      sid: "DenyGrants",
      effect: Effect.DENY,
      principals: [new AnyPrincipal()],
      actions: ["kms:CreateGrant"],
      resources: ["*"],
    }),
  );
  return new PolicyDocument({ statements });
}

export interface ReservedKeyUse {
  /** The cryptographic operations reserved to the role(s). */
  readonly actions: readonly string[];
  readonly allowSid: string;
  readonly denySid: string;
  /** Conditions of the allow, e.g. the encryption context every request must carry. */
  readonly conditions?: Record<string, Record<string, unknown>>;
}

/**
 * Allows `use.actions` on `key` to `role` (or each of `roles`) in the key policy, and denies them to
 * every other principal (aws:PrincipalArn is the role's ARN for its sessions too). An explicit Deny wins
 * over any Allow in a key policy, an IAM policy or a grant, so a later edit that widens an Allow cannot
 * widen the use.
 */
export function reserveKeyUse(key: Key, role: IRole | readonly IRole[], use: ReservedKeyUse): void {
  const roles: readonly IRole[] = Array.isArray(role) ? role : [role as IRole];
  const arns = roles.map((r) => r.roleArn);
  key.addToResourcePolicy(
    new PolicyStatement({
      sid: use.allowSid,
      principals: [...roles],
      actions: [...use.actions],
      resources: ["*"],
      conditions: use.conditions,
    }),
  );
  key.addToResourcePolicy(
    new PolicyStatement({
      sid: use.denySid,
      effect: Effect.DENY,
      principals: [new AnyPrincipal()],
      actions: [...use.actions],
      resources: ["*"],
      // A negated operator with several values holds when the ARN equals none of them.
      conditions: { ArnNotEquals: { "aws:PrincipalArn": arns.length === 1 ? arns[0] : arns } },
    }),
  );
}
