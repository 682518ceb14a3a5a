/**
 * The Lambda assets as `cdk synth` builds them: bundled by the project's esbuild (never Docker) into ESM
 * with the createRequire banner, minified, with source maps. The only infra test that runs esbuild.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Template } from "aws-cdk-lib/assertions";
import { build } from "esbuild";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { configureApp } from "../../lib/app";
import { HANDLER_ESBUILD_OPTIONS } from "../../lib/function";
import { logicalId, newApp, TEST_CONTEXT } from "./helpers";

/** Each handler's bundle at most (they are 0.77-0.91 MB; with every zod locale 1.13-1.26 MB). */
const HANDLER_BUNDLE_BUDGET_BYTES = 950_000;

/**
 * Code each function never calls, by logical-id prefix: package names and repository paths as they
 * appear in the bundle's source map. Tree shaking cannot drop an SDK command class once a module that
 * imports it is bundled, so a handler that imports a shared module for one helper (a logger from the
 * write path's wiring) carries every client that module makes: checkpoint did, 53 KB of DynamoDB.
 */
const NEVER_CALLED: Record<string, readonly string[]> = {
  // Signs with KMS over the archive in S3: no index, no alarm topic, no write path.
  SealtrailCheckpointFunction: [
    "@aws-sdk/client-dynamodb",
    "@aws-sdk/lib-dynamodb",
    "@aws-sdk/client-sns",
    "lambda/ingest/",
  ],
  // Verifies from the checkpoint public key (no KMS call) and never writes the archive or the index.
  SealtrailVerifierFunction: ["@aws-sdk/client-kms", "lambda/ingest/"],
  // Indexes what is archived: no keys, no tokens, no alarm topic.
  SealtrailReindexFunction: ["@aws-sdk/client-kms", "@aws-sdk/client-sns", "jose"],
  SealtrailIngestFunction: ["@aws-sdk/client-sns"],
  SealtrailQueryFunction: ["@aws-sdk/client-sns"],
};

/** The functions of lambda/handlers/, by logical-id prefix. */
const HANDLER_FUNCTIONS = [
  "SealtrailIngestFunction",
  "SealtrailReindexFunction",
  "SealtrailCheckpointFunction",
  "SealtrailQueryFunction",
  "SealtrailVerifierFunction",
];

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
    ...HANDLER_FUNCTIONS,
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

  /**
   * A budget, not a benchmark: bundle bytes are deterministic for a lockfile. Importing zod's `z` by
   * name instead of as a namespace (`import * as z from "zod"`) keeps every zod locale in each bundle,
   * 350 KB; this fails on that, and on anything else that grows a handler by as much.
   */
  it.each(HANDLER_FUNCTIONS)("%s stays within the handler bundle budget", (prefix) => {
    const bytes = readFileSync(join(assetDir(prefix), "index.mjs")).length;
    expect(bytes).toBeLessThanOrEqual(HANDLER_BUNDLE_BUDGET_BYTES);
  });

  it.each(Object.entries(NEVER_CALLED))("%s bundles none of the code it never calls", (prefix, never) => {
    const map = JSON.parse(readFileSync(join(assetDir(prefix), "index.mjs.map"), "utf8")) as {
      sources: string[];
    };
    const sources = map.sources.map((source) => source.replace(/\\/g, "/"));
    // The check can see what it looks for: the handler's own module is a source.
    expect(sources.some((source) => source.includes("lambda/handlers/"))).toBe(true);
    for (const part of never) {
      const offending = sources.filter((source) =>
        part.startsWith("lambda/") ? source.includes(part) : source.includes(`node_modules/${part}/`),
      );
      expect(offending, `${prefix} bundles ${part}`).toEqual([]);
    }
  });

  it("HANDLER_ESBUILD_OPTIONS build the same code as the synthesized asset (what the bundle benchmark measures)", async () => {
    const asset = readFileSync(join(assetDir("SealtrailIngestFunction"), "index.mjs"), "utf8");
    const built = await build({
      ...HANDLER_ESBUILD_OPTIONS,
      entryPoints: [fileURLToPath(new URL("../../lambda/handlers/ingest.ts", import.meta.url))],
      write: false,
      outfile: "index.mjs",
      logLevel: "silent",
    });
    const code = built.outputFiles[0]?.text ?? "";
    expect(code.length).toBeGreaterThan(100_000);
    expect(asset.replace(/\n?\/\/# sourceMappingURL=index\.mjs\.map\n?$/, "")).toBe(code.replace(/\n$/, ""));
  });
});
