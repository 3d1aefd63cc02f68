/**
 * This process's open file descriptors and what each one is, as `/proc/self/fd` (Linux) links
 * them: `socket:[INODE]`, `anon_inode:[timerfd]`, a file's path.
 * @module
 */

/** One open descriptor and the target of its `/proc/self/fd` link. */
export interface OwnDescriptor {
  readonly fd: number;
  readonly target: string;
}

/**
 * The descriptors open now. One closed during the listing is left out (the directory's own is
 * one of them). Throws when `/proc/self/fd` cannot be read.
 */
export function ownDescriptors(): OwnDescriptor[] {
  const found: OwnDescriptor[] = [];
  for (const entry of Deno.readDirSync("/proc/self/fd")) {
    try {
      found.push({
        fd: Number(entry.name),
        target: Deno.readLinkSync(`/proc/self/fd/${entry.name}`),
      });
    } catch {
      // Closed since the listing.
    }
  }
  return found;
}
