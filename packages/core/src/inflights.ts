/**
 * Inflights is the window of MsgApp a leader has sent to one follower and not yet seen
 * acknowledged, bounded in count and in bytes, so a pipelining leader cannot flood a
 * slow follower. Entries are the last index of each message, in sending order.
 */
export class Inflights {
  private readonly indexes: number[] = [];
  private readonly sizes: number[] = [];
  private head = 0;
  private totalBytes = 0;

  /** Create a window of at most `maxCount` messages and `maxBytes` bytes (0 = no byte limit). */
  constructor(
    readonly maxCount: number,
    readonly maxBytes: number,
  ) {}

  /** add records a sent message whose last entry is `index`, carrying `bytes` of entries. */
  add(index: number, bytes: number): void {
    this.indexes.push(index);
    this.sizes.push(bytes);
    this.totalBytes += bytes;
  }

  /** freeLE releases every message whose last index is ≤ `index` (acknowledged). */
  freeLE(index: number): void {
    let head = this.head;
    while (head < this.indexes.length && this.indexes[head]! <= index) {
      this.totalBytes -= this.sizes[head]!;
      head++;
    }
    this.head = head;
    // Compact occasionally so the arrays do not grow without bound.
    if (head > 64 && head * 2 > this.indexes.length) {
      this.indexes.splice(0, head);
      this.sizes.splice(0, head);
      this.head = 0;
    }
  }

  /**
   * freeFirstOne releases the oldest message. A full window whose messages were lost
   * would otherwise stall replication forever: freeing one lets a new MsgApp out, whose
   * rejection sends the peer back to probing.
   */
  freeFirstOne(): void {
    const first = this.indexes[this.head];
    if (first !== undefined) this.freeLE(first);
  }

  /** count is the number of messages in flight. */
  count(): number {
    return this.indexes.length - this.head;
  }

  /** bytes is the number of entry bytes in flight. */
  bytes(): number {
    return this.totalBytes;
  }

  /** full reports whether no more messages may be sent. */
  full(): boolean {
    return this.count() >= this.maxCount || (this.maxBytes > 0 && this.totalBytes >= this.maxBytes);
  }

  /** reset empties the window. */
  reset(): void {
    this.indexes.length = 0;
    this.sizes.length = 0;
    this.head = 0;
    this.totalBytes = 0;
  }
}
