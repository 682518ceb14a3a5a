/**
 * An API Gateway HTTP API handler wrapped by the access-log middleware, behind local mode's API Gateway
 * emulation (its JWT authorizer verifies the user's real token), sending to local mode.
 */
import type { APIGatewayProxyEventV2WithJWTAuthorizer } from "aws-lambda";
import { sealtrailAccessLog } from "../../../client/src/lambda";
import { LOCAL_AUDIENCE } from "../../../local/issuer";
import { startLocalServer } from "../../../local/server";
import { describeAccessLogs } from "./middleware-scenario";

describeAccessLogs({
  name: "lambda",
  route: "/api/v1/documents/{id}",
  // API Gateway's authorizer answers 401 itself: the function never runs, so it leaves no access log.
  unauthenticatedReachesApp: false,
  async start({ client, forwardSubjectToken, issuer }) {
    const handler = sealtrailAccessLog<APIGatewayProxyEventV2WithJWTAuthorizer>({
      client,
      forwardSubjectToken,
    })(async (event) => ({
      statusCode: 200,
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ id: event.pathParameters?.id }),
    }));
    const gateway = await startLocalServer({
      port: 0,
      issuer: { issuer: issuer.issuer, publicJwks: () => issuer.publicJwks() },
      audience: LOCAL_AUDIENCE,
      routes: {
        "GET /api/v1/documents/{id}": { scopes: ["documents:read"], handler: (event) => handler(event, {}) },
      },
      log: () => {},
    });
    return { url: gateway.url, close: () => gateway.close() };
  },
});
