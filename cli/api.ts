/**
 * How CLI commands reach the HTTP API: `--api`, else SEALTRAIL_API_URL, else local mode's `apiUrl`
 * from `<state dir>/local.json`; with `--token`, else SEALTRAIL_TOKEN, else (when the API is local
 * mode's) a short-lived read token signed with local mode's issuer key from the state dir.
 *
 * And how its refusals reach the user: API Gateway answers a refused token with only
 * `{"message":"Unauthorized"}` or `{"message":"Forbidden"}`; the reason is in the `www-authenticate`
 * header (`error`, `error_description`, `scope`), so that is what the CLI prints, with what to do.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { DEFAULT_SCOPES } from "../lambda/runtime/config";
import {
  ISSUER_KEY_FILE,
  LOCAL_STATE_FILE,
  type LocalState,
  loadOrCreateIssuerKey,
  localIssuer,
  localStateDir,
} from "../local/issuer";
import { CliError } from "./exit";

/** Where the API and the token came from: the CLI's messages say which setting to fix. */
export interface ApiConnection {
  readonly api: string;
  readonly token: string;
  readonly apiSource: "--api" | "SEALTRAIL_API_URL" | "local mode";
  readonly tokenSource: "--token" | "SEALTRAIL_TOKEN" | "local mode's issuer";
  /** The local.json the API address was read from, when it was. */
  readonly localStateFile?: string;
}

/** The API answered with an error status: exit 1, with what it said (describeHttpError). */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: string,
    /** The `www-authenticate` header, where API Gateway puts the reason a token was refused. */
    readonly challenge: string | undefined,
    readonly url: string,
    /** What was asked with: the message says which token was refused and what to fix. */
    readonly connection: ApiConnection,
  ) {
    super(`HTTP ${status}`);
  }
}

/** Where local mode said it runs, when it was started from this state directory. */
function readLocalState(file: string): LocalState | undefined {
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, "utf8")) as LocalState;
  } catch (error) {
    throw new CliError(`${file} is unreadable (${(error as Error).message}); run \`npm start\` again`);
  }
}

const sameOrigin = (a: string, b: string) => {
  try {
    return new URL(a).origin === new URL(b).origin;
  } catch {
    return false;
  }
};

export async function apiConnection(options: {
  readonly api?: string;
  readonly token?: string;
}): Promise<ApiConnection> {
  const stateDir = localStateDir();
  const stateFile = join(stateDir, LOCAL_STATE_FILE);
  const local = readLocalState(stateFile);
  const chosen: Pick<ApiConnection, "api" | "apiSource" | "localStateFile"> | undefined = options.api
    ? { api: options.api, apiSource: "--api" }
    : process.env.SEALTRAIL_API_URL
      ? { api: process.env.SEALTRAIL_API_URL, apiSource: "SEALTRAIL_API_URL" }
      : local?.apiUrl
        ? { api: local.apiUrl, apiSource: "local mode", localStateFile: stateFile }
        : undefined;
  if (!chosen) {
    throw new CliError(
      "no API to ask: pass --api URL, set SEALTRAIL_API_URL, or start local mode (`npm start`)",
    );
  }
  try {
    new URL(chosen.api);
  } catch {
    throw new CliError(
      `the API URL from ${chosen.apiSource} (${JSON.stringify(chosen.api)}) is not a URL: give the API's base URL, e.g. https://abc123.execute-api.eu-west-1.amazonaws.com`,
    );
  }
  if (options.token) return { ...chosen, token: options.token, tokenSource: "--token" };
  if (process.env.SEALTRAIL_TOKEN) {
    return { ...chosen, token: process.env.SEALTRAIL_TOKEN, tokenSource: "SEALTRAIL_TOKEN" };
  }
  if (local && sameOrigin(chosen.api, local.apiUrl) && existsSync(join(stateDir, ISSUER_KEY_FILE))) {
    const issuer = localIssuer(await loadOrCreateIssuerKey(stateDir), {
      issuer: local.issuer,
      audience: local.audience,
    });
    return {
      ...chosen,
      token: await issuer.signToken({ scope: DEFAULT_SCOPES.read, sub: "sealtrail-cli", ttlSeconds: 300 }),
      tokenSource: "local mode's issuer",
    };
  }
  throw new CliError(
    `no token: pass --token or set SEALTRAIL_TOKEN (a token with the read scope, ${DEFAULT_SCOPES.read} by default)`,
  );
}

