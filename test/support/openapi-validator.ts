/**
 * Validates API responses against the OpenAPI document (lambda/core/openapi.ts) with Ajv's JSON
 * Schema 2020-12 validator, the dialect of OpenAPI 3.1. Used by the unit test of the document and
 * by the integration tests, which check the handlers' real responses with it.
 */
import { Ajv2020 } from "ajv/dist/2020";
import addFormatsModule from "ajv-formats";
import { openApiDocument } from "../../lambda/core/openapi";

// ajv-formats is CommonJS: its default export arrives wrapped under ESM interop.
const addFormats = ((addFormatsModule as unknown as { default?: typeof addFormatsModule }).default ??
  addFormatsModule) as typeof addFormatsModule;

type Json = Record<string, unknown>;

const DOCUMENT_ID = "sealtrail-openapi.json";

export interface OpenApiValidator {
  readonly document: Json;
  /** Ajv's error messages, or [] when `body` matches the documented response of that operation and status. */
  responseErrors(method: string, path: string, status: number, body: unknown): string[];
  /** The same, for a request body. */
  requestErrors(method: string, path: string, body: unknown): string[];
  /** The same, against one component schema (compiling it, strictly, on first use). */
  componentErrors(name: string, value: unknown): string[];
}

function escapePointer(segment: string): string {
  return segment.replaceAll("~", "~0").replaceAll("/", "~1");
}

export function openApiValidator(document: Json = openApiDocument() as Json): OpenApiValidator {
  // Strict: an unknown keyword in a schema is an error, not silently ignored.
  const ajv = new Ajv2020({ allErrors: true, strict: true });
  addFormats(ajv);
  // The document's non-schema members are opaque to Ajv; "#/components/schemas/…" references
  // resolve by JSON pointer into the document registered under one id.
  for (const keyword of ["openapi", "info", "servers", "security", "paths", "components"])
    ajv.addKeyword(keyword);
  ajv.addSchema(document, DOCUMENT_ID);

  const errorsAt = (pointer: string, body: unknown, what: string): string[] => {
    const validate = ajv.getSchema(`${DOCUMENT_ID}#${pointer}`);
    if (!validate) return [`the document has no ${what}`];
    return validate(body)
      ? []
      : (validate.errors ?? []).map((error) => `${error.instancePath || "/"} ${error.message ?? ""}`);
  };
  const operation = (method: string, path: string) => `/paths/${escapePointer(path)}/${method.toLowerCase()}`;
  return {
    document,
    responseErrors: (method, path, status, body) =>
      errorsAt(
        `${operation(method, path)}/responses/${status}/content/application~1json/schema`,
        body,
        `${status} response for ${method} ${path}`,
      ),
    requestErrors: (method, path, body) =>
      errorsAt(
        `${operation(method, path)}/requestBody/content/application~1json/schema`,
        body,
        `request body for ${method} ${path}`,
      ),
    componentErrors: (name, value) =>
      errorsAt(`/components/schemas/${escapePointer(name)}`, value, `component schema ${name}`),
  };
}
