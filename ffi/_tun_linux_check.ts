/**
 * The body of `tun_linux_test.ts`, run by it as root inside a fresh network namespace
 * (`ip netns exec NS deno run -A --unstable-net ffi/_tun_linux_check.ts`). Exits non-zero on the
 * first failed check. Not a test file itself: it changes the namespace it runs in.
 * @module
 */

import assert from "node:assert/strict";
import type { TunDevice } from "../lib/engine/ports.ts";
import { ipLink } from "../lib/host/ip_link.ts";
import { OsError } from "./os_error.ts";
import { openTun } from "./tun_linux.ts";

const NAME = "cpffi0";
const LOCAL = [10, 99, 0, 1];
const PEER = [10, 99, 0, 2];
const decoder = new TextDecoder();

/** Reads packets until one satisfies `wanted` or `timeoutMs` passes; returns its bytes. */
async function readMatching(
  tun: TunDevice,
  buf: Uint8Array,
  wanted: (packet: Uint8Array) => boolean,
  timeoutMs: number,
): Promise<Uint8Array> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!(await tun.waitReadable(Math.max(1, deadline - Date.now())))) continue;
    for (let length = tun.read(buf); length > 0; length = tun.read(buf)) {
      const packet = buf.subarray(0, length);
      if (wanted(packet)) return packet.slice();
    }
  }
  throw new Error(`no matching packet read from ${tun.name} within ${timeoutMs} ms`);
}

/** True for an IPv4 packet whose destination is `dst`. */
function isIpv4To(packet: Uint8Array, dst: readonly number[]): boolean {
  return packet.length >= 20 && packet[0] >> 4 === 4 && dst.every((b, i) => packet[16 + i] === b);
}

