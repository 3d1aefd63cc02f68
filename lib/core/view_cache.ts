/**
 * Views of a few source buffers, kept so that copying `buf[at, at + length)` does not allocate a
 * new `subarray` per packet: packets come from a few fixed places (receive slots, the sealing
 * region) at the same offsets and usually the same sizes, so the last view of each buffer is
 * usually the one needed again.
 * @module
 */

/** Source buffers whose last view is kept before the cache starts over. */
const MAX_CACHED_VIEWS = 4096;

/** The last view made of each source buffer. */
export class ViewCache {
  readonly #views = new Map<Uint8Array, Uint8Array>();

  /** `buf.subarray(at, at + length)`, reusing the previous view of `buf` when it matches. */
  view(buf: Uint8Array, at: number, length: number): Uint8Array {
    const last = this.#views.get(buf);
    if (last && last.byteOffset === buf.byteOffset + at && last.length === length) return last;
    if (this.#views.size >= MAX_CACHED_VIEWS) this.#views.clear();
    const view = buf.subarray(at, at + length);
    this.#views.set(buf, view);
    return view;
  }
}
