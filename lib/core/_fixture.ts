/**
 * Test helpers of the protocol core: a session with all-zero keys (noble backend).
 */
import { nobleAead } from "./aead_noble.ts";
import { Session } from "./session.ts";

/** A session whose local and remote index are both `index`, created at `now`, zero keys. */
export function testSession(index: number, now: number, isInitiator = true): Session {
  const keys = {
    initiatorToResponder: new Uint8Array(32),
    responderToInitiator: new Uint8Array(32),
  };
  return new Session({
    backend: nobleAead,
    keys,
    localIndex: index,
    remoteIndex: index,
    isInitiator,
    now,
  });
}
