/**
 * The checkpoint public key's custom resource (lambda/custom-resources/public-key-reader.ts), run with a
 * fake KMS against a local "CloudFormation": what it answers on Create, Update and Delete, and that it
 * answers FAILED (never hangs a deployment) on a wrong key or bytes that are not a public key.
 */
import { generateKeyPairSync } from "node:crypto";
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import type { CloudFormationCustomResourceEvent } from "aws-lambda";
import { afterEach, describe, expect, it } from "vitest";
import {
  createPublicKeyReader,
  type PublicKeyAnswer,
  publicKeyOf,
} from "../../lambda/custom-resources/public-key-reader";

describe("the checkpoint public key reader", () => {
  interface Received {
    method?: string;
    headers: IncomingHttpHeaders;
    body: Record<string, unknown>;
  }
  let server: ReturnType<typeof createServer> | undefined;

  afterEach(async () => {
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    server = undefined;
  });

  /** Runs the handler with a fake KMS, answering to a local "CloudFormation" over HTTP. */
  async function invoke(requestType: "Create" | "Update" | "Delete", kmsResponse: PublicKeyAnswer) {
    const received: Received[] = [];
    server = createServer((req, res) => {
      let body = "";
      req.on("data", (chunk) => {
        body += chunk;
      });
      req.on("end", () => {
        received.push({ method: req.method, headers: req.headers, body: JSON.parse(body) });
        res.end();
      });
    });
    await new Promise<void>((resolve) => server?.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as AddressInfo).port;

    const kmsCalls: string[] = [];
    const handler = createPublicKeyReader({
      getPublicKey: async (keyId) => {
        kmsCalls.push(keyId);
        return kmsResponse;
      },
      logError: () => undefined,
    });
    await handler({
      RequestType: requestType,
      ServiceToken: "arn:aws:lambda:eu-west-1:123456789012:function:reader",
      ResourceType: "Custom::SealtrailCheckpointPublicKey",
      ResponseURL: `http://127.0.0.1:${port}/cfn-response?X-Amz-Signature=test`,
      StackId: "arn:aws:cloudformation:eu-west-1:123456789012:stack/Sealtrail/1",
      RequestId: "request-1",
      LogicalResourceId: "SealtrailCheckpointPublicKey",
      ...(requestType === "Create" ? {} : { PhysicalResourceId: "arn:aws:kms:eu-west-1:123456789012:key/k" }),
      ResourceProperties: {
        ServiceToken: "arn:aws:lambda:eu-west-1:123456789012:function:reader",
        KeyId: "arn:aws:kms:eu-west-1:123456789012:key/k",
      },
    } as CloudFormationCustomResourceEvent);
    return { received, kmsCalls };
  }

  it("answers SUCCESS with the exact DER SPKI, base64, even from a view into a larger buffer", async () => {
    // Prepare: a P-256 public key as the SDK returns blobs: a Uint8Array window on a pooled buffer.
    const der = generateKeyPairSync("ec", { namedCurve: "P-256" }).publicKey.export({
      format: "der",
      type: "spki",
    });
    const pool = new Uint8Array(der.length + 64).fill(0xee);
    pool.set(der, 32);
    const view = new Uint8Array(pool.buffer, 32, der.length);
    // Act
    const { received, kmsCalls } = await invoke("Create", {
      KeyId: "arn:aws:kms:eu-west-1:123456789012:key/k",
      KeySpec: "ECC_NIST_P256",
      KeyUsage: "SIGN_VERIFY",
      SigningAlgorithms: ["ECDSA_SHA_256"],
      PublicKey: view,
    });
    // Assess
    expect(kmsCalls).toEqual(["arn:aws:kms:eu-west-1:123456789012:key/k"]);
    expect(received).toHaveLength(1);
    expect(received[0]?.method).toBe("PUT");
    // The pre-signed URL is signed without a content type, as cfn-response sends it.
    expect(received[0]?.headers["content-type"] ?? "").toBe("");
    expect(received[0]?.body).toMatchObject({
      Status: "SUCCESS",
      PhysicalResourceId: "arn:aws:kms:eu-west-1:123456789012:key/k",
      StackId: "arn:aws:cloudformation:eu-west-1:123456789012:stack/Sealtrail/1",
      RequestId: "request-1",
      LogicalResourceId: "SealtrailCheckpointPublicKey",
    });
    const data = received[0]?.body.Data as { PublicKey: string; KeyArn: string };
    expect(data.PublicKey).toBe(Buffer.from(der).toString("base64"));
    expect(data.KeyArn).toBe("arn:aws:kms:eu-west-1:123456789012:key/k");
  });

  it("answers FAILED, naming the key, when the key is not an ECC_NIST_P256 signing key", async () => {
    const { received } = await invoke("Update", {
      KeySpec: "RSA_2048",
      KeyUsage: "SIGN_VERIFY",
      SigningAlgorithms: ["RSASSA_PSS_SHA_256"],
      PublicKey: new Uint8Array([1, 2, 3]),
    });
    expect(received).toHaveLength(1);
    expect(received[0]?.body).toMatchObject({ Status: "FAILED", Data: {} });
    expect(received[0]?.body.Reason).toMatch(
      /key\/k is RSA_2048\/SIGN_VERIFY, not an ECC_NIST_P256 signing key/,
    );
  });

  it("answers FAILED when the bytes are not a public key, instead of outputting them", async () => {
    const { received } = await invoke("Create", {
      KeySpec: "ECC_NIST_P256",
      KeyUsage: "SIGN_VERIFY",
      SigningAlgorithms: ["ECDSA_SHA_256"],
      PublicKey: new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x00]),
    });
    expect(received[0]?.body).toMatchObject({ Status: "FAILED", Data: {} });
  });

  it("answers SUCCESS to Delete without calling KMS", async () => {
    const { received, kmsCalls } = await invoke("Delete", {});
    expect(kmsCalls).toEqual([]);
    expect(received[0]?.body).toMatchObject({
      Status: "SUCCESS",
      PhysicalResourceId: "arn:aws:kms:eu-west-1:123456789012:key/k",
    });
  });

  it("publicKeyOf needs the key material itself", () => {
    expect(() =>
      publicKeyOf("k", {
        KeySpec: "ECC_NIST_P256",
        KeyUsage: "SIGN_VERIFY",
        SigningAlgorithms: ["ECDSA_SHA_256"],
      }),
    ).toThrow(/no public key for k/);
  });
});
