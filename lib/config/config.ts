/**
 * The typed configuration of one interface, as parsed from a WireGuard-style INI file.
 *
 * Everything here is already validated and decoded ("parse, don't validate"): keys are 32 raw bytes,
 * CIDRs are parsed, ports are in range. Code that applies a `Config` cannot meet a bad value.
 * @module
 */

/** An IP prefix such as `10.77.0.0/24` or `fd77::/64`. `bytes` holds 4 or 16 address bytes. */
export interface Cidr {
  readonly family: 4 | 6;
  /** Network address bytes with host bits cleared (4 or 16 bytes). */
  readonly bytes: Uint8Array;
  readonly prefixLength: number;
  /** Canonical text, e.g. `10.77.0.0/24`. */
  readonly text: string;
}

/** An interface address: the host address as written plus its prefix (`10.77.0.1/24`). */
export interface InterfaceAddress {
  readonly family: 4 | 6;
  /** The address as written, without prefix, e.g. `10.77.0.1`. */
  readonly address: string;
  readonly prefixLength: number;
  /** `address/prefixLength`. */
  readonly text: string;
}

/** A remote path end as written in `Endpoint`. `host` is an IP literal (no brackets) or a DNS name. */
export interface EndpointSpec {
  readonly host: string;
  readonly port: number;
  /** 4 or 6 for IP literals, 0 for a DNS name that is resolved at start-up. */
  readonly family: 0 | 4 | 6;
  /** As written, e.g. `[2001:db8::1]:51820`. */
  readonly text: string;
}

/** How a peer's packets are spread over its paths (`Mode =` in `[Peer]`). */
export type Mode = "duplicate" | "failover" | "aggregate" | "adaptive";

/** Every mode, in documentation order. */
export const MODES: readonly Mode[] = ["duplicate", "failover", "aggregate", "adaptive"];

/** One `Bind` item: a local address (one local path end) and its flags. */
export interface BindSpec {
  /** Canonical IP literal, no port. */
  readonly address: string;
  /** `backup`: a metered or expensive uplink, used only when the others are down or degraded. */
  readonly backup: boolean;
  /** `priority=N` (0-255, default 0): in failover, lower numbers are preferred before RTT. */
  readonly priority: number;
}

/** One `[Peer]` section. */
export interface PeerConfig {
  /** 32-byte Ed25519 public key. */
  readonly publicKey: Uint8Array;
  /** Base64 text of the public key (safe to log). */
  readonly publicKeyText: string;
  readonly endpoints: readonly EndpointSpec[];
  readonly allowedIps: readonly Cidr[];
  /** Seconds; 0 = off. */
  readonly persistentKeepaliveSeconds: number;
  /** `Mode =`; default `duplicate`. */
  readonly mode: Mode;
  /** `Redundancy = N` (duplicate and adaptive modes): duplicate on the N best paths; 0 = all. */
  readonly redundancy: number;
  /** Line of the `[Peer]` header, for messages. */
  readonly line: number;
}

/** The `[Interface]` section plus all peers. */
export interface Config {
  /** 32-byte Ed25519 private key (seed). Never log or echo it. */
  readonly privateKey: Uint8Array;
  readonly addresses: readonly InterfaceAddress[];
  /** 0 = pick a random port. */
  readonly listenPort: number;
  readonly mtu: number;
  /** Local addresses to listen on, one path end each. Empty = the wildcard address. */
  readonly binds: readonly BindSpec[];
  readonly preUp: readonly string[];
  readonly postUp: readonly string[];
  readonly preDown: readonly string[];
  readonly postDown: readonly string[];
  readonly peers: readonly PeerConfig[];
}

/** A configuration error: `file:line: key: message`. Never contains secret material. */
export class ConfigError extends Error {
  readonly file: string;
  readonly line: number;
  readonly key: string;
  constructor(file: string, line: number, key: string, message: string) {
    const where = line > 0 ? `${file}:${line}` : file;
    super(key ? `${where}: ${key}: ${message}` : `${where}: ${message}`);
    this.name = "ConfigError";
    this.file = file;
    this.line = line;
    this.key = key;
  }
}
