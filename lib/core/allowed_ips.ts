/**
 * Longest-prefix match from IP prefixes to values (one binary trie per address family).
 * Lookups walk at most 32 or 128 nodes and never allocate; the last address looked up and its
 * answer are kept, so a flow's packets (one destination out, the same address as source in)
 * skip the walk.
 * @module
 */

interface Node<T> {
  zero?: Node<T>;
  one?: Node<T>;
  value?: T;
}

/** A longest-prefix-match table: `insert` prefixes, `lookup` addresses inside packets. */
export class AllowedIps<T> {
  readonly #v4: Node<T> = {};
  readonly #v6: Node<T> = {};
  /** The last address looked up (its first 4 or 16 bytes) and family (0: none), and its answer. */
  readonly #lastAddress = new Uint8Array(16);
  #lastFamily = 0;
  #lastValue: T | undefined = undefined;

  /** Maps the prefix `bytes/prefixLength` (4 or 16 bytes) to `value`, replacing any earlier one. */
  insert(bytes: Uint8Array, prefixLength: number, value: T): void {
    this.#lastFamily = 0;
    let node = bytes.length === 4 ? this.#v4 : this.#v6;
    for (let bit = 0; bit < prefixLength; bit++) {
      const one = (bytes[bit >> 3] >> (7 - (bit & 7))) & 1;
      const next = one ? node.one : node.zero;
      if (next) {
        node = next;
      } else {
        const created: Node<T> = {};
        if (one) node.one = created;
        else node.zero = created;
        node = created;
      }
    }
    node.value = value;
  }

  /** The value of the longest prefix holding the address at `buf[at..]`, or undefined. */
  lookup(buf: Uint8Array, at: number, family: 4 | 6): T | undefined {
    const bytes = family === 4 ? 4 : 16;
    const last = this.#lastAddress;
    if (family === this.#lastFamily) {
      let i = 0;
      while (i < bytes && buf[at + i] === last[i]) i++;
      if (i === bytes) return this.#lastValue;
    }
    let node: Node<T> | undefined = family === 4 ? this.#v4 : this.#v6;
    let best = node.value;
    for (let bit = 0; bit < bytes * 8 && node; bit++) {
      const one = (buf[at + (bit >> 3)] >> (7 - (bit & 7))) & 1;
      node = one ? node.one : node.zero;
      if (node?.value !== undefined) best = node.value;
    }
    for (let i = 0; i < bytes; i++) last[i] = buf[at + i];
    this.#lastFamily = family;
    this.#lastValue = best;
    return best;
  }
}
