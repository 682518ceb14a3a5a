import { existsSync } from "node:fs";
import { readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Match, Template } from "aws-cdk-lib/assertions";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { packIntoFreshApp, REPO, run } from "../support/packed-app";
import { logicalId } from "./helpers";

/** Each function of the construct (logical ID prefix) and its prebuilt directory in the package. */
const FUNCTIONS = {
  SealtrailIngestFunction: "ingest",
  SealtrailReindexFunction: "reindex",
  SealtrailCheckpointFunction: "checkpoint",
  SealtrailQueryFunction: "query",
  SealtrailVerifierFunction: "verifier",
  SealtrailCheckpointPublicKeyReader: "public-key-reader",
} as const;

const APP_TS = `
import { App, Stack } from "aws-cdk-lib";
import { Sealtrail, type SealtrailProps, SealtrailStack } from "sealtrail";

const props: SealtrailProps = {
  issuer: "https://issuer.example.com",
  audience: ["my-app"],
  subjectIssuers: [{ issuer: "https://idp.example.com", jwksUrl: "https://idp.example.com/jwks", audiences: ["web"] }],
};
const app = new App({ outdir: process.argv[2] });
const stack = new Stack(app, "Consumer");
const sealtrail = new Sealtrail(stack, "Sealtrail", props);
export const bucketName: string = sealtrail.archive.bucket.bucketName;
export const stackClass: typeof Stack = SealtrailStack;
// @ts-expect-error: audience is a list of audiences
export const wrong: SealtrailProps = { issuer: "https://issuer.example.com", audience: "my-app" };
// @ts-expect-error: a subject issuer needs its JWKS URL and audiences
export const wrongIssuer: SealtrailProps = { ...props, subjectIssuers: [{ issuer: "https://idp.example.com" }] };
app.synth();
`;

describe("the packed sealtrail construct", () => {
  let dir: string;
  let app: string;
  let pkg: string;
  let outdir: string;
  let template: Template;
  let tscOutput: string;

  beforeAll(async () => {
    // Prepare: pack (prepack builds dist/), and a fresh app outside the repository that installs it.
    ({ dir, app } = await packIntoFreshApp({
      prefix: "sealtrail-construct-pack-",
      alongside: ["aws-cdk-lib", "constructs", "@types/node"],
    }));
    pkg = join(app, "node_modules", "sealtrail");

    // Act: type-check and compile the app under NodeNext, then synthesize it with Docker unreachable.
    await writeFile(join(app, "app.ts"), APP_TS);
    await writeFile(
      join(app, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          strict: true,
          module: "nodenext",
          moduleResolution: "nodenext",
          target: "es2022",
          outDir: "build",
          skipLibCheck: true,
          types: ["node"],
        },
        include: ["app.ts"],
      }),
    );
    const tsc = join(REPO, "node_modules", "typescript", "bin", "tsc");
    tscOutput = await run("node", [tsc, "-p", app], { cwd: app }).then(
      (result) => result.stdout,
      (error: { stdout: string }) => error.stdout,
    );
    outdir = join(dir, "cdk.out");
    await run("node", [join(app, "build", "app.js"), outdir], {
      cwd: app,
      env: { ...process.env, CDK_DOCKER: "/nonexistent/docker" },
    });
    template = Template.fromJSON(JSON.parse(await readFile(join(outdir, "Consumer.template.json"), "utf8")));
  }, 600_000);

  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("ships the bundle, declarations and prebuilt code, no Lambda source, only zod as a dependency", async () => {
    const manifest = JSON.parse(await readFile(join(pkg, "package.json"), "utf8"));
    expect(manifest.dependencies).toEqual({ zod: expect.any(String) });
    expect(Object.keys(manifest.peerDependencies).sort()).toEqual(["aws-cdk-lib", "constructs"]);
    const files = (await readdir(pkg, { recursive: true })).filter(
      (file) => !file.startsWith("node_modules"),
    );
    // npm always packs the bin's file: the repository's CLI, not part of the library (docs/construct.md).
    expect(files.filter((file) => file.endsWith(".ts") && !file.endsWith(".d.ts"))).toEqual([
      join("bin", "sealtrail.ts"),
    ]);
    expect(files.filter((file) => !/^(dist|bin)(\/|$)|^(package\.json|README\.md)$/.test(file))).toEqual([]);
    expect(files).toContain(join("dist", "index.js"));
    expect(files).toContain(join("dist", "types", "lib", "index.d.ts"));
    for (const name of Object.values(FUNCTIONS)) {
      expect((await readdir(join(pkg, "dist", "lambda", name))).sort()).toEqual([
        "index.mjs",
        "index.mjs.map",
      ]);
    }
    // The app has no esbuild to bundle with, so its synth cannot have bundled anything.
    expect(existsSync(join(app, "node_modules", "esbuild"))).toBe(false);
  });

  it("type-checks the app under NodeNext, the props' types included", () => {
    expect(tscOutput).toBe("");
  });

  it("synthesizes the archive bucket with Object Lock in COMPLIANCE mode", () => {
    template.hasResourceProperties("AWS::S3::Bucket", {
      ObjectLockEnabled: true,
      ObjectLockConfiguration: {
        ObjectLockEnabled: "Enabled",
        Rule: { DefaultRetention: Match.objectLike({ Mode: "COMPLIANCE" }) },
      },
    });
  });

  it.each(Object.entries(FUNCTIONS))("%s runs the package's prebuilt %s code", async (prefix, name) => {
    const id = logicalId(template, "AWS::Lambda::Function", prefix);
    const fn = template.toJSON().Resources[id];
    expect(fn.Properties).toMatchObject({ Handler: "index.handler", Runtime: "nodejs24.x" });
    const staged = join(outdir, `asset.${(fn.Properties.Code.S3Key as string).replace(/\.zip$/, "")}`);
    const prebuilt = join(pkg, "dist", "lambda", name);
    for (const file of ["index.mjs", "index.mjs.map"]) {
      expect((await readFile(join(staged, file))).equals(await readFile(join(prebuilt, file)))).toBe(true);
    }
    expect((await readFile(join(prebuilt, "index.mjs"), "utf8")).startsWith("import { createRequire")).toBe(
      true,
    );
  });
});
