/**
 * DynamoDB Local (Maven Central, run on the local JDK) for measurements that moto would distort: moto
 * answers a GSI Query by reading the whole table, DynamoDB Local by its index. The version is the one
 * emulator/localstack-requirements.txt pins for the LocalStack runner (its `# maven:` line), fetched
 * once with `mvn` into `.dynamodb-local/`. In memory, on a free loopback port, stopped by `stop()`.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { Socket } from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { freeLoopbackPort } from "./free-port";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const PINS = join(ROOT, "emulator", "localstack-requirements.txt");
const START_TIMEOUT_MS = 60_000;

export interface DynamoDbLocal {
  readonly endpoint: string;
  stop(): Promise<void>;
}

/** group, artifact and version from the pins file's `# maven: g:a:v` line. */
function pinnedCoordinate(): { groupId: string; artifactId: string; version: string } {
  const match = /^#\s*maven:\s*([\w.-]+):([\w.-]+):([\w.-]+)\s*$/m.exec(readFileSync(PINS, "utf8"));
  if (!match) throw new Error(`${PINS} names no "# maven: group:artifact:version" line`);
  const [, groupId, artifactId, version] = match as unknown as [string, string, string, string];
  return { groupId, artifactId, version };
}

/**
 * Fetches the pinned DynamoDB Local and its dependencies into `lib` (a Maven build in `buildDir`), and
 * gives sqlite4java's native libraries the unversioned names it loads them by. The LocalStack runner
 * lays out its DynamoDB Local with this too.
 */
export function fetchDynamoDbLocalJars(lib: string, buildDir: string, log: (line: string) => void): void {
  const { groupId, artifactId, version } = pinnedCoordinate();
  mkdirSync(lib, { recursive: true });
  mkdirSync(buildDir, { recursive: true });
  const pom = join(buildDir, "pom.xml");
  writeFileSync(
    pom,
    `<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>
  <groupId>sealtrail.local</groupId><artifactId>dynamodb-local</artifactId><version>1</version><packaging>pom</packaging>
  <dependencies><dependency><groupId>${groupId}</groupId><artifactId>${artifactId}</artifactId><version>${version}</version></dependency></dependencies>
</project>\n`,
  );
  log(`fetching ${groupId}:${artifactId}:${version} and its dependencies from Maven Central`);
  const mvn = spawnSync(
    "mvn",
    [
      "-B",
      "-q",
      "-f",
      pom,
      "dependency:copy-dependencies",
      `-DoutputDirectory=${lib}`,
      "-DincludeScope=runtime",
    ],
    { stdio: "inherit" },
  );
  if (mvn.status !== 0)
    throw new Error(`mvn could not fetch DynamoDB Local (exit ${mvn.status ?? mvn.signal})`);
  for (const file of readdirSync(lib)) {
    const native = /^(.*sqlite4java-[\w-]+?)-\d[\d.]*\.(so|dylib|dll)$/.exec(file);
    if (native) copyFileSync(join(lib, file), join(lib, `${native[1]}.${native[2]}`));
  }
}

/** The directory of DynamoDB Local's jars and native libraries, fetched when missing. */
function ensureJars(log: (line: string) => void): string {
  const { version } = pinnedCoordinate();
  const dir = join(ROOT, ".dynamodb-local", version);
  const lib = join(dir, "lib");
  if (existsSync(join(dir, "ready"))) return lib;
  fetchDynamoDbLocalJars(lib, dir, log);
  writeFileSync(join(dir, "ready"), `${version}\n`);
  return lib;
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
    socket.connect(port, "127.0.0.1");
  });
}

export async function startDynamoDbLocal(
  options: { log?: (line: string) => void } = {},
): Promise<DynamoDbLocal> {
  const lib = ensureJars(options.log ?? (() => {}));
  const port = await freeLoopbackPort();
  const child: ChildProcess = spawn(
    "java",
    [
      `-Djava.library.path=${lib}`,
      "-cp",
      join(lib, "*"),
      "com.amazonaws.services.dynamodbv2.local.main.ServerRunner",
      "-inMemory",
      "-port",
      String(port),
    ],
    // Its working directory gets a metadata file: .dynamodb-local/, not wherever the benchmark was started.
    { cwd: dirname(lib), stdio: ["ignore", "ignore", "inherit"] },
  );
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (!(await accepts(port))) {
    if (child.exitCode !== null)
      throw new Error(`DynamoDB Local exited with ${child.exitCode} before it served`);
    if (Date.now() > deadline) {
      child.kill();
      throw new Error("DynamoDB Local did not start within a minute");
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return {
    endpoint: `http://127.0.0.1:${port}`,
    async stop() {
      if (child.exitCode === null) child.kill();
      await exited;
    },
  };
}
