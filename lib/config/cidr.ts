/**
 * IPv4 and IPv6 addresses and prefixes: strict parsing of IP literals and CIDRs, canonical
 * formatting (RFC 5952 for IPv6) and containment tests. Pure: text in, values out.
 * @module
 */

import type { Cidr, InterfaceAddress } from "./config.ts";

/** The outcome of reading an IP literal: its bytes or a human reason why it is not one. */
type IpRead = { readonly bytes: Uint8Array } | { readonly reason: string };

/** A CIDR together with whether the text had host bits set (they were cleared). */
export interface ParsedCidr {
  readonly cidr: Cidr;
  readonly hostBitsSet: boolean;
}

const DECIMAL = /^(0|[1-9][0-9]*)$/;
const HEX_GROUP = /^[0-9a-fA-F]{1,4}$/;

function readIpv4(text: string): IpRead {
  const parts = text.split(".");
  if (parts.length !== 4) return { reason: "an IPv4 address has 4 dot-separated numbers" };
  const bytes = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const part = parts[i];
    if (!/^[0-9]{1,3}$/.test(part)) return { reason: "each IPv4 number must be decimal 0-255" };
    if (!DECIMAL.test(part)) return { reason: `leading zeros are not allowed ("${part}")` };
    const value = Number(part);
    if (value > 255) return { reason: `${value} is larger than 255` };
    bytes[i] = value;
  }
  return { bytes };
}

function readIpv6Groups(groups: string[], last: boolean): number[] | string {
  const out: number[] = [];
  for (let i = 0; i < groups.length; i++) {
    const group = groups[i];
    if (last && i === groups.length - 1 && group.includes(".")) {
      const v4 = readIpv4(group);
      if ("reason" in v4) return `embedded IPv4 "${group}": ${v4.reason}`;
      out.push((v4.bytes[0] << 8) | v4.bytes[1], (v4.bytes[2] << 8) | v4.bytes[3]);
    } else if (HEX_GROUP.test(group)) {
      out.push(parseInt(group, 16));
    } else if (group.includes(".")) {
      return "an embedded IPv4 address may only end the address";
    } else {
      return group === "" ? 'stray ":"' : `"${group}" is not a group of 1-4 hex digits`;
    }
  }
  return out;
}

function readIpv6(text: string): IpRead {
  if (text.includes("%")) return { reason: "zone indexes (%...) are not supported" };
  const halves = text.split("::");
  if (halves.length > 2) return { reason: '"::" may appear only once' };
  const compressed = halves.length === 2;
  const headText = halves[0];
  const tailText = compressed ? halves[1] : "";
  const head = readIpv6Groups(headText === "" ? [] : headText.split(":"), !compressed);
  if (typeof head === "string") return { reason: head };
  const tail = readIpv6Groups(tailText === "" ? [] : tailText.split(":"), true);
  if (typeof tail === "string") return { reason: tail };
  const count = head.length + tail.length;
  if (!compressed && count !== 8) return { reason: "an IPv6 address has 8 groups (or uses ::)" };
  if (compressed && count > 7) return { reason: 'too many groups for an address with "::"' };
  const groups = [...head, ...new Array<number>(8 - count).fill(0), ...tail];
  const bytes = new Uint8Array(16);
  groups.forEach((g, i) => {
    bytes[2 * i] = g >> 8;
    bytes[2 * i + 1] = g & 0xff;
  });
  return { bytes };
}

function readIp(text: string): IpRead {
  if (text.startsWith("[")) return { reason: "brackets are not allowed here" };
  if (/^[0-9.]+:[0-9]*$/.test(text)) return { reason: "a port is not allowed here" };
  if (text.includes(":")) return readIpv6(text);
  if (/^[0-9.]+$/.test(text)) return readIpv4(text);
  return { reason: "not an IPv4 or IPv6 address" };
}

/** Parses an IPv4 or IPv6 literal to 4 or 16 bytes, or undefined when it is not one. */
export function parseIp(text: string): Uint8Array | undefined {
  const read = readIp(text);
  return "bytes" in read ? read.bytes : undefined;
}

/** Parses an IPv4 or IPv6 literal to 4 or 16 bytes; throws an Error with a human reason. */
export function requireIp(text: string): Uint8Array {
  const read = readIp(text);
  if ("reason" in read) throw new Error(`"${text}" is not a valid IP address: ${read.reason}`);
  return read.bytes;
}

