/**
 * How long the event loop leaves its own I/O waiting while a loop keeps it busy, as the engine's
 * busy loop does: rounds of about 1 ms of synchronous work, each followed by a turn of the event
 * loop, until a datagram sent to a `Deno.listenDatagram` socket (whose receive was already
 * waiting) has been taken in. The turn is `setImmediate`, or `Poller.pass` (a no-op on the thread
 * pool, during which Deno's runtime has no task ready and polls the kernel). Each iteration's time
 * is that wait; the rounds it took are printed at exit.
 *
 *   deno bench --allow-all bench/event_loop_bench.ts
 */
import { openPoller } from "../ffi/poller.ts";
import { internAddr, openFfiUdpSocket } from "../ffi/udp_linux.ts";
import { median } from "./compare_stats.ts";

const ROUND_MS = 1;
const MAX_ROUNDS = 1_000;

/** Rounds each bench needed, per iteration. */
const rounds: Record<string, number[]> = {};
globalThis.addEventListener("unload", () => {
  for (const [name, list] of Object.entries(rounds)) {
    console.log(
      `event_loop_bench: ${name}: rounds until taken in, median ${median(list)}, ` +
        `max ${Math.max(...list)} (${list.length} iterations)`,
    );
  }
});

const receiver = Deno.listenDatagram({ hostname: "127.0.0.1", port: 0, transport: "udp" });
const port = (receiver.addr as Deno.NetAddr).port;
const sender = openFfiUdpSocket("127.0.0.1", 0);
const poller = openPoller([]);
const one = new Uint8Array([1]);

function bench(name: string, turn: () => Promise<void>) {
  Deno.bench({
    name,
    n: 30,
    warmup: 2,
    async fn(b) {
      let received = false;
      const receiving = receiver.receive().then(() => received = true);
      await new Promise((resolve) => setTimeout(resolve, 2)); // the receive waits on the socket
      b.start();
      sender.queue(one, one.length, internAddr("127.0.0.1", port));
      sender.flush();
      let n = 0;
      while (!received && n < MAX_ROUNDS) {
        const until = performance.now() + ROUND_MS;
        while (performance.now() < until) { /* a busy round */ }
        await turn();
        n++;
      }
      b.end();
      await receiving;
      (rounds[name] ??= []).push(n);
    },
  });
}

bench("turns by setImmediate", () => new Promise<void>((resolve) => setImmediate(resolve)));
bench("turns by Poller.pass", () => poller.pass());
