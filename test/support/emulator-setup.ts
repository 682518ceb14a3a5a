/** Starts one emulator for the integration run; every suite makes its own bucket and table on it. */
import type { TestProject } from "vitest/node";
import type { AwsTarget } from "../../lambda/aws/target";
import { startEmulator } from "../../local/emulator";

declare module "vitest" {
  export interface ProvidedContext {
    /** Where the clients point (AWS_ENDPOINT_URL_<SERVICE> included), and what serves it. */
    emulator: { target: AwsTarget; kind: "moto" | "external" };
  }
}

export default async function setup(project: TestProject) {
  const emulator = await startEmulator({ log: (line) => console.error(line) });
  project.provide("emulator", { target: emulator.target, kind: emulator.kind });
  return async () => {
    await emulator.stop();
  };
}
