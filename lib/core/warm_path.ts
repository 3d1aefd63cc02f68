/**
 * Keeps the data path hot while the loop waits for the next packet.
 *
 * At rest (a ping every 10 ms) the work of one packet's hop took 10-25 µs against 3 µs under load,
 * measured between system calls: after a quiet millisecond the code and data of sealing, opening
 * and routing have left the caches of a vCPU that halted. `run` sends one small packet through
 * those same functions (route lookup, header, seal, counter check, open, replay window) with a
 * session of its own, so that the next real packet finds them warm. It changes no protocol
 * state: the session is never registered, its key is all zeros and its bytes never leave this
 * buffer, and drops it counts go to counters of its own. The engine calls it once per idle wake
 * while traffic is recent (docs/DATAPATH.md, "Warm path").
 * @module
 */
import type { AeadBackend } from "./aead.ts";
import type { AllowedIps } from "./allowed_ips.ts";
import { DATA_HEADER_BYTES, TAG_BYTES } from "./constants.ts";
import { checkCounter } from "./data_receive.ts";
import { type DropCounters, newDropCounters } from "./drops.ts";
import { routeOutbound } from "./route_outbound.ts";
import { Session } from "./session.ts";
import { writeDataHeader } from "./wire.ts";

/** Bytes of the stand-in packet: an IPv4 echo request of a default ping. */
const PACKET_BYTES = 84;

/** A private session and one packet buffer that exercise the data path without effects. */
export class WarmPath {
  /** Drops of the stand-in packet (never the device's). */
  readonly drops: DropCounters = newDropCounters();
  /** Packets that went all the way through (sealed, checked, opened, accepted). */
  runs = 0;
  readonly #session: Session;
  readonly #buf = new Uint8Array(DATA_HEADER_BYTES + PACKET_BYTES + TAG_BYTES);
  readonly #packet = standInPacket();

  constructor(backend: AeadBackend) {
    // Both directions share one all-zero key, so the receiver opens what the sender sealed.
    this.#session = new Session({
      backend,
      keys: { initiatorToResponder: new Uint8Array(32), responderToInitiator: new Uint8Array(32) },
      localIndex: 0,
      remoteIndex: 0,
      isInitiator: true,
      now: 0,
    });
  }

  /** One stand-in packet out through `allowedIps` and the seal, and back in through the open. */
  run<T>(allowedIps: AllowedIps<T>): void {
    const buf = this.#buf;
    const session = this.#session;
    buf.set(this.#packet, DATA_HEADER_BYTES);
    routeOutbound(buf, PACKET_BYTES, allowedIps, this.drops);
    const counter = session.takeCounter();
    writeDataHeader(buf, session.remoteIndex, counter);
    session.sender.seal(buf, DATA_HEADER_BYTES, PACKET_BYTES, counter);
    // The session's own clock stays at 0: it never ages out.
    if (checkCounter(buf, session, 0, this.drops) !== counter) return;
    if (!session.receiver.open(buf, DATA_HEADER_BYTES, PACKET_BYTES + TAG_BYTES, counter)) return;
    if (session.replay.accept(counter)) this.runs++;
  }

  /** Forgets the session's ciphers. */
  destroy(): void {
    this.#session.destroy();
  }
}

/** An IPv4 header (protocol ICMP, TEST-NET-1 addresses) followed by zeros. */
function standInPacket(): Uint8Array {
  const p = new Uint8Array(PACKET_BYTES);
  p.set([0x45, 0, 0, PACKET_BYTES, 0, 0, 0x40, 0, 64, 1, 0, 0, 192, 0, 2, 1, 192, 0, 2, 2]);
  return p;
}
