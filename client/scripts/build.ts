/**
 * Builds the package into client/dist: one ESM bundle per subpath (esbuild; the server's schema,
 * validation and zod bundled in, so the only runtime needs are Node's own), and their type
 * declarations (tsc) beside them. Run by `npm run build -w client` and by `prepack`.
 */
import { execFile } from "node:child_process";
import { cpSync, existsSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { build } from "esbuild";

const CLIENT = fileURLToPath(new URL("..", import.meta.url));
const DIST = join(CLIENT, "dist");
/** The package's subpaths: "." is index. Mirrors package.json's "exports" (checked by the pack test). */
export const ENTRY_POINTS = ["index", "express", "fastify", "node", "lambda"] as const;

rmSync(DIST, { recursive: true, force: true });
await build({
  entryPoints: ENTRY_POINTS.map((name) => join(CLIENT, "src", `${name}.ts`)),
  outdir: DIST,
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20",
  chunkNames: "chunks/[name]-[hash]",
  // Optional peers stay the app's own.
  external: ["express", "fastify"],
  legalComments: "linked",
  logLevel: "warning",
});

// Declarations: tsc writes them under the repository layout; the package's own are moved to dist/.
const types = join(DIST, ".types");
await promisify(execFile)("npx", ["tsc", "-p", join(CLIENT, "tsconfig.build.json")], { cwd: CLIENT });
const own = join(types, "client", "src");
if (!existsSync(own)) throw new Error(`tsc wrote no declarations to ${own}`);
for (const name of readdirSync(own)) cpSync(join(own, name), join(DIST, name), { recursive: true });
rmSync(types, { recursive: true, force: true });
console.log(`built ${DIST}`);
