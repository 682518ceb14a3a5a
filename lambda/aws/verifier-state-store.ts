/**
 * The scheduled verifier's own bucket, which only its role may write and nobody may delete from
 * (lib/scheduled-verifier.ts): its state, one JSON object replaced with If-Match on the ETag it was
 * read with (created with If-None-Match), and a JSON report per step, each created once.
 */
import { PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { checksumSha256Base64 } from "../core/batch";
import type { ScheduledVerifierState, VerifierStore } from "../verify/scheduled";
import { isPreconditionFailed } from "./errors";
import { type JsonStateObject, readStateObject, saveStateObject } from "./json-state-object";

export const VERIFIER_STATE_KEY = "verifier/state.json";

/** Another run saved the state first: this one stops, and keeps nothing of what it did not save. */
export class VerifierStateConflictError extends Error {
  override readonly name = "VerifierStateConflictError";
}

export class S3VerifierStore implements VerifierStore {
  private readonly object: JsonStateObject;

  constructor(
    private readonly s3: S3Client,
    readonly bucket: string,
  ) {
    this.object = { s3, bucket, key: VERIFIER_STATE_KEY, name: "the scheduled verifier's state" };
  }

  async load(): Promise<{ state: ScheduledVerifierState; version: string } | undefined> {
    const read = await readStateObject(this.object);
    if (!read) return undefined;
    let state: ScheduledVerifierState | undefined;
    try {
      state = JSON.parse(read.text) as ScheduledVerifierState;
    } catch {
      state = undefined;
    }
    // Never start over silently: a state that went missing in its content would forget what was
    // verified, and with it the rollback check against it.
    if (state?.v !== 1 || typeof state.saved !== "string") {
      throw new Error(
        `s3://${this.bucket}/${VERIFIER_STATE_KEY} is not a scheduled verifier state, so the verifier stops ` +
          "rather than start over and forget what it verified: its earlier versions are in the bucket (it is " +
          'versioned); see docs/operations.md, "The scheduled verifier\'s alarms"',
      );
    }
    return { state, version: read.etag };
  }

  async save(state: ScheduledVerifierState, expected: string | undefined): Promise<string> {
    const saved = await saveStateObject(this.object, state, expected);
    if (saved === "conflict") {
      throw new VerifierStateConflictError(
        "another scheduled verifier run saved the state first (the function should run one at a time: " +
          "check its reserved concurrency); this run stops and the next one continues from that state",
      );
    }
    if (!saved.etag) throw new Error("S3 returned no ETag for the saved verifier state");
    return saved.etag;
  }

  async putReport(key: string, report: object): Promise<string> {
    const body = Buffer.from(`${JSON.stringify(report, null, 2)}\n`, "utf8");
    try {
      await this.s3.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: key,
          Body: body,
          ContentType: "application/json",
          IfNoneMatch: "*",
          ChecksumAlgorithm: "SHA256",
          ChecksumSHA256: checksumSha256Base64(body),
        }),
      );
    } catch (error) {
      // Reports are named by run and step, so a second put of one key is a retried request.
      if (!isPreconditionFailed(error)) throw error;
    }
    return `s3://${this.bucket}/${key}`;
  }
}
