/**
 * Local mode's privacy keys, standing in for the two KMS keys of a deployment: a 32-byte wrapping
 * key and a 32-byte pseudonym master, each in a file of the state dir that only its owner reads,
 * created on first use and kept across starts (so pseudonyms stay stable and old records open).
 */
import { randomBytes } from "node:crypto";
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { hmacSha256Key } from "../lambda/core/cursor";
import { localKeyWrapper } from "../lambda/privacy/local-key-wrapper";
import type { KeyWrapper, PseudonymKeys } from "../lambda/privacy/ports";
import { derivedPseudonymKeys } from "../lambda/privacy/pseudonym-keys";

const SECRET_BYTES = 32;
export const PRIVACY_KEY_FILES = { wrap: "privacy-wrap.key", pseudonym: "privacy-pseudonym.key" } as const;

function loadOrCreateSecret(file: string): Buffer {
  try {
    writeFileSync(file, randomBytes(SECRET_BYTES), { mode: 0o600, flag: "wx" });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
  }
  chmodSync(file, 0o600);
  const secret = readFileSync(file);
  if (secret.length !== SECRET_BYTES) throw new Error(`${file} must hold exactly ${SECRET_BYTES} bytes`);
  return secret;
}

export function loadOrCreatePrivacyKeys(stateDir: string): {
  wrapper: KeyWrapper;
  pseudonyms: PseudonymKeys;
} {
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  return {
    wrapper: localKeyWrapper(loadOrCreateSecret(join(stateDir, PRIVACY_KEY_FILES.wrap))),
    pseudonyms: derivedPseudonymKeys(
      hmacSha256Key(loadOrCreateSecret(join(stateDir, PRIVACY_KEY_FILES.pseudonym))),
    ),
  };
}
