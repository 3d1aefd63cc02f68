/**
 * UDP addresses for the FFI sockets: IP literals parsed and formatted without the resolver,
 * `sockaddr_in`/`sockaddr_in6` bytes, and interned address objects: the same object for the same
 * address, whose sockaddr is made once, so the hot path compares by identity and parses nothing.
 * @module
 */

import type { UdpAddr } from "../lib/engine/ports.ts";

export const AF_INET = 2;
export const AF_INET6 = 10;
export const SOCKADDR_IN_BYTES = 16;
export const SOCKADDR_IN6_BYTES = 28;

/** The interning table is cleared when it would grow beyond this many addresses. */
export const MAX_INTERNED_ADDRS = 65536;

/**
 * Where a datagram goes, as ready-made sockaddr bytes: `sockaddr_in6` (IPv4-mapped for IPv4) in
 * words 0-6 and, for IPv4, `sockaddr_in` in words 8-11.
 */
export interface Target {
  readonly v4: boolean;
  readonly words: Int32Array;
}

/** A `to` that is not an IP literal with a valid port: sends to it fail. */
export const INVALID_TARGET: Target = { v4: false, words: new Int32Array(0) };

/** Interned IPv4 addresses, keyed by `ip * 65536 + port` (ip as a big-endian u32). */
const v4Table = new Map<number, UdpAddr>();
/** Interned IPv6 addresses, keyed by canonical text, `#`, port. */
const v6Table = new Map<string, UdpAddr>();
/** The sockaddr of every address object seen: interned ones, and others passed to `queue`. */
const targets = new WeakMap<UdpAddr, Target>();

/**
 * A direct-mapped cache in front of the tables, so a source lookup on a hit compares five ints and
 * allocates nothing. Entry `e` holds the four native-order words of the (IPv4-mapped) IPv6
 * address and the port (-1: empty) at `5 * e`, and the interned object at `e`.
 */
const CACHE_BITS = 8;
const CACHE_SIZE = 1 << CACHE_BITS;
const cacheKeys = new Int32Array(CACHE_SIZE * 5).fill(-1);
const cacheAddrs: (UdpAddr | null)[] = new Array<UdpAddr | null>(CACHE_SIZE).fill(null);

/** Scratch for turning four address words into bytes. */
const scratchWords = new Int32Array(4);
const scratchBytes = new Uint8Array(scratchWords.buffer);
/** Word 2 of an IPv4-mapped address (`00 00 ff ff`) in native byte order. */
export const MAPPED_WORD = new Int32Array(new Uint8Array([0, 0, 0xff, 0xff]).buffer)[0];

/**
 * The shared address object for `hostname:port`: the same object for the same address (in any
 * spelling: `::FFFF:127.0.0.1`, `127.0.0.1`) until the table is cleared after growing past
 * {@link MAX_INTERNED_ADDRS}. The engine interns configured endpoints with it so they compare by
 * identity with `source(i)`. Throws a RangeError when `hostname` is not an IP literal (zone
 * suffixes such as `%eth0` are not supported) or the port is not 0-65535.
 */
export function internAddr(hostname: string, port: number): UdpAddr {
  checkPort(port);
  if (!parseIp(hostname, scratchBytes)) {
    throw new RangeError(`Not an IP literal: ${JSON.stringify(hostname)}`);
  }
  return internWords(scratchWords[0], scratchWords[1], scratchWords[2], scratchWords[3], port);
}

/** Cache slot for an address and port. */
function cacheSlot(w0: number, w1: number, w2: number, w3: number, port: number): number {
  return Math.imul(w0 ^ w1 ^ w2 ^ w3 ^ Math.imul(port, 0x85ebca6b), 0x9e3779b1) >>>
    (32 - CACHE_BITS);
}

