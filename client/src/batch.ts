/**
 * The queue of events waiting to be sent, cut into batches that stay within the count and byte
 * bounds (each at most the server's limits).
 */
import { BODY_OVERHEAD_BYTES, type EncodedEvent } from "./schema.js";

export interface BatchBounds {
  readonly maxEvents: number;
  /** Of the whole request body. */
  readonly maxBytes: number;
}

export class EventQueue {
  private events: EncodedEvent[] = [];
  private head = 0;
  private waitingBytes = 0;

  constructor(private readonly bounds: BatchBounds) {}

  get length(): number {
    return this.events.length - this.head;
  }

  push(event: EncodedEvent): void {
    this.events.push(event);
    this.waitingBytes += event.bytes + 1;
  }

  /** Whether a batch would be cut at its bounds now, rather than by time or a flush. */
  hasFullBatch(): boolean {
    return (
      this.length >= this.bounds.maxEvents || BODY_OVERHEAD_BYTES + this.waitingBytes > this.bounds.maxBytes
    );
  }

  /** The oldest events that fit in one body (at least one: a single event always fits, see client.ts). */
  take(): EncodedEvent[] {
    const batch: EncodedEvent[] = [];
    let bytes = BODY_OVERHEAD_BYTES;
    while (this.head < this.events.length && batch.length < this.bounds.maxEvents) {
      const next = this.events[this.head] as EncodedEvent;
      const added = next.bytes + (batch.length > 0 ? 1 : 0);
      if (batch.length > 0 && bytes + added > this.bounds.maxBytes) break;
      batch.push(next);
      bytes += added;
      this.waitingBytes -= next.bytes + 1;
      this.head++;
    }
    // Compact now and then, so taking from the front stays O(1) amortized.
    if (this.head > 1024 && this.head * 2 > this.events.length) {
      this.events = this.events.slice(this.head);
      this.head = 0;
    }
    return batch;
  }
}
