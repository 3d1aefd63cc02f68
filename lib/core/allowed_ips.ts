/**
 * Longest-prefix match from IP prefixes to values (one binary trie per address family).
 * Lookups walk at most 32 or 128 nodes and never allocate.
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

  /** Maps the prefix `bytes/prefixLength` (4 or 16 bytes) to `value`, replacing any earlier one. */
  insert(bytes: Uint8Array, prefixLength: number, value: T): void {
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
    let node: Node<T> | undefined = family === 4 ? this.#v4 : this.#v6;
    const bits = family === 4 ? 32 : 128;
    let best = node.value;
    for (let bit = 0; bit < bits && node; bit++) {
      const one = (buf[at + (bit >> 3)] >> (7 - (bit & 7))) & 1;
      node = one ? node.one : node.zero;
      if (node?.value !== undefined) best = node.value;
    }
    return best;
  }
}
