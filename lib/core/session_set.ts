/**
 * The sessions of one peer:
 *
 * ```
 *   responder:  handshake ──► next ──(first data from the initiator)──┐
 *   initiator:  handshake ───────────────────────────────────────────┴──► current ──► previous ──► retired
 * ```
 * `current` sends; `previous` still opens packets in flight after a rekey; `next` (responder side)
 * waits for the initiator to prove it holds the keys. A session is retired when it is replaced
 * or older than REJECT_AFTER_TIME_MS.
 * @module
 */
import { REJECT_AFTER_TIME_MS } from "./constants.ts";
import type { Session } from "./session.ts";

/** Current, previous and next session, with the rules that move them. */
export class SessionSet {
  current?: Session;
  previous?: Session;
  next?: Session;
  readonly #retire: (session: Session) => void;

  /** `retire` forgets a session for good (unregister, destroy keys). */
  constructor(retire: (session: Session) => void) {
    this.#retire = retire;
  }

  /** Makes `session` current; the old current becomes previous, the old previous is retired. */
  install(session: Session): void {
    if (this.previous) this.#retire(this.previous);
    this.previous = this.current;
    this.current = session;
  }

  /** A responder's new, unconfirmed session (replacing an older unconfirmed one). */
  setNext(session: Session): void {
    if (this.next) this.#retire(this.next);
    this.next = session;
  }

  /** The initiator used `next`: it becomes current. */
  confirmNext(): Session {
    const session = this.next!;
    session.confirmed = true;
    this.next = undefined;
    this.install(session);
    return session;
  }

  /** Retires every session older than REJECT_AFTER_TIME_MS. */
  expire(now: number): void {
    for (const which of SLOTS) {
      const s = this[which];
      if (s && s.age(now) >= REJECT_AFTER_TIME_MS) {
        this[which] = undefined;
        this.#retire(s);
      }
    }
  }

  /** Calls `fn` for each session held. */
  forEach(fn: (session: Session) => void): void {
    for (const which of SLOTS) {
      const s = this[which];
      if (s) fn(s);
    }
  }

  /** Retires all. */
  clear(): void {
    this.forEach((s) => this.#retire(s));
    this.previous = this.current = this.next = undefined;
  }
}

const SLOTS = ["previous", "current", "next"] as const;
