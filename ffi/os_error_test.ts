import assert from "node:assert/strict";
import { closeLibc, libc, strerror } from "./libc.ts";
import { check, Errno, errnoDescription, errnoName, OsError } from "./os_error.ts";

Deno.test("OsError names the call, the errno name and its text", () => {
  const error = new OsError("ioctl(TUNSETIFF)", Errno.EBUSY);
  assert.ok(error instanceof Error);
  assert.equal(error.name, "OsError");
  assert.equal(error.message, "ioctl(TUNSETIFF) failed: EBUSY (Device or resource busy)");
  assert.equal(error.syscall, "ioctl(TUNSETIFF)");
  assert.equal(error.code, 16);
  assert.equal(error.errnoName, "EBUSY");
});

Deno.test("the errno table has the common values", () => {
  const required = [
    ["EPERM", 1],
    ["ENOENT", 2],
    ["EINTR", 4],
    ["EBADF", 9],
    ["EAGAIN", 11],
    ["ENOMEM", 12],
    ["EACCES", 13],
    ["EBUSY", 16],
    ["EEXIST", 17],
    ["ENODEV", 19],
    ["EINVAL", 22],
    ["ENFILE", 23],
    ["EMFILE", 24],
    ["ENOSPC", 28],
    ["EIO", 5],
    ["ENOBUFS", 105],
  ] as const;
  for (const [name, code] of required) {
    assert.equal(Errno[name], code);
    assert.equal(errnoName(code), name);
  }
});

Deno.test("the table's descriptions match the C library's strerror", () => {
  try {
    for (const [name, code] of Object.entries(Errno)) {
      assert.equal(errnoDescription(code), strerror(code), name);
    }
  } finally {
    closeLibc();
  }
});

Deno.test("an errno outside the table gets a numeric name and strerror's text", () => {
  try {
    const error = new OsError("frob", 200);
    assert.equal(error.errnoName, "errno 200");
    assert.equal(error.message, "frob failed: errno 200 (Unknown error 200)");
  } finally {
    closeLibc();
  }
});

Deno.test("check passes non-negative results through", () => {
  assert.equal(check(0, "x"), 0);
  assert.equal(check(7, "x"), 7);
  assert.equal(check(1400n, "x"), 1400n);
});

Deno.test("check turns -1 into an OsError carrying the thread's errno", () => {
  try {
    assert.throws(() => check(libc().close(-1), "close(-1)"), (error) => {
      assert.ok(error instanceof OsError);
      assert.equal(error.code, Errno.EBADF);
      assert.equal(error.syscall, "close(-1)");
      assert.equal(error.message, "close(-1) failed: EBADF (Bad file descriptor)");
      return true;
    });
  } finally {
    closeLibc();
  }
});
