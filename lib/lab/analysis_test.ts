import assert from "node:assert/strict";
import { bytesAt, firstReplies, meanTcp, outageAfter, pingWindow, tcpMbps } from "./analysis.ts";
import {
  estimateSendTimes,
  estimateSentCount,
  parsePing,
  parsePingReply,
  type PingReply,
} from "./ping.ts";
import type { Sample } from "./samples.ts";

const T0 = 1_700_000_000_000;

/** Requests every 10 ms from T0, RTT 1 ms, the listed sequence numbers lost. */
function replies(count: number, lost: Set<number>): PingReply[] {
  const out: PingReply[] = [];
  for (let seq = 1; seq <= count; seq++) {
    if (!lost.has(seq)) out.push({ seq, at: T0 + (seq - 1) * 10 + 1, rttMs: 1, dup: false });
  }
  return out;
}

Deno.test("ping: reply lines of ping -D", () => {
  assert.deepEqual(
    parsePingReply("[1700000000.123456] 64 bytes from 10.77.0.2: icmp_seq=7 ttl=64 time=0.512 ms"),
    { at: 1700000000123.456, seq: 7, rttMs: 0.512, dup: false },
  );
  assert.equal(
    parsePingReply("[1700000000.5] 64 bytes from 10.77.0.2: icmp_seq=7 ttl=64 time=3 ms (DUP!)")
      ?.dup,
    true,
  );
  assert.equal(parsePingReply("PING 10.77.0.2 (10.77.0.2) 56(84) bytes of data."), null);
  assert.equal(
    parsePingReply("[1700000000.1] From 10.77.0.1 icmp_seq=3 Destination Host Unreachable"),
    null,
  );
  const s = parsePing(
    "--- x ---\n10 packets transmitted, 9 received, +1 duplicates, 10% packet loss, time 90ms\nrtt min/avg/max/mdev = 0.1/0.2/0.3/0.05 ms\n",
  );
  assert.deepEqual(s, {
    transmitted: 10,
    received: 9,
    duplicates: 1,
    errors: 0,
    lossPercent: 10,
    rtt: { min: 0.1, avg: 0.2, max: 0.3, mdev: 0.05 },
  });
});

Deno.test("ping: send times of lost requests are interpolated and extrapolated", () => {
  const r = replies(100, new Set([1, 2, 50, 51, 52, 99, 100]));
  const times = estimateSendTimes(r, 100, T0 - 1000, 10);
  for (let seq = 1; seq <= 100; seq++) {
    assert.ok(
      Math.abs(times[seq - 1] - (T0 + (seq - 1) * 10)) < 1e-6,
      `seq ${seq}: ${times[seq - 1]}`,
    );
  }
  // Nothing answered: the start and the nominal interval.
  assert.deepEqual(estimateSendTimes([], 3, T0, 10), [T0, T0 + 10, T0 + 20]);
  assert.equal(estimateSentCount([], T0 + 95, T0, 10), 10);
  // Last answer was request 98 at T0 + 970; by T0 + 1000 three more were due.
  assert.equal(estimateSentCount(r, T0 + 1000, T0, 25), 101);
});

Deno.test("analysis: a second's ping figures, and the outage after an event", () => {
  // 300 requests over 3 s; 120-159 lost (a 400 ms hole in the second second).
  const lost = new Set(Array.from({ length: 40 }, (_, i) => 120 + i));
  const r = replies(300, lost);
  r.push({ seq: 10, at: T0 + 95, rttMs: 4, dup: true });
  const times = estimateSendTimes(r, 300, T0, 10);
  const answered = firstReplies(r);
  assert.deepEqual(pingWindow(times, answered, T0, T0 + 1000), {
    sent: 100,
    received: 100,
    lost: 0,
    "rtt_avg_ms": 1,
    "rtt_max_ms": 1,
  });
  assert.equal(pingWindow(times, answered, T0 + 1000, T0 + 2000).lost, 40);
  // Replies not in yet at settledAt count as lost (for now).
  assert.equal(pingWindow(times, answered, T0, T0 + 1000, T0 + 500).received, 50);
  const outage = outageAfter(T0 + 1150, r, times, T0, T0 + 3000);
  assert.deepEqual(outage, { "longest_gap_ms": 410, sent: 185, lost: 40 });
  // Before the hole, only the normal spacing of the replies.
  assert.equal(outageAfter(T0 + 100, r, times, T0, T0 + 1100).longest_gap_ms, 10);
  // Ping silent until the end: the gap runs to the end.
  const silent = replies(100, new Set(Array.from({ length: 50 }, (_, i) => 51 + i)));
  assert.equal(
    outageAfter(T0 + 600, silent, estimateSendTimes(silent, 100, T0, 10), T0, T0 + 1000)
      .longest_gap_ms,
    509,
  );
});

Deno.test("analysis: TCP rate from the sink's progress, and means around an event", () => {
  const progress = [0, 1, 2, 3].map((s) => ({ at: T0 + s * 1000, bytes: s * 1_250_000 }));
  assert.equal(bytesAt(progress, T0 - 5), 0);
  assert.equal(bytesAt(progress, T0 + 1500), 1_875_000);
  assert.equal(bytesAt(progress, T0 + 9000), 3_750_000);
  assert.equal(bytesAt([], T0), 0);
  assert.equal(tcpMbps(progress, T0, T0 + 1000), 10);
  // After the last progress line the count stays: 0.625 MB in 1.5 s.
  assert.ok(Math.abs(tcpMbps(progress, T0 + 2500, T0 + 4000) - 10 / 3) < 1e-9);
  const samples = [1, 2, 3, 4, 5, 6].map((t) => ({ t, "tcp_mbps": t <= 3 ? 10 : 4 }) as Sample);
  assert.equal(meanTcp(samples, -2, 3), 10);
  assert.equal(meanTcp(samples, 3, 8), 4);
  assert.equal(meanTcp(samples, 2.5, 4), 4);
  assert.equal(meanTcp(samples, 7, 9), null);
});
