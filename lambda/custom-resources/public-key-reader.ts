/**
 * Custom resource `Custom::SealtrailCheckpointPublicKey` (lib/checkpoint.ts): reads the checkpoint
 * signing key's public key at deployment so the stack can output it (CheckpointPublicKey).
 *
 * Create/Update: GetPublicKey, check the key is an ECC_NIST_P256 signing key with ECDSA_SHA_256, parse
 * the DER as SPKI, answer it base64. Delete: nothing to undo. It answers CloudFormation itself (PUT to
 * the pre-signed ResponseURL with an empty content type, as cfn-response does), so no provider framework
 * function is needed; any error answers FAILED, so a deployment never hangs.
 *
 * AwsCustomResource cannot do this: its SDK v3 handler turns every Uint8Array of a response into text
 * with TextDecoder (of the view's whole underlying buffer), so a DER key comes back mangled
 * (aws/aws-cdk#19065). This function base64-encodes the exact bytes.
 *
 * It runs at deployment only, never on the request path, and makes one KMS call: it takes the SDK
 * client directly rather than through lambda/aws's adapters, with the call injected for tests.
 */
import { createPublicKey } from "node:crypto";
import { GetPublicKeyCommand, KMSClient } from "@aws-sdk/client-kms";
import type { CloudFormationCustomResourceEvent } from "aws-lambda";

/** The part of KMS GetPublicKey's answer the reader checks and returns. */
export interface PublicKeyAnswer {
  readonly KeyId?: string;
  readonly KeySpec?: string;
  readonly KeyUsage?: string;
  readonly SigningAlgorithms?: readonly string[];
  readonly PublicKey?: Uint8Array;
}

/** What CloudFormation is told (the custom resource response object). */
export interface CustomResourceResponse {
  readonly Status: "SUCCESS" | "FAILED";
  readonly Reason: string;
  readonly PhysicalResourceId: string;
  readonly StackId: string;
  readonly RequestId: string;
  readonly LogicalResourceId: string;
  readonly NoEcho: false;
  readonly Data: Record<string, string>;
}

export interface PublicKeyReaderDeps {
  /** KMS GetPublicKey of `keyId`. */
  readonly getPublicKey: (keyId: string) => Promise<PublicKeyAnswer>;
  /** @default - PUT to the event's ResponseURL (`putResponse`) */
  readonly respond?: (responseUrl: string, response: CustomResourceResponse) => Promise<void>;
  /** Hears the error behind a FAILED answer. @default console.error */
  readonly logError?: (error: unknown) => void;
}

/** CloudFormation keeps at most this much of a reason. */
const MAX_REASON_LENGTH = 1000;

/** The base64 DER SPKI of an ECC_NIST_P256 signing key, or an error naming the key and what it is. */
export function publicKeyOf(keyId: string, answer: PublicKeyAnswer): string {
  if (
    answer.KeySpec !== "ECC_NIST_P256" ||
    answer.KeyUsage !== "SIGN_VERIFY" ||
    !(answer.SigningAlgorithms ?? []).includes("ECDSA_SHA_256")
  ) {
    throw new Error(`key ${keyId} is ${answer.KeySpec}/${answer.KeyUsage}, not an ECC_NIST_P256 signing key`);
  }
  if (answer.PublicKey === undefined) throw new Error(`KMS returned no public key for ${keyId}`);
  // Exactly the view's bytes: the SDK's Uint8Array may be a window on a larger pooled buffer.
  const der = Buffer.from(answer.PublicKey.buffer, answer.PublicKey.byteOffset, answer.PublicKey.byteLength);
  createPublicKey({ key: der, format: "der", type: "spki" });
  return der.toString("base64");
}

/** The custom resource handler, with KMS (and the answer to CloudFormation) injected. */
export function createPublicKeyReader(
  deps: PublicKeyReaderDeps,
): (event: CloudFormationCustomResourceEvent) => Promise<void> {
  const respond = deps.respond ?? putResponse;
  const logError = deps.logError ?? ((error: unknown) => console.error(error));
  return async (event) => {
    const keyId = String(event.ResourceProperties.KeyId ?? "");
    const answer = (status: CustomResourceResponse["Status"], reason: string, data: Record<string, string>) =>
      respond(event.ResponseURL, {
        Status: status,
        Reason: reason.slice(0, MAX_REASON_LENGTH),
        PhysicalResourceId:
          ("PhysicalResourceId" in event ? event.PhysicalResourceId : "") || keyId || event.LogicalResourceId,
        StackId: event.StackId,
        RequestId: event.RequestId,
        LogicalResourceId: event.LogicalResourceId,
        NoEcho: false,
        Data: data,
      });
    try {
      if (event.RequestType === "Delete") return await answer("SUCCESS", "nothing to delete", {});
      const out = await deps.getPublicKey(keyId);
      const publicKey = publicKeyOf(keyId, out);
      await answer("SUCCESS", "public key read", { PublicKey: publicKey, KeyArn: out.KeyId ?? keyId });
    } catch (error) {
      logError(error);
      await answer("FAILED", error instanceof Error ? error.message : String(error), {});
    }
  };
}

/** PUT to the pre-signed URL, signed without a content type (as cfn-response sends it). */
export async function putResponse(responseUrl: string, response: CustomResourceResponse): Promise<void> {
  const body = JSON.stringify(response);
  const answer = await fetch(responseUrl, {
    method: "PUT",
    headers: { "content-type": "", "content-length": String(Buffer.byteLength(body)) },
    body,
  });
  if (!answer.ok) throw new Error(`CloudFormation rejected the response: HTTP ${answer.status}`);
}

let kms: KMSClient | undefined;

export const handler = createPublicKeyReader({
  getPublicKey: (keyId) => {
    kms ??= new KMSClient({});
    return kms.send(new GetPublicKeyCommand({ KeyId: keyId }));
  },
});
