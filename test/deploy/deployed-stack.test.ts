/**
 * The stack `cdk synth` produces, deployed by `cdk deploy` on ministack (bin/deploy-test.ts), driven end
 * to end: the API Gateway JWT authorizer, the bundled Lambdas with their environment, the schedules and
 * the KMS keys, wired as lib/ wires them. It proves wiring, not locking: ministack applies neither
 * Object Lock nor SSE-KMS from CloudFormation and enforces neither bucket policies nor IAM (the moto and
 * LocalStack suites and the template tests cover those). Departures from `cdk deploy`: DEPARTURES in
 * ./state.ts. The tests run in order on one stack; the last one forges a link.
 */
import { createPublicKey } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DescribeTableCommand } from "@aws-sdk/client-dynamodb";
import { DescribeKeyCommand, GetPublicKeyCommand } from "@aws-sdk/client-kms";
import { HeadBucketCommand, ListObjectsV2Command } from "@aws-sdk/client-s3";
import { compactVerify, decodeProtectedHeader } from "jose";
import { afterAll, describe, expect, it } from "vitest";
import { dynamoClient, kmsClient, s3Client } from "../../lambda/aws/clients";
import { ReceiptSchema } from "../../lambda/core/api-schema";
import { CHECKPOINT_ALGORITHM } from "../../lambda/core/checkpoint";
import { PARTITION_KEY, SORT_KEY } from "../../lambda/core/index-table";
import { createIngestHandler } from "../../lambda/handlers/ingest";
import { DEFAULT_CHAINS, DEFAULT_LEASE_SECONDS, DEFAULT_SCOPES } from "../../lambda/runtime/config";
import { postEventsEvent } from "../support/api-event";
import { objectVersions, readObject } from "../support/archive-state";
import { injectFaults, pkStartsWith } from "../support/faults";
import { overwriteObject } from "../support/tamper";
import { apiId, archive, callApi, eventually, output, sealtrail, state, target, token } from "./support";

const WRITE = DEFAULT_SCOPES.write;
const READ = DEFAULT_SCOPES.read;
/** The schedules of lib/: the signer every minute, the reindex job every 5 minutes from the stack's creation. */
const SIGNER_WAIT_MS = 4 * 60_000;
const REINDEX_RATE_MS = 5 * 60_000;

