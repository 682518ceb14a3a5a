/**
 * A state kept as one JSON object in S3 and replaced with If-Match on the ETag it was read with (created
 * with If-None-Match), so two runs cannot both save: the checkpoint signer's (signer-state-store.ts) and
 * the scheduled verifier's (verifier-state-store.ts). What the JSON must be is each store's own.
 */
import { GetObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { checksumSha256Base64 } from "../core/batch";
import { isNotFound, isPreconditionFailed } from "./errors";

export interface JsonStateObject {
  readonly s3: S3Client;
  readonly bucket: string;
  readonly key: string;
  /** What the state is, for errors: e.g. "the signer state". */
  readonly name: string;
}

/** The object's text and the ETag to save against, or undefined when there is none yet. */
export async function readStateObject(
  object: JsonStateObject,
): Promise<{ text: string; etag: string } | undefined> {
  let text: string;
  let etag: string | undefined;
  try {
    const got = await object.s3.send(new GetObjectCommand({ Bucket: object.bucket, Key: object.key }));
    text = (await got.Body?.transformToString("utf8")) ?? "";
    etag = got.ETag;
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
  if (!etag) throw new Error(`${object.name} has no ETag to save against`);
  return { text, etag };
}

/**
 * Saves `state` if the object is still the version `expected` (an ETag), or still absent when
 * `expected` is undefined. "conflict": another run saved first; else the new object's ETag, if S3 gave one.
 */
export async function saveStateObject(
  object: JsonStateObject,
  state: unknown,
  expected: string | undefined,
): Promise<{ etag: string | undefined } | "conflict"> {
  const body = Buffer.from(JSON.stringify(state), "utf8");
  try {
    const out = await object.s3.send(
      new PutObjectCommand({
        Bucket: object.bucket,
        Key: object.key,
        Body: body,
        ContentType: "application/json",
        ChecksumAlgorithm: "SHA256",
        ChecksumSHA256: checksumSha256Base64(body),
        ...(expected === undefined ? { IfNoneMatch: "*" } : { IfMatch: expected }),
      }),
    );
    return { etag: out.ETag };
  } catch (error) {
    // 412: someone saved first. 404 on If-Match: the object it was read from is gone, same verdict.
    if (isPreconditionFailed(error) || (expected !== undefined && isNotFound(error))) return "conflict";
    throw error;
  }
}
