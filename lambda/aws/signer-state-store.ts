/**
 * The signer's state as one JSON object in a bucket only the signer's role may write. Replaced with
 * If-Match on the ETag it was read with (created with If-None-Match), so two runs cannot both save.
 */
import { GetObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import type { SignerState, SignerStateStore } from "../checkpoint/signer";
import { checksumSha256Base64 } from "../core/batch";
import { isNotFound, isPreconditionFailed } from "./errors";

export const SIGNER_STATE_KEY = "signer/state.json";

export class S3SignerStateStore implements SignerStateStore {
  constructor(
    private readonly s3: S3Client,
    readonly bucket: string,
  ) {}

  async load(): Promise<{ state: SignerState; version: string } | undefined> {
    try {
      const object = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: SIGNER_STATE_KEY }));
      const text = (await object.Body?.transformToString("utf8")) ?? "";
      if (!object.ETag) throw new Error("the signer state has no ETag to save against");
      return { state: JSON.parse(text) as SignerState, version: object.ETag };
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  async save(state: SignerState, expected: string | undefined): Promise<"saved" | "conflict"> {
    const body = Buffer.from(JSON.stringify(state), "utf8");
    try {
      await this.s3.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: SIGNER_STATE_KEY,
          Body: body,
          ContentType: "application/json",
          ChecksumAlgorithm: "SHA256",
          ChecksumSHA256: checksumSha256Base64(body),
          ...(expected === undefined ? { IfNoneMatch: "*" } : { IfMatch: expected }),
        }),
      );
      return "saved";
    } catch (error) {
      // 412: someone saved first. 404 on If-Match: the object it was read from is gone, same verdict.
      if (isPreconditionFailed(error) || (expected !== undefined && isNotFound(error))) return "conflict";
      throw error;
    }
  }
}
