/**
 * SealtrailSearch as CloudFormation: the Glue tables carry exactly the generated columns, the view is a
 * Presto view of the expected SQL, the workgroup enforces encrypted results and a scan limit, the named
 * queries read the view, the results bucket is hardened, and cdk-nag AwsSolutions finds nothing.
 */
import { type App, Stack, Validations } from "aws-cdk-lib";
import { Match, Template } from "aws-cdk-lib/assertions";
import { Role, ServicePrincipal } from "aws-cdk-lib/aws-iam";
import { Key } from "aws-cdk-lib/aws-kms";
import { BlockPublicAccess, Bucket, BucketEncryption } from "aws-cdk-lib/aws-s3";
import { AwsSolutionsChecks } from "cdk-nag";
import { beforeAll, describe, expect, it } from "vitest";
import {
  EVENTS_COLUMNS,
  LINKED_EVENTS_COLUMNS,
  LINKED_EVENTS_SQL,
  LINKS_COLUMNS,
  NAMED_QUERIES,
  namedQueryText,
  PRESTO_VIEW_EXPANDED_TEXT,
} from "../../lambda/core/athena";
import { RECORD_KEYS } from "../../lambda/core/record";
import {
  ATHENA_ENGINE_VERSION,
  DEFAULT_BYTES_SCANNED_CUTOFF,
  DEFAULT_FIRST_DATE,
  SealtrailSearch,
  type SealtrailSearchProps,
} from "../../lib/search";
import { countPlaceholders, decodePrestoView } from "../support/athena-definitions";
import { asArray, flatten, logicalId, newApp, type Statement } from "./helpers";

interface TestStack {
  readonly app: App;
  readonly stack: Stack;
  readonly search: SealtrailSearch;
  readonly template: Template;
}

/** A small stack like the one Sealtrail builds: a KMS key, an access-log bucket, the archive bucket. */
function searchStack(
  props: Partial<SealtrailSearchProps> = {},
  options: { readonly auditor?: boolean; readonly extra?: (stack: Stack) => void } = {},
): TestStack {
  const app = newApp();
  const stack = new Stack(app, "SearchTest", { env: { account: "111122223333", region: "eu-west-1" } });
  const key = new Key(stack, "ArchiveKey", { enableKeyRotation: true });
  const accessLogBucket = new Bucket(stack, "AccessLogBucket", {
    encryption: BucketEncryption.S3_MANAGED,
    enforceSSL: true,
    blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
    versioned: true,
  });
  const bucket = new Bucket(stack, "ArchiveBucket", {
    encryption: BucketEncryption.KMS,
    encryptionKey: key,
    enforceSSL: true,
    blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
    versioned: true,
    serverAccessLogsBucket: accessLogBucket,
    serverAccessLogsPrefix: "archive/",
  });
  const search = new SealtrailSearch(stack, "Search", { bucket, key, accessLogBucket, ...props });
  options.extra?.(stack);
  if (options.auditor) {
    const auditor = new Role(stack, "Auditor", { assumedBy: new ServicePrincipal("athena.amazonaws.com") });
    search.grantQuery(auditor);
  }
  return { app, stack, search, template: Template.fromStack(stack) };
}

/** Columns as CloudFormation spells them. */
const cfn = (columns: readonly { name: string; type: string }[]) =>
  columns.map((column) => ({ Name: column.name, Type: column.type }));

type Resource = { Properties: Record<string, unknown> } & Record<string, unknown>;

function resource(template: Template, type: string, prefix: string): Resource {
  return template.toJSON().Resources[logicalId(template, type, prefix)] as Resource;
}

function tableInput(template: Template, prefix: string): Record<string, unknown> {
  return resource(template, "AWS::Glue::Table", prefix).Properties.TableInput as Record<string, unknown>;
}

function storage(input: Record<string, unknown>): Record<string, unknown> {
  return input.StorageDescriptor as Record<string, unknown>;
}

