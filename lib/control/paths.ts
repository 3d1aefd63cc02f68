/**
 * Where the control sockets live: `/run/centipede/NAME.sock`, one per running interface. The
 * environment variable `CENTIPEDE_CONTROL_DIR` moves the directory, for interfaces of the same
 * name in different network namespaces (which share /run) and for tests.
 * @module
 */

/** Default directory of the control sockets. */
export const CONTROL_DIR = "/run/centipede";

/** Environment variable that overrides {@link CONTROL_DIR}. */
export const CONTROL_DIR_ENV = "CENTIPEDE_CONTROL_DIR";

/** Suffix of a control socket's file name. */
export const SOCKET_SUFFIX = ".sock";

const NAME = /^[a-zA-Z0-9_=+.-]{1,15}$/;

/**
 * The control directory: `$CENTIPEDE_CONTROL_DIR` when set and readable without a permission
 * prompt, else /run/centipede.
 */
export function controlDir(): string {
  try {
    const query = { name: "env", variable: CONTROL_DIR_ENV } as const;
    if (Deno.permissions.querySync(query).state !== "granted") return CONTROL_DIR;
    return Deno.env.get(CONTROL_DIR_ENV) || CONTROL_DIR;
  } catch {
    return CONTROL_DIR;
  }
}

/** True for a valid interface name (1-15 of `a-z A-Z 0-9 _ = + . -`, not `.` or `..`). */
export function isInterfaceName(name: string): boolean {
  return NAME.test(name) && name !== "." && name !== "..";
}

/** The control socket of interface `name`; throws on a name that is not an interface name. */
export function socketPath(name: string, dir: string = controlDir()): string {
  if (!isInterfaceName(name)) throw new TypeError(`"${name}" is not a valid interface name`);
  return `${dir.endsWith("/") ? dir.slice(0, -1) : dir}/${name}${SOCKET_SUFFIX}`;
}
