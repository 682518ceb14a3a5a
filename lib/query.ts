/**
 * The query API of DESIGN.md ("Search"): one function behind the read routes of the HTTP API
 * (`QUERY_ROUTES` of lambda/core/routes.ts, each with the JWT authorizer and the read scope) and the
 * KMS HMAC_256 key that authenticates its pagination cursors, which only its role may use.
 *
 * Every read is archived as an `audit.read` event through the ingest write path, so the function also
 * needs the ingest function's permissions: the Sealtrail construct grants those
 * (`SealtrailArchive.bindWritePath`, write), this construct adds only what reading needs beyond them. Infrastructure only: the handler is
 * lambda/handlers/query.ts.
 */
import { Duration, RemovalPolicy, Validations } from "aws-cdk-lib";
import {
  type HttpApi,
  HttpMethod,
  type HttpRoute,
  type IHttpRouteAuthorizer,
} from "aws-cdk-lib/aws-apigatewayv2";
import { HttpLambdaIntegration } from "aws-cdk-lib/aws-apigatewayv2-integrations";
import { PolicyStatement } from "aws-cdk-lib/aws-iam";
import { Key, KeySpec, KeyUsage } from "aws-cdk-lib/aws-kms";
import type { NodejsFunction } from "aws-cdk-lib/aws-lambda-nodejs";
import type { RetentionDays } from "aws-cdk-lib/aws-logs";
import type { IBucket } from "aws-cdk-lib/aws-s3";
import { Construct } from "constructs";
import { METRIC_SERVICES } from "../lambda/core/metrics";
import { CHECKPOINTS_PREFIX, EVENTS_PREFIX } from "../lambda/core/paths";
import { QUERY_ROUTES, SUBJECT_ROUTES } from "../lambda/core/routes";
import { ENV } from "../lambda/runtime/config";
import { ownRole, sealtrailFunction, wildcardFinding } from "./function";
import { reservedKeyPolicy, reserveKeyUse } from "./key-policy";

/** POWERTOOLS_SERVICE_NAME of the query function, and so the `service` dimension of its metrics. */
export const QUERY_SERVICE_NAME = METRIC_SERVICES.query;

/** The only operations of the cursor key (lambda/aws/kms-mac-key.ts), reserved to the query role. */
export const CURSOR_KEY_ACTIONS = ["kms:GenerateMac", "kms:VerifyMac"] as const;

/** The scopes of the data-subject routes (present only with privacy): erase's own, and the admin scope for holds. */
export type SubjectRouteScopes = { readonly [K in keyof typeof SUBJECT_ROUTES]: string };

export interface QueryApiProps {
  /** The archive bucket: the function reads checkpoints/ (and, granted by the caller, events/ and chains/). */
  readonly archiveBucket: IBucket;
  /** Environment shared by the ingest and reindex functions (lambda/runtime/config.ts parses all of it). */
  readonly environment: Record<string, string>;
  readonly logRetention: RetentionDays;
}

/**
 * The cursor key and the query function, with the permissions reading needs beyond the ingest write
 * path's (which the caller grants); `addRoutes` puts the read routes on an HTTP API.
 */
export class QueryApi extends Construct {
  /** KMS HMAC_256 GENERATE_VERIFY_MAC key of the pagination cursors; only `fn`'s role may use it. */
  public readonly cursorKey: Key;
  /** Serves every route of `QUERY_ROUTES`. */
  public readonly fn: NodejsFunction;

