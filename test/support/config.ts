/** A SealtrailConfig pointing at a test archive. */
import { DEFAULT_SCOPES, type SealtrailConfig } from "../../lambda/runtime/config";
import type { TestArchive } from "./aws";

export function testConfig(archive: TestArchive, overrides: Partial<SealtrailConfig> = {}): SealtrailConfig {
  return {
    bucket: archive.bucket,
    table: archive.table,
    chains: 4,
    scopes: DEFAULT_SCOPES,
    subjectIssuers: [],
    leaseSeconds: 300,
    aws: archive.target,
    ...overrides,
  };
}
