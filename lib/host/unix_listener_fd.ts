/**
 * The file descriptor of a listening Unix socket this process holds, found by its path through
 * `/proc` (Linux). Deno does not hand out the descriptor of a `Deno.serve` socket; the engine's
 * loop watches it (never reads it) to learn that a `show` is knocking while the loop keeps Deno's
 * event loop from polling for it (docs/DATAPATH.md, "One loop").
 * @module
 */
import { ownDescriptors } from "./own_descriptors.ts";

/** `__SO_ACCEPTCON` in the Flags column of `/proc/net/unix`: the socket listens. */
const SO_ACCEPTCON = 0x10000;

/**
 * The inode of the listening socket bound to `path` in the text of `/proc/net/unix`, or null.
 * Columns: Num, RefCount, Protocol, Flags, Type, St, Inode, then the path (which may hold spaces).
 */
export function listenerInode(procNetUnix: string, path: string): number | null {
  for (const line of procNetUnix.split("\n").slice(1)) {
    const m = line.match(/^\S+: \S+ \S+ ([0-9A-Fa-f]+) \S+ \S+\s+(\d+) (.*)$/);
    if (m && m[3] === path && (parseInt(m[1], 16) & SO_ACCEPTCON) !== 0) return Number(m[2]);
  }
  return null;
}

/**
 * The descriptor of this process's listening socket at `path`, or null when there is none or
 * `/proc` cannot be read (the caller then goes without).
 */
export function unixListenerFd(path: string): number | null {
  try {
    const inode = listenerInode(Deno.readTextFileSync("/proc/net/unix"), path);
    if (inode === null) return null;
    const target = `socket:[${inode}]`;
    return ownDescriptors().find((d) => d.target === target)?.fd ?? null;
  } catch {
    // No /proc, or no permission to read it.
  }
  return null;
}
