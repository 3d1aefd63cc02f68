/**
 * Loopback tests of the poller over FFI UDP sockets (no root needed): a synchronous wait that
 * times out and one that sees a datagram, an async wait that `close` ends, a doorbell, and the
 * slice clock (read back from the kernel's `/proc/self/fdinfo`).
 * @module
 */
import assert from "node:assert/strict";
import { openPoller } from "./poller.ts";
import { internAddr, openFfiUdpSocket } from "./udp_linux.ts";
import { ownDescriptors } from "../lib/host/own_descriptors.ts";
import { unixListenerFd } from "../lib/host/unix_listener_fd.ts";

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

Deno.test("poller: the doorbell (a listening socket) rings in waitSync only", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/ctl.sock`;
  const listener = Deno.listen({ transport: "unix", path });
  const data = openFfiUdpSocket("127.0.0.1", 0);
  const doorbell = unixListenerFd(path);
  assert.ok(doorbell !== null);
  const poller = openPoller([data.fd], { doorbell });
  let client: Deno.UnixConn | undefined;
  try {
    assert.equal(poller.waitSync(10), false, "nobody knocked");
    assert.equal(poller.rang(), false);
    client = await Deno.connect({ transport: "unix", path });
    assert.equal(poller.waitSync(1000), true, "a pending connection makes the listener readable");
    assert.equal(poller.rang(), true);
    assert.equal(await poller.wait(20), false, "the thread-pool wait leaves the doorbell out");
    assert.equal(poller.rang(), false, "and says it did not ring");
    const accepted = await listener.accept();
    accepted.close();
    assert.equal(poller.waitSync(10), false, "accepted: quiet again");
    assert.equal(poller.rang(), false);
  } finally {
    client?.close();
    poller.close();
    data.close();
    listener.close();
    await Deno.remove(dir, { recursive: true });
  }
});

/** This process's timerfds: descriptor, and its `it_value` and `it_interval` lines. */
function timerfds(): { fd: number; value: string; interval: string }[] {
  return ownDescriptors().filter((d) => d.target.includes("timerfd")).map(({ fd }) => {
    const info = Deno.readTextFileSync(`/proc/self/fdinfo/${fd}`);
    const line = (key: string) => info.match(new RegExp(`^${key}: (.*)$`, "m"))?.[1] ?? "";
    return { fd, value: line("it_value"), interval: line("it_interval") };
  });
}

Deno.test("poller: a slice clock ends waitSync, ticks only until the poller parks", async () => {
  const a = openFfiUdpSocket("127.0.0.1", 0);
  const b = openFfiUdpSocket("127.0.0.1", 0);
  const before = new Set(timerfds().map((t) => t.fd));
  const poller = openPoller([b.fd], { sliceMs: 5 });
  try {
    const clock = timerfds().filter((t) => !before.has(t.fd));
    assert.equal(clock.length, 1, "one timerfd per poller with a slice clock");
    assert.equal(clock[0].interval, "(0, 0)", "not armed before the first slice");

    const started = performance.now();
    assert.equal(poller.waitSync(600_000), false, "a tick, not a datagram, ended the wait");
    assert.ok(performance.now() - started < 60_000, "the clock, not the 10-minute timeout");
    const [armed] = timerfds().filter((t) => t.fd === clock[0].fd);
    assert.equal(armed.interval, "(0, 5000000)", "armed with the slice as its period");

    const one = new Uint8Array([1, 2, 3, 4]);
    a.queue(one, one.length, internAddr("127.0.0.1", b.localAddr.port));
    a.flush();
    assert.equal(poller.waitSync(600_000), true);
    assert.equal(b.receiveBatch(), 1);
    assert.equal(poller.waitSync(600_000), false, "read empty again: the next tick");

    assert.equal(await poller.wait(20), false, "parked, and timed out");
    const [parked] = timerfds().filter((t) => t.fd === clock[0].fd);
    assert.deepEqual([parked.value, parked.interval], ["(0, 0)", "(0, 0)"], "disarmed");
    assert.equal(poller.waitSync(2), false, "a wait under one slice keeps its own timeout");
    const [short] = timerfds().filter((t) => t.fd === clock[0].fd);
    assert.equal(short.interval, "(0, 0)", "and leaves the clock off");
  } finally {
    poller.close();
    a.close();
    b.close();
  }
  assert.equal(timerfds().some((t) => !before.has(t.fd)), false, "close closed the clock");
});
