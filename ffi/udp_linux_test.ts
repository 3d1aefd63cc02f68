/**
 * Loopback tests of the FFI UDP socket (no root needed): batches both ways, source interning,
 * IPv6 and dual-stack, error paths, close, the async `PathSocket` receive, and a 200k-datagram run
 * that checks nothing is allocated off-heap per datagram.
 * @module
 */

import assert from "node:assert/strict";
import type { UdpAddr } from "../lib/engine/ports.ts";
import { type FfiUdpSocket, internAddr, openFfiUdpSocket } from "./udp_linux.ts";
import { OsError } from "./os_error.ts";

/** Opens sockets, runs `body`, and closes them all (even when it throws). */
async function withSockets(
  hosts: readonly string[],
  body: (...sockets: FfiUdpSocket[]) => Promise<void> | void,
): Promise<void> {
  const sockets: FfiUdpSocket[] = [];
  try {
    for (const host of hosts) sockets.push(openFfiUdpSocket(host, 0));
    await body(...sockets);
  } finally {
    for (const socket of sockets) socket.close();
  }
}

/** A received datagram, copied out of its slot. */
interface Got {
  readonly from: UdpAddr;
  readonly bytes: Uint8Array;
}

/** Receives batches until `count` datagrams arrived; fails after `ms` without progress. */
async function drain(socket: FfiUdpSocket, count: number, ms = 2000): Promise<Got[]> {
  const got: Got[] = [];
  let deadline = Date.now() + ms;
  while (got.length < count) {
    const n = socket.receiveBatch();
    for (let i = 0; i < n; i++) {
      got.push({
        from: socket.source(i),
        bytes: socket.datagram(i).slice(0, socket.length(i)),
      });
    }
    if (n > 0) {
      deadline = Date.now() + ms;
      continue;
    }
    if (Date.now() > deadline) {
      throw new Error(`only ${got.length} of ${count} datagrams arrived within ${ms} ms`);
    }
    await socket.waitReadable(50);
  }
  return got;
}

/** Datagram `i` of a test run: a 4-byte index then a pattern; `size` bytes (at least 4). */
function pattern(i: number, size: number): Uint8Array {
  const bytes = new Uint8Array(size);
  for (let j = 0; j < size; j++) bytes[j] = (i * 7 + j) & 0xff;
  new DataView(bytes.buffer).setUint32(0, i);
  return bytes;
}

/** The index written by {@link pattern}. */
function indexOf(bytes: Uint8Array): number {
  return new DataView(bytes.buffer, bytes.byteOffset).getUint32(0);
}

