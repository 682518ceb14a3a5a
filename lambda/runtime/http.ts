/** JSON responses for the HTTP API, with errors that name a code and what to do. */
import type { APIGatewayProxyStructuredResultV2 } from "aws-lambda";
import type { CallerRefusal } from "../core/claims";

export interface ApiResponse {
  readonly status: number;
  readonly body: unknown;
  readonly headers?: Readonly<Record<string, string>>;
}

export function errorResponse(
  status: number,
  code: string,
  message: string,
  extra: Record<string, unknown> = {},
  headers?: Record<string, string>,
): ApiResponse {
  return { status, body: { code, message, ...extra }, headers };
}

/** A caller the API refuses (core/claims.ts authorizeCaller), as its error response. */
export function refusalResponse(refusal: CallerRefusal): ApiResponse {
  return errorResponse(refusal.status, refusal.code, refusal.message, refusal.details ?? {});
}

export function toProxyResult(response: ApiResponse, requestId: string): APIGatewayProxyStructuredResultV2 {
  return {
    statusCode: response.status,
    headers: {
      "content-type": "application/json",
      "cache-control": "no-store",
      "x-content-type-options": "nosniff",
      "x-request-id": requestId,
      ...response.headers,
    },
    body: JSON.stringify(response.body),
  };
}
