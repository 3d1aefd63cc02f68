import assert from "node:assert/strict";
import type { Received } from "../engine/ports.ts";
import { openUdpSocket, openWildcardSockets, type UdpPathSocket, unmapIpv4 } from "./udp_socket.ts";

/** Two sockets on 127.0.0.1 with kernel-picked ports, closed after `body`. */
async function withPair(
  body: (a: UdpPathSocket, b: UdpPathSocket) => Promise<void>,
  maxSendsInFlight?: number,
): Promise<void> {
  const a = openUdpSocket("127.0.0.1", 0, { maxSendsInFlight });
  const b = openUdpSocket("127.0.0.1", 0);
  try {
    await body(a, b);
  } finally {
    a.close();
    b.close();
  }
}

/** Resolves with the datagram, or rejects after `ms` so a lost datagram cannot hang the test. */
async function receiveWithin(socket: UdpPathSocket, buf: Uint8Array, ms = 2000): Promise<Received> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error("no datagram within " + ms + " ms")), ms);
  });
  try {
    const received = await Promise.race([socket.receive(buf), timeout]);
    assert.ok(received !== null, "socket closed while receiving");
    return received;
  } finally {
    clearTimeout(timer);
  }
}

Deno.test("two sockets on 127.0.0.1 exchange datagrams", async () => {
  await withPair(async (a, b) => {
    assert.equal(a.localAddr.hostname, "127.0.0.1");
    assert.ok(a.localAddr.port > 0);
    assert.deepEqual(a.families, [4]);
    const buf = new Uint8Array(1500);
    assert.equal(a.send(new TextEncoder().encode("ping"), b.localAddr), true);
    const atB = await receiveWithin(b, buf);
    assert.equal(new TextDecoder().decode(buf.subarray(0, atB.length)), "ping");
    assert.deepEqual(atB.from, a.localAddr);
    assert.equal(b.send(new TextEncoder().encode("pong!"), atB.from), true);
    const atA = await receiveWithin(a, buf);
    assert.equal(new TextDecoder().decode(buf.subarray(0, atA.length)), "pong!");
    assert.deepEqual(atA.from, b.localAddr);
    assert.equal(a.stats.sent, 1);
    assert.equal(a.stats.sendErrors, 0);
  });
});

Deno.test("send copies its buffer: mutating it afterwards does not change the datagram", async () => {
  await withPair(async (a, b) => {
    const bytes = new Uint8Array([1, 2, 3, 4]);
    a.send(bytes, b.localAddr);
    bytes.fill(9);
    a.send(bytes.subarray(1, 3), b.localAddr);
    bytes.fill(7);
    const buf = new Uint8Array(64);
    const first = await receiveWithin(b, buf);
    assert.deepEqual([...buf.subarray(0, first.length)], [1, 2, 3, 4]);
    const second = await receiveWithin(b, buf);
    assert.deepEqual([...buf.subarray(0, second.length)], [9, 9]);
  });
});

Deno.test("a burst of sends arrives in order", async () => {
  await withPair(async (a, b) => {
    for (let i = 0; i < 50; i++) assert.equal(a.send(new Uint8Array([i]), b.localAddr), true);
    const buf = new Uint8Array(8);
    const order = [];
    for (let i = 0; i < 50; i++) {
      await receiveWithin(b, buf);
      order.push(buf[0]);
    }
    assert.deepEqual(order, Array.from({ length: 50 }, (_, i) => i));
  });
});

Deno.test("receive truncates a datagram longer than the buffer", async () => {
  await withPair(async (a, b) => {
    const bytes = Uint8Array.from({ length: 100 }, (_, i) => i);
    a.send(bytes, b.localAddr);
    const buf = new Uint8Array(10);
    const received = await receiveWithin(b, buf);
    assert.equal(received.length, 10);
    assert.deepEqual([...buf], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });
});

Deno.test("receive resolves null when the socket is closed, pending or later", async () => {
  const socket = openUdpSocket("127.0.0.1", 0);
  const pending = socket.receive(new Uint8Array(100));
  socket.close();
  assert.equal(await pending, null);
  assert.equal(await socket.receive(new Uint8Array(100)), null);
  assert.equal(socket.send(new Uint8Array(1), { hostname: "127.0.0.1", port: 9 }), false);
  socket.close(); // A second close does nothing.
});

Deno.test("send refuses beyond the in-flight cap and counts the drops", async () => {
  await withPair(async (a, b) => {
    const results = Array.from({ length: 10 }, (_, i) => a.send(new Uint8Array([i]), b.localAddr));
    assert.deepEqual(results, [true, true, true, true, false, false, false, false, false, false]);
    assert.equal(a.stats.sendDropped, 6);
    const buf = new Uint8Array(8);
    for (let i = 0; i < 4; i++) {
      await receiveWithin(b, buf);
      assert.equal(buf[0], i);
    }
    assert.equal(a.stats.sent, 4);
    assert.equal(a.send(new Uint8Array([42]), b.localAddr), true, "slots are released");
    await receiveWithin(b, buf);
    assert.equal(buf[0], 42);
  }, 4);
});

Deno.test("send errors are counted, never thrown or left unhandled", async () => {
  await withPair(async (a, b) => {
    assert.equal(a.send(new Uint8Array(4), { hostname: "::1", port: b.localAddr.port }), false);
    assert.equal(a.stats.sendErrors, 1);
    assert.equal(a.send(new Uint8Array(70000), b.localAddr), true); // EMSGSIZE, reported later.
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(a.stats.sendErrors, 2);
    assert.match(a.stats.lastSendError, /too long/i);
    a.send(new Uint8Array(4), b.localAddr);
    a.close(); // A send in flight at close must not reject unhandled.
    await new Promise((resolve) => setTimeout(resolve, 50));
  });
});

Deno.test("unmapIpv4 unmaps only IPv4-mapped IPv6 literals", () => {
  assert.equal(unmapIpv4("::ffff:10.1.2.3"), "10.1.2.3");
  assert.equal(unmapIpv4("::ffff:a01:203"), "::ffff:a01:203");
  assert.equal(unmapIpv4("fd00::1"), "fd00::1");
  assert.equal(unmapIpv4("10.1.2.3"), "10.1.2.3");
});

Deno.test("openWildcardSockets receives IPv4 and IPv6 on one port", async () => {
  const sockets = openWildcardSockets(0);
  const client4 = openUdpSocket("127.0.0.1", 0);
  const client6 = openUdpSocket("::1", 0);
  try {
    const port = sockets[0].localAddr.port;
    assert.ok(sockets.every((socket) => socket.localAddr.port === port));
    const families = sockets.flatMap((socket) => socket.families).sort();
    assert.deepEqual(families, [4, 6]);
    for (const [client, text] of [[client4, "four"], [client6, "six"]] as const) {
      const family = client === client4 ? 4 : 6;
      const server = sockets.find((socket) => socket.families.includes(family))!;
      client.send(new TextEncoder().encode(text), { hostname: client.localAddr.hostname, port });
      const buf = new Uint8Array(64);
      const received = await receiveWithin(server, buf);
      assert.equal(new TextDecoder().decode(buf.subarray(0, received.length)), text);
      assert.deepEqual(received.from, client.localAddr, "IPv4 sources are reported unmapped");
      server.send(new TextEncoder().encode("re:" + text), received.from);
      const reply = await receiveWithin(client, buf);
      assert.equal(new TextDecoder().decode(buf.subarray(0, reply.length)), "re:" + text);
    }
  } finally {
    for (const socket of [...sockets, client4, client6]) socket.close();
  }
});
