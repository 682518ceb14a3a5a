/**
 * Counts every AWS request an SDK client sends, with what it is billed for: S3 requests by operation
 * and key prefix (the first path segment: `events/`, `chains/`, `checkpoints/`), the bytes each put
 * stores, DynamoDB write and read units from the items themselves (dynamo-units.ts), KMS requests by
 * operation. A middleware in the build step sees each command once, before it is signed and retried,
 * with its input already marshalled (the document client marshals in the serialize step); the items
 * a document client's read returns come back to it unmarshalled, and are marshalled again to be sized.
 * A request that fails (a conditional write refused) is counted too, as DynamoDB bills it.
 */
import type {
  AttributeValue,
  BatchGetItemCommandInput,
  BatchGetItemCommandOutput,
  BatchWriteItemCommandInput,
  DynamoDBClient,
  GetItemCommandInput,
  GetItemCommandOutput,
  PutItemCommandInput,
  QueryCommandInput,
  QueryCommandOutput,
  UpdateItemCommandInput,
} from "@aws-sdk/client-dynamodb";
import type { KMSClient } from "@aws-sdk/client-kms";
import type { S3Client } from "@aws-sdk/client-s3";
import { GLOBAL_INDEXES, PARTITION_KEY, SORT_KEY } from "../../lambda/core/index-table";
import { attributeItemOf, indexesOf, itemBytes, readUnits, valueBytes, writeUnits } from "./dynamo-units";
import { PRICES } from "./prices";

export type MeteredService = "s3" | "dynamodb" | "kms";

export interface MeteredRequest {
  readonly service: MeteredService;
  readonly operation: string;
  /** S3: the key's (or listing's) first path segment with its slash; otherwise absent. */
  readonly prefix?: string;
  /** S3 puts: the body's bytes. */
  readonly bytes?: number;
  readonly writeUnits: number;
  readonly readUnits: number;
  /** DynamoDB puts: the bytes the items add to the table's billed size, GSI copies included. */
  readonly storedBytes?: number;
}

type Item = Record<string, AttributeValue>;

const GSIS = Object.values(GLOBAL_INDEXES);

const ATTRIBUTE_TAGS = new Set(["S", "N", "B", "SS", "NS", "BS", "M", "L", "NULL", "BOOL"]);

/** An item as DynamoDB bills it: a document client's plain item marshalled, a marshalled one as it is. */
function billedItem(item: Record<string, unknown>): Item {
  const marshalled = Object.values(item).every(
    (value) =>
      typeof value === "object" &&
      value !== null &&
      Object.keys(value).length === 1 &&
      ATTRIBUTE_TAGS.has(Object.keys(value)[0] as string),
  );
  return marshalled ? (item as Item) : attributeItemOf(item);
}

type Next = (args: { input: unknown }) => Promise<{ output: unknown }>;
interface MiddlewareStack {
  add(
    middleware: (next: Next, context: { commandName?: string }) => Next,
    options: { step: "build"; priority: "high"; name: string },
  ): void;
}

interface Shadow {
  readonly bytes: number;
  readonly indexes: number;
}

function bodyBytes(body: unknown): number | undefined {
  if (typeof body === "string") return Buffer.byteLength(body, "utf8");
  if (body instanceof Uint8Array) return body.length;
  return undefined;
}

function prefixOf(key: unknown): string | undefined {
  if (typeof key !== "string") return undefined;
  const slash = key.indexOf("/");
  return slash < 0 ? key : key.slice(0, slash + 1);
}

export interface RequestMeterOptions {
  /**
   * Counts each DynamoDB item written as this item instead (undefined: as not written), so one run
   * can also be counted as another index format would have written it. @default the item itself
   */
  readonly countItemAs?: (item: Item) => Item | undefined;
}

let meters = 0;

export class RequestMeter {
  readonly requests: MeteredRequest[] = [];
  /** Size and GSI count of every item this meter saw written, by key: what an update or delete costs. */
  private readonly shadow = new Map<string, Shadow>();
  private readonly countItemAs: (item: Item) => Item | undefined;
  /** Each meter's middleware has a name of its own: two meters may count one client. */
  private readonly name = `sealtrailRequestMeter${++meters}`;

  constructor(options: RequestMeterOptions = {}) {
    this.countItemAs = options.countItemAs ?? ((item) => item);
  }

  reset(): void {
    this.requests.length = 0;
  }

  /** Counts the requests of `client` from now on; returns it. */
  attach<C extends S3Client | DynamoDBClient | KMSClient>(client: C, service: MeteredService): C {
    const middleware =
      (next: Next, context: { commandName?: string }) => async (args: { input: unknown }) => {
        const operation = String(context.commandName ?? "unknown").replace(/Command$/, "");
        const input = args.input as Record<string, unknown>;
        let output: unknown;
        try {
          const result = await next(args);
          output = result.output;
          return result;
        } finally {
          this.requests.push(this.measured(service, operation, input, output));
        }
      };
    // One middleware for three clients' stacks, whose types differ only in their commands.
    (client.middlewareStack as unknown as MiddlewareStack).add(middleware, {
      step: "build",
      priority: "high",
      name: this.name,
    });
    return client;
  }

  private measured(
    service: MeteredService,
    operation: string,
    input: Record<string, unknown>,
    output: unknown,
  ): MeteredRequest {
    if (service === "s3") {
      return {
        service,
        operation,
        prefix: prefixOf(input.Key ?? input.Prefix),
        bytes: operation === "PutObject" ? bodyBytes(input.Body) : undefined,
        writeUnits: 0,
        readUnits: 0,
      };
    }
    if (service === "kms") return { service, operation, writeUnits: 0, readUnits: 0 };
    const units = this.dynamoUnits(operation, input, output);
    return { service, operation, ...units };
  }

