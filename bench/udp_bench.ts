/**
 * Loopback UDP throughput, one datagram per bench iteration (so the reported time is the cost per
 * datagram, sender and receiver together on this one thread): the FFI socket
 * (`ffi/udp_linux.ts`, `sendmmsg`/`recvmmsg` in batches of 32) against the portable
 * `Deno.listenDatagram` socket (`lib/host/udp_socket.ts`). Datagrams are 1400 bytes. Each 32nd
 * iteration sends the batch and drains it at the receiver; the others only queue, so per-iteration
 * percentiles are bimodal and the average is the number to read. Loss counts are printed at exit.
 *
 *   deno bench --allow-all bench/udp_bench.ts
 */
import { type FfiUdpSocket, internAddr, openFfiUdpSocket } from "../ffi/udp_linux.ts";
import { openUdpSocket } from "../lib/host/udp_socket.ts";

const DATAGRAM_BYTES = 1400;
const BATCH = 32;

/** Datagrams that never arrived, per bench. */
const lost: Record<string, number> = {};
globalThis.addEventListener("unload", () => {
  const entries = Object.entries(lost).filter(([, count]) => count > 0);
  console.log(entries.length === 0 ? "udp_bench: no datagram lost" : "udp_bench: lost", lost);
});

/**
 * Drains `expected` datagrams from `rx`, reading every length and source as the engine would.
 * Loopback delivers during `sendmmsg`, so a few retries suffice; misses are counted as lost.
 */
function drain(rx: FfiUdpSocket, expected: number, name: string): number {
  let got = 0;
  let sink = 0;
  for (let idle = 0; got < expected && idle < 8;) {
    const n = rx.receiveBatch();
    if (n === 0) {
      idle++;
      continue;
    }
    for (let i = 0; i < n; i++) sink += rx.datagram(i)[0] + rx.length(i) + rx.source(i).port;
    got += n;
  }
  if (got < expected) lost[name] = (lost[name] ?? 0) + expected - got;
  return sink;
}

/** A sender/receiver pair of FFI sockets on 127.0.0.1 and a bench over them. */
function ffiBench(
  name: string,
  baseline: boolean,
  send: (tx: FfiUdpSocket, to: ReturnType<typeof internAddr>) => void,
): void {
  const tx = openFfiUdpSocket("127.0.0.1", 0, { batch: BATCH });
  const rx = openFfiUdpSocket("127.0.0.1", 0, { batch: BATCH });
  const to = internAddr("127.0.0.1", rx.localAddr.port);
  let queued = 0;
  Deno.bench({
    name,
    group: "loopback 1400 B, per datagram",
    baseline,
    fn() {
      send(tx, to);
      if (++queued === BATCH) {
        queued = 0; // The 32nd queue flushed the batch by itself.
        drain(rx, BATCH, name);
      }
    },
  });
}

{
  const datagram = new Uint8Array(DATAGRAM_BYTES).fill(0x42);
  ffiBench("FFI sendmmsg+recvmmsg x32: queue(datagram)", true, (tx, to) => {
    tx.queue(datagram, DATAGRAM_BYTES, to);
  });

  // The engine's usual call: a bigger working buffer plus a length (one subarray per datagram).
  const working = new Uint8Array(2048).fill(0x42);
  ffiBench("FFI x32: queue(buffer, length) from a 2048 B buffer", false, (tx, to) => {
    tx.queue(working, DATAGRAM_BYTES, to);
  });

  // Zero copy: the datagram is written (here: its first bytes) straight into the send slot.
  ffiBench("FFI x32: written into nextSendSlot(), no copy", false, (tx, to) => {
    const slot = tx.nextSendSlot();
    slot[0] = 0x42;
    tx.queue(slot, DATAGRAM_BYTES, to);
  });
}

{
  const tx = openUdpSocket("127.0.0.1", 0);
  const rx = openUdpSocket("127.0.0.1", 0);
  const to = { hostname: "127.0.0.1", port: rx.localAddr.port };
  const datagram = new Uint8Array(DATAGRAM_BYTES).fill(0x42);
  const buf = new Uint8Array(2048);
  const name = "Deno.listenDatagram (lib/host/udp_socket.ts): send x32, await 32 receives";
  let queued = 0;
  Deno.bench({
    name,
    group: "loopback 1400 B, per datagram",
    async fn() {
      tx.send(datagram, to);
      if (++queued < BATCH) return;
      queued = 0;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<number>((resolve) => {
        timer = setTimeout(() => resolve(-1), 1000);
      });
      let got = 0;
      while (got < BATCH) {
        const received = await Promise.race([rx.receive(buf), timeout]);
        if (received === -1 || received === null) break;
        got++;
      }
      clearTimeout(timer);
      if (got < BATCH) lost[name] = (lost[name] ?? 0) + BATCH - got;
    },
  });
}
