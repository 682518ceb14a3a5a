import { readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { packIntoFreshApp, REPO, run } from "../../support/packed-app";

const SUBPATHS = [".", "./express", "./fastify", "./node", "./lambda"];

describe("the packed @sealtrail/client", () => {
  let dir: string;
  let app: string;

  beforeAll(async () => {
    // The tarball has no dependencies: it installs offline. The peers and type packages the app
    // itself would have come from the registry (npm's cache first), at the versions the repo uses.
    ({ dir, app } = await packIntoFreshApp({
      prefix: "sealtrail-pack-",
      workspace: "client",
      tarballOffline: true,
      alongside: ["@types/node", "@types/express", "@types/aws-lambda", "express", "fastify"],
    }));
  }, 240_000);

  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("has exactly the subpaths, no runtime dependencies, and ships no source or repository paths", async () => {
    const manifest = JSON.parse(
      await readFile(join(app, "node_modules", "@sealtrail", "client", "package.json"), "utf8"),
    );
    expect(Object.keys(manifest.exports).filter((key) => key !== "./package.json")).toEqual(SUBPATHS);
    expect(manifest.dependencies ?? {}).toEqual({});
    const { stdout } = await run("find", [join(app, "node_modules", "@sealtrail", "client"), "-type", "f"]);
    expect(stdout).not.toMatch(/\.ts\n(?<!\.d\.ts\n)/);
    expect(stdout).not.toMatch(/lambda\/core|client\/src/);
  });

  it("imports every subpath in plain Node, and record() applies the server's validation", async () => {
    const script = `
      const specifiers = ${JSON.stringify(SUBPATHS.map((s) => s.replace(/^\./, "@sealtrail/client")))};
      const modules = await Promise.all(specifiers.map((s) => import(s)));
      const { createAuditClient, AuditEventError } = modules[0];
      const client = createAuditClient({ url: "http://127.0.0.1:9", token: "t0ken-for-the-pack-test", maxBatchDelayMs: 60000 });
      let refused = "";
      try { client.record({ action: "bad action!", outcome: "success" }); } catch (e) { refused = e instanceof AuditEventError ? e.code : String(e); }
      client.record({ action: "document.read", outcome: "success", http: { route: "/d/:id", duration_ms: 3 } });
      console.log(JSON.stringify({ exports: modules.map((m) => Object.keys(m).sort()), refused, stats: client.stats() }));
      process.exit(0);
    `;
    const { stdout } = await run("node", ["--input-type=module", "-e", script], { cwd: app });
    const result = JSON.parse(stdout);
    expect(result.refused).toBe("invalid_field");
    expect(result.stats).toMatchObject({ queued: 1, dropped: 0 });
    for (const keys of result.exports) expect(keys.length).toBeGreaterThan(0);
  });

  it("its declarations type-check a strict app that uses AuditEvent, the client and every subpath", async () => {
    await writeFile(
      join(app, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          strict: true,
          module: "nodenext",
          moduleResolution: "nodenext",
          target: "es2022",
          noEmit: true,
          skipLibCheck: false,
          types: ["node"],
        },
        include: ["app.ts"],
      }),
    );
    await writeFile(
      join(app, "app.ts"),
      [
        'import { type AuditEvent, type Receipt, clientCredentials, createAuditClient } from "@sealtrail/client";',
        ...SUBPATHS.slice(1).map((s, i) => `import * as sub${i} from "@sealtrail/client/${s.slice(2)}";`),
        "const event: AuditEvent = { action: 'user.login', outcome: 'success', http: { route: '/login', duration_ms: 1 } };",
        "const client = createAuditClient({ url: 'https://s.test', token: clientCredentials({ tokenUrl: 'https://i.test/t', clientId: 'c', clientSecret: 's' }) });",
        "client.record(event);",
        "export const receipt: Promise<Receipt> = client.recordNow(event);",
        `export const subpaths = [${SUBPATHS.slice(1)
          .map((_, i) => `sub${i}`)
          .join(", ")}];`,
        "// @ts-expect-error: outcome must be one of the server's outcomes",
        "client.record({ action: 'x', outcome: 'maybe' });",
      ].join("\n"),
    );
    const tsc = join(REPO, "node_modules", "typescript", "bin", "tsc");
    const result = await run("node", [tsc, "-p", app], { cwd: app }).catch(
      (error: { stdout: string }) => error,
    );
    expect((result as { stdout: string }).stdout).toBe("");
  });
});
