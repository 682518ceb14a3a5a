/**
 * Builds the installable construct into dist/ (run by `npm pack` through `prepack`):
 * - dist/lambda/<name>/: every function's code, bundled exactly as `cdk synth` bundles it from source,
 *   because it is that bundling: the construct is synthesized from source and each function's staged
 *   asset is copied out. The packaged construct (lib/function.ts) uses these instead of bundling.
 * - dist/index.js: lib/index.ts bundled by esbuild into one ESM file (relative imports resolved, the
 *   lambda/core definitions the construct reads inlined); aws-cdk-lib and constructs stay the app's own
 *   (peer dependencies), zod is the package's one dependency.
 * - dist/types/: declarations by tsc, their relative imports given the `.js` extensions that
 *   NodeNext resolution requires.
 */
import { execFile } from "node:child_process";
import {
  cpSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { App, Stack } from "aws-cdk-lib";
import type { CfnFunction } from "aws-cdk-lib/aws-lambda";
import { NodejsFunction } from "aws-cdk-lib/aws-lambda-nodejs";
import { build } from "esbuild";
import { bundledEntry, prebuiltName } from "../lib/function";
import { Sealtrail } from "../lib/sealtrail";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const DIST = join(ROOT, "dist");

rmSync(DIST, { recursive: true, force: true });
await buildLambdaCode(join(DIST, "lambda"));
await build({
  entryPoints: [join(ROOT, "lib", "index.ts")],
  outfile: join(DIST, "index.js"),
  bundle: true,
  format: "esm",
  platform: "node",
  target: "node20",
  // The peers, and zod (a dependency: the props' declarations name its types). Subpaths
  // (aws-cdk-lib/aws-s3) are external with their package.
  external: ["aws-cdk-lib", "constructs", "zod"],
  logLevel: "warning",
});
await buildDeclarations(join(DIST, "types"));
console.log(`built ${DIST}`);

/** Synthesizes the construct from source (bundling every function) and copies each function's code out. */
async function buildLambdaCode(out: string): Promise<void> {
  const outdir = mkdtempSync(join(tmpdir(), "sealtrail-build-"));
  try {
    const app = new App({ outdir });
    const stack = new Stack(app, "SealtrailBuild");
    new Sealtrail(stack, "Sealtrail", {
      issuer: "https://issuer.invalid/sealtrail-build",
      audience: ["sealtrail-build"],
    });
    const template = app.synth().getStackByName(stack.stackName).template as {
      Resources: Record<string, { Properties: { Code: { S3Key: string } } }>;
    };
    const functions = stack.node.findAll().filter((c): c is NodejsFunction => c instanceof NodejsFunction);
    for (const fn of functions) {
      const entry = bundledEntry(fn);
      if (entry === undefined) throw new Error(`${fn.node.path} was not built by sealtrailFunction`);
      const name = prebuiltName(entry);
      const target = join(out, name);
      if (existsSync(target))
        throw new Error(`two functions would share dist/lambda/${name}: rename one entry`);
      const cfn = fn.node.defaultChild as CfnFunction;
      const key = template.Resources[stack.getLogicalId(cfn)]?.Properties.Code.S3Key;
      if (key === undefined) throw new Error(`${fn.node.path} has no code in the template`);
      cpSync(join(outdir, `asset.${key.replace(/\.zip$/, "")}`), target, { recursive: true });
    }
    if (functions.length === 0) throw new Error("the construct has no functions to build");
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

/** tsc's declarations, with every relative import made a `.js` one (NodeNext needs the extension). */
async function buildDeclarations(out: string): Promise<void> {
  await promisify(execFile)("npx", ["tsc", "-p", join(ROOT, "scripts", "tsconfig.construct.json")], {
    cwd: ROOT,
  });
  for (const file of declarationFiles(out)) {
    const text = readFileSync(file, "utf8");
    const fixed = text.replace(
      /((?:from|import)\s*\(?\s*")(\.{1,2}\/[^"]*)(")/g,
      (_match, before: string, specifier: string, after: string) =>
        `${before}${withExtension(file, specifier)}${after}`,
    );
    if (fixed !== text) writeFileSync(file, fixed);
  }
}

function withExtension(file: string, specifier: string): string {
  const target = resolve(dirname(file), specifier);
  if (existsSync(`${target}.d.ts`)) return `${specifier}.js`;
  if (existsSync(join(target, "index.d.ts"))) return `${specifier}/index.js`;
  throw new Error(`${file} imports ${specifier}, which has no declaration`);
}

function declarationFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return declarationFiles(path);
    return path.endsWith(".d.ts") ? [path] : [];
  });
}