/** The interned object for an address given as four native-order words of its IPv6 form. */
export function internWords(w0: number, w1: number, w2: number, w3: number, port: number): UdpAddr {
  const slot = cacheSlot(w0, w1, w2, w3, port);
  const k = slot * 5;
  if (
    cacheKeys[k + 4] === port && cacheKeys[k + 3] === w3 && cacheKeys[k + 2] === w2 &&
    cacheKeys[k + 1] === w1 && cacheKeys[k] === w0
  ) {
    return cacheAddrs[slot]!;
  }
  const addr = lookupOrAdd(w0, w1, w2, w3, port);
  cacheKeys[k] = w0;
  cacheKeys[k + 1] = w1;
  cacheKeys[k + 2] = w2;
  cacheKeys[k + 3] = w3;
  cacheKeys[k + 4] = port;
  cacheAddrs[slot] = addr;
  return addr;
}

/** The table's object for the address, adding it (with its sockaddr) when new. */
function lookupOrAdd(w0: number, w1: number, w2: number, w3: number, port: number): UdpAddr {
  scratchWords[0] = w0;
  scratchWords[1] = w1;
  scratchWords[2] = w2;
  scratchWords[3] = w3;
  const bytes = scratchBytes;
  const v4 = isMapped(bytes);
  let v4Key = 0;
  let v6Key = "";
  let found: UdpAddr | undefined;
  let hostname: string;
  if (v4) {
    v4Key = ((bytes[12] << 24 | bytes[13] << 16 | bytes[14] << 8 | bytes[15]) >>> 0) * 65536 + port;
    found = v4Table.get(v4Key);
    hostname = found ? "" : formatIpv4(bytes);
  } else {
    hostname = formatIpv6(bytes);
    v6Key = `${hostname}#${port}`;
    found = v6Table.get(v6Key);
  }
  if (found) return found;
  if (v4Table.size + v6Table.size >= MAX_INTERNED_ADDRS) clearInternTable();
  const addr: UdpAddr = Object.freeze({ hostname, port });
  targets.set(addr, makeTarget(bytes, port, v4));
  if (v4) v4Table.set(v4Key, addr);
  else v6Table.set(v6Key, addr);
  return addr;
}

/** Forgets every interned address (their sockaddrs stay cached for objects still in use). */
function clearInternTable(): void {
  v4Table.clear();
  v6Table.clear();
  cacheKeys.fill(-1);
  cacheAddrs.fill(null);
}

/** The sockaddr forms of a 16-byte (IPv4-mapped for IPv4) address and port. */
function makeTarget(address: Uint8Array, port: number, v4: boolean): Target {
  const bytes = new Uint8Array(48);
  writeSockaddr(bytes, address, port, AF_INET6);
  if (v4) writeSockaddr(bytes.subarray(32), address, port, AF_INET);
  return { v4, words: new Int32Array(bytes.buffer) };
}

/** The target of any address object: cached, or parsed once and cached for that object. */
export function targetOf(to: UdpAddr): Target {
  const known = targets.get(to);
  if (known !== undefined) return known;
  let target = INVALID_TARGET;
  if (isPort(to.port) && typeof to.hostname === "string" && parseIp(to.hostname, scratchBytes)) {
    const canonical = internWords(
      scratchWords[0],
      scratchWords[1],
      scratchWords[2],
      scratchWords[3],
      to.port,
    );
    target = targets.get(canonical) ?? INVALID_TARGET;
  }
  targets.set(to, target);
  return target;
}

export function isPort(port: number): boolean {
  return Number.isInteger(port) && port >= 0 && port <= 65535;
}

export function checkPort(port: number): void {
  if (!isPort(port)) throw new RangeError(`Port must be an integer from 0 to 65535, got ${port}`);
}

/** Writes a `sockaddr_in` or `sockaddr_in6` for a 16-byte address into `out`; returns its size. */
export function writeSockaddr(
  out: Uint8Array,
  address: Uint8Array,
  port: number,
  family: number,
): number {
  out.fill(0, 0, family === AF_INET ? SOCKADDR_IN_BYTES : SOCKADDR_IN6_BYTES);
  new Uint16Array(out.buffer, out.byteOffset, 1)[0] = family; // sa_family_t, native order.
  out[2] = port >> 8;
  out[3] = port & 0xff;
  if (family === AF_INET) {
    out.set(address.subarray(12, 16), 4);
    return SOCKADDR_IN_BYTES;
  }
  out.set(address, 8); // sin6_flowinfo and sin6_scope_id stay 0.
  return SOCKADDR_IN6_BYTES;
}

