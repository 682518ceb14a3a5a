/**
 * `SealtrailSearch`: SQL over the archive itself (DESIGN.md "Search"). A Glue database with a table over
 * `events/` (partition projection on dt/hr), a table over `chains/` (the links), the `linked_events`
 * view of only the events a link names, an Athena workgroup that enforces KMS-encrypted results in its
 * own bucket and a bytes-scanned limit, and the named queries over the view.
 *
 * Infrastructure only: columns, view SQL and queries are defined in lambda/core/athena.ts.
 */

import { Duration, Names, RemovalPolicy, Stack, Token, Validations } from "aws-cdk-lib";
import { CfnNamedQuery, CfnWorkGroup } from "aws-cdk-lib/aws-athena";
import { CfnDatabase, CfnTable } from "aws-cdk-lib/aws-glue";
import { type IGrantable, PolicyStatement } from "aws-cdk-lib/aws-iam";
import { type IKey, Key } from "aws-cdk-lib/aws-kms";
import {
  BlockPublicAccess,
  Bucket,
  BucketEncryption,
  type IBucket,
  ObjectOwnership,
} from "aws-cdk-lib/aws-s3";
import { Construct, type IConstruct } from "constructs";
import {
  EVENTS_COLUMNS,
  EVENTS_PARTITION_KEYS,
  encodePrestoView,
  LINKED_EVENTS_COLUMNS,
  LINKS_COLUMNS,
  linkedEventsView,
  NAMED_QUERIES,
  namedQueryText,
  PRESTO_VIEW_EXPANDED_TEXT,
  TABLE_NAMES,
} from "../lambda/core/athena";
import { CHAINS_PREFIX, EVENTS_PARTITIONS, EVENTS_PREFIX } from "../lambda/core/paths";
import { wildcardFinding } from "./function";

/** 10 GiB: a year of a busy tenant's day-partitioned queries fits; a forgotten date range does not. */
export const DEFAULT_BYTES_SCANNED_CUTOFF = 10 * 1024 ** 3;
/** Athena's lower bound for a workgroup's per-query data limit. */
const MIN_BYTES_SCANNED_CUTOFF = 10 * 1024 ** 2;
export const DEFAULT_RESULTS_RETENTION_DAYS = 30;
/** The engine the view SQL and named queries are written and tested for (Trino-based). */
export const ATHENA_ENGINE_VERSION = "Athena engine version 3";
const { date: DT, hour: HR } = EVENTS_PARTITIONS;

/** First day of the dt projection: no event predates it (ingest stamps the server's receive time). */
export const DEFAULT_FIRST_DATE = "2026-01-01";
/** Prefix of query results in the results bucket. */
export const RESULTS_PREFIX = "results/";

const OPENX_JSON_SERDE = "org.openx.data.jsonserde.JsonSerDe";
const TEXT_INPUT_FORMAT = "org.apache.hadoop.mapred.TextInputFormat";
const TEXT_OUTPUT_FORMAT = "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat";

export interface SealtrailSearchProps {
  /** The archive bucket (`Sealtrail.archive.bucket`): events/ and chains/ are read from it. */
  readonly bucket: IBucket;
  /** The archive bucket's KMS key (`Sealtrail.archive.key`): readers need kms:Decrypt through S3. */
  readonly key: IKey;
  /** Where the results bucket writes its server access logs (`Sealtrail.archive.accessLogBucket`). */
  readonly accessLogBucket: IBucket;
  /**
   * Glue database name: lowercase letters, digits and underscores.
   * @default - derived from the construct path, e.g. `sealtrail_search_1a2b3c4d`
   */
  readonly databaseName?: string;
  /**
   * Athena workgroup name.
   * @default - derived from the construct path
   */
  readonly workGroupName?: string;
  /**
   * Per-query limit of data scanned, in bytes; a query that would scan more is cancelled. At least 10 MB.
   * @default DEFAULT_BYTES_SCANNED_CUTOFF (10 GiB)
   */
  readonly bytesScannedCutoffPerQuery?: number;
  /**
   * Days query results are kept in the results bucket.
   * @default 30
   */
  readonly resultsRetentionDays?: number;
  /**
   * First UTC day (YYYY-MM-DD) the dt partition projection covers; it runs to NOW.
   * @default DEFAULT_FIRST_DATE
   */
  readonly firstDate?: string;
  /**
   * Removal policy of the results bucket and its key (query results can hold audit data).
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

/** What `Sealtrail`'s `search` prop sets: every prop but the archive's bucket, key and log bucket. */
export type SealtrailSearchOptions = Omit<SealtrailSearchProps, "bucket" | "key" | "accessLogBucket">;

/** Glue tables, the linked-events view, an enforced and encrypted Athena workgroup, and named queries. */
export class SealtrailSearch extends Construct {
  public readonly database: CfnDatabase;
  public readonly databaseName: string;
  public readonly eventsTable: CfnTable;
  public readonly linksTable: CfnTable;
  /** `linked_events`: the only relation the named queries read. */
  public readonly view: CfnTable;
  public readonly workGroup: CfnWorkGroup;
  public readonly workGroupName: string;
  /** Query results: SSE-KMS with `resultsKey`, TLS only, versioned, expiring. */
  public readonly resultsBucket: Bucket;
  public readonly resultsKey: Key;
  public readonly namedQueries: CfnNamedQuery[];

