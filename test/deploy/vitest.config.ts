/** The deploy test's own vitest run (bin/deploy-test.ts starts it once the stack is deployed). */
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    root: new URL("../..", import.meta.url).pathname,
    include: ["test/deploy/**/*.test.ts"],
    reporters: ["default", "./test/support/summary-reporter.ts"],
    // The in-process write path (one test plants a link with it) logs through Powertools: noise here.
    env: {
      POWERTOOLS_LOG_LEVEL: process.env.POWERTOOLS_LOG_LEVEL ?? "SILENT",
      POWERTOOLS_METRICS_DISABLED: "true",
    },
    // One deployed stack, driven in order: the files and their tests run one after another.
    fileParallelism: false,
    sequence: { concurrent: false },
    // The schedules fire every minute (checkpoints) and every 5 minutes (reindex).
    testTimeout: 480_000,
    hookTimeout: 120_000,
  },
});
