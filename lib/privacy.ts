/**
 * Privacy (DESIGN.md, "Privacy"; docs/privacy.md): with the `privacy` prop, the KMS key that wraps each
 * data subject's key, the KMS HMAC key the pseudonyms derive from, and their configuration on the two
 * functions that seal and open records (ingest, and query, which also archives reads and serves the
 * subject routes). Both keys are reserved to those two roles like the cursor key (lib/key-policy.ts):
 * nobody else, the account's administrators included, can unwrap a data key or compute a pseudonym.
 * Infrastructure only: the privacy layer is lambda/privacy/.
 */
import { RemovalPolicy, Token } from "aws-cdk-lib";
import type { Table } from "aws-cdk-lib/aws-dynamodb";
import { Effect, PolicyStatement } from "aws-cdk-lib/aws-iam";
import { Key, KeySpec, KeyUsage } from "aws-cdk-lib/aws-kms";
import type { NodejsFunction } from "aws-cdk-lib/aws-lambda-nodejs";
import { Construct } from "constructs";
import { legalHoldKey } from "../lambda/core/index-items";
import { PARTITION_KEY } from "../lambda/core/index-table";
import {
  type PersonalField,
  type PrivacyPolicy,
  PrivacyPolicySchema,
  type SearchableField,
} from "../lambda/core/privacy/policy";
import {
  DEFAULT_ERASE_SCOPE,
  DEFAULT_ERASURE_HORIZON_DAYS,
  ENV,
  MAX_ERASURE_HORIZON_DAYS,
} from "../lambda/runtime/config";
import { ownRole } from "./function";
import { reservedKeyPolicy, reserveKeyUse } from "./key-policy";

/** The `privacy` prop as an object; `true` is `{}`: the default policy, scope and horizon. */
export interface SealtrailPrivacyOptions {
  /**
   * The fields sealed under the data subject's key (PERSONAL_FIELDS of lambda/core/privacy/policy.ts).
   * @default - DEFAULT_PERSONAL_FIELDS: actor and reporter `sub` and `session_id`, `http.source_ip`, `http.user_agent`, `details`
   */
  readonly personal?: readonly PersonalField[];
  /**
   * The personal fields that stay searchable as keyed pseudonyms; each must be personal too.
   * @default - DEFAULT_SEARCHABLE_FIELDS: `actor.sub`, `actor.session_id`
   */
  readonly searchable?: readonly SearchableField[];
  /**
   * Scope `POST /v1/subjects/erase` requires: one of its own, none of `scopes`.
   * @default "sealtrail/erase"
   */
  readonly eraseScope?: string;
  /**
   * The index table's point-in-time recovery window, in days (1 to 35): a destroyed data key can be
   * restored from a backup for this long, so erasure is complete only this many days after it.
   * @default 7
   */
  readonly erasureHorizonDays?: number;
}

/** The `privacy` prop with every default applied. */
export interface PrivacySettings {
  readonly policy: PrivacyPolicy;
  readonly eraseScope: string;
  readonly erasureHorizonDays: number;
}

const OPTION_NAMES = ["personal", "searchable", "eraseScope", "erasureHorizonDays"] as const;

/** The only operations of the wrapping key (lambda/aws/kms-key-wrapper.ts), reserved to the two roles. */
export const WRAP_KEY_ACTIONS = ["kms:Encrypt", "kms:Decrypt"] as const;
/** The only operation of the pseudonym key (lambda/privacy/pseudonym-keys.ts), reserved to the two roles. */
export const PSEUDONYM_KEY_ACTIONS = ["kms:GenerateMac"] as const;
/** Writes that would replace a data subject's item whole: denied to every role that writes the index. */
export const SUBJECT_ITEM_PUTS = ["dynamodb:PutItem", "dynamodb:BatchWriteItem"] as const;

/** The encryption context every wrap and unwrap names (lambda/aws/kms-key-wrapper.ts). */
export const WRAP_CONTEXT_KEYS = ["sealtrail:tenant", "sealtrail:subject"] as const;

/**
 * The partitions of the data subjects' items (their key and legal hold, lambda/core/index-items.ts),
 * derived from the item builder so the grant follows the layout: `subject#*`.
 */
export const SUBJECT_PARTITIONS = `${String(legalHoldKey("tenant", "subject")[PARTITION_KEY]).replace(/tenant#subject$/, "")}*`;

function policyOf(options: SealtrailPrivacyOptions) {
  return PrivacyPolicySchema.safeParse({ personal: options.personal, searchable: options.searchable });
}

function optionsOf(
  privacy: boolean | SealtrailPrivacyOptions | undefined,
): SealtrailPrivacyOptions | undefined {
  if (privacy === undefined || privacy === false) return undefined;
  return privacy === true ? {} : privacy;
}

