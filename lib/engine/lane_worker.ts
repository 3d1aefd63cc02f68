/**
 * A data plane worker: one `Lane` driven by the batched engine loop on this thread's own TUN
 * queue and sockets (file descriptors the main thread opened, adopted here), blocking in poll(2)
 * between batches. What the lane hands to the control plane is posted to the main thread
 * (bounded: a flood of junk becomes drops here, not a flood of messages); plans come back.
 * Started and stopped by `WorkerEngine` (worker_engine.ts), which documents the messages.
 * @module
 */
import { nobleAead } from "../core/aead_noble.ts";
import {
  LANE_ARRIVAL_REPORT_INTERVAL_MS,
  LANE_FORWARD_BURST,
  LANE_FORWARDS_PER_SECOND,
} from "../core/constants.ts";
import { DROP_REASONS } from "../core/drops.ts";
import { Lane, type LaneEvents } from "../core/lane.ts";
import { DROPS_AT, IO_AT, MAX_LANE_SOCKETS, SOCKET_FIELDS, SOCKETS_AT } from "../core/lane_plan.ts";
import { silentLogger } from "../core/logger.ts";
import type { Endpoint } from "../core/path.ts";
import { TokenBucket } from "../core/token_bucket.ts";
import { openOpensslAead } from "../../ffi/openssl_aead.ts";
import { openPoller } from "../../ffi/poller.ts";
import { adoptTun } from "../../ffi/tun_linux.ts";
import { adoptFfiUdpSocket, type FfiUdpSocket } from "../../ffi/udp_linux.ts";
import { Engine, SYNC_WAIT_SLICE_MS } from "./engine.ts";
import type { TunDevice } from "./ports.ts";
import type { FromLane, ToLane } from "./worker_engine.ts";

/** How often the engine's I/O and socket counters are copied out for `show` (ms). */
const COUNTERS_INTERVAL_MS = 250;

const scope = self as unknown as {
  onmessage: ((event: MessageEvent<ToLane>) => void) | null;
  postMessage(message: FromLane, transfer?: Transferable[]): void;
};

let engine: Engine<Lane> | undefined;
let tun: TunDevice | undefined;
let sockets: FfiUdpSocket[] = [];
let stats: Float64Array;
let counters: ReturnType<typeof setInterval> | undefined;

scope.onmessage = (event) => {
  const message = event.data;
  switch (message.t) {
    case "start":
      return start(message);
    case "plan":
      return engine?.device.apply(message.plan);
    case "stop":
      return void stop();
  }
};

function start(message: Extract<ToLane, { t: "start" }>): void {
  stats = new Float64Array(message.stats);
  tun = adoptTun(message.tun);
  sockets = message.sockets.map(adoptFfiUdpSocket);
  const backend = message.aead === "openssl" ? openOpensslAead() ?? nobleAead : nobleAead;
  const clockOffsetMs = performance.timeOrigin - message.timeOrigin;
  engine = new Engine<Lane>({
    privateKey: new Uint8Array(32),
    peers: [],
    tun,
    sockets,
    ends: message.ends,
    poller: openPoller([tun!.fd, ...sockets.map((s) => s.fd)], { sliceMs: SYNC_WAIT_SLICE_MS }),
    backend,
    logger: silentLogger,
    onFatal: (error) => scope.postMessage({ t: "fatal", message: error.message }),
    core: (output) => new Lane({ backend, output, events: events(), stats, clockOffsetMs }),
  });
  engine.device.apply(message.plan);
  engine.start();
  counters = setInterval(copyCounters, COUNTERS_INTERVAL_MS);
  scope.postMessage({ t: "started" });
}

async function stop(): Promise<void> {
  clearInterval(counters);
  await engine?.close(); // closes the adopted sockets; the descriptors stay the main thread's
  tun?.close();
  copyCounters();
  scope.postMessage({ t: "stopped" });
}

/** Copies the engine's I/O counters, the drops and the socket counters into `stats`. */
function copyCounters(): void {
  if (!engine) return;
  Object.values(engine.io).forEach((value, i) => stats[IO_AT + i] = value);
  DROP_REASONS.forEach((reason, i) => stats[DROPS_AT + i] = engine!.device.drops[reason]);
  sockets.slice(0, MAX_LANE_SOCKETS).forEach((socket, local) => {
    const s = socket.stats;
    const values = [
      s.sent,
      s.sendErrors,
      s.sendDropped,
      s.receiveErrors,
      s.received,
      s.segmentedSends,
      s.coalescedReceives,
    ];
    stats.set(values, SOCKETS_AT + local * SOCKET_FIELDS);
  });
}

/** The lane's events as messages, copied, within a rate the main thread can take. */
function events(): LaneEvents {
  const forwards = new TokenBucket(LANE_FORWARDS_PER_SECOND, LANE_FORWARD_BURST);
  const reported = new Map<string, number>();
  const mayForward = () => {
    if (forwards.take(performance.now())) return true;
    engine!.device.drops.handshakeFlood++;
    return false;
  };
  const plain = (from: Endpoint) => ({ hostname: from.hostname, port: from.port });
  return {
    datagram(buf, length, local, from) {
      if (!mayForward()) return;
      const bytes = buf.slice(0, length);
      scope.postMessage({ t: "datagram", local, from: plain(from), bytes }, [bytes.buffer]);
    },
    packet(buf, offset, length) {
      if (!mayForward()) return;
      const bytes = buf.slice(offset, offset + length);
      scope.postMessage({ t: "packet", bytes }, [bytes.buffer]);
    },
    arrival(index, local, from, length) {
      // Reported at most every few ms per path: the device needs to hear of it, not each copy.
      const key = `${index}|${local}|${from.hostname}|${from.port}`;
      const now = performance.now();
      if (now - (reported.get(key) ?? -Infinity) < LANE_ARRIVAL_REPORT_INTERVAL_MS) return;
      if (reported.size > 4096) reported.clear();
      reported.set(key, now);
      scope.postMessage({ t: "arrival", index, local, from: plain(from), length });
    },
    frame(index, local, from, buf, offset, length) {
      const bytes = buf.slice(offset, offset + length);
      scope.postMessage({ t: "frame", index, local, from: plain(from), bytes }, [bytes.buffer]);
    },
    rekey: (slot) => scope.postMessage({ t: "rekey", slot }),
    traffic: (slot) => scope.postMessage({ t: "traffic", slot }),
  };
}
