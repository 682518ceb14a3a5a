/**
 * The scheduled verifier (issue 14 item 2) against the emulator, through the real job the handler
 * runs (createVerifierJob): an archive built by the real ingest handler and checkpoint run, on a
 * versioned bucket without Object Lock, so that the tamper suite's attacks can be planted. It passes
 * on a clean archive; raises (metrics and its own message) on each tamper kind; resumes across
 * invocations to exactly the state one whole run reaches; and never writes to the archive or the
 * index: every object version, delete marker and table item is the same before and after.
 */
import { randomBytes } from "node:crypto";
import { CreateBucketCommand, ListObjectVersionsCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { CreateTopicCommand, SNSClient } from "@aws-sdk/client-sns";
import { Template } from "aws-cdk-lib/assertions";
import { describe, expect, it, vi } from "vitest";
import type { ArchiveSource } from "../../lambda/archive/source";
import { SnsAlertPublisher } from "../../lambda/aws/alert-topic";
import { S3ArchiveSource } from "../../lambda/aws/archive-source";
import { EMULATOR_CREDENTIALS, snsClient } from "../../lambda/aws/clients";
import { S3VerifierStore, VERIFIER_STATE_KEY } from "../../lambda/aws/verifier-state-store";
import { checkpointKeyFromPrivateJwk, generateCheckpointPrivateJwk } from "../../lambda/checkpoint/local-key";
import type { Receipt } from "../../lambda/core/api-schema";
import { linkBatchOf, sealBatch } from "../../lambda/core/batch";
import { type CheckpointKey, signCheckpoint, verifyCheckpoint } from "../../lambda/core/checkpoint";
import { sha256Hex } from "../../lambda/core/hash";
import { type ChainLink, linkHash, parseLink, serializeLink } from "../../lambda/core/link";
import { leafHash, merkleRoot } from "../../lambda/core/merkle";
import { checkpointKey, dataObjectKey, linkKey } from "../../lambda/core/paths";
import { EventRecordSchema } from "../../lambda/core/schema";
import { ulid } from "../../lambda/core/ulid";
import { createIngestHandler } from "../../lambda/handlers/ingest";
import {
  createVerifierJob,
  createVerifierMetrics,
  type RunTime,
  type VerifierJob,
  type VerifierMetricsSink,
} from "../../lambda/handlers/verifier";
import {
  DEFAULT_LINKS_PER_SECOND,
  runScheduledVerification,
  type ScheduledRun,
  type ScheduledVerifierState,
} from "../../lambda/verify/scheduled";
import { VERIFIER_METRICS } from "../../lambda/verify/scheduled-config";
import { verifyArchive } from "../../lambda/verify/verifier";
import { configureApp } from "../../lib/app";
import { logicalId, newApp, TEST_CONTEXT } from "../infra/helpers";
import { postEventsEvent } from "../support/api-event";
import { allVersions, readObject, tableItems } from "../support/archive-state";
import { createTestArchive, emulatorTarget, type TestArchive, uniqueName } from "../support/aws";
import { createTestSigner, type TestSigner } from "../support/checkpoint";
import { testConfig } from "../support/config";
import { type MetricsRecorder, metricsRecorder } from "../support/metrics";
import {
  deleteObject,
  linesOf,
  overwriteObject,
  regzipLines,
  rewriteLines,
  updateEventPointer,
} from "../support/tamper";

/** As the tamper suite: two chains of six links, signed at sizes 3, 5 and 6 (checkpoints 0, 1, 2). */
const PHASES = [[1, 3, 2], [3, 1], [2]] as const;
const LINKS_PER_CHAIN = 6;
/** Time enough for a whole run: every test archive fits one step. */
const AMPLE: RunTime = { timeLeftMs: () => 60_000, budgetMs: 60_000 };

interface Built {
  readonly archive: TestArchive;
  readonly signer: TestSigner;
  readonly chains: [string, string];
  /** receipts[chain][seq]. */
  readonly receipts: Record<string, Receipt[]>;
}

let eventCounter = 0;

async function buildArchive(): Promise<Built> {
  const archive = await createTestArchive({ objectLock: false });
  const signer = await createTestSigner(archive);
  const config = testConfig(archive, { chains: 2 });
  const writers = [createIngestHandler(config), createIngestHandler(config)];
  const receipts: Record<string, Receipt[]> = {};
  for (const phase of PHASES) {
    for (const count of phase) {
      for (const write of writers) {
        const events = Array.from({ length: count }, () => {
          const n = eventCounter++;
          return {
            action: "document.read",
            outcome: "success",
            resource: { type: "document", id: `d-${n}` },
          };
        });
        const result = await write(postEventsEvent({ body: { events } }));
        expect(result.statusCode, result.body as string).toBe(201);
        const receipt = JSON.parse(result.body as string) as Receipt;
        receipts[receipt.chain] ??= [];
        (receipts[receipt.chain] as Receipt[]).push(receipt);
      }
    }
    expect(await signer.run()).toMatchObject({ status: "signed" });
  }
  const chains = Object.keys(receipts) as [string, string];
  expect(chains).toHaveLength(2);
  return { archive, signer, chains, receipts };
}

function receiptAt(built: Built, chain: string, seq: number): Receipt {
  const receipt = built.receipts[chain]?.[seq];
  if (!receipt) throw new Error(`no receipt for chain ${chain} seq ${seq}`);
  return receipt;
}

interface Verifier {
  readonly run: (time?: RunTime) => Promise<ScheduledRun>;
  readonly metrics: MetricsRecorder[];
  readonly messages: { subject: string; message: string }[];
  readonly stateBucket: string;
}

/** A scheduled verifier with its own store; each run gets a fresh metrics recorder, as an invocation would. */
async function verifierFor(
  built: Built,
  options: { now?: () => number; sink?: VerifierMetricsSink } = {},
): Promise<Verifier> {
  const stateBucket = uniqueName("sealtrail-verifier");
  await built.archive.s3.send(new CreateBucketCommand({ Bucket: stateBucket }));
  const messages: { subject: string; message: string }[] = [];
  const metrics: MetricsRecorder[] = [];
  const config = {
    bucket: built.archive.bucket,
    table: built.archive.table,
    stateBucket,
    maxAgeMs: 15 * 60_000,
    aws: built.archive.target,
  };
  const alerts = {
    publish: async (subject: string, message: string) => void messages.push({ subject, message }),
  };
  return {
    run: async (time = AMPLE) => {
      const recorder = metricsRecorder();
      metrics.push(recorder);
      const job: VerifierJob = createVerifierJob(config, {
        trusted: built.signer.trusted,
        alerts,
        metrics: options.sink ?? recorder,
        now: options.now,
      });
      return job(time);
    },
    metrics,
    messages,
    stateBucket,
  };
}

/** Every object version and delete marker (with its version id and ETag) and every table item. */
async function everything(archive: TestArchive): Promise<{ versions: string[]; items: string[] }> {
  const listed = await allVersions(archive);
  const versions = [
    ...listed.versions.map((v) => `${v.Key} ${v.VersionId} ${v.ETag} ${v.IsLatest}`),
    ...listed.deleteMarkers.map((m) => `${m.Key} ${m.VersionId} marker ${m.IsLatest}`),
  ];
  const items = (await tableItems(archive)).map((item) => JSON.stringify(item, Object.keys(item).sort()));
  return { versions: versions.sort(), items: items.sort() };
}

async function savedState(built: Built, verifier: Verifier): Promise<ScheduledVerifierState> {
  const bytes = await readObject({ ...built.archive, bucket: verifier.stateBucket }, VERIFIER_STATE_KEY);
  return JSON.parse(bytes.toString("utf8")) as ScheduledVerifierState;
}

async function storeKeys(built: Built, verifier: Verifier): Promise<string[]> {
  const page = await built.archive.s3.send(new ListObjectVersionsCommand({ Bucket: verifier.stateBucket }));
  return [...new Set((page.Versions ?? []).map((v) => v.Key as string))].sort();
}

function expectClean(run: ScheduledRun, metrics: MetricsRecorder | undefined): void {
  expect(run.findings).toEqual([]);
  expect(run.outcome).toBe("verified");
  expect(metrics?.values()).toEqual({
    [VERIFIER_METRICS.failed]: 0,
    [VERIFIER_METRICS.findings]: 0,
    [VERIFIER_METRICS.verifiedCheckpoint]: 2,
  });
  expect(metrics?.published()).toBe(1);
}

/** A failed run: the metrics the alarm watches, and one message naming the finding. */
function expectRaised(verifier: Verifier, run: ScheduledRun, code: string, key: string | undefined): void {
  expect(run.outcome).toBe("failed");
  expect(run.findings).toContainEqual(
    expect.objectContaining({ severity: "error", code, ...(key ? { key } : {}) }),
  );
  const metrics = verifier.metrics[verifier.metrics.length - 1]?.values() ?? {};
  expect(metrics[VERIFIER_METRICS.failed]).toBe(1);
  expect(metrics[VERIFIER_METRICS.findings]).toBe(run.findings.length);
  expect(metrics[VERIFIER_METRICS.verifiedCheckpoint]).toBeUndefined();
  const message = verifier.messages[verifier.messages.length - 1];
  expect(message?.subject).toBe(`sealtrail verification FAILED: ${run.findings.length} finding(s)`);
  expect(message?.message).toContain(`ERROR ${code} [${key ?? ""}`);
  expect(message?.message).toContain(`s3://${verifier.stateBucket}/reports/`);
}

/** The tamper suite's attacks, each planted with the raw clients; `key` is what a finding names. */
const TAMPERS: { name: string; code: string; plant: (built: Built) => Promise<string | undefined> }[] = [
  {
    name: "1. one byte of a record changed in a data object",
    code: "second_version",
    plant: async (built) => {
      const { batch } = receiptAt(built, built.chains[0], 1);
      await rewriteLines(built.archive, batch.key, (lines) => {
        lines[1] = (lines[1] as string).replace('"action":"document.read"', '"action":"document.reax"');
        return lines;
      });
      return batch.key;
    },
  },
  {
    name: "1b. a line that is no longer a record",
    code: "second_version",
    plant: async (built) => {
      const { batch } = receiptAt(built, built.chains[1], 3);
      await rewriteLines(built.archive, batch.key, (lines) => {
        lines[2] = (lines[2] as string).replace(/^\{"v":\d+/, '{"v":9');
        return lines;
      });
      return batch.key;
    },
  },
  {
    name: "2. a data object deleted",
    code: "delete_marker",
    plant: async (built) => {
      const { batch } = receiptAt(built, built.chains[1], 2);
      await deleteObject(built.archive, batch.key);
      return batch.key;
    },
  },
  {
    name: "3. a link deleted",
    code: "missing_link",
    plant: async (built) => {
      const key = linkKey(built.chains[0], 2);
      await deleteObject(built.archive, key);
      return key;
    },
  },
  {
    name: "4. two links swapped",
    code: "second_version",
    plant: async (built) => {
      const [k, k1] = [linkKey(built.chains[1], 3), linkKey(built.chains[1], 4)];
      const [a, b] = [await readObject(built.archive, k), await readObject(built.archive, k1)];
      await overwriteObject(built.archive, k, b);
      await overwriteObject(built.archive, k1, a);
      return k;
    },
  },
  {
    name: "5. a forged link inserted with correct prev hashes and a valid batch",
    code: "second_version",
    plant: async (built) => {
      const { archive } = built;
      const chain = built.chains[0];
      const donor = linesOf(await readObject(archive, receiptAt(built, chain, 3).batch.key))[0] as string;
      const record = EventRecordSchema.parse({ ...JSON.parse(donor), id: ulid(), action: "document.delete" });
      const planted = sealBatch([record], new Date(record.time));
      await archive.s3.send(
        new PutObjectCommand({ Bucket: archive.bucket, Key: planted.key, Body: planted.bytes }),
      );
      const [link3, link4, link5] = (await Promise.all(
        [3, 4, 5].map(async (seq) => parseLink(await readObject(archive, linkKey(chain, seq)))),
      )) as [ChainLink, ChainLink, ChainLink];
      let prev = linkHash(serializeLink(link3));
      for (const link of [
        { v: 1, chain, seq: 4, prev: "", time: link3.time, batch: linkBatchOf(planted) } as ChainLink,
        { ...link4, seq: 5 },
        { ...link5, seq: 6 },
      ]) {
        const bytes = serializeLink({ ...link, prev });
        await overwriteObject(archive, linkKey(chain, link.seq), bytes);
        prev = linkHash(bytes);
      }
      return linkKey(chain, 4);
    },
  },
  {
    name: "6. a chain truncated behind a checkpoint",
    code: "delete_marker",
    plant: async (built) => {
      await deleteObject(built.archive, linkKey(built.chains[1], 5));
      await deleteObject(built.archive, linkKey(built.chains[1], 4));
      return linkKey(built.chains[1], 4);
    },
  },
  {
    name: "7. a checkpoint replaced by one signed with another key",
    code: "second_version",
    plant: async (built) => {
      const key = checkpointKey(1);
      const original = await verifyCheckpoint(await readObject(built.archive, key), built.signer.trusted);
      const attacker = await checkpointKeyFromPrivateJwk(generateCheckpointPrivateJwk());
      await overwriteObject(
        built.archive,
        key,
        Buffer.from(await signCheckpoint(original.payload, attacker)),
      );
      return key;
    },
  },
  {
    name: "7b. the newest checkpoint signed with another key under the trusted kid",
    code: "checkpoint_bad_signature",
    plant: async (built) => {
      const key = checkpointKey(2);
      const original = await verifyCheckpoint(await readObject(built.archive, key), built.signer.trusted);
      const attacker = await checkpointKeyFromPrivateJwk(generateCheckpointPrivateJwk());
      const impostor: CheckpointKey = { ...attacker, kid: built.signer.key.kid };
      await overwriteObject(
        built.archive,
        key,
        Buffer.from(await signCheckpoint(original.payload, impostor)),
      );
      return key;
    },
  },
  {
    name: "8. a middle checkpoint deleted",
    code: "delete_marker",
    plant: async (built) => {
      await deleteObject(built.archive, checkpointKey(1));
      return checkpointKey(1);
    },
  },
  {
    name: "10. bytes appended after the gzip stream",
    code: "second_version",
    plant: async (built) => {
      const { batch } = receiptAt(built, built.chains[0], 5);
      const bytes = await readObject(built.archive, batch.key);
      await overwriteObject(built.archive, batch.key, Buffer.concat([bytes, randomBytes(16)]));
      return batch.key;
    },
  },
  {
    name: "11. two lines of a batch swapped",
    code: "second_version",
    plant: async (built) => {
      const { batch } = receiptAt(built, built.chains[1], 1);
      await rewriteLines(built.archive, batch.key, ([a, b, c]) => [b, a, c] as string[]);
      return batch.key;
    },
  },
  {
    name: "12. a line duplicated",
    code: "second_version",
    plant: async (built) => {
      const { batch } = receiptAt(built, built.chains[0], 3);
      await rewriteLines(built.archive, batch.key, ([a, b, c]) => [a, b, b, c] as string[]);
      return batch.key;
    },
  },
  {
    name: "13. a link appended after the newest checkpoint whose line is not a record",
    code: "bad_line",
    plant: async (built) => {
      const { archive } = built;
      const chain = built.chains[0];
      const donor = linesOf(await readObject(archive, receiptAt(built, chain, 5).batch.key))[0] as string;
      const line = `${donor.slice(0, donor.indexOf('"action":'))}"action":"x"}`;
      const bytes = regzipLines([line]);
      const digest = sha256Hex(bytes);
      const time = (JSON.parse(line) as { time: string }).time;
      const batch: ChainLink["batch"] = {
        key: dataObjectKey(new Date(time), digest),
        sha256: digest,
        root: merkleRoot([leafHash(Buffer.from(line))]).toString("hex"),
        count: 1,
        first_time: time,
        last_time: time,
      };
      const head = await readObject(archive, linkKey(chain, LINKS_PER_CHAIN - 1));
      const link = serializeLink({ v: 1, chain, seq: LINKS_PER_CHAIN, prev: linkHash(head), time, batch });
      await archive.s3.send(new PutObjectCommand({ Bucket: archive.bucket, Key: batch.key, Body: bytes }));
      const key = linkKey(chain, LINKS_PER_CHAIN);
      await archive.s3.send(new PutObjectCommand({ Bucket: archive.bucket, Key: key, Body: link }));
      return batch.key;
    },
  },
];

describe("scheduled verifier: passes on a clean archive", () => {
  it("verifies, emits VerifiedCheckpoint, sends no message, keeps its state and report, and writes nothing to the archive", async () => {
    // Prepare
    const built = await buildArchive();
    const verifier = await verifierFor(built);
    const before = await everything(built.archive);
    // Act
    const first = await verifier.run();
    const second = await verifier.run();
    // Assess
    expectClean(first, verifier.metrics[0]);
    expect(first.steps).toMatchObject([{ kind: "whole", outcome: "verified" }]);
    expect(first.steps[0]?.verifiedTo).toEqual({
      checkpoint: 2,
      links: { [built.chains[0]]: LINKS_PER_CHAIN, [built.chains[1]]: LINKS_PER_CHAIN },
    });
    // The second run continues from the saved state and reads nothing new.
    expectClean(second, verifier.metrics[1]);
    expect(verifier.messages).toEqual([]);
    const state = await savedState(built, verifier);
    const whole = await verifyArchive({
      source: new S3ArchiveSource(built.archive.s3, built.archive.bucket),
      trusted: built.signer.trusted,
    });
    expect(state.verified).toEqual(whole.state);
    const keys = await storeKeys(built, verifier);
    expect(keys).toContain(VERIFIER_STATE_KEY);
    expect(keys.filter((key) => key.startsWith("reports/"))).toHaveLength(2);
    const report = JSON.parse(
      (await readObject({ ...built.archive, bucket: verifier.stateBucket }, keys[0] as string)).toString(
        "utf8",
      ),
    );
    expect(report).toMatchObject({
      step: { kind: "whole", outcome: "verified" },
      report: { ok: true, exit_code: 0 },
    });
    expect(await everything(built.archive)).toEqual(before);
  });

  it("an archive before its first checkpoint is not a finding: no message, no VerifiedCheckpoint (the silence alarm watches it)", async () => {
    // Prepare: a new archive, one batch written, the signer not run yet.
    const archive = await createTestArchive({ objectLock: false });
    const write = createIngestHandler(testConfig(archive, { chains: 2 }));
    const written = await write(
      postEventsEvent({ body: { events: [{ action: "a.b", outcome: "success" }] } }),
    );
    expect(written.statusCode, written.body as string).toBe(201);
    const signer = await createTestSigner(archive);
    const built: Built = { archive, signer, chains: ["0", "1"], receipts: {} };
    const verifier = await verifierFor(built);
    // Act
    const run = await verifier.run();
    // Assess
    expect(run.outcome).toBe("unsigned");
    expect(verifier.metrics[0]?.values()).toEqual({
      [VERIFIER_METRICS.failed]: 0,
      [VERIFIER_METRICS.findings]: 0,
    });
    expect(verifier.messages).toEqual([]);
    // Once signed, it verifies.
    expect(await signer.run()).toMatchObject({ status: "signed", seq: 0 });
    expect((await verifier.run()).outcome).toBe("verified");
  });

  it("a newest checkpoint older than the maximum age fails the run (stale), as verify --max-age does", async () => {
    // Prepare: the verifier's clock two hours ahead of the signer's.
    const built = await buildArchive();
    const verifier = await verifierFor(built, { now: () => Date.now() + 2 * 3_600_000 });
    // Act
    const run = await verifier.run();
    // Assess
    expectRaised(verifier, run, "stale", checkpointKey(2));
  });
});

describe("scheduled verifier: raises (metrics and message) on each tamper kind, and writes nothing", () => {
  it.each(TAMPERS)("$name, planted after a clean run: the next run raises $code", async ({ code, plant }) => {
    // Prepare: a clean run saves the state the next run continues from.
    const built = await buildArchive();
    const verifier = await verifierFor(built);
    expectClean(await verifier.run(), verifier.metrics[0]);
    const stateBefore = await savedState(built, verifier);
    const key = await plant(built);
    const archiveBefore = await everything(built.archive);
    // Act
    const run = await verifier.run();
    // Assess
    expectRaised(verifier, run, code, key);
    // The state never moves past a finding, and the archive and the index are untouched by the run.
    expect((await savedState(built, verifier)).verified).toEqual(stateBefore.verified);
    expect(await everything(built.archive)).toEqual(archiveBefore);
    // Findings are sticky: the next run raises them again.
    expectRaised(verifier, await verifier.run(), code, key);
  });

  it("9. index items altered, before the first run: index_mismatch naming the data object, seq and line", async () => {
    // Prepare
    const built = await buildArchive();
    const chain = built.chains[1];
    const first = receiptAt(built, chain, 1);
    await updateEventPointer(built.archive, first.ids[2] as string, { actor_sub: "someone-else" });
    const verifier = await verifierFor(built);
    const before = await everything(built.archive);
    // Act
    const run = await verifier.run();
    // Assess
    expectRaised(verifier, run, "index_mismatch", first.batch.key);
    expect(run.findings).toContainEqual(expect.objectContaining({ chain, seq: 1, line: 3 }));
    expect((await savedState(built, verifier)).verified).toBeUndefined();
    expect(await everything(built.archive)).toEqual(before);
  });
});

describe("scheduled verifier: resumes across invocations", () => {
  it("with a tiny time budget it needs many runs, each going on exactly where the last stopped, to the state one whole run reaches", async () => {
    // Prepare
    const built = await buildArchive();
    const verifier = await verifierFor(built);
    const before = await everything(built.archive);
    const tiny: RunTime = { timeLeftMs: () => 60_000, budgetMs: 1 };
    // Act: one step per invocation, until it has caught up.
    const runs: ScheduledRun[] = [];
    while (runs.length < 40 && runs[runs.length - 1]?.outcome !== "verified")
      runs.push(await verifier.run(tiny));
    // Assess
    expect(runs[runs.length - 1]?.outcome).toBe("verified");
    expect(runs.length).toBeGreaterThan(4);
    for (const run of runs.slice(0, -1)) {
      expect(run.outcome).toBe("progressed");
      expect(run.steps).toHaveLength(1);
      expect(run.steps[0]?.kind).toBe("bounded");
    }
    // Every step verified a view bounded at a checkpoint c and links n, and the next went on from there.
    const progress = runs.map((run) => run.steps[0]?.verifiedTo);
    for (const [i, step] of progress.entries()) {
      expect(step).toBeDefined();
      const previous = progress[i - 1];
      if (!step || !previous) continue;
      expect(step.checkpoint).toBeGreaterThanOrEqual(previous.checkpoint);
      for (const [id, n] of Object.entries(previous.links)) expect(step.links[id]).toBeGreaterThanOrEqual(n);
      expect(step).not.toEqual(previous);
    }
    // Some step stopped inside a checkpoint's links (chain verified up to link n at checkpoint c < n's).
    expect(
      progress.some((step) => step && Object.values(step.links).some((n) => ![3, 5, 6].includes(n))),
    ).toBe(true);
    // Each run that verified something said so; none failed or sent a message.
    for (const recorder of verifier.metrics) {
      expect(recorder.values()[VERIFIER_METRICS.failed]).toBe(0);
      expect(recorder.values()[VERIFIER_METRICS.verifiedCheckpoint]).toBeDefined();
    }
    expect(verifier.messages).toEqual([]);
    // Exact: the resumed state is the state of one whole verification.
    const whole = await verifyArchive({
      source: new S3ArchiveSource(built.archive.s3, built.archive.bucket),
      trusted: built.signer.trusted,
    });
    expect((await savedState(built, verifier)).verified).toEqual(whole.state);
    expect((await storeKeys(built, verifier)).filter((key) => key.startsWith("reports/"))).toHaveLength(
      runs.length,
    );
    expect(await everything(built.archive)).toEqual(before);
  });

  it("a tampering inside a bounded step is found there, and the verifier never gets past it", async () => {
    // Prepare: link 4 of the first chain deleted; one step per run.
    const built = await buildArchive();
    const key = linkKey(built.chains[0], 4);
    await deleteObject(built.archive, key);
    const verifier = await verifierFor(built);
    const tiny: RunTime = { timeLeftMs: () => 60_000, budgetMs: 1 };
    // Act
    const runs: ScheduledRun[] = [];
    while (runs.length < 40 && runs[runs.length - 1]?.outcome !== "failed")
      runs.push(await verifier.run(tiny));
    const again = await verifier.run(tiny);
    // Assess
    const failed = runs[runs.length - 1] as ScheduledRun;
    expectRaised(verifier, failed, "delete_marker", key);
    expect(failed.steps[0]?.kind).toBe("bounded");
    expect(again.outcome).toBe("failed");
    expect(again.steps[0]?.bounds).toEqual(failed.steps[0]?.bounds);
  });

  it("a run that dies inside a step (out of memory, killed at its timeout) leaves a mark: the next run plans at half the rate", async () => {
    // Prepare: a run whose reads fail after the listing, as a crash mid-step would leave it.
    const built = await buildArchive();
    const verifier = await verifierFor(built);
    const store = new S3VerifierStore(built.archive.s3, verifier.stateBucket);
    const archive = new S3ArchiveSource(built.archive.s3, built.archive.bucket);
    const crashing: ArchiveSource = {
      description: archive.description,
      seesVersions: true,
      list: (prefix, marker) => archive.list(prefix, marker),
      listChildren: (prefix) => archive.listChildren(prefix),
      get: async () => {
        throw new Error("the invocation died here");
      },
    };
    await expect(
      runScheduledVerification({ source: crashing, trusted: built.signer.trusted, store, ...AMPLE }),
    ).rejects.toThrow(/died here/);
    expect((await savedState(built, verifier)).pending_step).toBeDefined();
    // Act
    const next = await verifier.run();
    // Assess: it verified, planned its step at half the default rate, and cleared the mark.
    expectClean(next, verifier.metrics[0]);
    // (60 s left at 25 links/s, half of it for the step: 750 links, less the milliseconds already gone.)
    const halved = (DEFAULT_LINKS_PER_SECOND / 2) * 60 * 0.5;
    expect(next.steps[0]?.linkBudget).toBeLessThanOrEqual(halved);
    expect(next.steps[0]?.linkBudget).toBeGreaterThan(halved * 0.9);
    expect((await savedState(built, verifier)).pending_step).toBeUndefined();
  });

  it("a step still running at the deadline concludes nothing and keeps nothing but a slower rate; the next run verifies", async () => {
    // Prepare
    const built = await buildArchive();
    const verifier = await verifierFor(built);
    // Act
    const stopped = await verifier.run({ timeLeftMs: () => 0, budgetMs: 60_000 });
    const state = await savedState(built, verifier);
    const next = await verifier.run();
    // Assess
    expect(stopped.outcome).toBe("incomplete");
    expect(stopped.steps).toMatchObject([{ outcome: "deadline" }]);
    expect(verifier.metrics[0]?.values()).toEqual({
      [VERIFIER_METRICS.failed]: 0,
      [VERIFIER_METRICS.findings]: 0,
    });
    expect(state.verified).toBeUndefined();
    expect(state.links_per_second).toBeLessThan(50);
    expectClean(next, verifier.metrics[1]);
    expect(verifier.messages).toEqual([]);
  });
});

describe("scheduled verifier: its metrics are the ones its alarms watch", () => {
  it("the real job emits VerificationFailed, VerificationFindings and VerifiedCheckpoint with the namespace and `service` dimension the alarms watch", async () => {
    // Prepare: the stack's alarms and the function's environment, and Powertools' Metrics as the handler makes it.
    const template = Template.fromStack(configureApp(newApp({ ...TEST_CONTEXT })));
    const resources = template.toJSON().Resources as Record<string, { Properties: Record<string, unknown> }>;
    const fn = resources[logicalId(template, "AWS::Lambda::Function", "SealtrailVerifierFunction")];
    const variables = (fn?.Properties.Environment as { Variables: Record<string, string> }).Variables;
    vi.stubEnv("POWERTOOLS_SERVICE_NAME", variables.POWERTOOLS_SERVICE_NAME);
    vi.stubEnv("POWERTOOLS_METRICS_NAMESPACE", variables.POWERTOOLS_METRICS_NAMESPACE);
    const real = createVerifierMetrics();
    type Emf = {
      _aws: {
        CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string }[] }[];
      };
    } & Record<string, unknown>;
    const emitted: Emf[] = [];
    const sink: VerifierMetricsSink = {
      addMetric: (name, unit, value) => real.addMetric(name, unit, value),
      publishStoredMetrics: () => {
        emitted.push(real.serializeMetrics() as unknown as Emf);
        real.clearMetrics();
      },
    };
    const built = await buildArchive();
    const verifier = await verifierFor(built, { sink });
    // Act: a clean run (all three metrics), then a failing one.
    await verifier.run();
    await deleteObject(built.archive, checkpointKey(1));
    await verifier.run();
    vi.unstubAllEnvs();
    // Assess: every metric an alarm watches is emitted with its namespace, name and dimensions.
    type Watched = { Namespace: string; MetricName: string; Dimensions: { Name: string; Value: string }[] };
    const watched: Watched[] = [];
    for (const prefix of [
      "SealtrailVerifierVerificationFailedAlarm",
      "SealtrailVerifierVerificationSilentAlarm",
    ]) {
      const alarm = resources[logicalId(template, "AWS::CloudWatch::Alarm", prefix)]?.Properties ?? {};
      if (alarm.MetricName) watched.push(alarm as unknown as Watched);
      for (const query of (alarm.Metrics ?? []) as { MetricStat?: { Metric: Watched } }[]) {
        if (query.MetricStat) watched.push(query.MetricStat.Metric);
      }
    }
    expect(watched.map((metric) => metric.MetricName).sort()).toEqual(
      [VERIFIER_METRICS.failed, VERIFIER_METRICS.findings, VERIFIER_METRICS.verifiedCheckpoint].sort(),
    );
    for (const metric of watched) {
      const documents = emitted.filter((emf) =>
        emf._aws.CloudWatchMetrics.some(
          (directive) =>
            directive.Namespace === metric.Namespace &&
            directive.Metrics.some((m) => m.Name === metric.MetricName) &&
            JSON.stringify(directive.Dimensions) === JSON.stringify([metric.Dimensions.map((d) => d.Name)]),
        ),
      );
      expect(documents.length, metric.MetricName).toBeGreaterThan(0);
      for (const emf of documents) {
        for (const { Name, Value } of metric.Dimensions) expect(emf[Name]).toBe(Value);
      }
    }
    // The failing run said so through the same metrics.
    expect(emitted[1]?.[VERIFIER_METRICS.failed]).toBe(1);
    expect(emitted[1]?.[VERIFIER_METRICS.findings]).toBeGreaterThan(0);
  });
});

