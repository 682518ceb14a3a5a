/**
 * `npx sealtrail verify | verify-proof | trust` as a user runs them: a child process, its exit status,
 * its output and its JSON report. 0 verified, 1 an integrity finding, 2 a usage or I/O error.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CreateKeyCommand, GetPublicKeyCommand } from "@aws-sdk/client-kms";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { S3ArchiveSource } from "../../lambda/aws/archive-source";
import { kmsClient } from "../../lambda/aws/clients";
import { documentClient, IndexStore } from "../../lambda/aws/index-store";
import { S3ObjectStore } from "../../lambda/aws/object-store";
import { checkpointKeyFromPrivateJwk, generateCheckpointPrivateJwk } from "../../lambda/checkpoint/local-key";
import { trustFileOf } from "../../lambda/core/checkpoint";
import { checkpointKey, linkKey } from "../../lambda/core/paths";
import { createIngestHandler, type IngestHandler } from "../../lambda/handlers/ingest";
import { buildEventProof } from "../../lambda/proof/proof-service";
import { LatestCheckpointFinder } from "../../lambda/query/checkpoints";
import { postEventsEvent } from "../support/api-event";
import { createTestArchive, type TestArchive } from "../support/aws";
import { createTestSigner, type TestSigner } from "../support/checkpoint";
import { sealtrail } from "../support/cli";
import { testConfig } from "../support/config";
import { downloadArchive, removeCopy } from "../support/tamper";

/** The options that point the CLI at a test archive's bucket in the emulator. */
function bucketArgs(archive: TestArchive): string[] {
  return [
    "--bucket",
    archive.bucket,
    "--endpoint",
    archive.target.endpoint as string,
    "--region",
    archive.target.region,
  ];
}