  private readonly archiveBucket: IBucket;
  private readonly archiveKey: IKey;

  constructor(scope: Construct, id: string, props: SealtrailSearchProps) {
    super(scope, id);
    validateProps(props);
    const stack = Stack.of(this);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    this.archiveBucket = props.bucket;
    this.archiveKey = props.key;
    this.databaseName =
      props.databaseName ??
      Names.uniqueResourceName(this, { separator: "_", maxLength: 64 })
        .toLowerCase()
        .replace(/[^a-z0-9_]/g, "_");
    this.workGroupName =
      props.workGroupName ?? Names.uniqueResourceName(this, { separator: "-", maxLength: 128 });

    this.database = new CfnDatabase(this, "Database", {
      catalogId: stack.account,
      databaseInput: {
        name: this.databaseName,
        description: "sealtrail: the audit archive (events, chain links) and the linked_events view",
      },
    });

    const archiveUrl = (prefix: string) => `s3://${props.bucket.bucketName}/${prefix}`;
    const firstDate = props.firstDate ?? DEFAULT_FIRST_DATE;

    this.eventsTable = this.table("EventsTable", {
      name: TABLE_NAMES.events,
      description:
        "Every data object under events/ (gzip JSON lines, one record per line), linked or not: query linked_events",
      columns: EVENTS_COLUMNS,
      partitionKeys: EVENTS_PARTITION_KEYS,
      location: archiveUrl(EVENTS_PREFIX),
      parameters: {
        // Partition projection: partitions are computed from the key layout, never registered, so a
        // new hour is queryable at once and no crawler or MSCK run is needed.
        "projection.enabled": "true",
        [`projection.${DT}.type`]: "date",
        [`projection.${DT}.format`]: "yyyy-MM-dd",
        [`projection.${DT}.range`]: `${firstDate},NOW`,
        [`projection.${DT}.interval`]: "1",
        [`projection.${DT}.interval.unit`]: "DAYS",
        [`projection.${HR}.type`]: "integer",
        [`projection.${HR}.range`]: "0,23",
        [`projection.${HR}.digits`]: "2",
        "storage.location.template": `${archiveUrl(EVENTS_PREFIX)}${DT}=\${${DT}}/${HR}=\${${HR}}/`,
        compressionType: "gzip",
      },
    });
    this.linksTable = this.table("LinksTable", {
      name: TABLE_NAMES.links,
      description:
        "Every chain link under chains/<chain>/<seq>.json (read recursively; one JSON object per object)",
      columns: LINKS_COLUMNS,
      partitionKeys: [],
      location: archiveUrl(CHAINS_PREFIX),
      parameters: { compressionType: "none" },
    });

    this.view = new CfnTable(this, "LinkedEventsView", {
      catalogId: stack.account,
      databaseName: this.database.ref,
      tableInput: {
        name: TABLE_NAMES.view,
        description: "Events whose data object a chain link names; unlinked or planted objects never appear",
        tableType: "VIRTUAL_VIEW",
        // What Athena writes for `CREATE VIEW`: Athena reads the view from ViewOriginalText.
        parameters: { presto_view: "true", comment: "Presto View" },
        viewOriginalText: encodePrestoView(linkedEventsView(this.databaseName)),
        viewExpandedText: PRESTO_VIEW_EXPANDED_TEXT,
        partitionKeys: [],
        storageDescriptor: {
          columns: LINKED_EVENTS_COLUMNS.map((column) => ({ ...column })),
          serdeInfo: {},
        },
      },
    });
    this.view.addResourceDependency(this.eventsTable);
    this.view.addResourceDependency(this.linksTable);

    this.resultsKey = new Key(this, "ResultsKey", {
      description: "sealtrail: Athena query results",
      enableKeyRotation: true,
      removalPolicy,
    });
    this.resultsBucket = new Bucket(this, "ResultsBucket", {
      encryption: BucketEncryption.KMS,
      encryptionKey: this.resultsKey,
      bucketKeyEnabled: true,
      enforceSSL: true,
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      versioned: true,
      serverAccessLogsBucket: props.accessLogBucket,
      serverAccessLogsPrefix: "athena-results/",
      lifecycleRules: [
        {
          id: "ExpireQueryResults",
          expiration: Duration.days(props.resultsRetentionDays ?? DEFAULT_RESULTS_RETENTION_DAYS),
          // Versioned: without this, expired results would stay as noncurrent versions.
          noncurrentVersionExpiration: Duration.days(1),
          abortIncompleteMultipartUploadAfter: Duration.days(1),
        },
      ],
      removalPolicy,
    });

    this.workGroup = new CfnWorkGroup(this, "WorkGroup", {
      name: this.workGroupName,
      description: "sealtrail: SQL over the audit archive; enforced settings, KMS-encrypted results",
      state: "ENABLED",
      workGroupConfiguration: {
        // Clients cannot override the result location, encryption or the scan limit per query.
        enforceWorkGroupConfiguration: true,
        bytesScannedCutoffPerQuery: props.bytesScannedCutoffPerQuery ?? DEFAULT_BYTES_SCANNED_CUTOFF,
        publishCloudWatchMetricsEnabled: true,
        requesterPaysEnabled: false,
        engineVersion: { selectedEngineVersion: ATHENA_ENGINE_VERSION },
        resultConfiguration: {
          outputLocation: `s3://${this.resultsBucket.bucketName}/${RESULTS_PREFIX}`,
          encryptionConfiguration: { encryptionOption: "SSE_KMS", kmsKey: this.resultsKey.keyArn },
          expectedBucketOwner: stack.account,
        },
      },
    });

    this.namedQueries = NAMED_QUERIES.map((query) => {
      const named = new CfnNamedQuery(this, `Query-${query.name}`, {
        name: query.name,
        description: query.description,
        database: this.databaseName,
        workGroup: this.workGroup.ref,
        queryString: namedQueryText(query),
      });
      named.addResourceDependency(this.view);
      return named;
    });
  }

