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
  show [NAME]     show running interfaces, their peers and paths (--json, --watch)
  down NAME       stop a running interface (NAME or FILE.conf)
  reload NAME     re-read a running interface's config file (NAME or FILE.conf)
  syncconf NAME FILE  apply FILE's peers to a running interface, keeping sessions that stay
  reset-timestamp NAME PEER  answer PEER's next handshake even if its clock went back
  lab FILE.yaml   run a scenario in network namespaces: two peers, paths, events (docs/LAB.md)

Options:
  -h, --help      show help (also: centipede <command> --help)
  -V, --version   show the version

Configuration format: docs/CONFIG.md. Protocol: docs/PROTOCOL.md. Control socket and
metrics: docs/CONTROL.md.`;

/** Help of each command. */
export const COMMAND_USAGE: Record<string, string> = {
  genkey: `Usage: centipede genkey

Prints a new random private key in base64. Keep it secret: write it with umask 077.`,
  pubkey: `Usage: centipede pubkey < private.key

Reads a base64 private key on stdin and prints the matching public key.`,
  up:
    `Usage: centipede up [--debug] [--udp=ffi|deno] [--offload=on|off] [--workers=N] PATH/NAME.conf

Creates the TUN interface NAME (a valid interface name, 1-15 characters), assigns its
Address(es), MTU and routes for AllowedIPs, and runs in the foreground until SIGINT or SIGTERM,
then removes the interface. SIGHUP re-reads the file and applies its peers without dropping
sessions that stay. Needs root (CAP_NET_ADMIN).

  --debug     log per-handshake detail (same as CENTIPEDE_LOG=debug)
  --udp=ffi   UDP through libc with recvmmsg/sendmmsg batches (default)
  --udp=deno  UDP through Deno.listenDatagram (portable, slower)
  --offload=on|off
              TUN with TCP segmentation offload: the kernel hands over and takes 64 KiB
              TCP packets, cut and joined here (default on; needs --udp=ffi)
  --workers=N run the data plane in N worker threads, each with its own TUN queue and
              sockets (default 0: on the main thread, or CENTIPEDE_WORKERS; needs --udp=ffi)

While it runs, /run/centipede/NAME.sock answers show, down and reload (docs/CONTROL.md).`,
  show: `Usage: centipede show [--json] [--watch] [NAME]

Shows the running interface NAME, or every running one: public key, listening addresses,
drop counters, then each peer (latest handshake, transfer, mode) with a table of its paths
(state, RTT, loss, bytes each way, duplicates, share of packets delivered first).

  --json      print the status as JSON (an array when no NAME is given); see docs/CONTROL.md
  --watch     redraw every second until Ctrl-C`,
  down: `Usage: centipede down NAME | PATH/NAME.conf

Stops the running interface NAME as SIGTERM would (PreDown/PostDown hooks run, the interface
is removed) and waits up to 5 seconds for it to be gone.`,
  reload: `Usage: centipede reload NAME | PATH/NAME.conf

Makes the running interface NAME re-read its config file, as SIGHUP does: peers are applied in
one step, sessions of peers that stay are kept. Prints the outcome; exit status 1 when the file
was rejected (then nothing changed).`,
  syncconf: `Usage: centipede syncconf NAME PATH/FILE.conf

Sends FILE's configuration to the running interface NAME, which applies its peers (keys,
endpoints, allowed IPs, keepalive, mode) in one step, as wg syncconf does: sessions of peers that
stay are kept; Bind and ListenPort move the sockets; PrivateKey, Address and MTU are reported as
needing a restart. Exit status 1 when
the file was rejected (then nothing changed).`,
  "reset-timestamp": `Usage: centipede reset-timestamp NAME PEER

A responder answers a peer's handshake initiation only if its timestamp (the peer's clock) is
newer than every one answered before, so a replayed initiation gets no answer. If the peer's
clock ran ahead and was then set back, its initiations are refused until our clock passes the
newest one answered (show prints it when it is more than a minute ahead). This makes the running
interface NAME forget that timestamp for PEER (a base64 public key): PEER's next initiation is
answered whatever its timestamp. Sessions are kept.`,
  lab: `Usage: centipede lab [--out DIR] [--json FILE] [--svg FILE] SCENARIO.yaml

Runs a scenario in fresh network namespaces: a client and a server (optionally a NAT router
between them) joined by the scenario's paths, with their rate and loss; both peers up with
configs written from the scenario; a ping and/or a TCP flow through the tunnel; and a timeline of
events (path down/up, rate, loss, NAT rebind, reload). Prints a line per second (ping, TCP, and
per path: state, RTT, Mbit/s sent, first-arrival share, duplicates) and, per event, the outage
and the TCP rate before and after. Everything it made is removed at the end, also on Ctrl-C.
Needs root. The scenario format: docs/LAB.md; examples: examples/lab/.

  --out DIR    write NAME.json and NAME.svg there (default: a new directory under /tmp)
  --json FILE  the result: every per-second sample, the events and their outages
  --svg FILE   a chart: throughput and RTT over time, events marked`,
};
