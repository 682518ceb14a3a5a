/**
 * The Lambda assets as `cdk synth` builds them: bundled by the project's esbuild (never Docker) into ESM
 * with the createRequire banner, minified, with source maps. The only infra test that runs esbuild.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Template } from "aws-cdk-lib/assertions";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { configureApp } from "../../lib/app";
import { logicalId, newApp, TEST_CONTEXT } from "./helpers";

let outdir: string;
let template: Template;
const dockerBefore = process.env.CDK_DOCKER;

/** The staged asset directory of a function's code. */
function assetDir(prefix: string): string {
  const fn = template.toJSON().Resources[logicalId(template, "AWS::Lambda::Function", prefix)];
  const key = fn.Properties.Code.S3Key as string;
  return join(outdir, `asset.${key.replace(/\.zip$/, "")}`);
}

beforeAll(() => {
  // Prepare: no Docker, so bundling can only succeed with the local esbuild.
  const app = newApp({ ...TEST_CONTEXT }, { bundle: true });
  process.env.CDK_DOCKER = "/nonexistent/docker";
  // Act
  template = Template.fromStack(configureApp(app));
  outdir = app.outdir;
}, 120_000);

afterAll(() => {
  if (dockerBefore === undefined) delete process.env.CDK_DOCKER;
  else process.env.CDK_DOCKER = dockerBefore;
});

describe("Lambda bundling", () => {
  it.each([
    "SealtrailIngestFunction",
    "SealtrailReindexFunction",
    "SealtrailCheckpointFunction",
    "SealtrailQueryFunction",
    "SealtrailVerifierFunction",
    // The checkpoint public key's custom resource (lambda/custom-resources/public-key-reader.ts).
    "SealtrailCheckpointPublicKeyReader",
  ])("%s is one minified ESM file with the createRequire banner and a source map", (prefix) => {
    const dir = assetDir(prefix);
    expect(readdirSync(dir).sort()).toEqual(["index.mjs", "index.mjs.map"]);
    const code = readFileSync(join(dir, "index.mjs"), "utf8");
    expect(code.startsWith("import { createRequire as __sealtrailCreateRequire } from 'node:module';")).toBe(
      true,
    );
    expect(code).toContain("const require = __sealtrailCreateRequire(import.meta.url);");
    expect(code).toMatch(/export\s*\{[^}]*\bhandler\b[^}]*\}/);
    expect(code).toContain("//# sourceMappingURL=index.mjs.map");
    expect(existsSync(join(dir, "index.js"))).toBe(false);
  });
});