/** Rejects when `promise` does not settle within `ms`. */
async function within<T>(promise: Promise<T>, ms = 2000): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`not settled within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

Deno.test("127.0.0.1: 100 datagrams of varied sizes arrive whole and in order", async () => {
  await withSockets(["127.0.0.1", "127.0.0.1"], async (a, b) => {
    assert.deepEqual(a.families, [4]);
    assert.equal(a.batch, 32);
    const to = internAddr("127.0.0.1", b.localAddr.port);
    const sizes = Array.from({ length: 100 }, (_, i) => 4 + (i * 397) % 2045); // 4..2048 bytes.
    const sent = sizes.map((size, i) => pattern(i, size));
    // Queue from one big buffer with an explicit length, the engine's usual call.
    const scratch = new Uint8Array(4096);
    let flushed = 0;
    for (const bytes of sent) {
      scratch.set(bytes);
      assert.equal(a.queue(scratch, bytes.length, to), true);
    }
    flushed += a.flush();
    assert.equal(a.stats.sent, 100);
    assert.equal(flushed, 100 - 3 * 32, "three full batches flushed themselves");
    assert.equal(a.stats.sendErrors, 0);

    const got = await drain(b, 100);
    assert.equal(b.stats.received, 100);
    assert.equal(b.stats.receiveTruncated, 0);
    got.forEach((datagram, i) => {
      assert.equal(datagram.from, internAddr("127.0.0.1", a.localAddr.port));
      assert.equal(datagram.from.hostname, "127.0.0.1");
      assert.equal(datagram.from.port, a.localAddr.port);
      assert.deepEqual(datagram.bytes, sent[i], `datagram ${i}`);
    });
  });
});

Deno.test("runs of equal datagrams go out segmented (UDP_SEGMENT) and arrive as sent", async () => {
  await withSockets(["127.0.0.1", "127.0.0.1", "127.0.0.1"], async (a, b, c) => {
    const toB = internAddr("127.0.0.1", b.localAddr.port);
    const toC = internAddr("127.0.0.1", c.localAddr.port);
    // Runs as the engine makes them: TSO segments of one size, a short tail, another path.
    const plan: [UdpAddr, number][] = [];
    for (let i = 0; i < 12; i++) plan.push([toB, 1400]);
    plan.push([toB, 600], [toB, 1400], [toC, 1400], [toC, 1400], [toB, 1400], [toB, 90]);
    for (let i = 0; i < 10; i++) plan.push([toC, 1200]);
    const sent = plan.map(([, size], i) => pattern(i, size));
    plan.forEach(([to], i) => assert.equal(a.queue(sent[i], sent[i].length, to), true));
    assert.equal(a.flush(), plan.length);
    assert.equal(a.stats.sent, plan.length);
    assert.equal(a.stats.sendErrors + a.stats.sendDropped, 0);
    // [12 + 600], [1400 + 1400] to C, [1400 + 90] to B, [10 x 1200] to C, the lone 1400 to B.
    assert.equal(a.stats.segmentedSends, 4);
    const forB = plan.map((p, i) => [p, i] as const).filter(([[to]]) => to === toB);
    const forC = plan.map((p, i) => [p, i] as const).filter(([[to]]) => to === toC);
    const gotB = await drain(b, forB.length);
    const gotC = await drain(c, forC.length);
    assert.deepEqual(gotB.map((g) => g.bytes), forB.map(([, i]) => sent[i]));
    assert.deepEqual(gotC.map((g) => g.bytes), forC.map(([, i]) => sent[i]));
    // The restored headers still send one by one correctly.
    assert.equal(a.send(pattern(99, 50), toB), true);
    assert.deepEqual((await drain(b, 1))[0].bytes, pattern(99, 50));
  });
});

Deno.test("receive coalescing (UDP_GRO): a segmented burst is indexed datagram by datagram", async () => {
  await withSockets(["127.0.0.1"], async (a) => {
    const b = openFfiUdpSocket("127.0.0.1", 0, { receiveCoalescing: true });
    try {
      const toB = internAddr("127.0.0.1", b.localAddr.port);
      const sizes = [...new Array(20).fill(1200), 500, ...new Array(6).fill(900), 77];
      const sent = sizes.map((size, i) => pattern(i, size));
      for (let round = 0; round < 3; round++) {
        for (const bytes of sent) assert.equal(a.queue(bytes, bytes.length, toB), true);
        a.flush();
        const got = await drain(b, sent.length);
        assert.deepEqual(got.map((g) => g.bytes), sent, `round ${round}`);
        for (const g of got) assert.equal(g.from, internAddr("127.0.0.1", a.localAddr.port));
      }
      assert.ok(a.stats.segmentedSends >= 3);
      assert.ok(b.stats.coalescedReceives >= 3, `coalesced ${b.stats.coalescedReceives}`);
      assert.equal(b.stats.received, 3 * sent.length);
      assert.equal(b.stats.receiveTruncated, 0);
      // Single datagrams still arrive alone.
      assert.equal(a.send(pattern(7, 1500), toB), true);
      assert.deepEqual((await drain(b, 1))[0].bytes, pattern(7, 1500));
    } finally {
      b.close();
    }
  });
});

Deno.test("two senders interleaved: order per source holds, sources are interned", async () => {
  await withSockets(["127.0.0.1", "127.0.0.1", "127.0.0.1"], async (a, c, b) => {
    const to = { hostname: "127.0.0.1", port: b.localAddr.port }; // Not interned: cached once.
    for (let i = 0; i < 60; i++) {
      const sender = i % 3 === 0 ? c : a;
      assert.equal(sender.queue(pattern(i, 64 + i), 64 + i, to), true);
      if (i % 10 === 9) {
        a.flush();
        c.flush();
      }
    }
    const got = await drain(b, 60);
    const fromA = internAddr("127.0.0.1", a.localAddr.port);
    const fromC = internAddr("::ffff:127.0.0.1", c.localAddr.port); // Any spelling: same object.
    const orderA: number[] = [];
    const orderC: number[] = [];
    for (const { from, bytes } of got) {
      assert.ok(from === fromA || from === fromC, `unexpected source ${JSON.stringify(from)}`);
      const i = indexOf(bytes);
      assert.deepEqual(bytes, pattern(i, 64 + i));
      (from === fromA ? orderA : orderC).push(i);
    }
    assert.deepEqual(orderA, [...Array(60).keys()].filter((i) => i % 3 !== 0));
    assert.deepEqual(orderC, [...Array(60).keys()].filter((i) => i % 3 === 0));
    assert.ok(Object.isFrozen(fromA));
    assert.deepEqual({ ...fromA }, { hostname: "127.0.0.1", port: a.localAddr.port });
  });
});

Deno.test("source(i) is the same object across batches for the same sender", async () => {
  await withSockets(["127.0.0.1", "127.0.0.1"], async (a, b) => {
    const to = internAddr("127.0.0.1", b.localAddr.port);
    const seen = new Set<UdpAddr>();
    for (let round = 0; round < 5; round++) {
      for (let i = 0; i < 10; i++) a.queue(pattern(i, 32), 32, to);
      a.flush();
      for (const { from } of await drain(b, 10)) seen.add(from);
    }
    assert.equal(seen.size, 1);
    assert.equal([...seen][0], internAddr("127.0.0.1", a.localAddr.port));
    // Replying to the interned source needs no parsing and reaches the sender.
    b.queue(pattern(1, 10), 10, [...seen][0]);
    assert.equal(b.flush(), 1);
    const [reply] = await drain(a, 1);
    assert.equal(reply.from, to);
  });
});

Deno.test("internAddr canonicalises spellings and rejects non-literals", () => {
  assert.equal(internAddr("2001:DB8:0:0:0:0:0:1", 51820), internAddr("2001:db8::1", 51820));
  assert.equal(internAddr("2001:db8::1", 51820).hostname, "2001:db8::1");
  assert.notEqual(internAddr("2001:db8::1", 51820), internAddr("2001:db8::1", 51821));
  assert.equal(internAddr("::ffff:10.0.0.1", 1), internAddr("10.0.0.1", 1));
  assert.equal(internAddr("::ffff:10.0.0.1", 1).hostname, "10.0.0.1");
  assert.equal(internAddr("1:0:0:2:0:0:0:3", 1).hostname, "1:0:0:2::3");
  assert.equal(internAddr("0:0:0:0:0:0:0:0", 1).hostname, "::");
  for (
    const bad of ["localhost", "1.2.3", "1.2.3.256", "01.2.3.4", "1::2::3", "fe80::1%eth0", ""]
  ) {
    assert.throws(() => internAddr(bad, 1), RangeError, bad);
  }
  assert.throws(() => internAddr("1.2.3.4", 65536), RangeError);
});

Deno.test("IPv6 ::1 sockets exchange datagrams", async () => {
  await withSockets(["::1", "::1"], async (a, b) => {
    assert.deepEqual(a.families, [6]);
    assert.equal(a.localAddr.hostname, "::1");
    const to = internAddr("::1", b.localAddr.port);
    for (let i = 0; i < 40; i++) assert.equal(a.queue(pattern(i, 100 + i), 100 + i, to), true);
    assert.equal(a.flush(), 40 - 32);
    const got = await drain(b, 40);
    got.forEach(({ from, bytes }, i) => {
      assert.equal(from, internAddr("::1", a.localAddr.port));
      assert.equal(from.hostname, "::1");
      assert.deepEqual(bytes, pattern(i, 100 + i));
    });
    // IPv4 destinations are refused by a socket that only has IPv6.
    assert.equal(a.queue(pattern(0, 8), 8, internAddr("127.0.0.1", 9)), false);
    assert.match(a.stats.lastSendError, /cannot send to IPv4/);
  });
});

Deno.test("dual-stack :: receives from IPv4 as 127.0.0.1 and replies over IPv4", async () => {
  await withSockets(["::", "127.0.0.1", "::1"], async (dual, v4, v6) => {
    assert.deepEqual(dual.families, [6, 4]);
    assert.equal(dual.localAddr.hostname, "::");
    assert.equal(
      v4.send(pattern(1, 20), { hostname: "127.0.0.1", port: dual.localAddr.port }),
      true,
    );
    assert.equal(v6.send(pattern(2, 30), { hostname: "::1", port: dual.localAddr.port }), true);
    const got = await drain(dual, 2);
    const fromV4 = got.find((g) => indexOf(g.bytes) === 1)!;
    const fromV6 = got.find((g) => indexOf(g.bytes) === 2)!;
    assert.equal(fromV4.from, internAddr("127.0.0.1", v4.localAddr.port));
    assert.equal(fromV4.from.hostname, "127.0.0.1");
    assert.equal(fromV6.from, internAddr("::1", v6.localAddr.port));
    // Replies to both sources from the one dual-stack socket.
    assert.equal(dual.send(pattern(3, 40), fromV4.from), true);
    assert.equal(dual.send(pattern(4, 50), fromV6.from), true);
    const [atV4] = await drain(v4, 1);
    const [atV6] = await drain(v6, 1);
    assert.deepEqual(atV4.bytes, pattern(3, 40));
    assert.equal(atV4.from, internAddr("127.0.0.1", dual.localAddr.port));
    assert.deepEqual(atV6.bytes, pattern(4, 50));
    assert.equal(atV6.from, internAddr("::1", dual.localAddr.port));
  });
});

Deno.test("port 0 picks a port; a taken port fails with EADDRINUSE; bad options throw", () => {
  const a = openFfiUdpSocket("127.0.0.1", 0);
  try {
    assert.ok(a.localAddr.port > 0 && a.localAddr.port < 65536);
    assert.equal(a.localAddr.hostname, "127.0.0.1");
    assert.ok(a.fd >= 0);
    assert.ok(a.receiveBufferBytes > 0 && a.sendBufferBytes > 0);
    assert.throws(
      () => openFfiUdpSocket("127.0.0.1", a.localAddr.port),
      (error: unknown) => error instanceof OsError && error.errnoName === "EADDRINUSE",
    );
  } finally {
    a.close();
  }
  // With SO_REUSEPORT on both, two sockets share a port.
  const r1 = openFfiUdpSocket("127.0.0.1", 0, { reusePort: true });
  try {
    const r2 = openFfiUdpSocket("127.0.0.1", r1.localAddr.port, { reusePort: true });
    assert.equal(r2.localAddr.port, r1.localAddr.port);
    r2.close();
  } finally {
    r1.close();
  }
  assert.throws(() => openFfiUdpSocket("localhost", 0), RangeError);
  assert.throws(() => openFfiUdpSocket("127.0.0.1", -1), RangeError);
  assert.throws(() => openFfiUdpSocket("127.0.0.1", 0, { batch: 0 }), RangeError);
  assert.throws(() => openFfiUdpSocket("127.0.0.1", 0, { maxDatagramBytes: 65536 }), RangeError);
});

Deno.test("sends to bad or unreachable addresses return false and never throw", async () => {
  await withSockets(["127.0.0.1", "127.0.0.1"], async (a, b) => {
    const good = internAddr("127.0.0.1", b.localAddr.port);
    const bytes = pattern(0, 16);
    assert.equal(a.send(bytes, { hostname: "not-an-ip", port: 1 }), false);
    assert.equal(a.send(bytes, { hostname: "127.0.0.1", port: 70000 }), false);
    assert.equal(a.send(bytes, internAddr("::1", 9)), false); // IPv6 from an IPv4 socket.
    assert.equal(a.send(bytes, internAddr("127.0.0.1", 0)), false); // EINVAL from the kernel.
    assert.equal(a.stats.sendErrors, 4);
    assert.match(a.stats.lastSendError, /EINVAL/);
    a.send(bytes, internAddr("192.0.2.1", 9)); // TEST-NET-1: may or may not have a route.
    a.send(bytes, internAddr("255.255.255.255", 9)); // Broadcast without SO_BROADCAST: EACCES.

    // A refused datagram in the middle of a batch does not stop the others.
    const before = a.stats.sendErrors;
    a.queue(pattern(1, 10), 10, good);
    a.queue(pattern(2, 10), 10, internAddr("127.0.0.1", 0));
    a.queue(pattern(3, 10), 10, good);
    assert.equal(a.flush(), 2);
    assert.equal(a.stats.sendErrors, before + 1);
    const got = await drain(b, 2);
    assert.deepEqual(got.map((g) => indexOf(g.bytes)), [1, 3]);

    // Too big for a slot, or a length past the bytes: refused before the kernel.
    assert.equal(a.queue(new Uint8Array(4096), 2049, good), false);
    assert.equal(a.queue(new Uint8Array(8), 9, good), false);
    assert.match(a.stats.lastSendError, /length/);
  });
});

Deno.test("long datagrams are cut to the slot and counted; nextSendSlot skips the copy", async () => {
  const small = openFfiUdpSocket("127.0.0.1", 0, { maxDatagramBytes: 100, batch: 4 });
  const big = openFfiUdpSocket("127.0.0.1", 0);
  try {
    assert.equal(big.send(pattern(0, 150), small.localAddr), true);
    const [cut] = await drain(small, 1);
    assert.equal(cut.bytes.length, 100);
    assert.deepEqual(cut.bytes, pattern(0, 150).subarray(0, 100));
    assert.equal(small.stats.receiveTruncated, 1);

    const slot = small.nextSendSlot();
    assert.equal(slot.length, 100);
    slot.set(pattern(5, 60));
    assert.equal(small.queue(slot, 60, big.localAddr), true);
    assert.equal(small.flush(), 1);
    const [whole] = await drain(big, 1);
    assert.deepEqual(whole.bytes, pattern(5, 60));
  } finally {
    small.close();
    big.close();
  }
});

Deno.test("close is idempotent; later calls do nothing", async () => {
  const a = openFfiUdpSocket("127.0.0.1", 0);
  const to = internAddr("127.0.0.1", a.localAddr.port);
  a.queue(pattern(0, 10), 10, to);
  a.close();
  a.close();
  assert.equal(a.fd, -1);
  assert.equal(a.receiveBatch(), 0);
  assert.equal(a.queue(pattern(0, 10), 10, to), false);
  assert.equal(a.flush(), 0);
  assert.equal(a.send(pattern(0, 10), to), false);
  assert.equal(await a.waitReadable(10), false);
  assert.equal(await a.receive(new Uint8Array(64)), null);
});

Deno.test("PathSocket receive: parks, resolves with a datagram, then null after close", async () => {
  await withSockets(["127.0.0.1", "127.0.0.1"], async (a, b) => {
    const buf = new Uint8Array(1500);
    const pending = b.receive(buf); // Nothing queued yet: parks on poll().
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(a.send(pattern(9, 300), b.localAddr), true);
    const received = await within(pending);
    assert.ok(received !== null);
    assert.equal(received.length, 300);
    assert.equal(received.from, internAddr("127.0.0.1", a.localAddr.port));
    assert.deepEqual(buf.subarray(0, 300), pattern(9, 300));

    // Several queued: each receive hands out the next one; a short buffer truncates.
    for (let i = 0; i < 3; i++) a.send(pattern(i, 50), b.localAddr);
    for (let i = 0; i < 3; i++) {
      const r = await within(b.receive(buf));
      assert.equal(r?.length, 50);
      assert.equal(indexOf(buf), i);
    }
    a.send(pattern(7, 50), b.localAddr);
    const short = new Uint8Array(10);
    assert.equal((await within(b.receive(short)))?.length, 10);
    assert.deepEqual(short, pattern(7, 50).subarray(0, 10));

    const parked = b.receive(buf);
    await new Promise((resolve) => setTimeout(resolve, 20));
    b.close();
    assert.equal(await within(parked), null);
  });
});

Deno.test("200k datagrams over loopback allocate nothing off-heap per datagram", async () => {
  await withSockets(["127.0.0.1", "127.0.0.1"], async (a, b) => {
    const to = internAddr("127.0.0.1", b.localAddr.port);
    const packet = new Uint8Array(2048).fill(0x5a);
    let sink = 0;
    let received = 0;
    /** Sends `total` datagrams in batches of 32 and drains each batch right after. */
    const run = async (total: number) => {
      const start = received;
      for (let sent = 0; sent < total;) {
        for (let i = 0; i < 32; i++) a.queue(packet, 1000 + (sent + i) % 400, to);
        a.flush();
        sent += 32;
        let idle = 0;
        while (received - start < sent && idle < 100) {
          const n = b.receiveBatch();
          if (n === 0) {
            idle++;
            if (idle % 10 === 0) await b.waitReadable(1);
            continue;
          }
          for (let i = 0; i < n; i++) {
            sink += b.datagram(i)[0] + b.length(i) + b.source(i).port;
          }
          received += n;
        }
      }
    };
    await run(20_000); // Warm up: JIT, slot views, intern table.
    const before = Deno.memoryUsage();
    const receivedBefore = received;
    const started = performance.now();
    await run(200_000);
    const elapsed = performance.now() - started;
    const after = Deno.memoryUsage();
    const mib = (bytes: number) => (bytes / 1048576).toFixed(2) + " MiB";
    console.log(
      `200k datagrams in ${elapsed.toFixed(0)} ms (${
        ((received - receivedBefore) / elapsed * 1000 / 1000).toFixed(0)
      } k pps received, ${(elapsed * 1000 / 200_000).toFixed(2)} µs per datagram)\n` +
        `  external ${mib(before.external)} -> ${mib(after.external)} ` +
        `(${mib(after.external - before.external)})\n` +
        `  rss      ${mib(before.rss)} -> ${mib(after.rss)} (${mib(after.rss - before.rss)})\n` +
        `  heapUsed ${mib(before.heapUsed)} -> ${mib(after.heapUsed)}\n` +
        `  received ${received - receivedBefore}, sendDropped ${a.stats.sendDropped}`,
    );
    assert.ok(sink > 0);
    assert.ok(received - receivedBefore >= 190_000, `only ${received - receivedBefore} arrived`);
    assert.ok(
      after.external - before.external < 1024 * 1024,
      `external memory grew by ${after.external - before.external} bytes`,
    );
  });
});
