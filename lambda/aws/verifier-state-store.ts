/**
 * The scheduled verifier's own bucket, which only its role may write and nobody may delete from
 * (lib/scheduled-verifier.ts): its state, one JSON object replaced with If-Match on the ETag it was
 * read with (created with If-None-Match), and a JSON report per step, each created once.
 */
import { GetObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { checksumSha256Base64 } from "../core/batch";
import type { ScheduledVerifierState, VerifierStore } from "../verify/scheduled";
import { isNotFound, isPreconditionFailed } from "./errors";

export const VERIFIER_STATE_KEY = "verifier/state.json";

/** Another run saved the state first: this one stops, and keeps nothing of what it did not save. */
export class VerifierStateConflictError extends Error {
  override readonly name = "VerifierStateConflictError";
}

export class S3VerifierStore implements VerifierStore {
  constructor(
    private readonly s3: S3Client,
    readonly bucket: string,
  ) {}

  async load(): Promise<{ state: ScheduledVerifierState; version: string } | undefined> {
    let text: string;
    let etag: string | undefined;
    try {
      const object = await this.s3.send(
        new GetObjectCommand({ Bucket: this.bucket, Key: VERIFIER_STATE_KEY }),
      );
      text = (await object.Body?.transformToString("utf8")) ?? "";
      etag = object.ETag;
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
    if (!etag) throw new Error("the scheduled verifier's state has no ETag to save against");
    let state: ScheduledVerifierState | undefined;
    try {
      state = JSON.parse(text) as ScheduledVerifierState;
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
    return { state, version: etag };
  }

  async save(state: ScheduledVerifierState, expected: string | undefined): Promise<string> {
    const body = Buffer.from(JSON.stringify(state), "utf8");
    try {
      const out = await this.s3.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: VERIFIER_STATE_KEY,
          Body: body,
          ContentType: "application/json",
          ChecksumAlgorithm: "SHA256",
          ChecksumSHA256: checksumSha256Base64(body),
          ...(expected === undefined ? { IfNoneMatch: "*" } : { IfMatch: expected }),
        }),
      );
      if (!out.ETag) throw new Error("S3 returned no ETag for the saved verifier state");
      return out.ETag;
    } catch (error) {
      // 412: someone saved first. 404 on If-Match: the object it was read from is gone, same verdict.
      if (isPreconditionFailed(error) || (expected !== undefined && isNotFound(error))) {
        throw new VerifierStateConflictError(
          "another scheduled verifier run saved the state first (the function should run one at a time: " +
            "check its reserved concurrency); this run stops and the next one continues from that state",
        );
      }
      throw error;
    }
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
