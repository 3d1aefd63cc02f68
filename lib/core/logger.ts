/** The core's logging port: one line per event worth knowing; `debug` for per-packet detail. */
export interface Logger {
  info(message: string): void;
  debug(message: string): void;
}

/** A logger that discards everything. */
export const silentLogger: Logger = { info() {}, debug() {} };
