/**
 * lib/ builds the stack from definitions in lambda/core/ (routes, metric names, key prefixes) and never
 * imports lambda/handlers/: a handler module loads the AWS SDK and the services, which `cdk synth` has
 * no use for, and a constant kept there is one the stack can only reach by loading it. Read from the
 * source text, so the check needs no synthesis.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const LIB = join(ROOT, "lib");
const HANDLERS = join(ROOT, "lambda", "handlers");

/** Module specifiers of every import and re-export of `source`, with whether it is type-only (erased). */
function importsOf(source: string): { readonly specifier: string; readonly typeOnly: boolean }[] {
  const found: { specifier: string; typeOnly: boolean }[] = [];
  // `import … from "x"`, `export … from "x"`, `import "x"` and `import("x")`; `import type` and
  // `export type` statements load nothing at run time.
  const statement = /\b(import|export)(\s+type\b)?[^;"'`]*?\bfrom\s*["']([^"']+)["']/g;
  const bare = /\bimport\s*\(?\s*["']([^"']+)["']/g;
  for (const match of source.matchAll(statement)) {
    found.push({ specifier: match[3] as string, typeOnly: match[2] !== undefined });
  }
  for (const match of source.matchAll(bare)) found.push({ specifier: match[1] as string, typeOnly: false });
  return found;
}

/** The .ts file a relative specifier of `fromFile` names; undefined for a package. */
function resolveRelative(fromFile: string, specifier: string): string | undefined {
  if (!specifier.startsWith(".")) return undefined;
  const base = resolve(dirname(fromFile), specifier);
  const candidates = [base, `${base}.ts`, join(base, "index.ts")];
  if (base.endsWith(".js")) candidates.unshift(`${base.slice(0, -3)}.ts`);
  return candidates.find((candidate) => candidate.endsWith(".ts") && existsSync(candidate));
}

const isHandler = (file: string) => !relative(HANDLERS, file).startsWith("..");
const shown = (file: string) => relative(ROOT, file);

function libFiles(): string[] {
  return readdirSync(LIB, { recursive: true, encoding: "utf8" })
    .filter((name) => name.endsWith(".ts"))
    .map((name) => join(LIB, name))
    .sort();
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
