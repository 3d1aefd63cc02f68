/**
 * The process logger: one line per event on stderr, `LEVEL iface: message`, with a time stamp.
 * `CENTIPEDE_LOG=debug` shows per-handshake detail.
 * @module
 */
import type { Logger } from "../core/logger.ts";

/** A logger writing to stderr, prefixed with the interface name. */
export function stderrLogger(iface: string, debug = false): Logger {
  const write = (level: string, message: string) => {
    const time = new Date().toISOString().slice(11, 23);
    console.error(`${time} ${level} ${iface}: ${message}`);
  };
  return {
    info: (message) => write("INFO ", message),
    debug: debug ? (message) => write("DEBUG", message) : () => {},
  };
}
