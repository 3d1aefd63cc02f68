/**
 * The interface's side of `centipede reset-timestamp NAME PEER`: the peer forgets the newest
 * handshake timestamp it answered, so that its next initiation is answered even if the peer's
 * clock went back (docs/PROTOCOL.md, "Clocks").
 * @module
 */
import { decodeKey } from "../config/base64_key.ts";
import type { Device } from "../core/device.ts";

/** Forgets `peer`'s newest answered timestamp; a summary, or throws naming what is wrong. */
export function resetTimestamp(device: Device, peer: string): string {
  const key = decodeKey(peer);
  if (!key) throw new Error(`"${peer}" is not a base64 public key (44 characters)`);
  const found = device.peer(key);
  if (!found) throw new Error(`no peer ${peer} on this interface`);
  found.forgetTimestamp();
  return `peer ${found.name}: its next initiation will be answered whatever its timestamp`;
}
