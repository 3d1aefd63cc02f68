/** Help texts of the command line. */

/** The program version (kept equal to deno.json). */
export const VERSION = "0.1.0";

/** `centipede --help`. */
export const MAIN_USAGE = `centipede ${VERSION}: a multipath VPN

Usage: centipede <command> [arguments]

Commands:
  genkey          print a new private key (base64)
  pubkey          read a private key on stdin, print its public key
  up FILE.conf    bring up the interface named after FILE and run it in the foreground

Options:
  -h, --help      show help (also: centipede <command> --help)
  -V, --version   show the version

Configuration format: docs/CONFIG.md. Protocol: docs/PROTOCOL.md.`;

/** Help of each command. */
export const COMMAND_USAGE: Record<string, string> = {
  genkey: `Usage: centipede genkey

Prints a new random private key in base64. Keep it secret: write it with umask 077.`,
  pubkey: `Usage: centipede pubkey < private.key

Reads a base64 private key on stdin and prints the matching public key.`,
  up: `Usage: centipede up [--debug] PATH/NAME.conf

Creates the TUN interface NAME (a valid interface name, 1-15 characters), assigns its
Address(es), MTU and routes for AllowedIPs, and runs in the foreground until SIGINT or SIGTERM,
then removes the interface. SIGHUP re-reads the file and applies its peers without dropping
sessions that stay. Needs root (CAP_NET_ADMIN).

  --debug     log per-handshake detail (same as CENTIPEDE_LOG=debug)`,
};
