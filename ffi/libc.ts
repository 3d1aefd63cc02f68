/**
 * The project's only `Deno.dlopen` of the C library, opened lazily on first use.
 *
 * Calling convention (see docs in `/work/shared/research/deno-feasibility.md`): hot-path pointers
 * are passed as BigInt addresses in `u64` parameters (V8 fast calls, 5–10 ns), so every buffer
 * whose address goes to C must stay reachable from a long-lived reference while C may use it.
 * `errno` is thread-local: read it with {@link errno} on the same thread, right after the failing
 * synchronous call, with no other FFI call in between. Each Worker opens its own copy.
 *
 * Variadic functions (`open`, `fcntl`, `ioctl`) are declared with one fixed extra argument; this
 * is sound on x86-64 and aarch64 Linux, where glibc reads the extra argument from the same
 * register as a fixed one.
 * @module
 */

const SYMBOLS = {
  /** int open(const char *pathname, int flags, mode_t mode); */
  open: { parameters: ["buffer", "i32", "u32"], result: "i32" },
  /** int close(int fd); */
  close: { parameters: ["i32"], result: "i32" },
  /**
   * ssize_t read(int fd, void *buf, size_t count); buf as a raw address. The result is read as
   * its low 32 bits (`i32`: -1 stays -1, counts stay below 2^31), so no BigInt is made per call.
   */
  read: { parameters: ["i32", "u64", "usize"], result: "i32" },
  /** ssize_t write(int fd, const void *buf, size_t count); buf as a raw address, result as above. */
  write: { parameters: ["i32", "u64", "usize"], result: "i32" },
  /** int ioctl(int fd, unsigned long request, void *argp); */
  ioctl: { parameters: ["i32", "u64", "buffer"], result: "i32" },
  /** int ioctl(int fd, unsigned long request, unsigned long arg); for requests taking a value. */
  ioctlValue: { name: "ioctl", parameters: ["i32", "u64", "u64"], result: "i32" },
  /** int poll(struct pollfd *fds, nfds_t nfds, int timeout); fds as a raw address. */
  poll: { parameters: ["u64", "u64", "i32"], result: "i32" },
  /**
   * int poll(struct pollfd *fds, nfds_t nfds, int timeout); on Deno's FFI thread pool.
   * About 30 µs per call: use it only to park while idle, never per packet. errno is not
   * readable after it (another thread ran it).
   */
  pollAsync: { name: "poll", parameters: ["u64", "u64", "i32"], result: "i32", nonblocking: true },
  /** int fcntl(int fd, int cmd, long arg); */
  fcntl: { parameters: ["i32", "i32", "i64"], result: "i32" },
  /** int eventfd(unsigned int initval, int flags); */
  eventfd: { parameters: ["u32", "i32"], result: "i32" },
  /** int timerfd_create(int clockid, int flags); */
  timerfdCreate: { name: "timerfd_create", parameters: ["i32", "i32"], result: "i32" },
  /**
   * int timerfd_settime(int fd, int flags, const struct itimerspec *new_value,
   *                     struct itimerspec *old_value); old_value as a raw address (0: NULL).
   */
  timerfdSettime: {
    name: "timerfd_settime",
    parameters: ["i32", "i32", "buffer", "u64"],
    result: "i32",
  },
  /** int *__errno_location(void); the calling thread's errno. */
  errnoLocation: { name: "__errno_location", parameters: [], result: "pointer" },
  /** char *strerror(int errnum); */
  strerror: { parameters: ["i32"], result: "pointer" },
  /** int socket(int domain, int type, int protocol); */
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  /** int bind(int sockfd, const struct sockaddr *addr, socklen_t addrlen); */
  bind: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  /** int getsockname(int sockfd, struct sockaddr *addr, socklen_t *addrlen); */
  getsockname: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  /**
   * int setsockopt(int sockfd, int level, int optname, const void *optval, socklen_t optlen);
   */
  setsockopt: { parameters: ["i32", "i32", "i32", "buffer", "u32"], result: "i32" },
  /** int getsockopt(int sockfd, int level, int optname, void *optval, socklen_t *optlen); */
  getsockopt: { parameters: ["i32", "i32", "i32", "buffer", "buffer"], result: "i32" },
  /**
   * int recvmmsg(int sockfd, struct mmsghdr *msgvec, unsigned int vlen, int flags,
   *              struct timespec *timeout); msgvec and timeout as raw addresses.
   */
  recvmmsg: { parameters: ["i32", "u64", "u32", "i32", "u64"], result: "i32" },
  /**
   * int sendmmsg(int sockfd, struct mmsghdr *msgvec, unsigned int vlen, int flags);
   * msgvec as a raw address.
   */
  sendmmsg: { parameters: ["i32", "u64", "u32", "i32"], result: "i32" },
} as const;

/** The typed libc functions declared by this module. */
export type LibcSymbols = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

let library: Deno.DynamicLibrary<typeof SYMBOLS> | null = null;
/**
 * This thread's `errno`, as a view on its memory: reading it is a plain load, where
 * `UnsafePointerView.getInt32` would be a call into the runtime on every failed read (one per
 * empty TUN read or `recvmmsg`, several per packet at rest). The thread's errno stays at one
 * address for the thread's life, and each Worker opens its own copy of this module.
 */
let errnoCell: Int32Array | null = null;

/** The libc symbols, opening `libc.so.6` on the first call. */
export function libc(): LibcSymbols {
  if (library === null) {
    library = Deno.dlopen("libc.so.6", SYMBOLS);
    const location = library.symbols.errnoLocation();
    if (location === null) throw new Error("__errno_location() returned NULL");
    errnoCell = new Int32Array(Deno.UnsafePointerView.getArrayBuffer(location, 4));
  }
  return library.symbols;
}

/**
 * Closes the library (for tests under `--sanitize-resources`); the next {@link libc} call opens it
 * again. Only call it when nothing that captured the symbols (such as an open TUN) is in use.
 */
export function closeLibc(): void {
  library?.close();
  library = null;
  errnoCell = null;
}

/** The calling thread's current errno; read it right after the failing sync call. */
export function errno(): number {
  if (errnoCell === null) libc();
  return errnoCell![0];
}

/** The C library's text for an errno value, e.g. `Device or resource busy`. */
export function strerror(code: number): string {
  const text = libc().strerror(code);
  return text === null ? `errno ${code}` : Deno.UnsafePointerView.getCString(text);
}

/** The raw address of a view's first byte (0 when empty), as a BigInt for `u64` parameters. */
export function addressOf(view: ArrayBufferView): bigint {
  return BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(view as BufferSource)));
}

/** BigInts for sizes up to 64 KiB, made once each: a `usize` argument without an allocation. */
const SIZES: bigint[] = [];

/** `BigInt(n)` for a byte count, cached for counts up to 65535. */
export function sizeOf(n: number): bigint {
  if (n > 0xffff) return BigInt(n);
  return SIZES[n] ??= BigInt(n);
}
