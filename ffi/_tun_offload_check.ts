/**
 * TUN offloads against the real kernel, run by `tun_linux_test.ts` as root inside a fresh network
 * namespace (`ip netns exec NS deno run -A ffi/_tun_offload_check.ts`). For IPv4 and for IPv6,
 * this script plays the far end of a TCP connection that a local socket opens through a TUN with
 * `IFF_VNET_HDR` and TSO: it answers the SYN, reads the kernel's super-packets and cuts them
 * (lib/core/tso.ts), acknowledges, and sends data back as joined packets (lib/core/gro.ts).
 * Checks that every cut segment carries valid checksums, that the bytes arrive whole both ways,
 * and that the kernel really handed over super-packets. Exits non-zero on the first failed check.
 * @module
 */

import assert from "node:assert/strict";
import { Coalescer } from "../lib/core/gro.ts";
import { completeChecksum, cutSegments } from "../lib/core/tso.ts";
import {
  newVnetHeader,
  readVnetHeader,
  VNET_GSO_NONE,
  VNET_HEADER_BYTES,
} from "../lib/core/vnet.ts";
import { checksumsValid, tcpPacket } from "../tests/_packets.ts";
import { openTun } from "./tun_linux.ts";

const PORT = 5555;
const SENT_BYTES = 200_000;
const FAR_ISN = 1_000_000;
const SYN = 0x02;
const ACK = 0x10;
const SEGMENT_AT = 2 * 70_000;
const mem = new Uint8Array(4 * 70_000);
const header = newVnetHeader();
const decoder = new TextDecoder();

/** One IP version's addresses. */
interface Family {
  readonly version: 4 | 6;
  readonly device: string;
  readonly local: number[];
  readonly far: number[];
  readonly localText: string;
  readonly farText: string;
}

const FAMILIES: Family[] = [
  {
    version: 4,
    device: "cpoff4",
    local: [10, 98, 0, 1],
    far: [10, 98, 0, 2],
    localText: "10.98.0.1/24",
    farText: "10.98.0.2",
  },
  {
    version: 6,
    device: "cpoff6",
    local: [0xfd, 0x98, ...new Array(13).fill(0), 1],
    far: [0xfd, 0x98, ...new Array(13).fill(0), 2],
    localText: "fd98::1/64",
    farText: "fd98::2",
  },
];

async function ip(...args: string[]): Promise<void> {
  const out = await new Deno.Command("ip", { args, stdin: "null" }).output();
  assert.ok(out.success, `ip ${args.join(" ")}: ${decoder.decode(out.stderr)}`);
}

/** The TCP header offset of a plain IPv4 or IPv6 TCP packet, or -1 for anything else. */
function tcpAt(p: Uint8Array): number {
  if (p[0] >> 4 === 4 && p[9] === 6) return 20;
  if (p[0] >> 4 === 6 && p[6] === 6) return 40;
  return -1;
}

