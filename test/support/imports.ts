/**
 * Reads a TypeScript module's imports from its source text, for the tests that keep the layers apart
 * (test/infra/lib-imports.test.ts, test/unit/sdk-boundary.test.ts): no synthesis, no bundler.
 */
import { existsSync, readdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";

export interface ImportOf {
  readonly specifier: string;
  /** `import type` / `export type`: erased, loads nothing at run time. */
  readonly typeOnly: boolean;
}

/** Module specifiers of every import and re-export of `source`, with whether it is type-only (erased). */
export function importsOf(source: string): ImportOf[] {
  const found: ImportOf[] = [];
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
export function resolveRelative(fromFile: string, specifier: string): string | undefined {
  if (!specifier.startsWith(".")) return undefined;
  const base = resolve(dirname(fromFile), specifier);
  const candidates = [base, `${base}.ts`, join(base, "index.ts")];
  if (base.endsWith(".js")) candidates.unshift(`${base.slice(0, -3)}.ts`);
  return candidates.find((candidate) => candidate.endsWith(".ts") && existsSync(candidate));
}

/** Every .ts file under `dir`, sorted. */
export function tsFilesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: "utf8" })
    .filter((name) => name.endsWith(".ts"))
    .map((name) => join(dir, name))
    .sort();
}
