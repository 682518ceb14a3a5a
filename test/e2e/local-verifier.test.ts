/**
 * Local mode runs the scheduled verifier on a timer (SEALTRAIL_VERIFY_SECONDS), as the stack runs it
 * hourly: it keeps its state in its own bucket, and prints its message with the first findings when
 * the archive stops verifying. `npm start` as a child process, as a user runs it.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DeleteObjectCommand, GetObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { s3Client } from "../../lambda/aws/clients";
import { isNotFound } from "../../lambda/aws/errors";
import { VERIFIER_STATE_KEY } from "../../lambda/aws/verifier-state-store";
import { checkpointKey } from "../../lambda/core/paths";
import type { ScheduledVerifierState } from "../../lambda/verify/scheduled";
import { type LocalModeProcess, startNpmStart } from "./local-process";

const STARTUP_TIMEOUT_MS = 100_000;
const WAIT_MS = 60_000;

/** Polls `probe` until it returns a value, or fails after WAIT_MS naming what it waited for. */
async function eventually<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

describe("npm start runs the scheduled verifier", () => {
  let stateDir: string;
  let local: LocalModeProcess;

  beforeAll(async () => {
    stateDir = mkdtempSync(join(tmpdir(), "sealtrail-local-verifier-"));
    local = await startNpmStart(stateDir, {
      SEALTRAIL_CHECKPOINT_SECONDS: "1",
      SEALTRAIL_VERIFY_SECONDS: "1",
    });
  }, STARTUP_TIMEOUT_MS);

  afterAll(() => {
    local?.killGroup();
    rmSync(stateDir, { recursive: true, force: true });
  });

  it("verifies on its timer, saves its state in its own bucket, and prints the first findings once the archive is tampered with", async () => {
    // Prepare: the verifier's bucket as the banner names it, and the emulator.
    const line = local
      .stdout()
      .split("\n")
      .find((text) => text.startsWith("  verifier     every 1 s"));
    const bucket = /s3:\/\/(\S+)/.exec(line ?? "")?.[1];
    expect(bucket, local.stdout()).toBeDefined();
    const { s3Endpoint, region, bucket: archive } = local.state();
    const s3 = s3Client({ endpoint: s3Endpoint, region });
    const state = async () => {
      try {
        const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: VERIFIER_STATE_KEY }));
        return JSON.parse(await (object.Body?.transformToString() ?? "")) as ScheduledVerifierState;
      } catch (error) {
        if (isNotFound(error)) return undefined;
        throw error;
      }
    };
    // Act, Assess: the first checkpoint is verified by a timer run.
    const verified = await eventually("a verified checkpoint in the verifier's state", async () => {
      const saved = await state();
      return saved?.verified ? saved : undefined;
    });
    expect(verified.verified?.checkpoint.seq).toBeGreaterThanOrEqual(0);
    expect(local.stderr()).not.toContain("verification FAILED");

    // Act: an attacker hides checkpoint 0 behind a delete marker.
    await s3.send(new DeleteObjectCommand({ Bucket: archive, Key: checkpointKey(0) }));
    // Assess: the next run prints its message with the finding.
    const message = await eventually("the verifier's message", async () =>
      local.stderr().includes("sealtrail verification FAILED") ? local.stderr() : undefined,
    );
    expect(message).toContain(`ERROR delete_marker [${checkpointKey(0)}`);
    expect(message).toContain(`s3://${bucket}/reports/`);
  });
});
