/**
 * The AWS SDK only in the adapters: a module under lambda/, cli/, local/ or bin/ outside lambda/aws/ imports no
 * `@aws-sdk/*` package, except the wiring modules (lambda/handlers/*, lambda/runtime/*), which may
 * name SDK client types (their clients come from lambda/aws/clients.ts), and the deployment-time
 * custom-resource functions (lambda/custom-resources/: bundled alone, run by CloudFormation, never on
 * the request path; each says in its header why it calls the SDK itself). And the services (ingest,
 * query, proof, checkpoint, archive) reach lambda/aws/ only where a comment beside the import says why.
 * Read from the source text.
 */
import { readFileSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { importsOf, resolveRelative, tsFilesUnder } from "../support/imports";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const shown = (file: string) => relative(ROOT, file).split(sep).join("/");
const under = (file: string, dir: string) => shown(file).startsWith(`${dir}/`);

const ADAPTERS = "lambda/aws";
const WIRING = (file: string) => under(file, "lambda/handlers") || under(file, "lambda/runtime");
/** Deployment-time Lambda functions of the stack's custom resources, each its own small bundle. */
const CUSTOM_RESOURCES = "lambda/custom-resources";
const SERVICES = ["lambda/ingest", "lambda/query", "lambda/proof", "lambda/checkpoint", "lambda/archive"];

/** The service imports of lambda/aws/ that stay, each explained in a comment beside it. */
const SERVICE_IMPORTS_OF_ADAPTERS = new Set([
  // Where the adapters' clients point, read from the environment (lambda/aws/target.ts imports no SDK).
  "lambda/checkpoint/config.ts → lambda/aws/target.ts",
]);

function sources(): string[] {
  return ["lambda", "cli", "local", "bin"].flatMap((dir) => tsFilesUnder(join(ROOT, dir)));
}

describe("the AWS SDK boundary", () => {
  it("finds the sources and sees an adapter's SDK import (the checks below are not vacuous)", () => {
    // Prepare / Act
    const files = sources();
    const objectStore = files.find((file) => shown(file) === "lambda/aws/object-store.ts") as string;
    // Assess
    expect(files.length).toBeGreaterThan(50);
    expect(importsOf(readFileSync(objectStore, "utf8")).map((found) => found.specifier)).toContain(
      "@aws-sdk/client-s3",
    );
    expect(importsOf('import type { S3Client } from "@aws-sdk/client-s3";')).toEqual([
      { specifier: "@aws-sdk/client-s3", typeOnly: true },
    ]);
  });

  it("no module outside lambda/aws/ imports @aws-sdk/*; wiring modules name its types only", () => {
    // Prepare
    const offending: string[] = [];
    // Act
    for (const file of sources()) {
      if (under(file, ADAPTERS) || under(file, CUSTOM_RESOURCES)) continue;
      for (const { specifier, typeOnly } of importsOf(readFileSync(file, "utf8"))) {
        if (!specifier.startsWith("@aws-sdk/")) continue;
        if (WIRING(file) && typeOnly) continue;
        offending.push(`${shown(file)} imports ${specifier}${typeOnly ? " (type)" : ""}`);
      }
    }
    // Assess
    expect(offending).toEqual([]);
  });

  it("services import from lambda/aws/ only where the exception is written down", () => {
    // Prepare
    const found = new Set<string>();
    // Act
    for (const file of sources()) {
      if (!SERVICES.some((dir) => under(file, dir))) continue;
      for (const { specifier, typeOnly } of importsOf(readFileSync(file, "utf8"))) {
        const target = resolveRelative(file, specifier);
        if (target === undefined || !under(target, ADAPTERS)) continue;
        found.add(`${shown(file)} → ${shown(target)}${typeOnly ? " (type)" : ""}`);
      }
    }
    // Assess: a new import fails here; an exception that went away must leave the list too.
    expect([...found].sort()).toEqual([...SERVICE_IMPORTS_OF_ADAPTERS].sort());
  });
});
