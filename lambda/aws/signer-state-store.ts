/**
 * The signer's state as one JSON object in a bucket only the signer's role may write. Replaced with
 * If-Match on the ETag it was read with (created with If-None-Match), so two runs cannot both save.
 */
import type { S3Client } from "@aws-sdk/client-s3";
import type { SignerState, SignerStateStore } from "../checkpoint/signer";
import { type JsonStateObject, readStateObject, saveStateObject } from "./json-state-object";

export const SIGNER_STATE_KEY = "signer/state.json";

export class S3SignerStateStore implements SignerStateStore {
  private readonly object: JsonStateObject;

  constructor(
    s3: S3Client,
    readonly bucket: string,
  ) {
    this.object = { s3, bucket, key: SIGNER_STATE_KEY, name: "the signer state" };
  }

  async load(): Promise<{ state: SignerState; version: string } | undefined> {
    const read = await readStateObject(this.object);
    return read && { state: JSON.parse(read.text) as SignerState, version: read.etag };
  }

  async save(state: SignerState, expected: string | undefined): Promise<"saved" | "conflict"> {
    return (await saveStateObject(this.object, state, expected)) === "conflict" ? "conflict" : "saved";
  }
}