  private keyOf(table: unknown, item: Item): string {
    return JSON.stringify([table, item[PARTITION_KEY], item[SORT_KEY]]);
  }

  private written(table: unknown, written: Item): { units: number; stored: number } {
    const item = this.countItemAs(written);
    if (item === undefined) return { units: 0, stored: 0 };
    const bytes = itemBytes(item);
    const indexes = indexesOf(item, GSIS);
    this.shadow.set(this.keyOf(table, item), { bytes, indexes });
    return {
      units: writeUnits(bytes) * (1 + indexes),
      stored: (bytes + PRICES.dynamodb.itemOverheadBytes) * (1 + indexes),
    };
  }

  private removed(table: unknown, key: Item): number {
    const known = this.shadow.get(this.keyOf(table, key));
    this.shadow.delete(this.keyOf(table, key));
    return known ? writeUnits(known.bytes) * (1 + known.indexes) : 1;
  }

  /** An update is billed on the larger of the item before and after: the shadow's, or key and values. */
  private updated(input: UpdateItemCommandInput): number {
    const key = input.Key as Item;
    const known = this.shadow.get(this.keyOf(input.TableName, key));
    const values = Object.values(input.ExpressionAttributeValues ?? {}).reduce(
      (n, value) => n + valueBytes(value),
      0,
    );
    const names = Object.values(input.ExpressionAttributeNames ?? {}).reduce(
      (n, name) => n + Buffer.byteLength(name),
      0,
    );
    const bytes = Math.max(known?.bytes ?? 0, itemBytes(key) + values + names);
    const indexes = known?.indexes ?? 0;
    this.shadow.set(this.keyOf(input.TableName, key), { bytes, indexes });
    return writeUnits(bytes) * (1 + indexes);
  }

  private dynamoUnits(
    operation: string,
    input: Record<string, unknown>,
    output: unknown,
  ): { writeUnits: number; readUnits: number; storedBytes?: number } {
    switch (operation) {
      case "PutItem": {
        const put = input as unknown as PutItemCommandInput;
        const written = this.written(put.TableName, put.Item as Item);
        return { writeUnits: written.units, readUnits: 0, storedBytes: written.stored };
      }
      case "UpdateItem":
        return { writeUnits: this.updated(input as unknown as UpdateItemCommandInput), readUnits: 0 };
      case "DeleteItem":
        return { writeUnits: this.removed(input.TableName, input.Key as Item), readUnits: 0 };
      case "BatchWriteItem": {
        let units = 0;
        let stored = 0;
        for (const [table, writes] of Object.entries(
          (input as unknown as BatchWriteItemCommandInput).RequestItems ?? {},
        )) {
          for (const write of writes) {
            if (write.PutRequest?.Item) {
              const written = this.written(table, write.PutRequest.Item);
              units += written.units;
              stored += written.stored;
            } else if (write.DeleteRequest?.Key) units += this.removed(table, write.DeleteRequest.Key);
          }
        }
        return { writeUnits: units, readUnits: 0, storedBytes: stored };
      }
      case "GetItem": {
        const get = input as unknown as GetItemCommandInput;
        const item = (output as GetItemCommandOutput | undefined)?.Item;
        return {
          writeUnits: 0,
          readUnits: readUnits(item ? itemBytes(billedItem(item)) : 0, get.ConsistentRead === true),
        };
      }
      case "BatchGetItem": {
        let units = 0;
        const responses = (output as BatchGetItemCommandOutput | undefined)?.Responses ?? {};
        for (const [table, asked] of Object.entries(
          (input as unknown as BatchGetItemCommandInput).RequestItems ?? {},
        )) {
          const found = responses[table] ?? [];
          const consistent = asked.ConsistentRead === true;
          // Each item is rounded up on its own; a key that finds nothing still costs the minimum.
          for (const item of found) units += readUnits(itemBytes(billedItem(item)), consistent);
          units += Math.max(0, (asked.Keys?.length ?? 0) - found.length) * readUnits(0, consistent);
        }
        return { writeUnits: 0, readUnits: units };
      }
      case "Query":
      case "Scan": {
        const query = input as unknown as QueryCommandInput;
        const items = (output as QueryCommandOutput | undefined)?.Items ?? [];
        const bytes = items.reduce((n, item) => n + itemBytes(billedItem(item)), 0);
        // A GSI is only ever read eventually consistent.
        const consistent = query.ConsistentRead === true && query.IndexName === undefined;
        return { writeUnits: 0, readUnits: readUnits(bytes, consistent) };
      }
      default:
        return { writeUnits: 0, readUnits: 0 };
    }
  }
}

export interface RequestLine {
  requests: number;
  writeUnits: number;
  readUnits: number;
  /** S3 puts: body bytes; DynamoDB writes: billed storage bytes. */
  bytes: number;
}

/** Requests grouped as `service operation [prefix]`, with their count, units and bytes. */
export function summarize(requests: readonly MeteredRequest[]): Record<string, RequestLine> {
  const summary: Record<string, RequestLine> = {};
  for (const request of requests) {
    const name = [request.service, request.operation, request.prefix].filter(Boolean).join(" ");
    const line = summary[name] ?? { requests: 0, writeUnits: 0, readUnits: 0, bytes: 0 };
    line.requests++;
    line.writeUnits += request.writeUnits;
    line.readUnits += request.readUnits;
    line.bytes += request.bytes ?? request.storedBytes ?? 0;
    summary[name] = line;
  }
  return summary;
}