describe("SealtrailSearch", () => {
  let built: TestStack;
  let template: Template;
  let databaseName: string;

  beforeAll(() => {
    built = searchStack();
    template = built.template;
    databaseName = built.search.databaseName;
  }, 120_000);

  describe("Glue database and events table", () => {
    it("creates one database, named as the construct reports", () => {
      template.resourceCountIs("AWS::Glue::Database", 1);
      template.hasResourceProperties("AWS::Glue::Database", {
        CatalogId: "111122223333",
        DatabaseInput: Match.objectLike({ Name: databaseName }),
      });
      expect(databaseName).toMatch(/^[a-z0-9_]+$/);
    });

    it("has exactly the columns generated from EventRecordSchema, one per record key", () => {
      const input = tableInput(template, "SearchEventsTable");
      expect(input.Name).toBe("events");
      expect(storage(input).Columns).toEqual(cfn(EVENTS_COLUMNS));
      expect(EVENTS_COLUMNS.map((column) => column.name)).toEqual(RECORD_KEYS);
    });

    it("types the record as stored: nested objects as structs, arrays, booleans, ints, details as a string", () => {
      // A tripwire on the generator: these are the stored format's types (DESIGN.md "Event record").
      const type = Object.fromEntries(EVENTS_COLUMNS.map((column) => [column.name, column.type]));
      const principal =
        "struct<sub:string,iss:string,session_id:string,token_id:string,token_exp:bigint,token_iat:bigint," +
        "client_id:string,azp:string,aud:array<string>,roles:array<string>,scopes:array<string>,verified:boolean>";
      expect(type).toEqual({
        v: "int",
        id: "string",
        time: "string",
        action: "string",
        outcome: "string",
        occurred_at: "string",
        actor: principal,
        reporter: principal,
        resource: "struct<type:string,id:string>",
        http: "struct<request_id:string,method:string,endpoint:string,route:string,status:bigint,duration_ms:double,source_ip:string,user_agent:string>",
        ingest: "struct<request_id:string,source_ip:string,user_agent:string>",
        tenant: "string",
        details: "string",
        privacy: "struct<subject:string,key:bigint,fields:array<struct<path:string,ciphertext:string>>>",
      });
    });

    it("reads gzip JSON lines with the OpenX JSON SerDe under events/", () => {
      const input = tableInput(template, "SearchEventsTable");
      const descriptor = storage(input);
      expect(input.TableType).toBe("EXTERNAL_TABLE");
      expect(descriptor.SerdeInfo).toEqual({
        SerializationLibrary: "org.openx.data.jsonserde.JsonSerDe",
        Parameters: { "ignore.malformed.json": "TRUE", "case.insensitive": "FALSE" },
      });
      expect(descriptor.InputFormat).toBe("org.apache.hadoop.mapred.TextInputFormat");
      const bucket = logicalId(template, "AWS::S3::Bucket", "ArchiveBucket");
      expect(flatten(descriptor.Location)).toBe(`s3://<${bucket}>/events/`);
    });

    it("projects dt (dates from the first date to NOW) and hr (00..23) onto the key layout", () => {
      const input = tableInput(template, "SearchEventsTable");
      expect(input.PartitionKeys).toEqual([
        { Name: "dt", Type: "string" },
        { Name: "hr", Type: "string" },
      ]);
      const parameters = input.Parameters as Record<string, unknown>;
      const bucket = `<${logicalId(template, "AWS::S3::Bucket", "ArchiveBucket")}>`;
      expect({
        ...parameters,
        "storage.location.template": flatten(parameters["storage.location.template"]),
      }).toEqual({
        EXTERNAL: "TRUE",
        classification: "json",
        compressionType: "gzip",
        "projection.enabled": "true",
        "projection.dt.type": "date",
        "projection.dt.format": "yyyy-MM-dd",
        "projection.dt.range": `${DEFAULT_FIRST_DATE},NOW`,
        "projection.dt.interval": "1",
        "projection.dt.interval.unit": "DAYS",
        "projection.hr.type": "integer",
        "projection.hr.range": "0,23",
        "projection.hr.digits": "2",
        "storage.location.template": `s3://${bucket}/events/dt=\${dt}/hr=\${hr}/`,
      });
    });
  });

  describe("links table", () => {
    it("has exactly the columns generated from the chain link format, over chains/", () => {
      const input = tableInput(template, "SearchLinksTable");
      expect(input.Name).toBe("links");
      expect(storage(input).Columns).toEqual(cfn(LINKS_COLUMNS));
      expect(LINKS_COLUMNS).toEqual([
        { name: "v", type: "int" },
        { name: "chain", type: "string" },
        { name: "seq", type: "bigint" },
        { name: "prev", type: "string" },
        { name: "time", type: "string" },
        {
          name: "batch",
          type: "struct<key:string,sha256:string,root:string,count:bigint,first_time:string,last_time:string>",
        },
      ]);
      expect(input.PartitionKeys).toEqual([]);
      const bucket = `<${logicalId(template, "AWS::S3::Bucket", "ArchiveBucket")}>`;
      expect(flatten(storage(input).Location)).toBe(`s3://${bucket}/chains/`);
      expect((storage(input).SerdeInfo as { SerializationLibrary: string }).SerializationLibrary).toBe(
        "org.openx.data.jsonserde.JsonSerDe",
      );
    });
  });

  describe("linked_events view", () => {
    it("is a Glue VIRTUAL_VIEW in Athena's Presto-view encoding", () => {
      const input = tableInput(template, "SearchLinkedEventsView");
      expect(input.Name).toBe("linked_events");
      expect(input.TableType).toBe("VIRTUAL_VIEW");
      expect(input.Parameters).toEqual({ presto_view: "true", comment: "Presto View" });
      expect(input.ViewExpandedText).toBe(PRESTO_VIEW_EXPANDED_TEXT);
      expect(input.ViewOriginalText).toMatch(/^\/\* Presto View: [A-Za-z0-9+/]+=*\x20\*\/$/);
    });

    it("decodes to the linked-events SQL in this database, with every column and its Presto type", () => {
      const input = tableInput(template, "SearchLinkedEventsView");
      const view = decodePrestoView(input.ViewOriginalText as string);
      expect(view.originalSql).toBe(LINKED_EVENTS_SQL);
      expect(view.catalog).toBe("awsdatacatalog");
      expect(view.schema).toBe(databaseName);
      expect(view.columns.map((column) => column.name)).toEqual([...RECORD_KEYS, "dt", "hr"]);
      const type = Object.fromEntries(view.columns.map((column) => [column.name, column.type]));
      expect(type.v).toBe("integer");
      expect(type.details).toBe("varchar");
      expect(type.resource).toBe("row(type varchar, id varchar)");
      expect(type.actor).toMatch(/^row\(sub varchar, .*aud array\(varchar\), .*verified boolean\)$/);
      expect(type.dt).toBe("varchar");
      expect(storage(input).Columns).toEqual(cfn(LINKED_EVENTS_COLUMNS));
    });

    it("keeps only events whose object a link names, by an exact path match", () => {
      expect(LINKED_EVENTS_SQL).toContain(`WHERE e."$path" IN (`);
      expect(LINKED_EVENTS_SQL).toContain(`regexp_extract(l."$path", '^s3://[^/]+/') || l."batch"."key"`);
      expect(LINKED_EVENTS_SQL).not.toMatch(/LIKE|\*/);
    });
  });

  describe("Athena workgroup", () => {
    it("enforces its configuration, pins the engine and limits bytes scanned per query (10 GiB default)", () => {
      const configuration = resource(template, "AWS::Athena::WorkGroup", "SearchWorkGroup").Properties
        .WorkGroupConfiguration as Record<string, unknown>;
      expect(configuration.EnforceWorkGroupConfiguration).toBe(true);
      expect(configuration.BytesScannedCutoffPerQuery).toBe(DEFAULT_BYTES_SCANNED_CUTOFF);
      expect(DEFAULT_BYTES_SCANNED_CUTOFF).toBe(10 * 1024 ** 3);
      expect(configuration.EngineVersion).toEqual({ SelectedEngineVersion: ATHENA_ENGINE_VERSION });
      expect(configuration.RequesterPaysEnabled).toBe(false);
    });

    it("writes results to the results bucket, SSE-KMS under the results key", () => {
      const configuration = resource(template, "AWS::Athena::WorkGroup", "SearchWorkGroup").Properties
        .WorkGroupConfiguration as { ResultConfiguration: Record<string, unknown> };
      const results = logicalId(template, "AWS::S3::Bucket", "SearchResultsBucket");
      const key = logicalId(template, "AWS::KMS::Key", "SearchResultsKey");
      expect(flatten(configuration.ResultConfiguration.OutputLocation)).toBe(`s3://<${results}>/results/`);
      expect(configuration.ResultConfiguration.EncryptionConfiguration).toEqual({
        EncryptionOption: "SSE_KMS",
        KmsKey: { "Fn::GetAtt": [key, "Arn"] },
      });
      expect(configuration.ResultConfiguration.ExpectedBucketOwner).toBe("111122223333");
    });

    it("takes the bytes-scanned limit from props and refuses one below Athena's minimum", () => {
      const custom = searchStack({ bytesScannedCutoffPerQuery: 1024 ** 3 });
      custom.template.hasResourceProperties("AWS::Athena::WorkGroup", {
        WorkGroupConfiguration: Match.objectLike({ BytesScannedCutoffPerQuery: 1024 ** 3 }),
      });
      expect(() => searchStack({ bytesScannedCutoffPerQuery: 1000 })).toThrow(/bytesScannedCutoffPerQuery/);
      expect(() => searchStack({ databaseName: "Bad-Name" })).toThrow(/databaseName/);
      expect(() => searchStack({ firstDate: "2026-02-30" })).toThrow(/firstDate/);
    });
  });

  describe("named queries", () => {
    it("saves at least the six required queries in the workgroup and database", () => {
      const queries = Object.values(template.findResources("AWS::Athena::NamedQuery")) as Resource[];
      const names = queries.map((query) => query.Properties.Name);
      expect(names).toEqual(NAMED_QUERIES.map((query) => query.name));
      expect(names).toEqual(
        expect.arrayContaining([
          "actions_by_user_in_time_range",
          "who_accessed_resource",
          "failed_logins_by_source_ip",
          "permission_changes_last_7_days",
          "unverified_actors",
          "session_timeline",
        ]),
      );
      const workGroup = logicalId(template, "AWS::Athena::WorkGroup", "SearchWorkGroup");
      for (const query of queries) {
        expect(query.Properties.Database).toBe(databaseName);
        expect(query.Properties.WorkGroup).toEqual({ Ref: workGroup });
      }
    });

    it("reads only the view, and documents every placeholder in order", () => {
      const queries = Object.values(template.findResources("AWS::Athena::NamedQuery")) as Resource[];
      for (const definition of NAMED_QUERIES) {
        const saved = queries.find((query) => query.Properties.Name === definition.name);
        const text = saved?.Properties.QueryString as string;
        expect(text).toBe(namedQueryText(definition));
        expect(text, definition.name).toMatch(/\nFROM linked_events\n/);
        expect(text, definition.name).not.toMatch(/\b(FROM|JOIN)\s+"?(events|links)"?\b/);
        expect(countPlaceholders(text), definition.name).toBe(definition.parameters.length);
        definition.parameters.forEach((parameter, index) => {
          expect(text).toContain(`--   ${index + 1}. ${parameter.name}: `);
        });
        expect((saved?.Properties.Description as string).length).toBeLessThanOrEqual(1024);
      }
    });

    it("prunes by the dt partition wherever a time range is given", () => {
      for (const query of NAMED_QUERIES) {
        expect(query.sql, query.name).toMatch(/\bdt (BETWEEN \? AND \?|>= )/);
      }
    });
  });

  describe("results bucket", () => {
    let results: string;
    let bucket: Record<string, unknown>;

    beforeAll(() => {
      results = logicalId(template, "AWS::S3::Bucket", "SearchResultsBucket");
      bucket = template.toJSON().Resources[results].Properties;
    });

    it("is SSE-KMS under the results key (rotated), blocks public access and is versioned", () => {
      const key = logicalId(template, "AWS::KMS::Key", "SearchResultsKey");
      expect(bucket.BucketEncryption).toEqual({
        ServerSideEncryptionConfiguration: [
          {
            BucketKeyEnabled: true,
            ServerSideEncryptionByDefault: {
              SSEAlgorithm: "aws:kms",
              KMSMasterKeyID: { "Fn::GetAtt": [key, "Arn"] },
            },
          },
        ],
      });
      expect(template.toJSON().Resources[key].Properties.EnableKeyRotation).toBe(true);
      expect(bucket.PublicAccessBlockConfiguration).toEqual({
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      });
      expect(bucket.VersioningConfiguration).toEqual({ Status: "Enabled" });
    });

    it("expires results (and their old versions) and logs access to the access-log bucket", () => {
      expect(bucket.LifecycleConfiguration).toEqual({
        Rules: [
          {
            Id: "ExpireQueryResults",
            Status: "Enabled",
            ExpirationInDays: 30,
            NoncurrentVersionExpiration: { NoncurrentDays: 1 },
            AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 },
          },
        ],
      });
      expect(bucket.LoggingConfiguration).toEqual({
        DestinationBucketName: { Ref: logicalId(template, "AWS::S3::Bucket", "AccessLogBucket") },
        LogFilePrefix: "athena-results/",
      });
    });

    it("accepts TLS requests only and is retained by default", () => {
      const policy = Object.values(template.findResources("AWS::S3::BucketPolicy")).find(
        (p) => (p.Properties.Bucket as { Ref?: string }).Ref === results,
      );
      const statements = policy?.Properties.PolicyDocument.Statement as Statement[];
      expect(
        statements.some(
          (s) =>
            s.Effect === "Deny" &&
            asArray(s.Action).includes("s3:*") &&
            JSON.stringify(s.Condition) === JSON.stringify({ Bool: { "aws:SecureTransport": "false" } }),
        ),
      ).toBe(true);
      template.hasResource("AWS::S3::Bucket", {
        Properties: Match.objectLike({
          LoggingConfiguration: Match.objectLike({ LogFilePrefix: "athena-results/" }),
        }),
        DeletionPolicy: "Retain",
      });
    });
  });

  describe("grantQuery (the auditor's permissions)", () => {
    it("grants Athena on the workgroup, Glue reads, archive reads, results writes and both keys through S3", () => {
      const { template: granted } = searchStack({}, { auditor: true });
      const policy = Object.values(granted.findResources("AWS::IAM::Policy"))[0];
      const statements = policy?.Properties.PolicyDocument.Statement as Statement[];
      const bySid = Object.fromEntries(statements.map((s) => [s.Sid, s]));
      expect(Object.keys(bySid).sort()).toEqual(
        [
          "RunQueriesInSealtrailWorkGroup",
          "ReadSealtrailGlueTables",
          "ReadArchiveEventsAndLinks",
          "ListArchiveEventsAndLinks",
          "WriteAndReadQueryResults",
          "ListQueryResults",
          "DecryptArchiveThroughS3",
          "EncryptAndDecryptQueryResultsThroughS3",
        ].sort(),
      );
      const archive = logicalId(granted, "AWS::S3::Bucket", "ArchiveBucket");
      expect(asArray(bySid.ReadArchiveEventsAndLinks?.Resource).map(flatten).sort()).toEqual([
        `<${archive}.Arn>/chains/*`,
        `<${archive}.Arn>/events/*`,
      ]);
      expect(asArray(bySid.ReadArchiveEventsAndLinks?.Action)).toEqual(["s3:GetObject"]);
      expect(asArray(bySid.DecryptArchiveThroughS3?.Action)).toEqual(["kms:Decrypt"]);
      // Nothing that writes to or deletes from the archive, and nothing on all resources.
      for (const statement of statements) {
        expect(asArray(statement.Action).filter((a) => /Delete|s3:Put.*Bucket/.test(a))).toEqual([]);
        expect(asArray(statement.Resource)).not.toContain("*");
        if (asArray(statement.Action).includes("s3:PutObject")) {
          expect(asArray(statement.Resource).map(flatten).join()).not.toContain(archive);
        }
      }
    });
  });

  describe("cdk-nag AwsSolutions", () => {
    function findings(app: App): string[] {
      app.synth();
      const report = new AwsSolutionsChecks().validateScope(app);
      return report.violations.map(
        (v) =>
          `${v.severity} ${v.ruleName} at ${v.violatingResources.map((r) => r.constructPath).join(", ")}`,
      );
    }

    it("finds nothing in the construct, including an auditor granted with grantQuery", () => {
      expect(findings(searchStack({}, { auditor: true }).app)).toEqual([]);
    });

    it("acknowledges only the auditor's prefix wildcards, each with a reason", () => {
      const { app } = searchStack({}, { auditor: true });
      const acknowledged: string[] = [];
      for (const construct of app.node.findAll()) {
        for (const entry of construct.node.metadata) {
          if (entry.type !== Validations.ACKNOWLEDGED_RULES_METADATA_KEY) continue;
          for (const [id, reason] of Object.entries(entry.data as Record<string, string>)) {
            expect(reason.length, id).toBeGreaterThan(60);
            acknowledged.push(`${construct.node.path} ${id.replace(/<[A-Za-z0-9]+\.Arn>/, "<bucket>")}`);
          }
        }
      }
      expect(acknowledged.sort()).toEqual(
        [
          "SearchTest/Auditor Annotation::AwsSolutions-IAM5[Resource::<bucket>/chains/*]",
          "SearchTest/Auditor Annotation::AwsSolutions-IAM5[Resource::<bucket>/events/*]",
          "SearchTest/Auditor Annotation::AwsSolutions-IAM5[Resource::<bucket>/results/*]",
        ].sort(),
      );
    });

    it("is a live check: an unhardened bucket beside the construct is reported", () => {
      const { app } = searchStack({}, { extra: (stack) => new Bucket(stack, "Careless") });
      expect(findings(app).join("\n")).toMatch(/AwsSolutions-S1 .*Careless/);
    });
  });
});
