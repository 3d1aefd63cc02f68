/**
 * Loopback tests of the poller over FFI UDP sockets (no root needed): a synchronous wait that
 * times out and one that sees a datagram, an async wait that `close` ends, and a pass through the
 * thread pool that lets the event loop take in its own I/O.
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

/**
 * Yields to the event loop with `yieldOnce`, each time after about 1 ms of synchronous work (as
 * the busy engine loop does), until a datagram sent to a `Deno.listenDatagram` socket (by FFI,
 * after its receive is pending) has been received, at most `limit` times; returns the yields.
 */
async function yieldsUntilReceived(yieldOnce: () => Promise<void>, limit: number) {
  const receiver = Deno.listenDatagram({ hostname: "127.0.0.1", port: 0, transport: "udp" });
  const sender = openFfiUdpSocket("127.0.0.1", 0);
  let received = false;
  const receiving = receiver.receive().then(() => received = true);
  try {
    await new Promise((resolve) => setTimeout(resolve, 10)); // the receive waits on the socket
    const one = new Uint8Array([1]);
    sender.queue(one, 1, internAddr("127.0.0.1", (receiver.addr as Deno.NetAddr).port));
    sender.flush();
    let yields = 0;
    while (!received && yields < limit) {
      const until = performance.now() + 1;
      while (performance.now() < until) { /* a busy round */ }
      await yieldOnce();
      yields++;
    }
    return yields;
  } finally {
    sender.close();
    receiver.close();
    await receiving.catch(() => {});
  }
}

Deno.test("poller: pass lets the event loop take in its own I/O while a loop keeps it busy", async () => {
  const poller = openPoller([]);
  try {
    const immediate = () => new Promise<void>((resolve) => setImmediate(resolve));
    const withImmediate = await yieldsUntilReceived(immediate, 1_000);
    const withPass = await yieldsUntilReceived(() => poller.pass(), 1_000);
    console.log(
      `FIGURE yields until a datagram was taken in: setImmediate ${withImmediate}, pass ${withPass}`,
    );
    assert.ok(withPass <= 2, `received after ${withPass} passes`);
  } finally {
    poller.close();
  }
});
