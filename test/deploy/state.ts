/**
 * What bin/deploy-test.ts hands the deploy test (a JSON file named by SEALTRAIL_DEPLOY_STATE), and where
 * that run departs from `cdk deploy` against AWS.
 */
import { readFileSync } from "node:fs";

/**
 * Each departure from what `cdk deploy` does against AWS, with the emulator gap that forces it. What the
 * emulator does not do at all (Object Lock, SSE-KMS, bucket policies, IAM) is not asserted here: the moto
 * and LocalStack suites and the template tests cover it.
 */
export const DEPARTURES = [
  "AWS::Athena::NamedQuery resources are removed from the synthesized template before `cdk deploy` " +
    "(ministack's CloudFormation refuses the whole template: 'Unrecognized resource types'); nothing " +
    "refers to them, and test/infra/search.test.ts covers them as template.",
  "CloudWatch alarms on metric math (the anomaly-detection alarms on ingested events and reads, the " +
    "watched-action alarms that sum every outcome, the verifier's failed-or-findings alarm) and the dashboard that shows them are removed too: ministack " +
    "refuses them ('Properties.Metrics (metric math) is not supported'); test/infra/alarms.test.ts and " +
    "scheduled-verifier.test.ts cover them as template, and the metrics they watch are asserted against " +
    "what the real handlers emit.",
  "NODE_PATH points ministack's Node executor at the project's node_modules: the executor replaces a " +
    "missing @aws-sdk/client-* with a stub, where the nodejs24.x runtime provides the real SDK v3 that " +
    "the inline CheckpointPublicKey custom resource imports (the bundled functions carry their own).",
  "The issuer is a loopback HTTPS server with a self-signed certificate that only the emulator trusts " +
    "(SSL_CERT_FILE), not a public identity provider.",
  "The API is reached at the emulator's port with `Host: <api id>.execute-api.localhost:<port>` instead " +
    "of the ApiUrl output's public host name.",
  "retentionDays=1 (a trial stack, as the README recommends): ministack does not apply Object Lock from " +
    "CloudFormation at all.",
] as const;

export interface DeployState {
  /** The emulator's endpoint (every AWS API) and port. */
  readonly endpoint: string;
  readonly port: number;
  readonly region: string;
  /** The token issuer the stack's JWT authorizer trusts (`-c issuer=`), and the audience (`-c audience=`). */
  readonly issuer: string;
  readonly audience: string;
  /** The issuer's private RS256 key as a JWK (with its kid), so tests can sign any token. */
  readonly issuerKeyFile: string;
  /** The stack outputs, as `cdk deploy --outputs-file` wrote them. */
  readonly outputs: Readonly<Record<string, string>>;
  readonly ministackVersion: string;
  /** A scratch directory of the run, removed after it. */
  readonly workDir: string;
  /** When `cdk deploy` started (epoch ms): the schedules count from the stack's creation. */
  readonly deployedAt: number;
}

export function readDeployState(): DeployState {
  const file = process.env.SEALTRAIL_DEPLOY_STATE;
  if (!file) {
    throw new Error("SEALTRAIL_DEPLOY_STATE is not set: run the deploy test with `npm run test:deploy`");
  }
  return JSON.parse(readFileSync(file, "utf8")) as DeployState;
}
