/**
 * `npm run example`: the example API against local mode (start it first with `npm start`). Reads
 * .sealtrail/local.json (or $SEALTRAIL_STATE_DIR/local.json), serves on 127.0.0.1:$PORT (default 3100)
 * and prints curl lines to try. Ctrl-C flushes the audit client and stops.
 */
import { readFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
// In your app: from "@sealtrail/client" (this repo runs the source).
import { createAuditClient } from "../../client/src/index.js";
import { DEFAULT_SCOPES } from "../../lambda/runtime/config.js";
import { LOCAL_STATE_FILE, type LocalState, localStateDir, openLocalIssuer } from "../../local/issuer.js";
import { createExampleApp } from "./app.js";
import { localIdentityProvider } from "./identity.js";

const DEFAULT_PORT = 3100;
/** The service's own sealtrail token is renewed well before the hour it is valid. */
const SERVICE_TOKEN_RENEW_MS = 30 * 60 * 1000;

function readLocalState(): LocalState {
  const file = join(localStateDir(), LOCAL_STATE_FILE);
  try {
    return JSON.parse(readFileSync(file, "utf8")) as LocalState;
  } catch {
    console.error(
      `example: ${file} not found. Start local mode first (npm start), then run npm run example.`,
    );
    process.exit(2);
  }
}

const state = readLocalState();
const issuer = await openLocalIssuer({ issuer: state.issuer, audience: state.audience });

// In production: token: clientCredentials({ tokenUrl, clientId, clientSecret, scope: "sealtrail/write" }).
let serviceToken: { value: string; at: number } | undefined;
const audit = createAuditClient({
  url: state.apiUrl,
  token: async ({ refresh }) => {
    if (refresh || !serviceToken || Date.now() - serviceToken.at > SERVICE_TOKEN_RENEW_MS) {
      const value = await issuer.signToken({ scope: DEFAULT_SCOPES.write, sub: "documents-api" });
      serviceToken = { value, at: Date.now() };
    }
    return serviceToken.value;
  },
});

// Local mode trusts its own issuer for subject tokens, so users' tokens can be verified by sealtrail.
const app = createExampleApp({
  audit,
  identity: localIdentityProvider(issuer, state.jwksUrl),
  forwardSubjectToken: true,
});
const port = Number(process.env.PORT ?? DEFAULT_PORT);
const server = app.listen(port, "127.0.0.1", () => {
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  console.log(
    [
      "",
      `example document API on ${url}, auditing to sealtrail at ${state.apiUrl}`,
      "",
      "Log in (alice owns document 42; bob may read it):",
      `TOKEN=$(curl -sS -X POST ${url}/login -H 'content-type: application/json' -d '{"username":"alice","password":"alice-password"}' | sed -E 's/.*"token":"([^"]+)".*/\\1/')`,
      "",
      "Read a document, change who may read it, log out:",
      `curl -sS ${url}/api/v1/documents/42 -H "authorization: Bearer $TOKEN"`,
      `curl -sS -X PUT ${url}/api/v1/documents/42/permissions -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' -d '{"user":"bob","permission":"none"}'`,
      `curl -sS -X POST ${url}/logout -H "authorization: Bearer $TOKEN"`,
      `curl -sS ${url}/api/v1/documents/42 -H "authorization: Bearer $TOKEN"   # 401 now: the session ended`,
      "",
      "Then see the trail (every request is an http.request event; logins, reads and changes their own):",
      "npx sealtrail query --action http.request --format table",
      "npx sealtrail query --action document.permission_change --format json",
      "",
      "Ctrl-C flushes the audit client and stops.",
      "",
    ].join("\n"),
  );
});

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, async () => {
    server.close();
    server.closeAllConnections();
    await audit.shutdown({ timeoutMs: 5000 });
    const { sealed, dropped } = audit.stats();
    console.error(`example: stopped; ${sealed} events sealed, ${dropped} dropped.`);
    process.exit(0);
  });
}
