// Creates the project-local moto virtualenv (.venv-emulator) ahead of the first test run.
import { ensureEmulatorVirtualenv } from "../lambda/local/emulator";

ensureEmulatorVirtualenv((line) => console.error(line));
