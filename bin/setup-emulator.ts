// Creates the project-local moto virtualenv (.venv-emulator) ahead of the first test run or `npm start`.
import { ensureEmulatorVirtualenv } from "../local/emulator";

try {
  await ensureEmulatorVirtualenv({ log: (line) => console.error(line) });
} catch (error) {
  console.error(`sealtrail: ${(error as Error).message}`);
  process.exit(1);
}
