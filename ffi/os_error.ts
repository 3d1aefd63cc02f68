/**
 * Errors from failed system calls, with the errno number, its symbolic name and its text.
 * @module
 */

import { errno, strerror } from "./libc.ts";

/** Linux errno values used by the project (x86-64 and aarch64 share these numbers). */
export const Errno = {
  EPERM: 1,
  ENOENT: 2,
  EINTR: 4,
  EIO: 5,
  ENXIO: 6,
  EBADF: 9,
  EAGAIN: 11,
  ENOMEM: 12,
  EACCES: 13,
  EFAULT: 14,
  EBUSY: 16,
  EEXIST: 17,
  ENODEV: 19,
  EINVAL: 22,
  ENFILE: 23,
  EMFILE: 24,
  ENOSPC: 28,
  EBADFD: 77,
  EMSGSIZE: 90,
  EOPNOTSUPP: 95,
  EAFNOSUPPORT: 97,
  EADDRINUSE: 98,
  ENETDOWN: 100,
  ENETUNREACH: 101,
  ENOBUFS: 105,
  ECONNREFUSED: 111,
  EHOSTUNREACH: 113,
} as const;

/** glibc's `strerror` text for each value of {@link Errno}. */
const DESCRIPTIONS: Readonly<Record<number, string>> = {
  1: "Operation not permitted",
  2: "No such file or directory",
  4: "Interrupted system call",
  5: "Input/output error",
  6: "No such device or address",
  9: "Bad file descriptor",
  11: "Resource temporarily unavailable",
  12: "Cannot allocate memory",
  13: "Permission denied",
  14: "Bad address",
  16: "Device or resource busy",
  17: "File exists",
  19: "No such device",
  22: "Invalid argument",
  23: "Too many open files in system",
  24: "Too many open files",
  28: "No space left on device",
  77: "File descriptor in bad state",
  90: "Message too long",
  95: "Operation not supported",
  97: "Address family not supported by protocol",
  98: "Address already in use",
  100: "Network is down",
  101: "Network is unreachable",
  105: "No buffer space available",
  111: "Connection refused",
  113: "No route to host",
};

const NAMES: ReadonlyMap<number, string> = new Map(
  Object.entries(Errno).map(([name, code]) => [code, name]),
);

/** The symbolic name of an errno value, e.g. `EBUSY`; `errno N` when not in {@link Errno}. */
export function errnoName(code: number): string {
  return NAMES.get(code) ?? `errno ${code}`;
}

/** The text of an errno value: from the table, else from the C library's `strerror`. */
export function errnoDescription(code: number): string {
  return DESCRIPTIONS[code] ?? strerror(code);
}

/** A failed system call, e.g. `ioctl(TUNSETIFF) failed: EBUSY (Device or resource busy)`. */
export class OsError extends Error {
  /** The call that failed, with a detail in parentheses when useful: `ioctl(TUNSETIFF)`. */
  readonly syscall: string;
  /** The errno number. */
  readonly code: number;
  /** The symbolic errno name, e.g. `EBUSY`. */
  readonly errnoName: string;

  /** Builds the error for `syscall` failing with errno `code`. */
  constructor(syscall: string, code: number, description = errnoDescription(code)) {
    const name = errnoName(code);
    super(`${syscall} failed: ${name} (${description})`);
    this.name = "OsError";
    this.syscall = syscall;
    this.code = code;
    this.errnoName = name;
  }
}

/** Returns `result` unless it is negative, then throws an {@link OsError} with the current errno. */
export function check<T extends number | bigint>(result: T, syscall: string): T {
  if (result < 0) throw new OsError(syscall, errno());
  return result;
}