  constructor(scope: Construct, id: string, props: QueryApiProps) {
    super(scope, id);

    // Reserved like the checkpoint signing key (lib/key-policy.ts): the account administers it, only the
    // query role may compute or verify MACs, so nobody else can mint a cursor the API would accept.
    this.cursorKey = new Key(this, "CursorKey", {
      description:
        "sealtrail: authenticates query API cursors (HMAC_SHA_256); only the query function may use it",
      keySpec: KeySpec.HMAC_256,
      keyUsage: KeyUsage.GENERATE_VERIFY_MAC,
      // KMS rotates only symmetric encryption keys, not HMAC keys. A new key only invalidates the
      // cursors in flight: clients start their listing again.
      enableKeyRotation: false,
      removalPolicy: RemovalPolicy.RETAIN,
      policy: reservedKeyPolicy({ administerSid: "AllowAccountToAdministerTheKeyButNotUseIt" }),
    });

    this.fn = sealtrailFunction(this, "Function", {
      entry: "../lambda/handlers/query.ts",
      description: "sealtrail: the read routes (GET /v1/events, one event, its proof, the latest checkpoint)",
      serviceName: QUERY_SERVICE_NAME,
      // HTTP APIs time out after 30 s.
      timeout: Duration.seconds(29),
      memorySize: 1024,
      environment: { ...props.environment, [ENV.cursorKeyId]: this.cursorKey.keyArn },
      logRetention: props.logRetention,
    });
    const role = ownRole(this.fn);

    reserveKeyUse(this.cursorKey, role, {
      actions: CURSOR_KEY_ACTIONS,
      allowSid: "AllowQueryFunctionToMacCursors",
      denySid: "DenyCursorMacsToEveryoneButTheQueryFunction",
    });
    role.addToPrincipalPolicy(
      new PolicyStatement({
        sid: "MacCursors",
        actions: [...CURSOR_KEY_ACTIONS],
        resources: [this.cursorKey.keyArn],
      }),
    );

    const archive = props.archiveBucket;
    const checkpoints = archive.arnForObjects(`${CHECKPOINTS_PREFIX}*`);
    role.addToPrincipalPolicy(
      new PolicyStatement({
        // GET /v1/checkpoints/latest returns the newest; the proof route proves against it. Reading
        // only: the archive's bucket policy denies puts under checkpoints/ to all but the signer.
        sid: "ReadCheckpoints",
        actions: ["s3:GetObject"],
        resources: [checkpoints],
      }),
    );
    role.addToPrincipalPolicy(
      new PolicyStatement({
        sid: "ListCheckpointsAndDataObjects",
        // checkpoints/: the newest checkpoint is found by listing (lambda/query/checkpoints.ts).
        // events/: without s3:ListBucket a missing object reads as 403 instead of 404, and the query
        // path must tell a data object the index names but the archive lacks (an integrity error,
        // reported as such) from an access failure. No version listings: nothing here reads versions.
        actions: ["s3:ListBucket"],
        resources: [archive.bucketArn],
        conditions: { StringLike: { "s3:prefix": [`${CHECKPOINTS_PREFIX}*`, `${EVENTS_PREFIX}*`] } },
      }),
    );
    Validations.of(role).acknowledge({
      id: wildcardFinding(this, checkpoints),
      reason:
        "Checkpoints are sequence-numbered objects whose keys are not known in advance; the wildcard is " +
        "limited to reading (s3:GetObject) the one prefix that holds them.",
    });
  }

  /**
   * Adds every route of `QUERY_ROUTES` to `api`, each with `authorizer` and `readScope`, and with
   * `subjectScopes` (privacy on) every route of `SUBJECT_ROUTES` with its scope, all to one Lambda
   * integration of `fn`.
   */
  public addRoutes(
    api: HttpApi,
    authorizer: IHttpRouteAuthorizer,
    readScope: string,
    subjectScopes?: SubjectRouteScopes,
  ): HttpRoute[] {
    const integration = new HttpLambdaIntegration("QueryIntegration", this.fn);
    const scoped: [string, string][] = [
      ...QUERY_ROUTES.map((routeKey): [string, string] => [routeKey, readScope]),
      ...(subjectScopes === undefined
        ? []
        : Object.entries(SUBJECT_ROUTES).map(([name, routeKey]): [string, string] => [
            routeKey,
            subjectScopes[name as keyof SubjectRouteScopes],
          ])),
    ];
    return scoped.flatMap(([routeKey, scope]) => {
      const { method, path } = httpRouteOf(routeKey);
      return api.addRoutes({
        path,
        methods: [method],
        integration,
        authorizer,
        authorizationScopes: [scope],
      });
    });
  }
}

/** The method and path of a route key of lambda/core/routes.ts (`GET /v1/events/{id}`), as CDK takes them. */
export function httpRouteOf(routeKey: string): { readonly method: HttpMethod; readonly path: string } {
  const [method, path] = routeKey.split(" ");
  if (method === undefined || path === undefined || !isHttpMethod(method)) {
    throw new Error(`route key API Gateway does not take: "${routeKey}"`);
  }
  return { method, path };
}

function isHttpMethod(method: string): method is HttpMethod {
  return (Object.values(HttpMethod) as string[]).includes(method);
}