async function check(f: Family): Promise<string> {
  const tun = openTun(f.device, { offload: true });
  assert.equal(tun.vnetHeader, true, "IFF_VNET_HDR and TUNSETOFFLOAD were accepted");
  await ip("addr", "add", f.localText, "dev", f.device, ...(f.version === 6 ? ["nodad"] : []));
  await ip("link", "set", f.device, "mtu", "1500", "up");
  let superPackets = 0;

  /** Reads what the kernel queued, cut into plain TCP segments with complete checksums. */
  const readSegments = async (timeoutMs: number): Promise<Uint8Array[]> => {
    const segments: Uint8Array[] = [];
    if (!(await tun.waitReadable(timeoutMs))) return segments;
    const view = mem.subarray(0, 70_000);
    for (let n = tun.read(view); n > 0; n = tun.read(view)) {
      readVnetHeader(mem, 0, header);
      const length = n - VNET_HEADER_BYTES;
      if ((header.gsoType & 0x7f) === VNET_GSO_NONE) {
        assert.ok(completeChecksum(mem, VNET_HEADER_BYTES, length, header), "offsets fit");
        segments.push(mem.slice(VNET_HEADER_BYTES, VNET_HEADER_BYTES + length));
        continue;
      }
      superPackets++;
      const count = cutSegments(mem, VNET_HEADER_BYTES, length, header, SEGMENT_AT, (s) => {
        segments.push(mem.slice(SEGMENT_AT, SEGMENT_AT + s));
      });
      assert.ok(count > 1, `a super-packet of ${length} bytes was cut (${count})`);
    }
    return segments.filter((p) => tcpAt(p) > 0);
  };
  const writePlain = (packet: Uint8Array) => {
    const out = new Uint8Array(VNET_HEADER_BYTES + packet.length);
    out.set(packet, VNET_HEADER_BYTES);
    assert.ok(tun.write(out, 0, out.length), "the kernel took a plain packet");
  };
  let clientPort = 0;
  const fromFar = (seq: number, ack: number, flags: number, payload = new Uint8Array(0)) =>
    tcpPacket({
      version: f.version,
      addresses: { src: f.far, dst: f.local },
      srcPort: PORT,
      dstPort: clientPort,
      seq,
      ack,
      flags,
      window: 65535,
      payload,
      options: flags & SYN ? new Uint8Array([2, 4, 0x05, 0x50]) : undefined, // MSS 1360
    });

  // 1. The SYN: a plain packet whose checksum the kernel left to us (NEEDS_CSUM).
  const connecting = Deno.connect({ hostname: f.farText, port: PORT });
  let clientSeq = 0;
  for (let tries = 0; tries < 20 && clientPort === 0; tries++) {
    for (const p of await readSegments(500)) {
      const t = tcpAt(p);
      if ((p[t + 13] & SYN) === 0) continue;
      assert.ok(checksumsValid(p), "the SYN's completed checksum verifies");
      clientPort = (p[t] << 8) | p[t + 1];
      clientSeq = new DataView(p.buffer).getUint32(t + 4);
    }
  }
  assert.ok(clientPort > 0, "a SYN came out of the TUN");
  writePlain(fromFar(FAR_ISN, clientSeq + 1, SYN | ACK));
  const conn = await connecting;

  // 2. Local -> far: the kernel's super-packets, cut, checked, acknowledged.
  const data = new Uint8Array(SENT_BYTES).map((_, i) => (i * 31 + 7) & 0xff);
  const writing = (async () => {
    for (let at = 0; at < data.length;) at += await conn.write(data.subarray(at));
  })();
  const received = new Uint8Array(SENT_BYTES);
  let next = 0; // bytes received in order
  const deadline = Date.now() + 20_000;
  while (next < SENT_BYTES && Date.now() < deadline) {
    for (const p of await readSegments(200)) {
      assert.ok(checksumsValid(p), "every cut segment carries valid IP and TCP checksums");
      const t = tcpAt(p);
      const offset = new DataView(p.buffer).getUint32(t + 4) - (clientSeq + 1);
      const payload = p.subarray(t + (p[t + 12] >> 4) * 4);
      if (offset === next && payload.length > 0) {
        received.set(payload.subarray(0, SENT_BYTES - next), next);
        next += payload.length;
      }
    }
    writePlain(fromFar(FAR_ISN + 1, clientSeq + 1 + next, ACK));
  }
  await writing;
  assert.equal(next, SENT_BYTES, "every byte arrived in order");
  assert.deepEqual(received, data, "the bytes are the ones written");
  assert.ok(superPackets > 0, "the kernel handed over TCP super-packets (TSO)");

  // 3. Far -> local: 40 segments joined into super-packets; the socket reads them whole.
  const reply = new Uint8Array(40 * 1300).map((_, i) => (i * 17 + 3) & 0xff);
  let joinedWrites = 0;
  const gro = new Coalescer((buf, offset, length) => {
    if (buf[offset + 1] !== 0) joinedWrites++;
    assert.ok(tun.write(buf, offset, length), "the kernel took a joined packet");
  });
  const ack = clientSeq + 1 + SENT_BYTES;
  for (let i = 0; i < 40; i++) {
    const bytes = reply.subarray(i * 1300, (i + 1) * 1300);
    const seg = fromFar(FAR_ISN + 1 + i * 1300, ack, ACK, bytes);
    const slot = new Uint8Array(seg.length + 16);
    slot.set(seg, 16);
    gro.push(slot, 16, seg.length);
  }
  gro.flush();
  assert.ok(joinedWrites >= 1, "segments were joined");
  const got = new Uint8Array(reply.length);
  for (let at = 0; at < got.length;) {
    const n = await conn.read(got.subarray(at));
    assert.ok(n !== null, "the connection stays open");
    at += n;
  }
  assert.deepEqual(got, reply, "the joined bytes arrive whole and in order");
  conn.close();
  tun.close();
  return `IPv${f.version}: ${superPackets} super-packets cut, ${joinedWrites} joined writes`;
}

const results: string[] = [];
for (const family of FAMILIES) results.push(await check(family));
console.error(`tun offload checks passed: ${results.join("; ")}`);