const scratch = mkdtempSync(join(tmpdir(), "sealtrail-deploy-test-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** Every version under events/ and chains/: what a refused request must leave unchanged. */
const writtenObjects = async () => [
  ...(await objectVersions(archive, "events/")),
  ...(await objectVersions(archive, "chains/")),
];

/** An event with every field the read filters select on. */
const richEvent = {
  action: "deploy-test.read",
  outcome: "success",
  actor: { sub: "deploy-test-user", iss: "https://people.example.com", session_id: "session-42" },
  resource: { type: "document", id: "doc-7" },
  http: { request_id: "request-99", method: "GET", endpoint: "/documents/7", status: 200 },
  details: { note: "deploy test" },
};

let eventId: string;
let unindexedId: string;

describe("stack outputs", () => {
  it("are the five the README names", () => {
    expect(Object.keys(state.outputs).sort()).toEqual(
      ["ApiUrl", "BucketName", "CheckpointKeyArn", "CheckpointPublicKey", "TableName"].sort(),
    );
  });

  it("ApiUrl is the HTTP API's https URL, and that API answers", async () => {
    expect(output("ApiUrl")).toMatch(
      new RegExp(`^https://${apiId()}\\.execute-api\\.${state.region}\\.amazonaws\\.com/$`),
    );
    expect((await callApi("POST", "/v1/events", { body: { events: [] } })).status).toBe(401);
  });

  it("BucketName and TableName are the archive bucket and the index table", async () => {
    await s3Client(target).send(new HeadBucketCommand({ Bucket: output("BucketName") }));
    const { Table } = await dynamoClient(target).send(
      new DescribeTableCommand({ TableName: output("TableName") }),
    );
    expect(Table?.KeySchema?.map((k) => k.AttributeName)).toEqual([PARTITION_KEY, SORT_KEY]);
  });

  it("CheckpointKeyArn is an ECC_NIST_P256 signing key, and CheckpointPublicKey its public key", async () => {
    const kms = kmsClient(target);
    const { KeyMetadata } = await kms.send(new DescribeKeyCommand({ KeyId: output("CheckpointKeyArn") }));
    expect([KeyMetadata?.KeySpec, KeyMetadata?.KeyUsage]).toEqual(["ECC_NIST_P256", "SIGN_VERIFY"]);
    const { PublicKey } = await kms.send(new GetPublicKeyCommand({ KeyId: output("CheckpointKeyArn") }));
    expect(Buffer.from(PublicKey as Uint8Array).toString("base64")).toBe(output("CheckpointPublicKey"));
  });
});

describe("a link whose index write was skipped", () => {
  it("is acknowledged by the write path when every index write fails (planted first: the reindex schedule runs every 5 minutes)", async () => {
    // The project's own ingest handler against the deployed bucket and table, with every index write
    // failing after the link is stored: what a Lambda whose DynamoDB writes fail acknowledges.
    const dynamo = dynamoClient(target);
    injectFaults(dynamo, [
      { command: "BatchWriteItemCommand", kind: "error", times: 1000 },
      { command: "PutItemCommand", match: pkStartsWith("indexed#"), kind: "error", times: 1000 },
    ]);
    const ingest = createIngestHandler(
      {
        bucket: archive.bucket,
        table: archive.table,
        chains: DEFAULT_CHAINS,
        scopes: DEFAULT_SCOPES,
        subjectIssuers: [],
        leaseSeconds: DEFAULT_LEASE_SECONDS,
        aws: target,
      },
      { dynamo },
    );
    const response = await ingest(
      postEventsEvent({ body: { events: [{ action: "deploy-test.unindexed", outcome: "success" }] } }),
    );
    expect(response.statusCode).toBe(201);
    unindexedId = ReceiptSchema.parse(JSON.parse(response.body as string)).ids[0] as string;
    const read = await token(READ);
    expect((await callApi("GET", `/v1/events/${unindexedId}`, { token: read })).status).toBe(404);
  });
});

describe("POST /v1/events through the JWT authorizer", () => {
  it("with the write scope: 201 and a receipt", async () => {
    const response = await callApi("POST", "/v1/events", {
      token: await token(WRITE),
      body: { events: [richEvent] },
    });
    expect(response.status, response.text).toBe(201);
    const receipt = ReceiptSchema.parse(response.json());
    expect(receipt.ids).toHaveLength(1);
    eventId = receipt.ids[0] as string;
  });

  it.each([
    ["no token", 401, async () => undefined],
    ["a wrong audience", 401, () => token(WRITE, { aud: "someone-else" })],
    [
      "an expired token",
      401,
      () =>
        token(WRITE, {
          iat: Math.floor(Date.now() / 1000) - 7200,
          exp: Math.floor(Date.now() / 1000) - 3600,
        }),
    ],
    ["another issuer", 401, () => token(WRITE, { iss: "https://issuer.example.com" })],
    ["the read scope only", 403, () => token(READ)],
  ])("with %s: %i, and nothing was written", async (_name, status, makeToken) => {
    const before = await writtenObjects();
    const response = await callApi("POST", "/v1/events", {
      token: await makeToken(),
      body: { events: [richEvent] },
    });
    expect(response.status, response.text).toBe(status);
    expect(await writtenObjects()).toEqual(before);
  });
});

describe("the read routes", () => {
  it.each([
    ["actor", `actor=${richEvent.actor.sub}`],
    [
      "actor and actor_iss",
      `actor=${richEvent.actor.sub}&actor_iss=${encodeURIComponent(richEvent.actor.iss)}`,
    ],
    ["action", `action=${richEvent.action}`],
    [
      "resource_type and resource_id",
      `resource_type=${richEvent.resource.type}&resource_id=${richEvent.resource.id}`,
    ],
    ["outcome", `outcome=${richEvent.outcome}&action=${richEvent.action}`],
    ["session_id", `session_id=${richEvent.actor.session_id}`],
    ["request_id", `request_id=${richEvent.http.request_id}`],
    [
      "from and to",
      () =>
        `from=${encodeURIComponent(new Date(Date.now() - 3600_000).toISOString())}&to=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}&limit=1000`,
    ],
  ])("GET /v1/events by %s finds the event", async (_name, query) => {
    const response = await callApi("GET", `/v1/events?${typeof query === "function" ? query() : query}`, {
      token: await token(READ),
    });
    expect(response.status, response.text).toBe(200);
    const { events } = response.json<{ events: { id: string }[] }>();
    expect(events.map((e) => e.id)).toContain(eventId);
  });

  it("GET /v1/events/{id} returns the record", async () => {
    const response = await callApi("GET", `/v1/events/${eventId}`, { token: await token(READ) });
    expect(response.status, response.text).toBe(200);
    expect(response.json()).toMatchObject({
      id: eventId,
      action: richEvent.action,
      resource: richEvent.resource,
    });
  });

  it("GET /v1/checkpoints/latest returns a checkpoint the scheduled signer signed with the stack's KMS key", async () => {
    const read = await token(READ);
    const latest = await eventually("a checkpoint", SIGNER_WAIT_MS, async () => {
      const response = await callApi("GET", "/v1/checkpoints/latest", { token: read });
      return response.status === 200 ? response.json<{ key: string; seq: number; jws: string }>() : undefined;
    });
    expect(latest.key).toMatch(/^checkpoints\/\d{20}\.jws$/);
    expect(decodeProtectedHeader(latest.jws).alg).toBe(CHECKPOINT_ALGORITHM);
    const publicKey = createPublicKey({
      key: Buffer.from(output("CheckpointPublicKey"), "base64"),
      format: "der",
      type: "spki",
    });
    await expect(compactVerify(latest.jws, publicKey)).resolves.toBeDefined();
  });

  it("GET /v1/events/{id}/proof returns the proof bundle once a checkpoint covers the event", async () => {
    const read = await token(READ);
    const bundle = await eventually("a proof bundle", SIGNER_WAIT_MS, async () => {
      const response = await callApi("GET", `/v1/events/${eventId}/proof`, { token: read });
      if (response.status === 409) return undefined;
      expect(response.status, response.text).toBe(200);
      return response.json<Record<string, unknown>>();
    });
    writeFileSync(join(scratch, "proof.json"), JSON.stringify(bundle));
    const trust = await sealtrail(["trust", "--public-key", output("CheckpointPublicKey")]);
    writeFileSync(join(scratch, "trust.json"), trust.stdout);
    const verified = await sealtrail([
      "verify-proof",
      join(scratch, "proof.json"),
      "--trust",
      join(scratch, "trust.json"),
    ]);
    expect(verified.code, verified.stdout + verified.stderr).toBe(0);
  });
});

describe("the reindex schedule", () => {
  it("indexes the link whose index write was skipped", async () => {
    const read = await token(READ);
    // The first run is one rate after the stack's creation (deployedAt is when `cdk deploy` started).
    const waitMs = Math.max(state.deployedAt + REINDEX_RATE_MS + 180_000 - Date.now(), 60_000);
    const record = await eventually("the skipped event indexed by the reindex schedule", waitMs, async () => {
      const response = await callApi("GET", `/v1/events/${unindexedId}`, { token: read });
      return response.status === 200 ? response.json<{ id: string }>() : undefined;
    });
    expect(record.id).toBe(unindexedId);
  });
});

describe("sealtrail verify against the deployed archive", () => {
  const verify = () =>
    sealtrail([
      "verify",
      "--bucket",
      output("BucketName"),
      "--table",
      output("TableName"),
      "--trust",
      join(scratch, "trust.json"),
      "--endpoint",
      state.endpoint,
      "--region",
      state.region,
    ]);

  it("trust --public-key <CheckpointPublicKey> and verify --bucket --table: exit 0", async () => {
    const trust = await sealtrail(["trust", "--public-key", output("CheckpointPublicKey")]);
    expect(trust.code, trust.stderr).toBe(0);
    writeFileSync(join(scratch, "trust.json"), trust.stdout);
    const result = await verify();
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).toMatch(/VERIFIED/);
  });

  it("after a forged link is planted in the bucket: exit 1", async () => {
    const links = await s3Client(target).send(
      new ListObjectsV2Command({ Bucket: archive.bucket, Prefix: "chains/" }),
    );
    const key = links.Contents?.map((o) => o.Key).find((k) => k?.endsWith(".json")) as string;
    const link = JSON.parse((await readObject(archive, key)).toString("utf8")) as Record<string, unknown>;
    const forged = { ...link, batch: { ...(link.batch as object), count: 999 } };
    await overwriteObject(archive, key, Buffer.from(JSON.stringify(forged)));
    const result = await verify();
    expect(result.code, result.stdout + result.stderr).toBe(1);
  });
});
