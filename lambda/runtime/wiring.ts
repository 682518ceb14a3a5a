/**
 * Builds the write path's objects from configuration once per Lambda environment (or per local
 * server / test): the adapters of lambda/aws/ wired to the services' ports. Handlers stay thin: they
 * translate API Gateway events and call these.
 */
import { randomUUID } from "node:crypto";
import type { Logger } from "@aws-lambda-powertools/logger";
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { KMSClient } from "@aws-sdk/client-kms";
import type { S3Client } from "@aws-sdk/client-s3";
import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import type { JWTVerifyGetKey } from "jose";
import { dynamoClient, kmsClient, s3Client } from "../aws/clients";
import { DynamoIdempotencyStore } from "../aws/idempotency-store";
import { documentClient, IndexStore } from "../aws/index-store";
import { kmsKeyWrapper } from "../aws/kms-key-wrapper";
import { kmsMacKey } from "../aws/kms-mac-key";
import { DynamoChainLeases } from "../aws/lease-store";
import { S3ObjectStore } from "../aws/object-store";
import { DynamoSubjectKeyStore } from "../aws/subject-key-store";
import type { AccessMetrics } from "../core/metrics";
import { createUlidGenerator } from "../core/ulid";
import { ChainWriter } from "../ingest/chain-writer";
import { IngestService } from "../ingest/ingest-service";
import { SubjectTokenVerifier } from "../ingest/subject-token";
import type { KeyWrapper, PseudonymKeys, SubjectKeyStore } from "../privacy/ports";
import { derivedPseudonymKeys } from "../privacy/pseudonym-keys";
import { RecordPrivacy } from "../privacy/record-privacy";
import type { SealtrailConfig, SubjectIssuer } from "./config";
import { createLogger, serviceLogger } from "./logger";
import { traced } from "./tracing";

export interface RuntimeOverrides {
  readonly s3?: S3Client;
  readonly dynamo?: DynamoDBClient;
  readonly logger?: Logger;
  /** Replaces fetching an issuer's JWKS over HTTPS (tests). */
  readonly subjectKeySet?: (issuer: SubjectIssuer) => JWTVerifyGetKey;
  readonly now?: () => number;
  /** The KMS client of the privacy keys (tests point it at the emulator). */
  readonly kms?: KMSClient;
  /** Replaces the KMS privacy keys: local mode's key files, tests' in-process keys. */
  readonly privacyKeys?: { readonly wrapper: KeyWrapper; readonly pseudonyms: PseudonymKeys };
}

export { createLogger, serviceLogger };

/** The archive and its index: what the write path and the reindex job both read and write. */
export interface ArchiveStores {
  readonly objects: S3ObjectStore;
  readonly index: IndexStore;
  readonly doc: DynamoDBDocumentClient;
  readonly logger: Logger;
}

export function createArchiveStores(
  config: SealtrailConfig,
  overrides: RuntimeOverrides = {},
): ArchiveStores {
  const doc = documentClient(overrides.dynamo ?? traced(dynamoClient(config.aws)));
  return {
    objects: new S3ObjectStore(overrides.s3 ?? traced(s3Client(config.aws)), config.bucket),
    index: new IndexStore(doc, config.table),
    doc,
    logger: overrides.logger ?? createLogger(),
  };
}

export interface WritePath extends ArchiveStores {
  readonly service: IngestService;
  /** With privacy on: the record policy and the key store (the erase route uses both). */
  readonly privacy?: PrivacyParts;
}

export interface PrivacyParts {
  readonly records: RecordPrivacy;
  readonly keys: SubjectKeyStore;
}

/**
 * The privacy layer when the configuration turns it on: data keys in the table, wrapped by the KMS
 * key (or the overrides' keys), pseudonym keys derived from the KMS HMAC key (or the overrides').
 */
export function createPrivacy(
  config: SealtrailConfig,
  doc: DynamoDBDocumentClient,
  overrides: RuntimeOverrides,
  now: () => number,
): PrivacyParts | undefined {
  const privacy = config.privacy;
  if (!privacy) return undefined;
  let keys = overrides.privacyKeys;
  if (!keys) {
    if (!privacy.wrapKeyId || !privacy.pseudonymKeyId) {
      throw new Error(
        "Invalid sealtrail configuration: privacy is on (SEALTRAIL_PRIVACY) but SEALTRAIL_PRIVACY_WRAP_KEY_ID and SEALTRAIL_PRIVACY_PSEUDONYM_KEY_ID do not both name a KMS key",
      );
    }
    const kms = overrides.kms ?? traced(kmsClient(config.aws));
    keys = {
      wrapper: kmsKeyWrapper(kms, privacy.wrapKeyId),
      pseudonyms: derivedPseudonymKeys(kmsMacKey(kms, privacy.pseudonymKeyId)),
    };
  }
  const store = new DynamoSubjectKeyStore(doc, config.table);
  return {
    records: new RecordPrivacy({ policy: privacy.policy, keys: store, ...keys, now }),
    keys: store,
  };
}

export interface WritePathOptions {
  /** Where the ingest service counts what it acknowledges and refuses; default: nowhere. */
  readonly metrics?: AccessMetrics;
}

export function createWritePath(
  config: SealtrailConfig,
  overrides: RuntimeOverrides = {},
  options: WritePathOptions = {},
): WritePath {
  const stores = createArchiveStores(config, overrides);
  const { objects, index, doc, logger } = stores;
  const now = overrides.now ?? Date.now;
  const chains = new ChainWriter({
    objects,
    leases: new DynamoChainLeases(doc, config.table),
    headHint: (chain) => index.headHint(chain),
    chainCount: config.chains,
    holder: randomUUID(),
    leaseMs: config.leaseSeconds * 1000,
    now,
    onWarning: (message, detail) => logger.warn(message, detail),
  });
  const privacy = createPrivacy(config, doc, overrides, now);
  const service = new IngestService({
    config,
    objects,
    index,
    idempotency: new DynamoIdempotencyStore(doc, config.table),
    chains,
    subjects: new SubjectTokenVerifier(config.subjectIssuers, overrides.subjectKeySet),
    newId: createUlidGenerator(now),
    now,
    logger: serviceLogger(logger),
    metrics: options.metrics,
    privacy: privacy?.records,
  });
  return { ...stores, service, privacy };
}
