/**
 * Building the emulator's virtualenv (about 90 s on a first run) says what it is doing: each step,
 * then pip's own output. A fake `python` stands in for Python so no PyPI access is needed.
 */
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ensureEmulatorVirtualenv } from "../../local/emulator";

/** A `python -m venv` that creates a bin/python whose `-m pip install` prints pip-like lines. */
function fakePython(dir: string, pipExitCode: number): string {
  const path = join(dir, "fake-python");
  writeFileSync(
    path,
    [
      "#!/bin/sh",
      "# called as: fake-python -m venv --clear <dir>; the last argument is the directory",
      "for last; do :; done",
      'mkdir -p "$last/bin"',
      `printf '#!/bin/sh\\necho "Collecting moto[server]==5.2.5"\\necho "Installing collected packages: moto" >&2\\nexit ${pipExitCode}\\n' > "$last/bin/python"`,
      'chmod +x "$last/bin/python"',
      "",
    ].join("\n"),
  );
  chmodSync(path, 0o755);
  return path;
}

describe("ensureEmulatorVirtualenv", () => {
  let dir: string;
  let requirementsFile: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "sealtrail-venv-"));
    requirementsFile = join(dir, "requirements.txt");
    writeFileSync(requirementsFile, "moto[server]==5.2.5\n");
  });

  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it("logs each step and pip's output on a first build, and nothing once built", async () => {
    const lines: string[] = [];
    const options = {
      venvDir: join(dir, "venv"),
      requirementsFile,
      python: fakePython(dir, 0),
      log: (line: string) => lines.push(line),
    };

    const python = await ensureEmulatorVirtualenv(options);

    expect(python).toBe(join(dir, "venv", "bin", "python"));
    expect(lines[0]).toMatch(/building the emulator's Python virtualenv .*first run only, about 90 s/);
    expect(lines).toContainEqual(expect.stringMatching(/\[1\/2\] creating the virtualenv/));
    expect(lines).toContainEqual(expect.stringMatching(/\[2\/2\] installing moto .* with pip/));
    expect(lines).toContain("  Collecting moto[server]==5.2.5");
    expect(lines).toContain("  Installing collected packages: moto");
    expect(lines.at(-1)).toMatch(/virtualenv is ready/);

    lines.length = 0;
    expect(await ensureEmulatorVirtualenv(options)).toBe(python);
    expect(lines).toEqual([]);
  });

  it("fails with the failed command and what to do when pip fails, and leaves the build unfinished", async () => {
    const options = { venvDir: join(dir, "venv"), requirementsFile, python: fakePython(dir, 3) };

    const failure = ensureEmulatorVirtualenv(options);

    await expect(failure).rejects.toThrow(/pip install .* ended with exit code 3/);
    await expect(failure).rejects.toThrow(/npm run setup:emulator.*AWS_ENDPOINT_URL/);
    expect(existsSync(join(dir, "venv", ".requirements-sha256"))).toBe(false);
  });

  it("names a Python that cannot be started", async () => {
    const options = { venvDir: join(dir, "venv"), requirementsFile, python: join(dir, "no-such-python") };

    await expect(ensureEmulatorVirtualenv(options)).rejects.toThrow(/no-such-python could not be started/);
  });
});