/**
 * What is wrong with the `privacy` prop, each with its fix; `otherScopes` are the API's scopes, which
 * the erase scope must differ from (erasure needs a scope of its own).
 */
export function privacyProblems(
  privacy: boolean | SealtrailPrivacyOptions | undefined,
  otherScopes: readonly string[],
): string[] {
  if (typeof privacy !== "boolean" && (typeof privacy !== "object" || privacy === null)) {
    return privacy === undefined
      ? []
      : [
          `privacy must be true, false or an object of ${OPTION_NAMES.join(", ")}, got ${JSON.stringify(privacy)}`,
        ];
  }
  const options = optionsOf(privacy);
  if (options === undefined) return [];
  const problems = Object.keys(options)
    .filter((name) => !(OPTION_NAMES as readonly string[]).includes(name))
    .map((name) => `privacy.${name} is not a privacy option: use ${OPTION_NAMES.join(", ")}`);
  const policy = policyOf(options);
  if (!policy.success) {
    for (const issue of policy.error.issues) {
      const path = issue.path.map((part) => (typeof part === "number" ? `[${part}]` : `.${String(part)}`));
      problems.push(`privacy${path.join("")}: ${issue.message}`);
    }
  }
  const { eraseScope, erasureHorizonDays } = options;
  if (eraseScope !== undefined && !Token.isUnresolved(eraseScope)) {
    if (typeof eraseScope !== "string" || eraseScope.trim() === "" || /\s/.test(eraseScope)) {
      problems.push(
        `privacy.eraseScope must be one non-empty scope without spaces, got ${JSON.stringify(eraseScope)}`,
      );
    } else if (otherScopes.includes(eraseScope)) {
      problems.push(
        `privacy.eraseScope "${eraseScope}" is also a scope of other routes: erasure needs a scope of its own (default ${DEFAULT_ERASE_SCOPE})`,
      );
    }
  }
  if (
    erasureHorizonDays !== undefined &&
    !Token.isUnresolved(erasureHorizonDays) &&
    (!Number.isInteger(erasureHorizonDays) ||
      erasureHorizonDays < 1 ||
      erasureHorizonDays > MAX_ERASURE_HORIZON_DAYS)
  ) {
    problems.push(
      `privacy.erasureHorizonDays must be a whole number from 1 to ${MAX_ERASURE_HORIZON_DAYS}, got ${erasureHorizonDays}: ` +
        `pass the days of the table's point-in-time recovery (default ${DEFAULT_ERASURE_HORIZON_DAYS})`,
    );
  }
  return problems;
}

/** The settings of a `privacy` prop that `privacyProblems` accepted; undefined when privacy is off. */
export function privacySettings(
  privacy: boolean | SealtrailPrivacyOptions | undefined,
): PrivacySettings | undefined {
  const options = optionsOf(privacy);
  if (options === undefined) return undefined;
  const policy = policyOf(options);
  if (!policy.success) throw new Error("privacySettings: check the prop with privacyProblems first");
  return {
    policy: policy.data,
    eraseScope: options.eraseScope ?? DEFAULT_ERASE_SCOPE,
    erasureHorizonDays: options.erasureHorizonDays ?? DEFAULT_ERASURE_HORIZON_DAYS,
  };
}

export interface SealtrailPrivacyProps {
  readonly settings: PrivacySettings;
  readonly ingestFunction: NodejsFunction;
  /** Also serves the subject routes (SUBJECT_ROUTES): it places and releases legal holds. */
  readonly queryFunction: NodejsFunction;
  /** Writes the index too, and may touch no data subject's item. */
  readonly reindexFunction: NodejsFunction;
  /** The index table, which keeps the wrapped data keys and the legal holds. */
  readonly table: Table;
}

/**
 * The wrapping key and the pseudonym key, reserved to the ingest and query roles, and the privacy
 * configuration (`ENV`) on both functions. The caller sets the table's recovery window and the routes.
 */
export class SealtrailPrivacy extends Construct {
  /** KMS symmetric ENCRYPT_DECRYPT key that wraps each data subject's key (with the subject as encryption context). */
  public readonly wrapKey: Key;
  /** KMS HMAC_256 key from which each tenant's pseudonym key is derived; destroying it ends pseudonym search. */
  public readonly pseudonymKey: Key;