/** Reads a `sockaddr_in`/`sockaddr_in6` into a 16-byte (IPv4-mapped) address; returns the port. */
export function readSockaddr(sockaddr: Uint8Array, address: Uint8Array): number {
  const family = new Uint16Array(sockaddr.buffer, sockaddr.byteOffset, 1)[0];
  address.fill(0);
  if (family === AF_INET) {
    address[10] = 0xff;
    address[11] = 0xff;
    address.set(sockaddr.subarray(4, 8), 12);
  } else {
    address.set(sockaddr.subarray(8, 24));
  }
  return sockaddr[2] << 8 | sockaddr[3];
}

// ---- IP literals ----

/** True for `::ffff:a.b.c.d`. */
export function isMapped(address: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) if (address[i] !== 0) return false;
  return address[10] === 0xff && address[11] === 0xff;
}

/** Dotted-quad text of the last four bytes of a 16-byte address. */
export function formatIpv4(address: Uint8Array): string {
  return `${address[12]}.${address[13]}.${address[14]}.${address[15]}`;
}

/** RFC 5952 text: lowercase, no leading zeros, the longest run (2+) of zero groups as `::`. */
export function formatIpv6(address: Uint8Array): string {
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8;) {
    if ((address[2 * i] | address[2 * i + 1]) !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && (address[2 * j] | address[2 * j + 1]) === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  let text = "";
  for (let i = 0; i < 8; i++) {
    if (i === bestStart) {
      text += "::";
      i += bestLength - 1;
      continue;
    }
    if (text !== "" && !text.endsWith(":")) text += ":";
    text += (address[2 * i] << 8 | address[2 * i + 1]).toString(16);
  }
  return text;
}

/**
 * Parses an IPv4 or IPv6 literal into 16 bytes (IPv4 as `::ffff:a.b.c.d`); false when invalid.
 * IPv4 parts are decimal 0-255 without leading zeros; IPv6 may end in a dotted quad.
 */
export function parseIp(text: string, out: Uint8Array): boolean {
  out.fill(0);
  if (!text.includes(":")) {
    out[10] = 0xff;
    out[11] = 0xff;
    return parseIpv4(text, out, 12);
  }
  const halves = text.split("::");
  if (halves.length > 2) return false;
  const head = parseGroups(halves[0], halves.length === 1);
  const tail = halves.length === 2 ? parseGroups(halves[1], true) : [];
  if (head === null || tail === null) return false;
  if (halves.length === 1 ? head.length !== 8 : head.length + tail.length > 7) return false;
  head.forEach((group, g) => {
    out[2 * g] = group >> 8;
    out[2 * g + 1] = group & 0xff;
  });
  tail.forEach((group, g) => {
    const at = 8 - tail.length + g;
    out[2 * at] = group >> 8;
    out[2 * at + 1] = group & 0xff;
  });
  return true;
}

/**
 * The 16-bit groups of `a:b:c` (empty text: none); a trailing dotted quad counts as two groups and
 * is allowed only when `last` (nothing follows this text). Null when invalid.
 */
function parseGroups(text: string, last: boolean): number[] | null {
  if (text === "") return [];
  const parts = text.split(":");
  const groups: number[] = [];
  for (let p = 0; p < parts.length; p++) {
    const part = parts[p];
    if (last && p === parts.length - 1 && part.includes(".")) {
      const quad = new Uint8Array(4);
      if (!parseIpv4(part, quad, 0)) return null;
      groups.push(quad[0] << 8 | quad[1], quad[2] << 8 | quad[3]);
    } else if (/^[0-9a-fA-F]{1,4}$/.test(part)) {
      groups.push(parseInt(part, 16));
    } else {
      return null;
    }
  }
  return groups;
}

/** Parses `a.b.c.d` into `out[at..at+4)`; false when invalid. */
function parseIpv4(text: string, out: Uint8Array, at: number): boolean {
  const parts = text.split(".");
  if (parts.length !== 4) return false;
  for (let i = 0; i < 4; i++) {
    const part = parts[i];
    if (!/^(0|[1-9][0-9]{0,2})$/.test(part)) return false;
    const value = Number(part);
    if (value > 255) return false;
    out[at + i] = value;
  }
  return true;
}
