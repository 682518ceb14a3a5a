/**
 * lib/ builds the stack from definitions in lambda/core/ (routes, metric names, key prefixes) and never
 * imports lambda/handlers/: a handler module loads the AWS SDK and the services, which `cdk synth` has
 * no use for, and a constant kept there is one the stack can only reach by loading it. Read from the
 * source text, so the check needs no synthesis.
 */
import { readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { importsOf, resolveRelative, tsFilesUnder } from "../support/imports";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const LIB = join(ROOT, "lib");
const HANDLERS = join(ROOT, "lambda", "handlers");

const isHandler = (file: string) => !relative(HANDLERS, file).startsWith("..");
const shown = (file: string) => relative(ROOT, file);

function libFiles(): string[] {
  return tsFilesUnder(LIB);
}

/** Every module reachable from `entries` through relative value imports, with the path to it. */
function reachable(entries: readonly string[]): Map<string, readonly string[]> {
  const via = new Map<string, readonly string[]>(entries.map((file) => [file, [file]]));
  const queue = [...entries];
  for (let file = queue.shift(); file !== undefined; file = queue.shift()) {
    for (const { specifier, typeOnly } of importsOf(readFileSync(file, "utf8"))) {
      const target = typeOnly ? undefined : resolveRelative(file, specifier);
      if (target === undefined || via.has(target)) continue;
      via.set(target, [...(via.get(file) ?? []), target]);
      queue.push(target);
    }
  }
  return via;
}

describe("lib/ imports", () => {
  it("finds the lib sources and reads their imports", () => {
    // Prepare / Act
    const files = libFiles();
    const sealtrail = files.find((file) => file.endsWith(join("lib", "sealtrail.ts")));
    // Assess: a scan that found nothing would pass the checks below vacuously.
    expect(files.length).toBeGreaterThan(5);
    expect(sealtrail).toBeDefined();
    const specifiers = importsOf(readFileSync(sealtrail as string, "utf8")).map((found) => found.specifier);
    expect(specifiers).toContain("../lambda/core/paths");
    expect(specifiers).toContain("aws-cdk-lib");
  });

  it("never import from lambda/handlers/, not even types", () => {
    // Prepare
    const offending: string[] = [];
    // Act
    for (const file of libFiles()) {
      for (const { specifier } of importsOf(readFileSync(file, "utf8"))) {
        const target = resolveRelative(file, specifier);
        if (target !== undefined && isHandler(target)) offending.push(`${shown(file)} imports ${specifier}`);
      }
    }
    // Assess
    expect(offending).toEqual([]);
  });

  it("do not load a handler module through another module either", () => {
    // Prepare / Act
    const chains = [...reachable(libFiles()).entries()]
      .filter(([file]) => isHandler(file))
      .map(([, path]) => path.map(shown).join(" → "));
    // Assess
    expect(chains).toEqual([]);
  });
});
