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
import { openFfiUdpSocket } from "../../ffi/udp_linux.ts";
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
): Promise<CountedSocket[]> {
  const addresses = config.binds.map((b) => b.address);
  const devices = transport === "ffi"
    ? await Promise.all(addresses.map(interfaceOfAddress))
    : addresses.map(() => undefined);
  const sockets: CountedSocket[] = [];
  try {
    if (addresses.length === 0) return openWildcard(config, transport);
    let port = config.listenPort;
    for (const [i, address] of addresses.entries()) {
      const socket = open(address, port, config, transport, devices[i]);
      port = socket.localAddr.port;
      sockets.push(socket);
    }
    return sockets;
  } catch (error) {
    for (const socket of sockets) socket.close();
    throw new Error(`cannot bind UDP port ${config.listenPort}: ${(error as Error).message}`);
  }
}

function open(
  address: string,
  port: number,
  config: Config,
  transport: Transport,
  device?: string,
) {
  if (transport === "deno") return openUdpSocket(address, port);
  // A slot holds the largest datagram the MTU produces (plus IP options slack). Bursts of equal
  // datagrams go out as one send and may come in as one receive (UDP GSO and GRO).
  const maxDatagramBytes = Math.max(2048, config.mtu + DATA_OVERHEAD_BYTES + 64);
  return openFfiUdpSocket(address, port, { maxDatagramBytes, device, receiveCoalescing: true });
}

/** The dual-stack `::` socket, or `0.0.0.0` where IPv6 is unavailable. */
function openWildcard(config: Config, transport: Transport): CountedSocket[] {
  if (transport === "deno") return openWildcardSockets(config.listenPort);
  try {
    return [open("::", config.listenPort, config, transport)];
  } catch (error) {
    if ((error as { errnoName?: string }).errnoName !== "EAFNOSUPPORT") throw error;
    return [open("0.0.0.0", config.listenPort, config, transport)];
  }
}