  /**
   * Grants what a person or role needs to run the named queries in this workgroup: Athena on the
   * workgroup, Glue reads of the database and its three tables, S3 reads of events/ and chains/, the
   * results bucket, and the two keys (archive: decrypt through S3 only; results: encrypt and decrypt).
   */
  public grantQuery(grantee: IGrantable): void {
    const stack = Stack.of(this);
    const region = stack.region;
    const workGroupArn = stack.formatArn({
      service: "athena",
      resource: "workgroup",
      resourceName: this.workGroupName,
    });
    const glueArn = (resource: string, resourceName?: string) =>
      stack.formatArn({ service: "glue", resource, resourceName });
    const tableArns = Object.values(TABLE_NAMES).map((table) =>
      glueArn("table", `${this.databaseName}/${table}`),
    );
    const archiveObjects = [EVENTS_PREFIX, CHAINS_PREFIX].map((prefix) =>
      this.archiveBucket.arnForObjects(`${prefix}*`),
    );
    const resultObjects = this.resultsBucket.arnForObjects(`${RESULTS_PREFIX}*`);
    const viaS3 = { StringEquals: { "kms:ViaService": `s3.${region}.${stack.urlSuffix}` } };

    const statements = [
      new PolicyStatement({
        sid: "RunQueriesInSealtrailWorkGroup",
        actions: [
          "athena:GetWorkGroup",
          "athena:StartQueryExecution",
          "athena:StopQueryExecution",
          "athena:GetQueryExecution",
          "athena:BatchGetQueryExecution",
          "athena:ListQueryExecutions",
          "athena:GetQueryResults",
          "athena:GetQueryResultsStream",
          "athena:GetNamedQuery",
          "athena:BatchGetNamedQuery",
          "athena:ListNamedQueries",
        ],
        resources: [workGroupArn],
      }),
      new PolicyStatement({
        sid: "ReadSealtrailGlueTables",
        actions: ["glue:GetDatabase", "glue:GetTable", "glue:GetTables", "glue:GetPartitions"],
        resources: [glueArn("catalog"), glueArn("database", this.databaseName), ...tableArns],
      }),
      new PolicyStatement({
        sid: "ReadArchiveEventsAndLinks",
        actions: ["s3:GetObject"],
        resources: archiveObjects,
      }),
      new PolicyStatement({
        sid: "ListArchiveEventsAndLinks",
        actions: ["s3:ListBucket", "s3:GetBucketLocation"],
        resources: [this.archiveBucket.bucketArn],
        conditions: { StringLike: { "s3:prefix": [`${EVENTS_PREFIX}*`, `${CHAINS_PREFIX}*`] } },
      }),
      new PolicyStatement({
        sid: "WriteAndReadQueryResults",
        actions: ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"],
        resources: [resultObjects],
      }),
      new PolicyStatement({
        sid: "ListQueryResults",
        actions: ["s3:ListBucket", "s3:GetBucketLocation", "s3:ListBucketMultipartUploads"],
        resources: [this.resultsBucket.bucketArn],
      }),
      new PolicyStatement({
        sid: "DecryptArchiveThroughS3",
        actions: ["kms:Decrypt"],
        resources: [this.archiveKey.keyArn],
        conditions: viaS3,
      }),
      new PolicyStatement({
        sid: "EncryptAndDecryptQueryResultsThroughS3",
        actions: ["kms:Decrypt", "kms:GenerateDataKey"],
        resources: [this.resultsKey.keyArn],
        conditions: viaS3,
      }),
    ];
    for (const statement of statements) grantee.grantPrincipal.addToPrincipalPolicy(statement);

    const principal = grantee.grantPrincipal as unknown;
    if (isConstruct(principal)) {
      for (const arn of archiveObjects) {
        Validations.of(principal).acknowledge({
          id: wildcardFinding(this, arn),
          reason:
            "Athena reads every data object or chain link under this one prefix; their keys are " +
            "content-addressed or sequence-numbered and not known in advance.",
        });
      }
      Validations.of(principal).acknowledge({
        id: wildcardFinding(this, resultObjects),
        reason:
          "Athena writes each query's results under a new, generated key below the workgroup's results " +
          "prefix; the wildcard is limited to that prefix of the dedicated results bucket.",
      });
    }
  }

