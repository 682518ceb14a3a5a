/**
 * How CLI commands reach the HTTP API: `--api`, else SEALTRAIL_API_URL, else local mode's `apiUrl`
 * from `<state dir>/local.json`; with `--token`, else SEALTRAIL_TOKEN, else (when the API is local
 * mode's) a short-lived read token signed with local mode's issuer key from the state dir.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { DEFAULT_SCOPES } from "../config";
import {
  ISSUER_KEY_FILE,
  LOCAL_STATE_FILE,
  type LocalState,
  loadOrCreateIssuerKey,
  localIssuer,
  localStateDir,
} from "../local/issuer";
import { CliError } from "./exit";

/** The API answered with an error status: exit 1, with its body shown. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: string,
  ) {
    super(`HTTP ${status}`);
  }
}

/** Where local mode said it runs, when it was started from this state directory. */
function readLocalState(stateDir: string): LocalState | undefined {
  const file = join(stateDir, LOCAL_STATE_FILE);
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
}): Promise<{ api: string; token: string }> {
  const stateDir = localStateDir();
  const local = readLocalState(stateDir);
  const api = options.api ?? process.env.SEALTRAIL_API_URL ?? local?.apiUrl;
  if (!api) {
    throw new CliError(
      "no API to ask: pass --api URL, set SEALTRAIL_API_URL, or start local mode (`npm start`)",
    );
  }
  const token = options.token ?? process.env.SEALTRAIL_TOKEN;
  if (token) return { api, token };
  if (local && sameOrigin(api, local.apiUrl) && existsSync(join(stateDir, ISSUER_KEY_FILE))) {
    const issuer = localIssuer(await loadOrCreateIssuerKey(stateDir), {
      issuer: local.issuer,
      audience: local.audience,
    });
    return {
      api,
      token: await issuer.signToken({ scope: DEFAULT_SCOPES.read, sub: "sealtrail-cli", ttlSeconds: 300 }),
    };
  }
  throw new CliError("no token: pass --token or set SEALTRAIL_TOKEN (a token with the read scope)");
}

/** GET `path` (relative to the API base) as JSON; HttpError on an error status, CliError on no answer. */
export async function getJson<T>(
  api: string,
  token: string,
  path: string,
  parameters?: URLSearchParams,
): Promise<T> {
  const url = new URL(path, api.endsWith("/") ? api : `${api}/`);
  if (parameters) url.search = parameters.toString();
  let response: Response;
  try {
    response = await fetch(url, {
      headers: { authorization: `Bearer ${token}`, accept: "application/json" },
    });
  } catch (error) {
    throw new CliError(`cannot reach ${url.origin}: ${(error as Error).cause ?? (error as Error).message}`);
  }
  const text = await response.text();
  if (!response.ok) throw new HttpError(response.status, text);
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new CliError(`${url.origin} answered ${response.status} with a body that is not JSON`);
  }
}
