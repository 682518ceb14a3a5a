/**
 * The AWS SDK clients on one version: they share @smithy packages and middleware, and clients on
 * different versions install two copies of them and can disagree on defaults (retries, checksums).
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";

const manifest = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};

describe("dependencies", () => {
  it("pins every @aws-sdk/* package to the same version", () => {
    const sdk = Object.entries({ ...manifest.dependencies, ...manifest.devDependencies }).filter(([name]) =>
      name.startsWith("@aws-sdk/"),
    );
    expect(sdk.length).toBeGreaterThan(0);
    expect(new Set(sdk.map(([, version]) => version)).size, JSON.stringify(sdk)).toBe(1);
  });
});
