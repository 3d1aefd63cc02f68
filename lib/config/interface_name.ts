/**
 * The interface is named after its config file, as with wg-quick: `/etc/centipede/wg0.conf`
 * brings up `wg0`.
 * @module
 */

const NAME = /^[a-zA-Z0-9_=+.-]{1,15}$/;
const SUFFIX = ".conf";

/** Returns the interface name for a config path (`wg0` for `.../wg0.conf`); throws otherwise. */
export function interfaceNameFromPath(path: string): string {
  const base = path.slice(path.lastIndexOf("/") + 1);
  const name = base.endsWith(SUFFIX) ? base.slice(0, -SUFFIX.length) : "";
  if (!NAME.test(name)) {
    throw new Error(
      "the config file must be named after a valid interface name " +
        `(1-15 of a-z A-Z 0-9 _ = + . -) followed by .conf: got "${path}"`,
    );
  }
  return name;
}
