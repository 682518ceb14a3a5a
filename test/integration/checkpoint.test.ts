/**
 * The checkpoint run against the emulator: what it signs, that two runs at once sign one checkpoint,
 * that it keeps up with writers, and every archive state it must refuse to sign (and writes nothing).
 */
import { CreateKeyCommand, GetPublicKeyCommand } from "@aws-sdk/client-kms";
import { DeleteObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { beforeEach, describe, expect, it } from "vitest";
import { S3ArchiveSource } from "../../lambda/aws/archive-source";
import { kmsClient } from "../../lambda/aws/clients";
import { publicJwkFromSpki } from "../../lambda/aws/kms-checkpoint-key";
import { keyIdOf, parseTrustedKeys, trustFileOf, verifyCheckpoint } from "../../lambda/core/checkpoint";
import { checkpointKey, linkKey } from "../../lambda/core/paths";
import { type CheckpointJob, createCheckpointJob } from "../../lambda/handlers/checkpoint";
import { createIngestHandler, type IngestHandler } from "../../lambda/handlers/ingest";
import { verifyArchive } from "../../lambda/verify/verifier";
import { postEventsEvent } from "../support/api-event";
import { objectVersions, readObject } from "../support/archive-state";
import { createTestArchive, type TestArchive } from "../support/aws";
import { createTestSigner, type TestSigner } from "../support/checkpoint";
import { testConfig } from "../support/config";

async function send(ingest: IngestHandler, count = 1): Promise<{ chain: string; seq: number }> {
  const events = Array.from({ length: count }, (_, i) => ({
    action: "document.read",
    outcome: "success",
    details: { i },
  }));
  const result = await ingest(postEventsEvent({ body: { events } }));
  expect(result.statusCode).toBe(201);
  return JSON.parse(result.body as string) as { chain: string; seq: number };
}

describe("checkpoint run", () => {
  let archive: TestArchive;
  let ingest: IngestHandler;
  let signer: TestSigner;

  beforeEach(async () => {
    archive = await createTestArchive({ objectLock: false });
    ingest = createIngestHandler(testConfig(archive, { chains: 2 }));
    signer = await createTestSigner(archive);
  });

  const verify = () =>
    verifyArchive({ source: new S3ArchiveSource(archive.s3, archive.bucket), trusted: signer.trusted });

  it("signs seq 0, then seq 1 chained to it, covering every link", async () => {
    for (let i = 0; i < 5; i++) await send(ingest, 3);
    expect(await signer.run()).toMatchObject({ status: "signed", seq: 0, newLinks: 5 });
    await send(ingest, 2);
    expect(await signer.run()).toMatchObject({ status: "signed", seq: 1, newLinks: 1 });
    const first = await verifyCheckpoint(await readObject(archive, checkpointKey(0)), signer.trusted);
    const second = await verifyCheckpoint(await readObject(archive, checkpointKey(1)), signer.trusted);
    expect(second.payload.prev).toBe(first.payloadHash);
    const sizes = Object.values(second.payload.chains).reduce((sum, chain) => sum + chain.size, 0);
    expect(sizes).toBe(6);
    const report = await verify();
    expect(report.findings).toEqual([]);
    expect(report.ok).toBe(true);
  });

  it("two runs at once sign one checkpoint; the other signs nothing and the next run goes on", async () => {
    await send(ingest, 2);
    const outcomes = await Promise.all([signer.run(), signer.run(), signer.run()]);
    expect(outcomes.filter((o) => o.status === "signed")).toHaveLength(1);
    expect(outcomes.filter((o) => o.status === "refused")).toEqual([]);
    expect(await checkpointKeys()).toEqual([checkpointKey(0)]);
    await send(ingest, 1);
    expect(await signer.run()).toMatchObject({ status: "signed", seq: 1 });
    expect((await verify()).ok).toBe(true);
  });

  it("keeps up with writers appending while it runs, and every checkpoint verifies", async () => {
    let writing = true;
    const writers = Array.from({ length: 3 }, async () => {
      while (writing) await send(ingest, 2);
    });
    const outcomes = [];
    for (let i = 0; i < 4; i++) outcomes.push(await signer.run());
    writing = false;
    await Promise.all(writers);
    outcomes.push(await signer.run());
    expect(outcomes.map((o) => o.status)).toEqual(["signed", "signed", "signed", "signed", "signed"]);
    const report = await verify();
    expect(report.findings.filter((f) => f.severity === "error")).toEqual([]);
    // The last run came after the writers stopped: nothing is left unsigned.
    expect(report.findings.filter((f) => f.code === "unsigned_links")).toEqual([]);
  });

  it("finishes the work of a run that wrote its checkpoint but crashed before saving its state", async () => {
    await send(ingest, 1);
    expect(await signer.run()).toMatchObject({ status: "signed", seq: 0 });
    await send(ingest, 1);
    // Same key and state bucket, but the state save is lost once.
    const crashing = createCheckpointJob(
      { bucket: archive.bucket, stateBucket: signer.stateBucket, keyId: "local", aws: archive.target },
      { key: signer.key },
    );
    await deleteStateOnce(crashing);
    expect(await checkpointKeys()).toEqual([checkpointKey(0), checkpointKey(1)]);
    // The next run finds seq 1 taken by its own key over the same links, and adopts it…
    expect(await signer.run()).toMatchObject({
      status: "raced",
      seq: 1,
      detail: expect.stringMatching(/adopted/),
    });
    // …so the one after that goes on from it.
    expect(await signer.run()).toMatchObject({ status: "signed", seq: 2 });
    expect((await verify()).ok).toBe(true);
  });

  it("signs with a KMS ECC_NIST_P256 key, verifiable from its public key alone", async () => {
    const kms = kmsClient(archive.target);
    const { KeyMetadata } = await kms.send(
      new CreateKeyCommand({ KeySpec: "ECC_NIST_P256", KeyUsage: "SIGN_VERIFY" }),
    );
    const keyArn = KeyMetadata?.Arn as string;
    await send(ingest, 1);
    const job = createCheckpointJob({
      bucket: archive.bucket,
      stateBucket: signer.stateBucket,
      keyId: keyArn,
      aws: archive.target,
    });
    expect(await job()).toMatchObject({ status: "signed", seq: 0 });
    // What an auditor does with the stack output: public key (base64 DER) → trust file → verify.
    const { PublicKey } = await kms.send(new GetPublicKeyCommand({ KeyId: keyArn }));
    const publicJwk = publicJwkFromSpki(PublicKey as Uint8Array);
    const trusted = await parseTrustedKeys(trustFileOf({ kid: await keyIdOf(publicJwk), publicJwk }));
    const report = await verifyArchive({ source: new S3ArchiveSource(archive.s3, archive.bucket), trusted });
    expect(report.findings).toEqual([]);
    expect(report.newestCheckpoint?.kid).toBe(await keyIdOf(publicJwk));
  });

  describe("refuses to sign, and writes nothing, when", () => {
    async function expectRefusal(reason: RegExp): Promise<void> {
      const before = await checkpointKeys();
      const outcome = await signer.run();
      expect(outcome.status).toBe("refused");
      expect(outcome.status === "refused" && outcome.reasons.join(" ")).toMatch(reason);
      expect(await checkpointKeys()).toEqual(before);
    }

    it("a signed chain's head link was replaced", async () => {
      const receipt = await send(ingest, 2);
      await signer.run();
      const key = linkKey(receipt.chain, receipt.seq);
      const forged = (await readObject(archive, key)).toString("utf8").replace('"count":2', '"count":3');
      await archive.s3.send(new PutObjectCommand({ Bucket: archive.bucket, Key: key, Body: forged }));
      await expectRefusal(/versions|replaced/);
    });

    it("a chain disappeared", async () => {
      const receipt = await send(ingest, 1);
      await signer.run();
      await archive.s3.send(
        new DeleteObjectCommand({ Bucket: archive.bucket, Key: linkKey(receipt.chain, receipt.seq) }),
      );
      await expectRefusal(/gone|delete markers/);
    });

    it("a link after the signed head is missing", async () => {
      const first = await send(ingest, 1);
      await signer.run();
      const receipts = [];
      for (let i = 0; i < 8; i++) receipts.push(await send(ingest, 1));
      const sameChain = receipts.filter((r) => r.chain === first.chain).sort((a, b) => a.seq - b.seq);
      expect(sameChain.length).toBeGreaterThanOrEqual(2);
      const gap = sameChain[0] as { chain: string; seq: number };
      await archive.s3.send(
        new DeleteObjectCommand({ Bucket: archive.bucket, Key: linkKey(gap.chain, gap.seq) }),
      );
      await expectRefusal(/missing|delete markers/);
    });

    it("its newest checkpoint is hidden behind a delete marker", async () => {
      await send(ingest, 1);
      await signer.run();
      await archive.s3.send(new DeleteObjectCommand({ Bucket: archive.bucket, Key: checkpointKey(0) }));
      await expectRefusal(/missing or hidden behind a delete marker/);
    });
  });

  async function checkpointKeys(): Promise<string[]> {
    return (await objectVersions(archive, "checkpoints/")).filter((key) => !key.startsWith("delete-marker:"));
  }

  /** Runs `job` so that its state save fails as if the process died right after the checkpoint put. */
  async function deleteStateOnce(job: CheckpointJob): Promise<void> {
    const { S3SignerStateStore } = await import("../../lambda/aws/signer-state-store");
    const save = S3SignerStateStore.prototype.save;
    S3SignerStateStore.prototype.save = async () => {
      throw new Error("crashed");
    };
    try {
      await expect(job()).rejects.toThrow("crashed");
    } finally {
      S3SignerStateStore.prototype.save = save;
    }
  }
});
