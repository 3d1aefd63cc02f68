/**
 * Where a ping's round trip goes inside a tunnel, from one packet capture on every interface of
 * the client namespace (`tcpdump -i any`): for each echo request seen on the tunnel device,
 *
 * - client send hop: request on the tunnel device -> first UDP datagram out on the path
 *   (the client's VPN wakes, reads the TUN, seals, sends);
 * - server turn: that datagram -> the next UDP datagram in (the server's VPN wakes, opens, writes
 *   its TUN, the server kernel answers, the VPN reads the reply, seals, sends; plus the wire);
 * - client receive hop: that datagram -> the echo reply on the tunnel device (the client's VPN
 *   wakes, opens, writes the TUN).
 *
 * A capture keeps the CPUs busier than a quiet run, so the hops add up to less than the RTT
 * measured without one; they are for comparing systems hop by hop, in the same conditions.
 * @module
 */
import { median } from "./compare_stats.ts";

/** Median microseconds per hop over the pings that showed all four events in order. */
export interface Hops {
  readonly outUs: number;
  readonly turnUs: number;
  readonly inUs: number;
  readonly totalUs: number;
  /** Pings that counted. */
  readonly pings: number;
}

/** `at`: microseconds since the epoch. */
type Event = { kind: "request" | "reply" | "out" | "in"; at: number };

/** One `tcpdump -nn -tt` line of a capture on `any` ("<time> <if> In|Out IP ..."), classified. */
function eventOf(line: string): Event | null {
  const m = line.match(/^(\d+)\.(\d{1,6})\s+\S+\s+(In|Out)\s+IP6?\s+\S+ > \S+: (.*)$/);
  if (!m) return null;
  // Whole microseconds (exact in a double; seconds.fraction as one number is not).
  const at = Number(m[1]) * 1e6 + Number(m[2].padEnd(6, "0"));
  const what = m[4];
  if (what.startsWith("ICMP echo request") || what.startsWith("ICMP6, echo request")) {
    return { kind: "request", at };
  }
  if (what.startsWith("ICMP echo reply") || what.startsWith("ICMP6, echo reply")) {
    return { kind: "reply", at };
  }
  if (what.startsWith("UDP")) return { kind: m[3] === "Out" ? "out" : "in", at };
  return null;
}

/** The hop medians of a capture's text, or null when no ping showed all four events. */
export function parseHops(text: string): Hops | null {
  const events = text.split("\n").map(eventOf).filter((e): e is Event => e !== null);
  const out: number[] = [], turn: number[] = [], back: number[] = [], total: number[] = [];
  for (let i = 0; i < events.length; i++) {
    if (events[i].kind !== "request") continue;
    const t0 = events[i].at;
    let t1 = NaN, t2 = NaN, t3 = NaN;
    for (let j = i + 1; j < events.length && events[j].kind !== "request"; j++) {
      const e = events[j];
      if (e.kind === "out" && Number.isNaN(t1)) t1 = e.at;
      else if (e.kind === "in" && !Number.isNaN(t1) && Number.isNaN(t2)) t2 = e.at;
      else if (e.kind === "reply" && !Number.isNaN(t2) && Number.isNaN(t3)) t3 = e.at;
    }
    if (Number.isNaN(t3)) continue;
    out.push(t1 - t0);
    turn.push(t2 - t1);
    back.push(t3 - t2);
    total.push(t3 - t0);
  }
  if (total.length === 0) return null;
  return {
    outUs: median(out),
    turnUs: median(turn),
    inUs: median(back),
    totalUs: median(total),
    pings: total.length,
  };
}
