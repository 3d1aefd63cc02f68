import { strict as assert } from "node:assert";
import { DELIVERY_SAMPLE_MIN_PACKETS } from "./constants.ts";
import { Path } from "./path.ts";

function activePath(): Path {
  const path = new Path(0, { hostname: "10.0.0.2", port: 51820 }, true);
  path.setState("active", 0);
  return path;
}

/**
 * Sends `packets` data packets of `bytes` bytes in all (by default as many as the peer's byte
 * count grew: nothing queued or lost), then a probe at `sentAt` whose ack arrives at `ackAt` with
 * the peer's arrival counters then.
 */
function probeRound(
  path: Path,
  o: {
    packets: number;
    bytes?: number;
    sentAt: number;
    ackAt: number;
    arrivals: number;
    arrivalBytes: number;
  },
) {
  path.packetsSent += o.packets;
  path.bytesSent += o.bytes ?? o.arrivalBytes - path.bytesSent;
  path.probed(1, o.sentAt);
  path.packetsSent++;
  path.sampleAck(o.arrivals, o.arrivalBytes, o.ackAt);
}

/** A path whose first ack (at 5 ms) set the counters' starting point. */
function ackedPath(): Path {
  const path = activePath();
  probeRound(path, { packets: 0, sentAt: 0, ackAt: 5, arrivals: 0, arrivalBytes: 0 });
  return path;
}

Deno.test("delivery rate: a higher sample is taken at once, a lower one smoothed in", () => {
  const path = ackedPath();
  probeRound(path, { packets: 100, sentAt: 100, ackAt: 105, arrivals: 101, arrivalBytes: 100_000 });
  assert.equal(path.deliveryRate, 1_000); // bytes per ms
  probeRound(path, { packets: 100, sentAt: 200, ackAt: 205, arrivals: 202, arrivalBytes: 400_000 });
  assert.equal(path.deliveryRate, 3_000);
  // Given 200,000 bytes, it delivered 100,000 (the rest was lost): the path was the limit.
  probeRound(path, {
    packets: 100,
    bytes: 200_000,
    sentAt: 300,
    ackAt: 305,
    arrivals: 303,
    arrivalBytes: 500_000,
  });
  assert.equal(path.deliveryRate, 0.75 * 3_000 + 0.25 * 1_000);
  assert.equal(path.lossRate, 0);
});

Deno.test("delivery rate: a path that delivered all it was given keeps its rate", () => {
  const path = ackedPath();
  probeRound(path, { packets: 100, sentAt: 100, ackAt: 105, arrivals: 101, arrivalBytes: 300_000 });
  assert.equal(path.deliveryRate, 3_000);
  // Offered a third of that (another path took a larger share): all of it arrived.
  probeRound(path, { packets: 100, sentAt: 200, ackAt: 205, arrivals: 202, arrivalBytes: 400_000 });
  assert.equal(path.deliveryRate, 3_000, "what it was offered is not what it can carry");
});

Deno.test("delivery rate: a queue growing between two probes stretches the interval", () => {
  const path = ackedPath();
  // Sent 100 ms apart, acked 150 ms apart: the bytes took up to 150 ms to arrive.
  probeRound(path, { packets: 100, sentAt: 100, ackAt: 155, arrivals: 101, arrivalBytes: 150_000 });
  assert.equal(path.deliveryRate, 1_000);
});

Deno.test("delivery rate: a path whose queue grows was the limit, and its rate falls", () => {
  const path = ackedPath();
  probeRound(path, { packets: 100, sentAt: 100, ackAt: 105, arrivals: 101, arrivalBytes: 200_000 });
  assert.equal(path.deliveryRate, 2_000);
  // Its capacity halved: everything still arrives, but the acks come 100 ms further apart.
  probeRound(path, { packets: 100, sentAt: 200, ackAt: 305, arrivals: 202, arrivalBytes: 400_000 });
  assert.equal(path.deliveryRate, 0.75 * 2_000 + 0.25 * 1_000);
});

Deno.test("delivery rate: an idle interval leaves it, and the next busy one is not diluted", () => {
  const path = ackedPath();
  probeRound(path, { packets: 100, sentAt: 100, ackAt: 105, arrivals: 101, arrivalBytes: 100_000 });
  const idle = DELIVERY_SAMPLE_MIN_PACKETS - 2; // with its probe: one short of a sample
  probeRound(path, {
    packets: idle,
    sentAt: 2_100,
    ackAt: 2_105,
    arrivals: 101 + idle + 1,
    arrivalBytes: 100_000 + idle * 100,
  });
  assert.equal(path.deliveryRate, 1_000, "two quiet seconds say nothing about the capacity");
  probeRound(path, {
    packets: 100,
    sentAt: 2_200,
    ackAt: 2_205,
    arrivals: 101 + idle + 1 + 101,
    arrivalBytes: 100_000 + idle * 100 + 200_000,
  });
  assert.equal(path.deliveryRate, 2_000, "measured over the last 100 ms, not since 100 ms");
});

Deno.test("RTT: smoothed on an active path; a path back from down starts afresh", () => {
  const path = activePath();
  path.sampleRtt(20, 10);
  path.sampleRtt(20, 20);
  path.sampleRtt(4, 30);
  assert.equal(path.srttMs, 0.875 * 20 + 0.125 * 4);
  assert.equal(path.minRttMs, 4);
  path.setState("down", 40);
  path.setState("validating", 50);
  path.sampleRtt(8, 60);
  assert.deepEqual([path.srttMs, path.rttvarMs, path.minRttMs], [8, 4, 8]);
  assert.equal(path.congested(), false);
});

Deno.test("RTT: a handshake seeds the estimates and the first probe replaces the seed", () => {
  const path = new Path(0, { hostname: "10.0.0.2", port: 51820 }, true);
  path.seedRtt(30, 0); // includes the peer's signature checks
  path.setState("active", 0);
  assert.equal(path.srttMs, 30);
  path.sampleRtt(1, 100);
  assert.deepEqual([path.srttMs, path.rttvarMs, path.minRttMs], [1, 0.5, 1]);
  path.seedRtt(30, 200); // a later handshake on the active path: its own estimates stay
  assert.equal(path.srttMs, 1);
  path.sampleRtt(1, 300);
  assert.equal(path.srttMs, 1);
});

Deno.test("isSilent turns true at the very instant silentAt names", () => {
  const path = activePath();
  for (let i = 0; i < 5_000; i++) {
    path.lastReceiveAt = 1_000 + i * 0.7071;
    path.probingSince = path.lastReceiveAt + 1;
    path.srttMs = i * 0.0131;
    path.rttvarMs = i * 0.0029;
    const at = path.silentAt(100);
    assert.equal(path.isSilent(at, 100), true, `silent at ${at} (case ${i})`);
    assert.equal(path.isSilent(at - 0.001, 100), false, `not silent before ${at} (case ${i})`);
  }
});
