/**
 * One session: the pair of data keys a handshake produced, the send counter and the replay
 * window. A peer holds at most three: `next` (responder, until the initiator's first data
 * packet confirms it), `current` and `previous` (kept to open packets still in flight).
 * @module
 */
import type { Aead, AeadBackend } from "./aead.ts";
import type { SessionKeys } from "./handshake.ts";
import { ReorderBuffer } from "./reorder.ts";
import { ReplayWindow } from "./replay.ts";

/** Keys, indices, counter and replay window of one handshake's session. */
export class Session {
  /** Our index: peers put it in the header of data they send us. */
  readonly localIndex: number;
  /** The peer's index: we put it in the header of data we send. */
  readonly remoteIndex: number;
  readonly isInitiator: boolean;
  /** Monotonic ms when the handshake completed. */
  readonly createdAt: number;
  readonly sender: Aead;
  readonly receiver: Aead;
  readonly replay: ReplayWindow = new ReplayWindow();
  /** Restores counter order of striped packets (aggregate and adaptive modes). */
  readonly reorder: ReorderBuffer = new ReorderBuffer(this.replay);
  /** Next counter to send. */
  sendCounter = 0;
  /** True once the peer proved it holds the keys (always for the initiator). */
  confirmed: boolean;

  constructor(options: {
    backend: AeadBackend;
    keys: SessionKeys;
    localIndex: number;
    remoteIndex: number;
    isInitiator: boolean;
    now: number;
  }) {
    const { keys, backend } = options;
    this.localIndex = options.localIndex;
    this.remoteIndex = options.remoteIndex;
    this.isInitiator = options.isInitiator;
    this.createdAt = options.now;
    this.confirmed = options.isInitiator;
    const [send, receive] = options.isInitiator
      ? [keys.initiatorToResponder, keys.responderToInitiator]
      : [keys.responderToInitiator, keys.initiatorToResponder];
    this.sender = backend.create(send);
    this.receiver = backend.create(receive);
    send.fill(0);
    receive.fill(0);
  }

  /** Age in ms at `now`. */
  age(now: number): number {
    return now - this.createdAt;
  }

  /** Forgets both keys. */
  destroy(): void {
    this.sender.destroy();
    this.receiver.destroy();
  }
}
