// Placeholder entry point: the ingest handler is being written (issue 3). The export names are the contract.
import type { APIGatewayProxyEventV2WithJWTAuthorizer, APIGatewayProxyResultV2 } from "aws-lambda";

export async function handler(
  _event: APIGatewayProxyEventV2WithJWTAuthorizer,
): Promise<APIGatewayProxyResultV2> {
  return { statusCode: 501, body: JSON.stringify({ code: "not_implemented" }) };
}