/** The reason of a connection failure, as fetch nests it (an Error's cause, or an AggregateError's first). */
function connectionFailure(error: unknown): string {
  const cause = (error as Error).cause as (Error & { code?: string; errors?: Error[] }) | undefined;
  if (!cause) return (error as Error).message;
  const code = cause.code ?? (cause.errors?.[0] as { code?: string } | undefined)?.code;
  return code ?? cause.message;
}

/** GET `path` (relative to the API base) as JSON; HttpError on an error status, CliError on no answer. */
export async function getJson<T>(
  connection: ApiConnection,
  path: string,
  parameters?: URLSearchParams,
): Promise<T> {
  const { api, token } = connection;
  const url = new URL(path, api.endsWith("/") ? api : `${api}/`);
  if (parameters) url.search = parameters.toString();
  let response: Response;
  try {
    response = await fetch(url, {
      headers: { authorization: `Bearer ${token}`, accept: "application/json" },
    });
  } catch (error) {
    const reason = connectionFailure(error);
    if (connection.localStateFile) {
      throw new CliError(
        `local mode is not running: nothing answers at ${url.origin} (${reason}), the address ${connection.localStateFile} gives. Start it with \`npm start\`, or pass --api URL to ask another API`,
      );
    }
    throw new CliError(
      `cannot reach ${url.origin} (${reason}): check the URL given by ${connection.apiSource} and that the API is up`,
    );
  }
  const text = await response.text();
  if (!response.ok) {
    const challenge = response.headers.get("www-authenticate") ?? undefined;
    throw new HttpError(response.status, text, challenge, url.href, connection);
  }
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new CliError(`${url.origin} answered ${response.status} with a body that is not JSON`);
  }
}

/** `key="value"` parameters of a `www-authenticate: Bearer …` challenge. */
export function challengeParameters(challenge: string): Record<string, string> {
  const parameters: Record<string, string> = {};
  for (const match of challenge.matchAll(/([A-Za-z_]+)="([^"]*)"/g)) {
    parameters[match[1] as string] = match[2] as string;
  }
  return parameters;
}

/** What to do about a refused token, by the challenge's `error`. */
function tokenAdvice(
  error: string | undefined,
  scope: string | undefined,
  connection: ApiConnection,
): string {
  const fromLocal = connection.tokenSource === "local mode's issuer";
  const needed = scope || DEFAULT_SCOPES.read;
  if (error === "insufficient_scope") {
    return `the token needs the scope ${needed}: get one that carries it${fromLocal ? "" : ` and pass it with --token or SEALTRAIL_TOKEN (local mode: TOKEN=$(npm run -s token -- --scope "${needed}"))`}`;
  }
  if (error === "invalid_request") {
    return `send a token: pass --token or set SEALTRAIL_TOKEN (one with the scope ${needed})`;
  }
  if (fromLocal) {
    return "local mode's issuer key or address changed since the token was signed: restart local mode (`npm start`)";
  }
  return `get a valid token from the identity provider the API trusts (the API's issuer and audience, with the scope ${needed}) and pass it with --token or SEALTRAIL_TOKEN`;
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: neutralizing control characters is the point.
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;

/** One plain-words line for an error answer: the reason, and what to do; safe to print on a terminal. */
export function describeHttpError(error: HttpError): string {
  return explain(error).replace(CONTROL, "\ufffd");
}

function explain(error: HttpError): string {
  const { status, body, connection } = error;
  if ((status === 401 || status === 403) && error.challenge) {
    const challenge = challengeParameters(error.challenge);
    const reason = challenge.error_description || challenge.error || "no reason given";
    return `the API refused the token from ${connection.tokenSource} (${status}${challenge.error ? ` ${challenge.error}` : ""}): ${reason}; ${tokenAdvice(challenge.error, challenge.scope, connection)}`;
  }
  let parsed: { code?: unknown; message?: unknown } | undefined;
  try {
    parsed = JSON.parse(body) as typeof parsed;
  } catch {
    parsed = undefined;
  }
  const message = typeof parsed?.message === "string" ? parsed.message : undefined;
  if (message !== undefined && typeof parsed?.code === "string") {
    return `the API answered ${status} ${parsed.code}: ${message}`;
  }
  if (status === 401 || status === 403) {
    return `the API answered ${status} ${message ?? body.trim()} and did not say why (no www-authenticate header): check that the token is one the API's authorizer accepts, with the read scope`;
  }
  if (status === 404 && message !== undefined) {
    return `the API answered 404 (${message}) for ${error.url}: check that ${connection.apiSource} gives the API's base URL (the URL before /v1)`;
  }
  const shown = (message ?? body.trim()).slice(0, 500);
  return `the API answered ${status}${shown ? `: ${shown}` : " with an empty body"}`;
}
