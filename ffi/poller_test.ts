/**
 * Loopback tests of the poller over FFI UDP sockets (no root needed): a synchronous wait that
 * times out and one that sees a datagram, and an async wait that `close` ends.
 * @module
 */
import assert from "node:assert/strict";
import { openPoller } from "./poller.ts";
import { internAddr, openFfiUdpSocket } from "./udp_linux.ts";

Deno.test("poller: waitSync times out, then reports a datagram that arrived", () => {
  const a = openFfiUdpSocket("127.0.0.1", 0);
  const b = openFfiUdpSocket("127.0.0.1", 0);
  const poller = openPoller([b.fd]);
  try {
    assert.equal(poller.waitSync(10), false, "nothing to read yet");
    const one = new Uint8Array([1, 2, 3, 4]);
    a.queue(one, one.length, internAddr("127.0.0.1", b.localAddr.port));
    a.flush();
    assert.equal(poller.waitSync(1000), true);
    assert.equal(b.receiveBatch(), 1);
    assert.equal(poller.waitSync(10), false, "read empty again");
  } finally {
    poller.close();
    a.close();
    b.close();
  }
});

Deno.test("poller: an async wait parked on the thread pool ends at once on close", async () => {
  const a = openFfiUdpSocket("127.0.0.1", 0);
  const poller = openPoller([a.fd]);
  try {
    const started = performance.now();
    const waiting = poller.wait(10_000);
    await new Promise((resolve) => setTimeout(resolve, 20));
    poller.close();
    assert.equal(await waiting, false);
    assert.ok(performance.now() - started < 5_000, "close ended the wait");
  } finally {
    a.close();
  }
});