/** The Internet checksum (RFC 1071) of `bytes`. */
function internetChecksum(bytes: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < bytes.length; i += 2) sum += (bytes[i] << 8) | (bytes[i + 1] ?? 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** An IPv4/UDP packet with a correct header checksum and UDP checksum 0 (none). */
function ipv4Udp(
  src: readonly number[],
  dst: readonly number[],
  srcPort: number,
  dstPort: number,
  payload: Uint8Array,
): Uint8Array {
  const packet = new Uint8Array(28 + payload.length);
  const view = new DataView(packet.buffer);
  view.setUint8(0, 0x45); // Version 4, header length 5 words.
  view.setUint16(2, packet.length);
  view.setUint8(8, 64); // TTL.
  view.setUint8(9, 17); // UDP.
  packet.set(src, 12);
  packet.set(dst, 16);
  view.setUint16(10, internetChecksum(packet.subarray(0, 20)));
  view.setUint16(20, srcPort);
  view.setUint16(22, dstPort);
  view.setUint16(24, 8 + payload.length);
  packet.set(payload, 28);
  return packet;
}

/** Output of `ip ARGS`, which must succeed. */
async function ipOutput(...args: string[]): Promise<string> {
  const output = await new Deno.Command("ip", { args }).output();
  assert.ok(output.success, `ip ${args.join(" ")}: ${decoder.decode(output.stderr)}`);
  return decoder.decode(output.stdout);
}

/** Resolves true once `name` is gone, polling for up to `timeoutMs`. */
async function disappears(name: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  do {
    if (!(await ipLink.exists(name))) return true;
    await new Promise((resolve) => setTimeout(resolve, 20));
  } while (Date.now() < deadline);
  return false;
}

/** Starts something that sends an IPv4 packet to PEER through the TUN route. */
function provokeTraffic(): () => Promise<void> {
  try {
    Deno.statSync("/usr/bin/ping");
  } catch {
    const socket = Deno.listenDatagram({ transport: "udp", hostname: "0.0.0.0", port: 0 });
    const timer = setInterval(() => {
      socket.send(new Uint8Array(8), { transport: "udp", hostname: PEER.join("."), port: 9 })
        .catch(() => {});
    }, 100);
    return () => Promise.resolve(clearInterval(timer)).then(() => socket.close());
  }
  const ping = new Deno.Command("/usr/bin/ping", {
    args: ["-n", "-c", "5", "-i", "0.2", "-W", "1", PEER.join(".")],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  return async () => {
    try {
      ping.kill("SIGTERM");
    } catch { /* Already exited. */ }
    await ping.status;
  };
}

async function checkConfigure(): Promise<void> {
  assert.equal(await ipLink.exists(NAME), true);
  await ipLink.configure(NAME, {
    addresses: ["10.99.0.1/24", "fd99::1/64"],
    mtu: 1420,
    routes: ["10.99.0.0/24", "10.98.0.0/24", "fd98::/64"],
  });
  const link = await ipOutput("-o", "link", "show", "dev", NAME);
  assert.match(link, /[<,]UP[,>].* mtu 1420 /);
  assert.match(await ipOutput("-4", "route", "show", "10.98.0.0/24"), /dev cpffi0/);
  assert.match(await ipOutput("-6", "route", "show", "fd98::/64"), /dev cpffi0/);
  assert.match(await ipOutput("-6", "address", "show", "dev", NAME), /fd99::1\/64/);
  await assert.rejects(
    ipLink.configure(NAME, { addresses: ["10.99.0.1/24"], mtu: 1420, routes: [] }),
    /`ip -4 address add 10\.99\.0\.1\/24 dev cpffi0` failed: .*already assigned/,
  );
}

async function checkRead(tun: TunDevice): Promise<void> {
  const stop = provokeTraffic();
  try {
    const first = await readMatching(tun, new Uint8Array(2048), (p) => isIpv4To(p, PEER), 5000);
    assert.deepEqual([...first.subarray(12, 16)], LOCAL, "source is the TUN address");
    // A different buffer, at an offset inside a larger one: the cached address must follow it.
    const other = new Uint8Array(4096).subarray(100, 2100);
    const second = await readMatching(tun, other, (p) => isIpv4To(p, PEER), 5000);
    assert.equal(second[0] >> 4, 4);
  } finally {
    await stop();
  }
}

async function checkWrite(tun: TunDevice): Promise<void> {
  const server = Deno.listenDatagram({ transport: "udp", hostname: LOCAL.join("."), port: 0 });
  try {
    const port = (server.addr as Deno.NetAddr).port;
    const payload = new TextEncoder().encode("hello through the tun");
    const packet = ipv4Udp(PEER, LOCAL, 5555, port, payload);
    const frame = new Uint8Array(3000);
    frame.set(packet, 123);
    assert.equal(tun.write(frame, 123, packet.length), true);
    const timeout = setTimeout(() => server.close(), 3000);
    const [data, from] = await server.receive();
    clearTimeout(timeout);
    assert.equal(decoder.decode(data), "hello through the tun");
    const source = from as Deno.NetAddr;
    assert.deepEqual([source.hostname, source.port], ["10.99.0.2", 5555]);
    assert.equal(
      tun.write(new Uint8Array([0x00, 1, 2, 3]), 0, 4),
      false,
      "not IP: EINVAL is false",
    );
    assert.equal(tun.write(new Uint8Array(0), 0, 0), false);
  } finally {
    try {
      server.close();
    } catch { /* Closed by the timeout. */ }
  }
}

function checkOpenErrors(): void {
  assert.throws(() => openTun(NAME), (error) => {
    assert.ok(error instanceof OsError);
    assert.equal(error.syscall, "ioctl(TUNSETIFF)");
    assert.equal(error.errnoName, "EBUSY");
    assert.match(error.message, /^ioctl\(TUNSETIFF\) failed: EBUSY \(Device or resource busy\)$/);
    return true;
  });
  assert.throws(() => openTun("lo"), (error) => error instanceof OsError && error.code === 22);
  assert.throws(() => openTun("x".repeat(16)), RangeError);
}

async function checkClose(tun: TunDevice): Promise<void> {
  tun.close();
  assert.equal(await tun.waitReadable(1000), false);
  assert.equal(tun.read(new Uint8Array(100)), 0);
  const late = ipv4Udp(PEER, LOCAL, 1, 2, new Uint8Array(1));
  assert.equal(tun.write(late, 0, late.length), false);
  tun.close();
  assert.equal(await disappears(NAME, 3000), true, "the interface goes away on close");
}

/** A second, never-configured TUN (so no traffic): close() must end a long wait at once. */
async function checkCloseWakesWaiter(): Promise<void> {
  const tun = openTun("");
  assert.match(tun.name, /^tun\d+$/, "an empty name lets the kernel pick one");
  const started = Date.now();
  const waiting = tun.waitReadable(10_000);
  tun.close();
  assert.equal(await waiting, false);
  assert.ok(Date.now() - started < 1000, `waitReadable ended ${Date.now() - started} ms later`);
  assert.equal(await disappears(tun.name, 1000), true);
}

const tun = openTun(NAME);
assert.equal(tun.name, NAME);
assert.equal(tun.read(new Uint8Array(2048)), 0, "nothing queued on a down link");
assert.equal(await tun.waitReadable(50), false);
await checkConfigure();
await checkRead(tun);
await checkWrite(tun);
checkOpenErrors();
await checkClose(tun);
await checkCloseWakesWaiter();
console.error("tun checks passed");
