/** A checkpoint signer for a test archive: its own state bucket, a fresh local key, the trust file. */
import { CreateBucketCommand } from "@aws-sdk/client-s3";
import { checkpointKeyFromPrivateJwk, generateCheckpointPrivateJwk } from "../../lambda/checkpoint/local-key";
import {
  type CheckpointKey,
  parseTrustedKeys,
  type TrustedKey,
  trustFileOf,
} from "../../lambda/core/checkpoint";
import { type CheckpointJob, createCheckpointJob } from "../../lambda/handlers/checkpoint";
import { type TestArchive, uniqueName } from "./aws";

export interface TestSigner {
  readonly run: CheckpointJob;
  readonly key: CheckpointKey;
  readonly stateBucket: string;
  /** The JWKS a verifier is given. */
  readonly trustFile: { keys: object[] };
  readonly trusted: TrustedKey[];
}

export async function createTestSigner(
  archive: TestArchive,
  options: { key?: CheckpointKey; now?: () => number } = {},
): Promise<TestSigner> {
  const stateBucket = uniqueName("sealtrail-signer");
  await archive.s3.send(new CreateBucketCommand({ Bucket: stateBucket }));
  const key = options.key ?? (await checkpointKeyFromPrivateJwk(generateCheckpointPrivateJwk()));
  const run = createCheckpointJob(
    { bucket: archive.bucket, stateBucket, keyId: "local", aws: archive.target },
    { key, now: options.now },
  );
  const trustFile = trustFileOf(key);
  return { run, key, stateBucket, trustFile, trusted: await parseTrustedKeys(trustFile) };
}
