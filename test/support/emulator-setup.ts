/** Starts one emulator for the integration run; every suite makes its own bucket and table on it. */
import type { TestProject } from "vitest/node";
import { startEmulator } from "../../local/emulator";

declare module "vitest" {
  export interface ProvidedContext {
    emulator: { endpoint: string; region: string; kind: "moto" | "external" };
  }
}

export default async function setup(project: TestProject) {
  const emulator = await startEmulator({ log: (line) => console.error(line) });
  project.provide("emulator", { endpoint: emulator.endpoint, region: emulator.region, kind: emulator.kind });
  return async () => {
    await emulator.stop();
  };
}