function formatIpv6(bytes: Uint8Array): string {
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((bytes[i] << 8) | bytes[i + 1]);
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return `::ffff:${formatIp(bytes.subarray(12))}`;
  }
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8;) {
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) [bestStart, bestLength] = [i, j - i];
    i = j > i ? j : i + 1;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(":");
  const left = hex.slice(0, bestStart).join(":");
  const right = hex.slice(bestStart + bestLength).join(":");
  return `${left}::${right}`;
}

/** Formats 4 or 16 address bytes as canonical text (dotted quad, or RFC 5952 IPv6). */
export function formatIp(bytes: Uint8Array): string {
  if (bytes.length === 4) return bytes.join(".");
  if (bytes.length === 16) return formatIpv6(bytes);
  throw new Error(`an IP address has 4 or 16 bytes, not ${bytes.length}`);
}

/** Returns a copy of `bytes` with every bit after the first `prefixLength` cleared. */
function maskBytes(bytes: Uint8Array, prefixLength: number): Uint8Array {
  const out = new Uint8Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) {
    const keep = Math.max(0, Math.min(8, prefixLength - 8 * i));
    out[i] = bytes[i] & ((0xff00 >> keep) & 0xff);
  }
  return out;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((value, i) => value === b[i]);
}

/** Builds a Cidr from address bytes and a prefix length, clearing the host bits. */
export function cidrFromBytes(bytes: Uint8Array, prefixLength: number): Cidr {
  if (bytes.length !== 4 && bytes.length !== 16) {
    throw new Error(`an IP address has 4 or 16 bytes, not ${bytes.length}`);
  }
  const max = bytes.length * 8;
  if (!Number.isInteger(prefixLength) || prefixLength < 0 || prefixLength > max) {
    throw new Error(`prefix length must be 0-${max}, not ${prefixLength}`);
  }
  const network = maskBytes(bytes, prefixLength);
  const family = bytes.length === 4 ? 4 : 6;
  return { family, bytes: network, prefixLength, text: `${formatIp(network)}/${prefixLength}` };
}

/** Splits `addr[/prefix]` into bytes and prefix length (default /32 or /128); throws on error. */
function readPrefixed(text: string): { bytes: Uint8Array; prefixLength: number } {
  const parts = text.split("/");
  if (parts.length > 2) throw new Error(`"${text}" is not a CIDR (expected address/prefix)`);
  const read = readIp(parts[0]);
  if ("reason" in read) {
    throw new Error(`"${text}" is not a valid address: ${read.reason}`);
  }
  const max = read.bytes.length * 8;
  if (parts.length === 1) return { bytes: read.bytes, prefixLength: max };
  const prefix = parts[1];
  if (!DECIMAL.test(prefix) || Number(prefix) > max) {
    const family = max === 32 ? "IPv4" : "IPv6";
    throw new Error(`"${text}": the prefix length must be a decimal number 0-${max} for ${family}`);
  }
  return { bytes: read.bytes, prefixLength: Number(prefix) };
}

/** Parses a CIDR and reports whether host bits had to be cleared; throws with a human reason. */
export function parseCidrDetailed(text: string): ParsedCidr {
  const { bytes, prefixLength } = readPrefixed(text);
  const cidr = cidrFromBytes(bytes, prefixLength);
  return { cidr, hostBitsSet: !sameBytes(cidr.bytes, bytes) };
}

/** Parses `10.77.0.0/24`, `fd77::/64` or a bare address (/32, /128); host bits are cleared. */
export function parseCidr(text: string): Cidr {
  return parseCidrDetailed(text).cidr;
}

/** Parses an interface address such as `10.77.0.1/24` (no prefix means /32 or /128). */
export function parseInterfaceAddress(text: string): InterfaceAddress {
  const { bytes, prefixLength } = readPrefixed(text);
  const address = formatIp(bytes);
  const family = bytes.length === 4 ? 4 : 6;
  return { family, address, prefixLength, text: `${address}/${prefixLength}` };
}

/** The connected prefix of an interface address: `10.77.0.1/24` gives `10.77.0.0/24`. */
export function interfaceNetwork(address: InterfaceAddress): Cidr {
  return parseCidr(address.text);
}

/** True when the address bytes (4 or 16) lie inside the prefix; false across families. */
export function cidrContainsIp(cidr: Cidr, bytes: Uint8Array): boolean {
  if (bytes.length !== cidr.bytes.length) return false;
  return sameBytes(maskBytes(bytes, cidr.prefixLength), cidr.bytes);
}

/** True when every address of `inner` is also in `outer` (same family, shorter or equal prefix). */
export function cidrContains(outer: Cidr, inner: Cidr): boolean {
  return outer.family === inner.family && outer.prefixLength <= inner.prefixLength &&
    cidrContainsIp(outer, inner.bytes);
}
