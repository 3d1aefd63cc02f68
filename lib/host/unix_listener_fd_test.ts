import assert from "node:assert/strict";
import { listenerInode, unixListenerFd } from "./unix_listener_fd.ts";

const PROC_NET_UNIX = `Num       RefCount Protocol Flags    Type St Inode Path
00000000ec5b6029: 00000003 00000000 00000000 0001 03  1277
0000000012345678: 00000002 00000000 00010000 0001 01 40211 /run/centipede/wg0.sock
00000000abcdef01: 00000003 00000000 00000000 0001 03 40300 /run/centipede/wg0.sock
0000000012345679: 00000002 00000000 00010000 0001 01 40400 /tmp/a dir/wg 1.sock
`;

Deno.test("listenerInode: the listening socket at the path, not a connection to it", () => {
  assert.equal(listenerInode(PROC_NET_UNIX, "/run/centipede/wg0.sock"), 40211);
  assert.equal(listenerInode(PROC_NET_UNIX, "/tmp/a dir/wg 1.sock"), 40400, "spaces in the path");
  assert.equal(listenerInode(PROC_NET_UNIX, "/run/centipede/wg1.sock"), null);
  assert.equal(listenerInode("", "/run/centipede/wg0.sock"), null);
});

Deno.test("unixListenerFd: finds the descriptor of a real Deno.listen socket", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/ctl.sock`;
  const listener = Deno.listen({ transport: "unix", path });
  try {
    const fd = unixListenerFd(path);
    assert.ok(fd !== null && fd > 2, `a descriptor, got ${fd}`);
    const link = Deno.readLinkSync(`/proc/self/fd/${fd}`);
    assert.match(link, /^socket:\[\d+\]$/);
    assert.equal(unixListenerFd(`${dir}/other.sock`), null);
  } finally {
    listener.close();
    await Deno.remove(dir, { recursive: true });
  }
});