  constructor(scope: Construct, id: string, props: SealtrailPrivacyProps) {
    super(scope, id);
    const functions = [props.ingestFunction, props.queryFunction];
    const roles = functions.map(ownRole);

    this.wrapKey = new Key(this, "WrapKey", {
      description: "sealtrail: wraps each data subject's key; only the ingest and query functions may use it",
      enableKeyRotation: true,
      // A deleted wrapping key would erase every subject at once, and nothing could undo it.
      removalPolicy: RemovalPolicy.RETAIN,
      policy: reservedKeyPolicy({ administerSid: "AllowAccountToAdministerTheKeyButNotUseIt" }),
    });
    this.pseudonymKey = new Key(this, "PseudonymKey", {
      description:
        "sealtrail: derives each tenant's pseudonym key (HMAC_SHA_256); only the ingest and query functions may use it",
      keySpec: KeySpec.HMAC_256,
      keyUsage: KeyUsage.GENERATE_VERIFY_MAC,
      // KMS rotates no HMAC key, and a new one would change every pseudonym: searches would miss old events.
      enableKeyRotation: false,
      removalPolicy: RemovalPolicy.RETAIN,
      policy: reservedKeyPolicy({ administerSid: "AllowAccountToAdministerTheKeyButNotUseIt" }),
    });

    // Every wrap and unwrap names its tenant and subject: KMS refuses a data key presented for
    // another subject, and CloudTrail records which (pseudonymous) subject each Decrypt was for.
    const wrapContext = {
      Null: Object.fromEntries(WRAP_CONTEXT_KEYS.map((key) => [`kms:EncryptionContext:${key}`, "false"])),
      // And no other context key: a request names exactly these two.
      "ForAllValues:StringEquals": { "kms:EncryptionContextKeys": [...WRAP_CONTEXT_KEYS] },
    };
    reserveKeyUse(this.wrapKey, roles, {
      actions: WRAP_KEY_ACTIONS,
      allowSid: "AllowIngestAndQueryFunctionsToWrapSubjectKeys",
      denySid: "DenyWrappingToEveryoneButTheIngestAndQueryFunctions",
      conditions: wrapContext,
    });
    reserveKeyUse(this.pseudonymKey, roles, {
      actions: PSEUDONYM_KEY_ACTIONS,
      allowSid: "AllowIngestAndQueryFunctionsToDerivePseudonymKeys",
      denySid: "DenyPseudonymsToEveryoneButTheIngestAndQueryFunctions",
    });

    const { settings } = props;
    for (const [index, fn] of functions.entries()) {
      const role = roles[index] as (typeof roles)[number];
      role.addToPrincipalPolicy(
        new PolicyStatement({
          sid: "WrapSubjectKeys",
          actions: [...WRAP_KEY_ACTIONS],
          resources: [this.wrapKey.keyArn],
          conditions: wrapContext,
        }),
      );
      role.addToPrincipalPolicy(
        new PolicyStatement({
          sid: "DerivePseudonymKeys",
          actions: [...PSEUDONYM_KEY_ACTIONS],
          resources: [this.pseudonymKey.keyArn],
        }),
      );
      fn.addEnvironment(ENV.privacy, JSON.stringify(settings.policy));
      fn.addEnvironment(ENV.privacyWrapKeyId, this.wrapKey.keyArn);
      fn.addEnvironment(ENV.privacyPseudonymKeyId, this.pseudonymKey.keyArn);
      fn.addEnvironment(ENV.eraseScope, settings.eraseScope);
      fn.addEnvironment(ENV.erasureHorizonDays, String(settings.erasureHorizonDays));
    }

    // The data keys and holds are changed only by the adapter's conditional updates and the hold
    // release: no role that writes the index may put, batch-write (puts and deletes alike) or, for
    // the reindex job, update or delete a data subject's item. An explicit Deny, so no later Allow
    // on the table widens it.
    const subjectItems = { "ForAnyValue:StringLike": { "dynamodb:LeadingKeys": [SUBJECT_PARTITIONS] } };
    for (const role of roles) {
      role.addToPrincipalPolicy(
        new PolicyStatement({
          sid: "DenyPuttingDataSubjectItems",
          effect: Effect.DENY,
          actions: [...SUBJECT_ITEM_PUTS],
          resources: [props.table.tableArn],
          conditions: subjectItems,
        }),
      );
    }
    ownRole(props.reindexFunction).addToPrincipalPolicy(
      new PolicyStatement({
        sid: "DenyChangingDataSubjectItems",
        effect: Effect.DENY,
        actions: [...SUBJECT_ITEM_PUTS, "dynamodb:UpdateItem", "dynamodb:DeleteItem"],
        resources: [props.table.tableArn],
        conditions: subjectItems,
      }),
    );

    ownRole(props.queryFunction).addToPrincipalPolicy(
      new PolicyStatement({
        // Releasing a legal hold deletes its item (lambda/aws/subject-key-store.ts). The write path has
        // no DeleteItem at all; this one reaches only the data subjects' partitions, never an event's.
        sid: "ReleaseLegalHolds",
        actions: ["dynamodb:DeleteItem"],
        resources: [props.table.tableArn],
        conditions: { "ForAllValues:StringLike": { "dynamodb:LeadingKeys": [SUBJECT_PARTITIONS] } },
      }),
    );
  }
}
