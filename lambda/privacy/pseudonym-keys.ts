/**
 * Each tenant's pseudonym key, derived from one HMAC key: HMAC(master, domain ‖ tenant). In AWS the
 * master is a KMS HMAC_256 key that never leaves KMS (lambda/aws/kms-mac-key.ts), in local mode a
 * secret file. A derived key is cached for the life of the process: pseudonym keys are never erased
 * per subject, and destroying the master ends every pseudonym search (docs/privacy.md).
 */
import type { MacKey } from "../core/cursor";
import type { PseudonymKeys } from "./ports";

const DOMAIN = "sealtrail-pseudonym-key-v1\u0000";

export function derivedPseudonymKeys(master: MacKey): PseudonymKeys {
  const cache = new Map<string, Promise<Uint8Array>>();
  return {
    forTenant(tenant) {
      let key = cache.get(tenant);
      if (!key) {
        key = master.mac(Buffer.from(DOMAIN + tenant, "utf8"));
        // A failed derivation is not cached: the next request asks KMS again.
        key.catch(() => cache.delete(tenant));
        cache.set(tenant, key);
      }
      return key;
    },
  };
}