describe("sealtrail CLI", () => {
  let archive: TestArchive;
  let ingest: IngestHandler;
  let signer: TestSigner;
  let work: string;
  let trust: string;
  let eventId: string;
  /** One writer holds one chain's lease: every batch here went to this chain. */
  let chain: string;

  beforeAll(async () => {
    archive = await createTestArchive({ objectLock: false });
    ingest = createIngestHandler(testConfig(archive, { chains: 2 }));
    signer = await createTestSigner(archive);
    for (let i = 0; i < 6; i++) {
      const events = Array.from({ length: 3 }, (_, n) => ({
        action: "document.read",
        outcome: "success",
        details: { n },
      }));
      const result = await ingest(postEventsEvent({ body: { events } }));
      const receipt = JSON.parse(result.body as string) as { ids: string[]; chain: string };
      eventId = receipt.ids[1] as string;
      chain = receipt.chain;
    }
    await signer.run();
    work = mkdtempSync(join(tmpdir(), "sealtrail-cli-"));
    trust = join(work, "trust.json");
    writeFileSync(trust, JSON.stringify(signer.trustFile));
  });

  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it("verify --bucket --table: exit 0, and a JSON report that says so", async () => {
    const report = join(work, "clean.json");
    const run = await sealtrail([
      "verify",
      ...bucketArgs(archive),
      "--table",
      archive.table,
      "--trust",
      trust,
      "--json",
      report,
    ]);
    expect(run.stdout).toMatch(/^VERIFIED: 1 checkpoints, 1 chains, 6 links, 6 objects, 18 events/m);
    expect(run.code).toBe(0);
    expect(JSON.parse(readFileSync(report, "utf8"))).toMatchObject({
      ok: true,
      exit_code: 0,
      sees_versions: true,
      findings: [],
      newest_checkpoint: { seq: 0, kid: signer.key.kid },
    });
    // No progress bar when not on a terminal.
    expect(run.stderr).not.toMatch(/\[[█░=-]+\]/);
  });

  it("verify --dir: exit 0, saying that a copy cannot show versions", async () => {
    const copy = await downloadArchive(archive);
    try {
      const run = await sealtrail(["verify", "--dir", copy, "--trust", trust, "--workers", "2"]);
      expect(run.code).toBe(0);
      expect(run.stdout).toMatch(
        /note: read from a local copy.*second versions and delete markers cannot be seen/,
      );
      expect(run.stdout).toMatch(
        /note: lines of data objects that a verified checkpoint covers and that match their links were read by their fixed prefix/,
      );
      // --records, in the worker threads too: every line parsed, and the report says so.
      for (const workers of ["0", "2"]) {
        const deep = await sealtrail([
          "verify",
          "--dir",
          copy,
          "--trust",
          trust,
          "--records",
          "--workers",
          workers,
        ]);
        expect(deep.code).toBe(0);
        expect(deep.stdout).toMatch(
          /note: every line of every data object was parsed as a canonical event record/,
        );
        expect(deep.stdout).toMatch(/^VERIFIED: .* 18 events/m);
      }
    } finally {
      await removeCopy(copy);
    }
  });

  it("exit 1 on a finding, named in the JSON report with key, chain and seq", async () => {
    const copy = await downloadArchive(archive);
    try {
      const key = linkKey(chain, 0);
      const path = join(copy, key);
      writeFileSync(path, readFileSync(path, "utf8").replace('"count":3', '"count":4'));
      const report = join(work, "tampered.json");
      const run = await sealtrail([
        "verify",
        "--dir",
        copy,
        "--trust",
        trust,
        "--json",
        report,
        "--workers",
        "0",
      ]);
      expect(run.code).toBe(1);
      expect(run.stdout).toMatch(/^FAILED/m);
      const json = JSON.parse(readFileSync(report, "utf8")) as {
        findings: Record<string, unknown>[];
        exit_code: number;
      };
      expect(json.exit_code).toBe(1);
      // The altered link no longer matches its batch, the next link's prev, or the signed tree.
      expect(json.findings).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ severity: "error", code: "batch_mismatch", chain, seq: 0 }),
          expect.objectContaining({ severity: "error", code: "broken_prev", key: linkKey(chain, 1), seq: 1 }),
          expect.objectContaining({
            severity: "error",
            code: "chain_mismatch",
            key: checkpointKey(0),
            chain,
          }),
        ]),
      );
    } finally {
      await removeCopy(copy);
    }
  });

  it("--state: a rolled-back copy fails against the state a clean run saved", async () => {
    await ingest(postEventsEvent({}));
    await signer.run();
    const state = join(work, "state.json");
    expect(
      (await sealtrail(["verify", ...bucketArgs(archive), "--trust", trust, "--state", state])).code,
    ).toBe(0);
    expect(JSON.parse(readFileSync(state, "utf8"))).toMatchObject({ v: 1, checkpoint: { seq: 1 } });
    const copy = await downloadArchive(archive);
    try {
      unlinkSync(join(copy, checkpointKey(1)));
      const run = await sealtrail(["verify", "--dir", copy, "--trust", trust, "--state", state]);
      expect(run.code).toBe(1);
      expect(run.stdout).toMatch(/ERROR rollback/);
      // A failed run keeps the state it was given.
      expect(JSON.parse(readFileSync(state, "utf8"))).toMatchObject({ checkpoint: { seq: 1 } });
    } finally {
      await removeCopy(copy);
    }
  });

  it("--max-age: exit 1 when the newest checkpoint is older", async () => {
    const run = await sealtrail(["verify", ...bucketArgs(archive), "--trust", trust, "--max-age", "1ms"]);
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/ERROR stale/);
    expect(
      (await sealtrail(["verify", ...bucketArgs(archive), "--trust", trust, "--max-age", "1h"])).code,
    ).toBe(0);
  });

  it.each([
    [
      "both --bucket and --dir",
      ["verify", "--bucket", "b", "--dir", ".", "--trust", "t.json"],
      /exactly one of --bucket/,
    ],
    ["no --trust", ["verify", "--dir", "."], /--trust/],
    [
      "an unreadable trust file",
      ["verify", "--dir", ".", "--trust", "/nonexistent/trust.json"],
      /cannot read the trust file/,
    ],
    ["a bad --max-age", ["verify", "--dir", ".", "--trust", "TRUST", "--max-age", "soon"], /not a duration/],
  ])("exit 2 on %s", async (_name, args, message) => {
    const run = await sealtrail(args.map((arg) => (arg === "TRUST" ? trust : arg)));
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(message);
  });

  it("exit 2 when the bucket cannot be read", async () => {
    const run = await sealtrail([
      "verify",
      "--bucket",
      "sealtrail-no-such-bucket",
      "--endpoint",
      archive.target.endpoint as string,
      "--trust",
      trust,
    ]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/could not read the archive/);
  });

  it("verify-proof: exit 0 offline for a real bundle, 1 once a byte changes, 2 without a file", async () => {
    const source = new S3ArchiveSource(archive.s3, archive.bucket);
    const doc = documentClient(archive.dynamo);
    const index = new IndexStore(doc, archive.table);
    const pointer = await index.eventPointer(eventId);
    const checkpoints = new LatestCheckpointFinder(new S3ObjectStore(archive.s3, archive.bucket));
    const newestCheckpointKey = async () => (await checkpoints.find())?.key;
    const result = await buildEventProof({ source, markers: index, newestCheckpointKey }, eventId, {
      chain: String(pointer?.chain),
      seq: Number(pointer?.seq),
      batchKey: String(pointer?.batch_key),
      leafIndex: Number(pointer?.leaf_index),
    });
    expect(result.status).toBe("ok");
    const bundle = result.status === "ok" ? result.bundle : undefined;
    const file = join(work, "proof.json");
    writeFileSync(file, `${JSON.stringify(bundle)}\n`);
    const ok = await sealtrail(["verify-proof", file, "--trust", trust]);
    expect(ok.stdout).toMatch(new RegExp(`^VERIFIED: event ${eventId}`, "m"));
    expect(ok.code).toBe(0);

    const text = readFileSync(file, "utf8");
    const at = text.indexOf('"record":"') + 30;
    writeFileSync(
      file,
      text.slice(0, at) + String.fromCharCode(text.charCodeAt(at) ^ 1) + text.slice(at + 1),
    );
    const bad = await sealtrail(["verify-proof", file, "--trust", trust]);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/^FAILED/m);

    expect((await sealtrail(["verify-proof", join(work, "missing.json"), "--trust", trust])).code).toBe(2);
  });

  it("verify with a trust file of another key: FAILED, N checkpoints found, none signed by a trusted key", async () => {
    const stranger = await checkpointKeyFromPrivateJwk(generateCheckpointPrivateJwk());
    const wrongTrust = join(work, "wrong-trust.json");
    writeFileSync(wrongTrust, JSON.stringify(trustFileOf(stranger)));
    const run = await sealtrail(["verify", ...bucketArgs(archive), "--trust", wrongTrust]);
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/ERROR checkpoint_unknown_key/);
    // The archive's checkpoints are there: the summary says so and points at --trust.
    expect(run.stdout).toMatch(
      new RegExp(
        `^FAILED: [1-9]\\d* checkpoints found, none signed by a trusted key: check --trust \\(${wrongTrust} trusts ${stranger.kid};`,
        "m",
      ),
    );
    expect(run.stdout).not.toMatch(/no checkpoint yet|FAILED: 0 checkpoints/);
  });

  it("verify-proof: exit 2, in plain words, for a file that is not JSON or not a bundle", async () => {
    const notJson = join(work, "not-json.json");
    writeFileSync(notJson, "this is not a bundle\n");
    const garbage = await sealtrail(["verify-proof", notJson, "--trust", trust]);
    expect(garbage.code).toBe(2);
    expect(garbage.stderr).toMatch(/not-json\.json is not a proof bundle .*: it is not JSON/);
    expect(garbage.stdout).toBe("");

    const wrongShape = join(work, "wrong-shape.json");
    writeFileSync(
      wrongShape,
      JSON.stringify({
        v: 1,
        event: "01J0000000000000000000000",
        batch: { leaf_index: "5", audit_path: [] },
        link: "{}",
        chain_proof: { audit_path: [] },
        checkpoint: "a.b.c",
        extra: 1,
      }),
    );
    const shape = await sealtrail(["verify-proof", wrongShape, "--trust", trust]);
    expect(shape.code).toBe(2);
    expect(shape.stderr).toMatch(/wrong-shape\.json is not a proof bundle/);
    expect(shape.stderr).toMatch(/extra is not a field of the bundle; remove it/);
    expect(shape.stderr).toMatch(/record is missing/);
    expect(shape.stderr).toMatch(/batch\.leaf_index must be a number, not a string/);
    // In sealtrail's words: no zod wording, no message that starts with ": ".
    expect(shape.stderr).not.toMatch(/Invalid input|expected \w+, received|: :/);
    expect(shape.stdout).toBe("");
  });

  it("exit 2, in plain words, for a trust file that is one key rather than a JWKS", async () => {
    const oneKey = join(work, "one-key.json");
    writeFileSync(oneKey, JSON.stringify(signer.trustFile.keys[0]));
    const run = await sealtrail(["verify", ...bucketArgs(archive), "--trust", oneKey]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/the trust file .*one-key\.json has no "keys" list: give a JWKS/);
    expect(run.stderr).not.toMatch(/Invalid input|received/);
  });

  it("exit 2, naming the file, for a --state file that is not JSON", async () => {
    const state = join(work, "garbage-state.json");
    writeFileSync(state, "{not json");
    const run = await sealtrail(["verify", ...bucketArgs(archive), "--trust", trust, "--state", state]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/the state file .*garbage-state\.json is not JSON/);
    expect(run.stderr).not.toMatch(/SyntaxError|at JSON\.parse/);
    expect(readFileSync(state, "utf8")).toBe("{not json");
  });

  it("trust: turns the KMS public key (the stack output) into a trust file verify accepts", async () => {
    const kms = kmsClient(archive.target);
    const { KeyMetadata } = await kms.send(
      new CreateKeyCommand({ KeySpec: "ECC_NIST_P256", KeyUsage: "SIGN_VERIFY" }),
    );
    const { PublicKey } = await kms.send(new GetPublicKeyCommand({ KeyId: KeyMetadata?.KeyId }));
    const run = await sealtrail([
      "trust",
      "--public-key",
      Buffer.from(PublicKey as Uint8Array).toString("base64"),
    ]);
    expect(run.code).toBe(0);
    const jwks = JSON.parse(run.stdout) as { keys: Record<string, unknown>[] };
    expect(jwks.keys[0]).toMatchObject({ kty: "EC", crv: "P-256", alg: "ES256", kid: expect.any(String) });
    expect(jwks.keys[0]).not.toHaveProperty("d");
  });
});