describe("scheduled verifier: a run that cannot complete", () => {
  it("counts as failed, sends its own message with the error, and fails the invocation", async () => {
    // Prepare: its store does not exist (a broken deployment, or its permissions gone).
    const built = await buildArchive();
    const recorder = metricsRecorder();
    const messages: { subject: string; message: string }[] = [];
    const job = createVerifierJob(
      {
        bucket: built.archive.bucket,
        stateBucket: uniqueName("sealtrail-missing"),
        aws: built.archive.target,
      },
      {
        trusted: built.signer.trusted,
        metrics: recorder,
        alerts: { publish: async (subject, message) => void messages.push({ subject, message }) },
      },
    );
    const before = await everything(built.archive);
    // Act, Assess
    await expect(job(AMPLE)).rejects.toThrow();
    expect(recorder.values()).toEqual({ [VERIFIER_METRICS.failed]: 1, [VERIFIER_METRICS.findings]: 0 });
    expect(recorder.published()).toBe(1);
    expect(messages).toHaveLength(1);
    expect(messages[0]?.subject).toBe("sealtrail verification could not run");
    expect(messages[0]?.message).toContain(`could not verify s3://${built.archive.bucket}`);
    expect(await everything(built.archive)).toEqual(before);
  });
});

describe("scheduled verifier: its message goes to the alarm topic through SNS", () => {
  it("publishes to the topic, and fails loudly for a topic that does not exist", async () => {
    // Prepare
    const target = emulatorTarget();
    const sns = new SNSClient({
      region: target.region,
      endpoint: target.endpoint,
      credentials: EMULATOR_CREDENTIALS,
    });
    const { TopicArn } = await sns.send(new CreateTopicCommand({ Name: uniqueName("sealtrail-alarms") }));
    const publisher = new SnsAlertPublisher(snsClient(target), TopicArn as string);
    const missing = new SnsAlertPublisher(snsClient(target), `${TopicArn}-missing`);
    // Act, Assess: a subject SNS refuses (over 100 characters, a newline) is cut to what it accepts.
    await expect(
      publisher.publish(`sealtrail verification FAILED\n${"x".repeat(200)}`, "the findings"),
    ).resolves.toBeUndefined();
    await expect(missing.publish("subject", "message")).rejects.toThrow();
  });
});
