/**
 * Where the control sockets live: `/run/centipede/NAME.sock`, one per running interface.
 * @module
 */

/** Default directory of the control sockets. */
export const CONTROL_DIR = "/run/centipede";

/** Suffix of a control socket's file name. */
export const SOCKET_SUFFIX = ".sock";

const NAME = /^[a-zA-Z0-9_=+.-]{1,15}$/;

/** True for a valid interface name (1-15 of `a-z A-Z 0-9 _ = + . -`, not `.` or `..`). */
export function isInterfaceName(name: string): boolean {
  return NAME.test(name) && name !== "." && name !== "..";
}

/** The control socket of interface `name`; throws on a name that is not an interface name. */
export function socketPath(name: string, dir: string = CONTROL_DIR): string {
  if (!isInterfaceName(name)) throw new TypeError(`"${name}" is not a valid interface name`);
  return `${dir.endsWith("/") ? dir.slice(0, -1) : dir}/${name}${SOCKET_SUFFIX}`;
}
