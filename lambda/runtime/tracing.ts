/**
 * X-Ray tracing of the AWS calls a Lambda function makes (the stack turns active tracing on). One
 * Powertools Tracer per environment; the handlers pass each SDK client they make through `traced`,
 * so every S3, DynamoDB, KMS and SNS call is a subsegment of the invocation's trace. Outside Lambda
 * (local mode, the CLI, tests) the Tracer disables itself and `traced` returns the client untouched;
 * clients a caller passes in (tests, local mode's overrides) are never wrapped.
 */
import { Tracer } from "@aws-lambda-powertools/tracer";
import { powertoolsServiceName } from "./config";

let tracer: Tracer | undefined;

function theTracer(): Tracer {
  tracer ??= new Tracer({ serviceName: powertoolsServiceName() });
  return tracer;
}

/** The client, instrumented when tracing is on; the same object otherwise. */
export function traced<Client extends object>(client: Client): Client {
  const current = theTracer();
  return current.isTracingEnabled() ? current.captureAWSv3Client(client) : client;
}
