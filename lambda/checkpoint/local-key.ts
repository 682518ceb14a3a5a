/** The checkpoint key in local mode and tests: a P-256 private JWK in a file only its owner reads. */
import { createPrivateKey, generateKeyPairSync, sign } from "node:crypto";
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import type { JWK } from "jose";
import { type CheckpointKey, keyIdOf } from "../core/checkpoint";

export async function checkpointKeyFromPrivateJwk(privateJwk: JWK): Promise<CheckpointKey> {
  if (privateJwk.kty !== "EC" || privateJwk.crv !== "P-256" || !privateJwk.d) {
    throw new Error("a checkpoint key is an EC P-256 private JWK");
  }
  const privateKey = createPrivateKey({ key: privateJwk as import("node:crypto").JsonWebKey, format: "jwk" });
  const publicJwk: JWK = { kty: "EC", crv: "P-256", x: privateJwk.x, y: privateJwk.y };
  return {
    kid: await keyIdOf(publicJwk),
    publicJwk,
    // ieee-p1363 is JOSE's r ‖ s, so no DER conversion is needed here.
    sign: async (input) => sign("sha256", input, { key: privateKey, dsaEncoding: "ieee-p1363" }),
  };
}

export function generateCheckpointPrivateJwk(): JWK {
  const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  return privateKey.export({ format: "jwk" }) as JWK;
}

/** Loads the key file, creating it (mode 0600, exclusively) on first use. */
export async function loadOrCreateCheckpointKey(file: string): Promise<CheckpointKey> {
  try {
    chmodSync(file, 0o600);
    return await checkpointKeyFromPrivateJwk(JSON.parse(readFileSync(file, "utf8")) as JWK);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  try {
    writeFileSync(file, `${JSON.stringify(generateCheckpointPrivateJwk(), null, 2)}\n`, {
      mode: 0o600,
      flag: "wx",
    });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
  }
  return checkpointKeyFromPrivateJwk(JSON.parse(readFileSync(file, "utf8")) as JWK);
}