/** A run that verified no checkpoint concluded nothing: it never says VERIFIED, and never exits 0 unasked. */
describe("sealtrail verify with nothing to verify", () => {
  let work: string;
  let trust: string;

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), "sealtrail-cli-empty-"));
    trust = join(work, "trust.json");
    const key = await checkpointKeyFromPrivateJwk(generateCheckpointPrivateJwk());
    writeFileSync(trust, JSON.stringify(trustFileOf(key)));
  });

  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it("--dir on a path that does not exist: exit 2, saying so", async () => {
    const run = await sealtrail(["verify", "--dir", join(work, "no-such-copy"), "--trust", trust]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/--dir .*no-such-copy does not exist: copy the bucket with `aws s3 sync/);
    expect(run.stdout).not.toMatch(/VERIFIED/);
  });

  it("--dir on a file: exit 2", async () => {
    const run = await sealtrail(["verify", "--dir", trust, "--trust", trust]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/is a file, not a directory/);
  });

  it("--dir on an empty directory: NOT VERIFIED and exit 2; with --allow-empty exit 0, still not VERIFIED", async () => {
    const empty = join(work, "empty");
    mkdirSync(empty);
    const report = join(work, "empty.json");
    const run = await sealtrail(["verify", "--dir", empty, "--trust", trust, "--json", report]);
    expect(run.code).toBe(2);
    expect(run.stdout).toMatch(
      /^NOT VERIFIED: .*empty is empty .*nothing was verified; is this the bucket's root\?/m,
    );
    expect(run.stdout).toMatch(/pass --allow-empty/);
    expect(run.stdout).not.toMatch(/^VERIFIED/m);
    expect(JSON.parse(readFileSync(report, "utf8"))).toMatchObject({
      ok: false,
      outcome: "empty",
      exit_code: 2,
    });

    const allowed = await sealtrail(["verify", "--dir", empty, "--trust", trust, "--allow-empty"]);
    expect(allowed.code).toBe(0);
    expect(allowed.stdout).toMatch(/^NOT VERIFIED: .* is empty/m);
    expect(allowed.stdout).not.toMatch(/^VERIFIED|--allow-empty/m);
  });

  it("--dir on a directory that is not a bucket copy: exit 2 with a hint, not a finding per file", async () => {
    // The parent of a copy, as a user who gave one level too high would: the hint names the copy.
    const parent = join(work, "parent");
    mkdirSync(join(parent, "my-copy", "chains"), { recursive: true });
    mkdirSync(join(parent, "elsewhere"), { recursive: true });
    for (let i = 0; i < 50; i++) writeFileSync(join(parent, "elsewhere", `file-${i}.txt`), "x");
    const run = await sealtrail(["verify", "--dir", parent, "--trust", trust]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(
      /--dir .*parent is not a copy of an archive bucket: it has no chains\/ and no checkpoints\/ at its root/,
    );
    expect(run.stderr).toMatch(/Is this the bucket's root\? .*my-copy looks like one: give --dir .*my-copy/);
    expect(run.stdout).not.toMatch(/non_canonical_key|VERIFIED/);

    // --allow-empty does not make a wrong directory an empty archive.
    const allowed = await sealtrail([
      "verify",
      "--dir",
      join(parent, "elsewhere"),
      "--trust",
      trust,
      "--allow-empty",
    ]);
    expect(allowed.code).toBe(2);
    expect(allowed.stderr).toMatch(/is not a copy of an archive bucket.*file-\d+\.txt/);
  });

  it("--bucket on an empty bucket: NOT VERIFIED and exit 2 unless --allow-empty", async () => {
    const archive = await createTestArchive({ objectLock: false });
    const report = join(work, "empty-bucket.json");
    const run = await sealtrail(["verify", ...bucketArgs(archive), "--trust", trust, "--json", report]);
    expect(run.code).toBe(2);
    expect(run.stdout).toMatch(
      new RegExp(
        `^NOT VERIFIED: s3://${archive.bucket} is empty \\(no checkpoint, link or data object\\), so nothing was verified, or pass --allow-empty`,
        "m",
      ),
    );
    expect(JSON.parse(readFileSync(report, "utf8"))).toMatchObject({
      ok: false,
      outcome: "empty",
      exit_code: 2,
      checkpoints_found: 0,
    });
    const allowed = await sealtrail(["verify", ...bucketArgs(archive), "--trust", trust, "--allow-empty"]);
    expect(allowed.code).toBe(0);
    expect(allowed.stdout).toMatch(/^NOT VERIFIED: /m);
  });

  it("--bucket on a bucket that is not an archive: exit 2 with a hint", async () => {
    const archive = await createTestArchive({ objectLock: false });
    for (const key of ["notes.txt", "photos/cat.jpg"]) {
      await archive.s3.send(new PutObjectCommand({ Bucket: archive.bucket, Key: key, Body: "x" }));
    }
    const run = await sealtrail(["verify", ...bucketArgs(archive), "--trust", trust, "--allow-empty"]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(
      /s3:\/\/\S+ has no chains\/ and no checkpoints\/ at its root, so it is not a sealtrail archive \(it holds 2 keys such as notes\.txt, photos\/\): is this the archive bucket/,
    );
    expect(run.stdout).not.toMatch(/non_canonical_key/);
  });

  it("--bucket before the first checkpoint: links checked, NOT VERIFIED, exit 2 unless --allow-empty", async () => {
    const archive = await createTestArchive({ objectLock: false });
    const ingest = createIngestHandler(testConfig(archive, { chains: 1 }));
    expect((await ingest(postEventsEvent({}))).statusCode).toBe(201);
    const run = await sealtrail(["verify", ...bucketArgs(archive), "--trust", trust]);
    expect(run.code).toBe(2);
    expect(run.stdout).toMatch(/WARNING unsigned_links/);
    expect(run.stdout).toMatch(
      /^NOT VERIFIED: no checkpoint yet, so no signature covers what was read \(1 chains, 1 links, 1 objects, 1 events.*verify again after it, or pass --allow-empty/m,
    );
    expect(run.stdout).not.toMatch(/^VERIFIED/m);
    const allowed = await sealtrail(["verify", ...bucketArgs(archive), "--trust", trust, "--allow-empty"]);
    expect(allowed.code).toBe(0);
    expect(allowed.stdout).toMatch(/^NOT VERIFIED: no checkpoint yet/m);
  });
});
