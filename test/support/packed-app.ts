/**
 * A package of this repository as a stranger gets it: `npm pack` into a temporary directory, and a
 * fresh app beside it (its own package.json, no workspace, no parent node_modules) that installs the
 * tarball with the other packages it names, at the versions this repository tests with.
 */
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

export const run = promisify(execFile);
export const REPO = fileURLToPath(new URL("../..", import.meta.url));

export interface PackedApp {
  /** The temporary directory: the tarball and the app; the caller removes it. */
  readonly dir: string;
  readonly app: string;
}

export interface PackOptions {
  /** Prefix of the temporary directory's name. */
  readonly prefix: string;
  /** Pack this workspace (`npm pack -w`) instead of the root package. */
  readonly workspace?: string;
  /** Install the tarball first on its own with `--offline`: it must need nothing from the registry. */
  readonly tarballOffline?: boolean;
  /** Packages the app also installs, each at the version of the root package.json's devDependencies. */
  readonly alongside: readonly string[];
}

const INSTALL = ["install", "--no-audit", "--no-fund"];

export async function packIntoFreshApp(options: PackOptions): Promise<PackedApp> {
  const dir = await mkdtemp(join(tmpdir(), options.prefix));
  const workspace = options.workspace ? ["-w", options.workspace] : [];
  const { stdout } = await run("npm", ["pack", ...workspace, "--json", "--pack-destination", dir], {
    cwd: REPO,
    maxBuffer: 64 * 1024 * 1024,
  });
  const [packed] = JSON.parse(stdout.slice(stdout.indexOf("["))) as Array<{ filename: string }>;
  const tarball = join(dir, packed?.filename ?? "");
  const app = join(dir, "app");
  await mkdir(app);
  await writeFile(join(app, "package.json"), JSON.stringify({ name: "app", private: true, type: "module" }));
  if (options.tarballOffline) await run("npm", [...INSTALL, "--offline", tarball], { cwd: app });
  const versions = JSON.parse(await readFile(join(REPO, "package.json"), "utf8")).devDependencies;
  const others = options.alongside.map((name) => `${name}@${versions[name]}`);
  // npm's cache first: the registry only for what it has not seen.
  await run(
    "npm",
    [...INSTALL, "--prefer-offline", ...(options.tarballOffline ? [] : [tarball]), ...others],
    {
      cwd: app,
      maxBuffer: 16 * 1024 * 1024,
    },
  );
  return { dir, app };
}