  private table(
    id: string,
    options: {
      readonly name: string;
      readonly description: string;
      readonly columns: readonly { name: string; type: string }[];
      readonly partitionKeys: readonly { name: string; type: string }[];
      readonly location: string;
      readonly parameters: Record<string, string>;
    },
  ): CfnTable {
    return new CfnTable(this, id, {
      catalogId: Stack.of(this).account,
      databaseName: this.database.ref,
      tableInput: {
        name: options.name,
        description: options.description,
        tableType: "EXTERNAL_TABLE",
        parameters: { EXTERNAL: "TRUE", classification: "json", ...options.parameters },
        partitionKeys: options.partitionKeys.map((column) => ({ ...column })),
        storageDescriptor: {
          location: options.location,
          columns: options.columns.map((column) => ({ ...column })),
          inputFormat: TEXT_INPUT_FORMAT,
          outputFormat: TEXT_OUTPUT_FORMAT,
          serdeInfo: {
            serializationLibrary: OPENX_JSON_SERDE,
            parameters: {
              // Every linked object holds canonical JSON lines (the verifier checks their hashes). A
              // malformed object can only be unlinked (planted or a failed write's leftover); skipping
              // its lines keeps it from failing every query of its partition, and the view drops
              // unlinked objects anyway.
              "ignore.malformed.json": "TRUE",
              // Stored keys are lowercase snake_case already; no case folding or key mapping needed.
              "case.insensitive": "FALSE",
            },
          },
        },
      },
    });
  }
}

function isConstruct(value: unknown): value is IConstruct {
  return Construct.isConstruct(value);
}

function validateProps(props: SealtrailSearchProps): void {
  const problems: string[] = [];
  const known = (value: unknown) => value !== undefined && !Token.isUnresolved(value);
  if (known(props.databaseName) && !/^[a-z0-9_]{1,255}$/.test(props.databaseName as string)) {
    problems.push(
      `databaseName must be lowercase letters, digits and underscores, got "${props.databaseName}"`,
    );
  }
  if (known(props.workGroupName) && !/^[A-Za-z0-9._-]{1,128}$/.test(props.workGroupName as string)) {
    problems.push(`workGroupName must be 1-128 of A-Z a-z 0-9 . _ -, got "${props.workGroupName}"`);
  }
  const cutoff = props.bytesScannedCutoffPerQuery;
  if (known(cutoff) && (!Number.isSafeInteger(cutoff) || (cutoff as number) < MIN_BYTES_SCANNED_CUTOFF)) {
    problems.push(`bytesScannedCutoffPerQuery must be a whole number of bytes >= 10 MB, got ${cutoff}`);
  }
  const retention = props.resultsRetentionDays;
  if (known(retention) && (!Number.isInteger(retention) || (retention as number) < 1)) {
    problems.push(`resultsRetentionDays must be a whole number of days >= 1, got ${retention}`);
  }
  if (props.firstDate !== undefined) {
    const millis = Date.parse(`${props.firstDate}T00:00:00Z`);
    const valid =
      /^\d{4}-\d{2}-\d{2}$/.test(props.firstDate) &&
      !Number.isNaN(millis) &&
      new Date(millis).toISOString().startsWith(props.firstDate);
    if (!valid) problems.push(`firstDate must be a calendar date YYYY-MM-DD, got "${props.firstDate}"`);
  }
  if (problems.length > 0) throw new Error(`Invalid SealtrailSearch props:\n- ${problems.join("\n- ")}`);
}
