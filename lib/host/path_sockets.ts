/**
 * The local path ends of an interface: one UDP socket per `Bind` address, all on one port, or
 * the wildcard address when there is none. Two transports behind the same ports:
 * - `ffi` (default on Linux): raw sockets with recvmmsg/sendmmsg batches (ffi/udp_linux.ts),
 *   driven by the engine's batched loop;
 * - `deno`: `Deno.listenDatagram` (lib/host/udp_socket.ts), portable and without FFI.
 * @module
 */
import type { Config } from "../config/config.ts";
import { DATA_OVERHEAD_BYTES } from "../core/constants.ts";
import type { PathSocket } from "../engine/ports.ts";
import { type FfiUdpSocket, openFfiUdpSocket, steerBySessionIndex } from "../../ffi/udp_linux.ts";
import type { SocketStatsInput } from "../control/status.ts";
import { interfaceOfAddress } from "./interface_of.ts";
import { openUdpSocket, openWildcardSockets } from "./udp_socket.ts";

/** Which UDP implementation to use. */
export type Transport = "ffi" | "deno";

/** A path socket with the counters `show` reports. */
export type CountedSocket = PathSocket & { readonly stats: SocketStatsInput };

/**
 * Opens the sockets of `config`; closes what it opened and throws a clear error on failure.
 * With the `ffi` transport each `Bind` socket is tied to the interface holding its address
 * (SO_BINDTODEVICE), so a path end's datagrams leave through its own uplink even when the
 * routing table would send them elsewhere.
 */
export async function openPathSockets(
  config: Config,
  transport: Transport,
  reusePort = false,
): Promise<CountedSocket[]> {
  const addresses = config.binds.map((b) => b.address);
  const devices = transport === "ffi"
    ? await Promise.all(addresses.map(interfaceOfAddress))
    : addresses.map(() => undefined);
  const sockets: CountedSocket[] = [];
  try {
    if (addresses.length === 0) return openWildcard(config, transport, reusePort);
    let port = config.listenPort;
    for (const [i, address] of addresses.entries()) {
      const socket = open(address, port, config, transport, devices[i], reusePort);
      port = socket.localAddr.port;
      sockets.push(socket);
    }
    return sockets;
  } catch (error) {
    for (const socket of sockets) socket.close();
    throw new Error(`cannot bind UDP port ${config.listenPort}: ${(error as Error).message}`);
  }
}

/**
 * The sockets of `config` for `lanes` data plane workers (FFI transport): per lane one socket
 * per local end, each end's sockets one `SO_REUSEPORT` group on one port, in which the kernel
 * hands a session's datagrams to the socket of lane (session index mod `lanes`). Closes what it
 * opened and throws a clear error on failure.
 */
export async function openPathSocketSets(config: Config, lanes: number): Promise<FfiUdpSocket[][]> {
  const sets: FfiUdpSocket[][] = [];
  try {
    const first = await openPathSockets(config, "ffi", true) as FfiUdpSocket[];
    sets.push(first);
    const devices = await Promise.all(config.binds.map((b) => interfaceOfAddress(b.address)));
    for (let lane = 1; lane < lanes; lane++) {
      sets.push(
        first.map((socket, local) =>
          open(
            socket.handle.localAddr.hostname,
            socket.localAddr.port,
            config,
            "ffi",
            devices[local],
            true,
          ) as FfiUdpSocket
        ),
      );
    }
    for (const group of sets[0].map((_, local) => sets.map((set) => set[local]))) {
      for (const socket of group) steerBySessionIndex(socket, lanes);
    }
    return sets;
  } catch (error) {
    for (const socket of sets.flat()) socket.close();
    throw new Error(`cannot bind UDP port ${config.listenPort}: ${(error as Error).message}`);
  }
}

function open(
  address: string,
  port: number,
  config: Config,
  transport: Transport,
  device?: string,
  reusePort = false,
) {
  if (transport === "deno") return openUdpSocket(address, port);
  // A slot holds the largest datagram the MTU produces (plus IP options slack). Bursts of equal
  // datagrams go out as one send and may come in as one receive (UDP GSO and GRO).
  const maxDatagramBytes = Math.max(2048, config.mtu + DATA_OVERHEAD_BYTES + 64);
  return openFfiUdpSocket(address, port, {
    maxDatagramBytes,
    device,
    receiveCoalescing: true,
    reusePort,
  });
}

/** The dual-stack `::` socket, or `0.0.0.0` where IPv6 is unavailable. */
function openWildcard(config: Config, transport: Transport, reusePort: boolean): CountedSocket[] {
  if (transport === "deno") return openWildcardSockets(config.listenPort);
  try {
    return [open("::", config.listenPort, config, transport, undefined, reusePort)];
  } catch (error) {
    if ((error as { errnoName?: string }).errnoName !== "EAFNOSUPPORT") throw error;
    return [open("0.0.0.0", config.listenPort, config, transport, undefined, reusePort)];
  }
}
