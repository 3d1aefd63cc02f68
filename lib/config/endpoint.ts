/**
 * `Endpoint` values: `203.0.113.1:51820`, `[2001:db8::1]:51820` or `host.example:51820`.
 * IP literals are canonicalised; DNS names are checked for shape and resolved later by the caller.
 * @module
 */

import type { EndpointSpec } from "./config.ts";
import { formatIp, requireIp } from "./cidr.ts";

const PORT = /^[1-9][0-9]{0,4}$/;
const DNS_LABEL = /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

/** Parses an endpoint port: decimal 1-65535, no sign, no leading zeros; throws otherwise. */
function parsePort(text: string, endpoint: string): number {
  if (!PORT.test(text) || Number(text) > 65535) {
    throw new Error(`"${endpoint}": the port must be a decimal number from 1 to 65535`);
  }
  return Number(text);
}

/** True for a DNS name made of 1-63 character labels of letters, digits and inner hyphens. */
export function isDnsName(text: string): boolean {
  const name = text.endsWith(".") ? text.slice(0, -1) : text;
  if (name.length === 0 || name.length > 253) return false;
  const labels = name.split(".");
  if (labels.every((label) => /^[0-9]+$/.test(label))) return false;
  return labels.every((label) => DNS_LABEL.test(label));
}

function parseBracketed(text: string): EndpointSpec {
  const close = text.indexOf("]");
  if (close < 0) throw new Error(`"${text}": missing "]" after the IPv6 address`);
  const inner = text.slice(1, close);
  const rest = text.slice(close + 1);
  if (!rest.startsWith(":")) {
    throw new Error(`"${text}": expected ":port" after "]", e.g. [2001:db8::1]:51820`);
  }
  const bytes = requireIp(inner);
  if (bytes.length !== 16) throw new Error(`"${text}": brackets are only for IPv6 addresses`);
  return { host: formatIp(bytes), port: parsePort(rest.slice(1), text), family: 6, text };
}

function parsePlain(text: string): EndpointSpec {
  const colon = text.lastIndexOf(":");
  if (colon < 0) {
    throw new Error(`"${text}" has no port (expected host:port, e.g. 203.0.113.1:51820)`);
  }
  if (text.indexOf(":") !== colon) {
    throw new Error(`IPv6 endpoints need brackets: [addr]:port (got "${text}")`);
  }
  const host = text.slice(0, colon);
  const port = parsePort(text.slice(colon + 1), text);
  if (host === "") throw new Error(`"${text}": the host is missing before ":port"`);
  if (/^[0-9.]+$/.test(host)) {
    return { host: formatIp(requireIp(host)), port, family: 4, text };
  }
  if (!isDnsName(host)) {
    throw new Error(`"${text}": "${host}" is not a valid IP address or DNS name`);
  }
  return { host, port, family: 0, text };
}

/** Parses one endpoint (`ip:port`, `[ipv6]:port` or `name:port`); throws with a human reason. */
export function parseEndpoint(text: string): EndpointSpec {
  if (text === "") throw new Error("the endpoint is empty (expected host:port)");
  return text.startsWith("[") ? parseBracketed(text) : parsePlain(text);
}
