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
import { SharedCounter } from "./shared_counter.ts";

/** The memory a session shares with data plane threads: send counter and replay window. */
export interface SessionMemory {
  readonly counter: SharedArrayBuffer;
  readonly replay: SharedArrayBuffer;
}

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
  readonly replay: ReplayWindow;
  /** Restores counter order of striped packets (aggregate and adaptive modes). */
  readonly reorder: ReorderBuffer;
  readonly #counter: SharedCounter;
  /** True once the peer proved it holds the keys (always for the initiator). */
  confirmed: boolean;
  /**
   * Copies of the two data keys, kept (until `destroy`) only when the session is handed to data
   * plane workers, which build their own ciphers from them.
   */
  readonly keys?: SessionKeys;

  constructor(options: {
    backend: AeadBackend;
    keys: SessionKeys;
    localIndex: number;
    remoteIndex: number;
    isInitiator: boolean;
    now: number;
    /** Shared memory of this session (a worker's view of it); fresh when absent. */
    memory?: SessionMemory;
    /** Keep copies of the keys in `keys` (for workers). */
    keepKeys?: boolean;
  }) {
    const { keys, backend } = options;
    this.replay = new ReplayWindow(options.memory?.replay);
    this.reorder = new ReorderBuffer(this.replay);
    this.#counter = new SharedCounter(options.memory?.counter);
    if (options.keepKeys) {
      this.keys = {
        initiatorToResponder: keys.initiatorToResponder.slice(),
        responderToInitiator: keys.responderToInitiator.slice(),
      };
    }
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

  /** Next counter to send. */
  get sendCounter(): number {
    return this.#counter.value;
  }

  /** Takes the next counter to send (each once, across threads). */
  takeCounter(): number {
    return this.#counter.take();
  }

  /** What a worker needs to share this session's counter and window. */
  get memory(): SessionMemory {
    return { counter: this.#counter.memory, replay: this.replay.memory };
  }

  /** Age in ms at `now`. */
  age(now: number): number {
    return now - this.createdAt;
  }

  /** Forgets both keys. */
  destroy(): void {
    this.sender.destroy();
    this.receiver.destroy();
    this.keys?.initiatorToResponder.fill(0);
    this.keys?.responderToInitiator.fill(0);
  }
}
