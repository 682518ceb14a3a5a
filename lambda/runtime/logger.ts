/**
 * The Powertools Logger of a sealtrail function. Its own module, apart from wiring.ts, so that a handler
 * that needs only a logger (checkpoint, verifier) does not bundle the write path's adapters with it.
 */
import { Logger } from "@aws-lambda-powertools/logger";
import type { ServiceLogger } from "../ingest/ingest-service";
import { powertoolsServiceName } from "./config";

export function createLogger(): Logger {
  return new Logger({ serviceName: powertoolsServiceName() });
}

/** Powertools' Logger takes extra attributes as a rest parameter; the services ask for one object. */
export function serviceLogger(logger: Logger): ServiceLogger {
  return {
    info: (message, detail = {}) => logger.info(message, detail),
    warn: (message, detail = {}) => logger.warn(message, detail),
    error: (message, detail = {}) => logger.error(message, detail),
  };
}
