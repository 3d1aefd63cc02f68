import { strict as assert } from "node:assert";
import { DEFAULT_MTU } from "../core/constants.ts";
import { type BindSpec, ConfigError, MODES } from "./config.ts";
import { decodeKey } from "./base64_key.ts";
import { parseConfig } from "./parse.ts";

const FILE = "wg0.conf";
const PRIVATE = "F63k91WyZvysBSPFxkhoKPkeAOG8p9Ee2zyvJqeWUWM=";
const PRIVATE_2 = "h/ao9bJCpaUSrmY+82MCN2CDnoJpQY4r3unelLd0dcU=";
const PUB_A = "6G3IVI1Y2QymrDGOO2yp6dGSgnkRCQS8BzFhlnCgfN0=";
const PUB_B = "xrtQelHEIvabZFgsE1+ztutzBNO47LP1wGBYbU/71Fc=";
const KEY_MESSAGE = 'not a 32-byte base64 key (44 characters ending in "=")';

/** Lines 1-3: [Interface], PrivateKey, Address. Extra lines start at line 4. */
function cfg(...extra: string[]): string {
  return ["[Interface]", `PrivateKey = ${PRIVATE}`, "Address = 10.77.0.1/24", ...extra].join("\n");
}

/** Lines 4-6 when appended by `cfg`: a complete peer. */
const PEER_A = ["[Peer]", `PublicKey = ${PUB_A}`, "AllowedIPs = 10.77.0.2/32"];

interface ErrorCase {
  readonly name: string;
  readonly text: string;
  readonly line: number;
  /** "" when the error is about a line rather than a key. */
  readonly key: string;
  readonly has: string;
  /** Secret text (besides PRIVATE) that must not appear in the message. */
  readonly secret?: string;
  readonly hasNot?: string;
}

function badPrivate(value: string): ErrorCase {
  const text = ["[Interface]", `PrivateKey = ${value}`].join("\n");
  return {
    name: `bad PrivateKey ${value}`,
    text,
    line: 2,
    key: "PrivateKey",
    has: KEY_MESSAGE,
    secret: value,
  };
}

function badPublic(value: string): ErrorCase {
  const text = cfg("[Peer]", `PublicKey = ${value}`);
  return { name: `bad PublicKey ${value}`, text, line: 5, key: "PublicKey", has: KEY_MESSAGE };
}

function interfaceValue(key: string, value: string, has: string): ErrorCase {
  return { name: `${key} = ${value}`, text: cfg(`${key} = ${value}`), line: 4, key, has };
}

function peerValue(key: string, value: string, has: string): ErrorCase {
  const text = cfg("[Peer]", `PublicKey = ${PUB_A}`, `${key} = ${value}`);
  return { name: `${key} = ${value}`, text, line: 6, key, has };
}

/** A bad `Bind` on line 4. */
function bindValue(value: string, has: string, hasNot?: string): ErrorCase {
  return { ...interfaceValue("Bind", value, has), hasNot };
}

/** A peer with `Mode` and `Redundancy` lines (in the order given) on lines 6 and 7. */
function modeCase(lines: string[], line: number, has: string): ErrorCase {
  const text = cfg("[Peer]", `PublicKey = ${PUB_A}`, ...lines);
  return { name: lines.join(", "), text, line, key: "Redundancy", has };
}

const REDUNDANCY_MODES = "Redundancy applies to Mode = duplicate or adaptive";

const CASES: ErrorCase[] = [
  // Unknown and unsupported keys.
  {
    name: "unknown key with hint",
    text: cfg("Adress = 10.0.0.1"),
    line: 4,
    key: "Adress",
    has: "unknown key in [Interface]; did you mean Address?",
  },
  {
    name: "unknown key without hint",
    text: cfg("Frobnicate = 1"),
    line: 4,
    key: "Frobnicate",
    has: "unknown key in [Interface]",
    hasNot: "did you mean",
  },
  {
    name: "unknown key in [Peer] with hint",
    text: cfg("[Peer]", "PublicKy = x"),
    line: 5,
    key: "PublicKy",
    has: "unknown key in [Peer]; did you mean PublicKey?",
  },
  {
    name: "hint is case-insensitive",
    text: cfg("persistentkeepalve = 5"),
    line: 4,
    key: "persistentkeepalve",
    has: "did you mean PersistentKeepalive?",
  },
  ...["PresharedKey", "FwMark", "Table", "SaveConfig", "DNS"].map((key) => ({
    name: `unsupported ${key}`,
    text: cfg(`${key.toLowerCase()} = something`),
    line: 4,
    key,
    has: `${key} is a WireGuard option that centipede does not support`,
  })),
  {
    name: "unsupported PresharedKey in [Peer]",
    text: cfg(...PEER_A, `PresharedKey = ${PUB_B}`),
    line: 7,
    key: "PresharedKey",
    has: "PresharedKey is a WireGuard option that centipede does not support",
  },
  {
    name: "peer key in [Interface]",
    text: cfg("Endpoint = 203.0.113.1:51820"),
    line: 4,
    key: "Endpoint",
    has: "belongs in [Peer], not in [Interface]",
  },
  {
    name: "interface key in [Peer]",
    text: cfg(...PEER_A, "listenport = 1"),
    line: 7,
    key: "ListenPort",
    has: "belongs in [Interface], not in [Peer]",
  },
  // Sections.
  {
    name: "key before any section",
    text: ["# comment", "", "listenport = 51820", "[Interface]"].join("\n"),
    line: 3,
    key: "ListenPort",
    has: "must be inside an [Interface] or [Peer] section",
  },
  {
    name: "unknown key before any section",
    text: ["Foo = bar", cfg()].join("\n"),
    line: 1,
    key: "Foo",
    has: "must be inside",
  },
  {
    name: "unknown section with hint",
    text: cfg("[Peers]"),
    line: 4,
    key: "[Peers]",
    has: "unknown section; did you mean [Peer]?",
  },
  {
    name: "unknown section without hint",
    text: cfg("[Global]", "Foo = 1"),
    line: 4,
    key: "[Global]",
    has: "unknown section",
    hasNot: "did you mean",
  },
  {
    name: "duplicate [Interface]",
    text: cfg(...PEER_A, "[interface]"),
    line: 7,
    key: "[Interface]",
    has: "given twice (first on line 1)",
  },
  {
    name: "missing [Interface]",
    text: PEER_A.join("\n"),
    line: 0,
    key: "[Interface]",
    has: "the file has no [Interface] section",
  },
  {
    name: "empty file",
    text: "",
    line: 0,
    key: "[Interface]",
    has: "the file has no [Interface] section",
  },
  {
    name: "missing PrivateKey",
    text: ["", "[Interface]", "Address = 10.77.0.1/24", ...PEER_A].join("\n"),
    line: 2,
    key: "PrivateKey",
    has: "[Interface] has no PrivateKey",
  },
  {
    name: "missing PrivateKey in a last [Interface]",
    text: [...PEER_A, "[Interface]", "ListenPort = 1"].join("\n"),
    line: 4,
    key: "PrivateKey",
    has: "[Interface] has no PrivateKey",
  },
  {
    name: "duplicate PrivateKey",
    text: cfg(`PrivateKey = ${PRIVATE_2}`),
    line: 4,
    key: "PrivateKey",
    has: "given twice (first on line 2)",
    secret: PRIVATE_2,
  },
  {
    name: "[Peer] without PublicKey",
    text: cfg("[Peer]", "AllowedIPs = 10.77.0.2/32", "[Peer]", `PublicKey = ${PUB_B}`),
    line: 4,
    key: "PublicKey",
    has: "[Peer] has no PublicKey",
  },
  {
    name: "last [Peer] without PublicKey",
    text: cfg(...PEER_A, "[Peer]", "Endpoint = 203.0.113.1:51820"),
    line: 7,
    key: "PublicKey",
    has: "[Peer] has no PublicKey",
  },
  {
    name: "duplicate PublicKey among peers",
    text: cfg(...PEER_A, "[Peer]", "AllowedIPs = 10.77.0.3/32", `PublicKey = ${PUB_A}`),
    line: 9,
    key: "PublicKey",
    has: "the [Peer] on line 4 already has this PublicKey",
  },
  {
    name: "PublicKey twice in one peer",
    text: cfg(...PEER_A, `PublicKey = ${PUB_B}`),
    line: 7,
    key: "PublicKey",
    has: "given twice (first on line 5)",
  },
  // Keys.
  badPrivate(PRIVATE.slice(0, 43)),
  badPrivate(PRIVATE + "A"),
  badPrivate(PRIVATE.slice(0, 42) + "N="),
  badPrivate(PRIVATE.replace("+", "-").replace("k", "_")),
  badPrivate(PRIVATE.slice(0, 20) + " " + PRIVATE.slice(20)),
  badPrivate(`"${PRIVATE}"`),
  badPrivate("not a key"),
  badPublic(PUB_A.slice(1)),
  badPublic(PUB_A.slice(0, 42) + "B="),
  badPublic("bad"),
  // CIDRs and addresses.
  peerValue("AllowedIPs", "10.77.0.2/33", "prefix length must be a decimal number 0-32 for IPv4"),
  peerValue("AllowedIPs", "fd77::2/129", "0-128 for IPv6"),
  peerValue("AllowedIPs", "010.77.0.2/32", "leading zeros are not allowed"),
  peerValue("AllowedIPs", "10.77.0.256", "256 is larger than 255"),
  peerValue("AllowedIPs", "garbage", '"garbage" is not a valid address'),
  peerValue("AllowedIPs", "10.77.0.2/32,,10.77.0.3/32", "empty item in the comma-separated list"),
  peerValue("AllowedIPs", "10.77.0.2/32,", "empty item"),
  peerValue("AllowedIPs", "fd77::1::2/128", '"::" may appear only once'),
  interfaceValue("Address", "10.77.0.300/24", "300 is larger than 255"),
  interfaceValue("Address", "10.77.0.1/24 10.77.0.2/24", "is not a CIDR"),
  interfaceValue("Address", "fd77::1/200", "0-128 for IPv6"),
  // Ports, MTU, keepalive, Bind.
  interfaceValue("ListenPort", "65536", '"65536" is not a decimal port from 0 to 65535'),
  interfaceValue("ListenPort", "-1", "not a decimal port"),
  interfaceValue("ListenPort", "0x10", "not a decimal port"),
  interfaceValue("ListenPort", "51820a", "not a decimal port"),
  interfaceValue("ListenPort", "051820", "not a decimal port"),
  {
    name: "ListenPort twice",
    text: cfg("ListenPort = 1", "ListenPort = 2"),
    line: 5,
    key: "ListenPort",
    has: "given twice (first on line 4)",
  },
  interfaceValue("MTU", "575", '"575" is not a decimal number from 576 to 65455'),
  interfaceValue("MTU", "65456", "from 576 to 65455"),
  interfaceValue("MTU", "1400.5", "from 576 to 65455"),
  interfaceValue("MTU", "big", "from 576 to 65455"),
  {
    name: "MTU below the IPv6 minimum",
    text: cfg("MTU = 1279", "Address = fd77::1/64"),
    line: 4,
    key: "MTU",
    has: "1279 is below 1280, the minimum with an IPv6 Address",
  },
  {
    name: "MTU twice",
    text: cfg("MTU = 1400", "mtu = 1400"),
    line: 5,
    key: "MTU",
    has: "given twice (first on line 4)",
  },
  peerValue("PersistentKeepalive", "65536", '"65536" is not "off" or a decimal number'),
  peerValue("PersistentKeepalive", "on", 'is not "off" or a decimal number of seconds'),
  peerValue("PersistentKeepalive", "-1", "from 0 to 65535"),
  peerValue("PersistentKeepalive", "25s", "from 0 to 65535"),
  {
    name: "PersistentKeepalive twice",
    text: cfg(...PEER_A, "PersistentKeepalive = 25", "PersistentKeepalive = off"),
    line: 8,
    key: "PersistentKeepalive",
    has: "given twice (first on line 7)",
  },
  interfaceValue("Bind", "192.0.2.10:51820", "a port is not allowed here"),
  interfaceValue("Bind", "host.example", "Bind takes local IP addresses such as 192.0.2.10"),
  interfaceValue("Bind", "[2001:db8::1]", "brackets are not allowed here"),
  interfaceValue("Bind", "192.0.2.300", "300 is larger than 255"),
  interfaceValue("Bind", "192.0.2.10,", "empty item"),
  // Bind flags.
  bindValue(
    "192.0.2.10 fast",
    'unknown flag "fast" on 192.0.2.10 (the flags are backup and priority=N)',
    "did you mean",
  ),
  bindValue(
    "192.0.2.10 backp",
    "on 192.0.2.10 (the flags are backup and priority=N); did you mean backup?",
  ),
  bindValue("192.0.2.10 prio=1", 'unknown flag "prio"'),
  bindValue("192.0.2.10 weight = 2", 'unknown flag "weight"'),
  bindValue("192.0.2.10 198.51.100.7", "separate addresses with commas"),
  bindValue("2001:db8::10 2001:db8::11", 'unknown flag "2001:db8::11" on 2001:db8::10'),
  bindValue("192.0.2.10 backup backup", 'flag "backup" given twice on 192.0.2.10'),
  bindValue("192.0.2.10 backup BACKUP", 'flag "backup" given twice'),
  bindValue("192.0.2.10 priority=1 priority=1", 'flag "priority" given twice on 192.0.2.10'),
  bindValue("192.0.2.10 backup=yes", 'flag "backup" takes no value (got "backup=yes")'),
  bindValue(
    "192.0.2.10 priority=256",
    'flag "priority" on 192.0.2.10 needs a decimal number from 0 to 255 (got "priority=256")',
  ),
  bindValue("192.0.2.10 priority=-1", 'flag "priority" on 192.0.2.10 needs a decimal number'),
  bindValue("192.0.2.10 priority=01", 'needs a decimal number from 0 to 255 (got "priority=01")'),
  bindValue("192.0.2.10 priority=0x1", "needs a decimal number from 0 to 255"),
  bindValue("192.0.2.10 priority=high", "needs a decimal number from 0 to 255"),
  bindValue("192.0.2.10 priority", 'needs a decimal number from 0 to 255 (got "priority")'),
  bindValue("192.0.2.10 priority=", 'needs a decimal number from 0 to 255 (got "priority=")'),
  bindValue("backup 192.0.2.10", '"backup" is not a valid IP address'),
  bindValue("192.0.2.10:51820 backup", "a port is not allowed here"),
  bindValue(
    "192.0.2.10, 192.0.2.10 backup",
    "192.0.2.10 is listed twice with different flags " +
      "(line 4: regular, priority=0; here: backup, priority=0)",
  ),
  {
    name: "same Bind address with different flags on two lines",
    text: cfg("Bind = 2001:DB8::10 priority=1", "Bind = 192.0.2.10", "Bind = 2001:db8::10"),
    line: 6,
    key: "Bind",
    has: "2001:db8::10 is listed twice with different flags " +
      "(line 4: regular, priority=1; here: regular, priority=0)",
  },
  bindValue(
    "192.0.2.10 backup",
    "every Bind is backup: at least one path end must be a regular one",
  ),
  {
    name: "every Bind is backup, over several lines, before a [Peer]",
    text: cfg("Bind = 192.0.2.10 backup", "Bind = 198.51.100.7 priority=1 backup", ...PEER_A),
    line: 4,
    key: "Bind",
    has: "every Bind is backup",
  },
  {
    name: "private key as a Bind flag",
    text: cfg(`Bind = 192.0.2.10 ${PRIVATE}`),
    line: 4,
    key: "Bind",
    has: 'unknown flag "<redacted>"',
  },
  // Mode and Redundancy.
  peerValue(
    "Mode",
    "fastest",
    '"fastest" is not a mode (expected duplicate, failover, aggregate or adaptive)',
  ),
  peerValue("Mode", "dup", "is not a mode"),
  peerValue("Mode", "duplicate failover", "is not a mode"),
  {
    name: "Mode twice",
    text: cfg(...PEER_A, "Mode = failover", "mode = failover"),
    line: 8,
    key: "Mode",
    has: "given twice (first on line 7)",
  },
  {
    name: "private key as a Mode",
    text: cfg(...PEER_A, `Mode = ${PRIVATE}`),
    line: 7,
    key: "Mode",
    has: '"<redacted>" is not a mode',
  },
  peerValue(
    "Redundancy",
    "17",
    '"17" is not a decimal number of paths from 0 to 16 (0 = every path)',
  ),
  peerValue("Redundancy", "-1", "from 0 to 16"),
  peerValue("Redundancy", "02", "from 0 to 16"),
  peerValue("Redundancy", "two", "from 0 to 16"),
  peerValue("Redundancy", "all", "from 0 to 16"),
  {
    name: "Redundancy twice",
    text: cfg(...PEER_A, "Redundancy = 2", "Redundancy = 2"),
    line: 8,
    key: "Redundancy",
    has: "given twice (first on line 7)",
  },
  modeCase(
    ["Mode = failover", "Redundancy = 2"],
    7,
    `${REDUNDANCY_MODES} (this [Peer] has Mode = failover on line 6)`,
  ),
  modeCase(
    ["Redundancy = 2", "Mode = Aggregate"],
    6,
    `${REDUNDANCY_MODES} (this [Peer] has Mode = aggregate on line 7)`,
  ),
  modeCase(["Redundancy = 0", "Mode = failover"], 6, REDUNDANCY_MODES),
  {
    name: "Redundancy with failover in a peer closed by the next [Peer]",
    text: cfg(...PEER_A, "Redundancy = 1", "Mode = FAILOVER", "[Peer]", `PublicKey = ${PUB_B}`),
    line: 7,
    key: "Redundancy",
    has: REDUNDANCY_MODES,
  },
  {
    name: "Mode in [Interface]",
    text: cfg("mode = failover"),
    line: 4,
    key: "Mode",
    has: "belongs in [Peer], not in [Interface]",
  },
  {
    name: "Redundancy in [Interface]",
    text: cfg("Redundancy = 2"),
    line: 4,
    key: "Redundancy",
    has: "belongs in [Peer], not in [Interface]",
  },
  {
    name: "misspelt Redundancy",
    text: cfg(...PEER_A, "Redundency = 2"),
    line: 7,
    key: "Redundency",
    has: "unknown key in [Peer]; did you mean Redundancy?",
  },
  // Endpoints.
  peerValue("Endpoint", "2001:db8::1:51820", "IPv6 endpoints need brackets: [addr]:port"),
  peerValue("Endpoint", "203.0.113.1", "has no port"),
  peerValue("Endpoint", "203.0.113.1:0", "the port must be a decimal number from 1 to 65535"),
  peerValue("Endpoint", "203.0.113.1:70000", "from 1 to 65535"),
  peerValue("Endpoint", "bad_host.example:51820", "is not a valid IP address or DNS name"),
  peerValue("Endpoint", "[2001:db8::1]", 'expected ":port"'),
  peerValue("Endpoint", "203.0.113.1:51820, ", "empty item"),
  // Empty values.
  {
    name: "empty PrivateKey",
    text: "[Interface]\nPrivateKey =",
    line: 2,
    key: "PrivateKey",
    has: "needs a value",
  },
  ...["Address", "ListenPort", "MTU", "Bind", "PreUp", "PostUp", "PreDown", "PostDown"]
    .map((key) => interfaceValue(key, "", "needs a value")),
  ...["Endpoint", "PersistentKeepalive", "Mode", "Redundancy"]
    .map((key) => peerValue(key, "", "needs a value")),
  {
    name: "empty PublicKey",
    text: cfg("[Peer]", "PublicKey =   # nothing"),
    line: 5,
    key: "PublicKey",
    has: "needs a value",
  },
  // Lines that are not key = value.
  {
    name: "not key = value",
    text: cfg("just some words"),
    line: 4,
    key: "",
    has: 'expected "Key = value" or a [Section] header',
  },
  {
    name: "malformed section header",
    text: cfg("[Peer"),
    line: 4,
    key: "",
    has: "malformed section header",
  },
  {
    name: "section header with trailing text",
    text: cfg("[Peer] extra"),
    line: 4,
    key: "",
    has: "malformed section header",
  },
  { name: "missing key", text: cfg("= 1"), line: 4, key: "", has: 'missing key name before "="' },
  {
    name: "key with a space",
    text: cfg("Listen Port = 1"),
    line: 4,
    key: "",
    has: 'the text before "=" is not a key name',
  },
  {
    name: "NUL byte",
    text: cfg("ListenPort = 1\0"),
    line: 4,
    key: "",
    has: "the line contains a NUL byte",
  },
  {
    name: "NUL byte in a comment",
    text: cfg("# \0"),
    line: 4,
    key: "",
    has: "NUL byte",
  },
  // AllowedIPs owned by two peers.
  {
    name: "same AllowedIPs prefix in two peers",
    text: cfg(...PEER_A, "[Peer]", `PublicKey = ${PUB_B}`, "AllowedIPs = 10.77.0.2/32"),
    line: 9,
    key: "AllowedIPs",
    has: "10.77.0.2/32 is already allowed for the [Peer] on line 4 " +
      "(two peers cannot own the same prefix)",
  },
  {
    name: "same AllowedIPs prefix in two peers after canonicalisation",
    text: cfg(
      "[Peer]",
      `PublicKey = ${PUB_A}`,
      "AllowedIPs = FD77::0/64",
      "[Peer]",
      "AllowedIPs = fd77::5/64",
    ),
    line: 8,
    key: "AllowedIPs",
    has: "fd77::/64 is already allowed for the [Peer] on line 4",
  },
  // The private key pasted in the wrong place is never echoed.
  {
    name: "PrivateKey without =",
    text: ["[Interface]", `PrivateKey ${PRIVATE}`].join("\n"),
    line: 2,
    key: "",
    has: "is not a key name",
  },
  {
    name: "pasted private key on its own line",
    text: ["[Interface]", PRIVATE].join("\n"),
    line: 2,
    key: "",
    has: "is not a key name",
  },
  {
    name: "pasted private key with a prefix",
    text: ["[Interface]", "x" + PRIVATE.slice(0, 20)].join("\n"),
    line: 2,
    key: "",
    has: 'expected "Key = value"',
  },
  {
    name: "private key as an Endpoint",
    text: cfg(...PEER_A, `Endpoint = ${PRIVATE}`),
    line: 7,
    key: "Endpoint",
    has: "<redacted>",
  },
  {
    name: "private key as an Address",
    text: cfg(`Address = ${PRIVATE}`),
    line: 4,
    key: "Address",
    has: "is not a valid address",
  },
  {
    name: "private key as a section name",
    text: cfg(`[${PRIVATE}]`),
    line: 4,
    key: "[<redacted>]",
    has: "unknown section",
  },
];

/** Fails when any 12-character piece of `secret` appears in `message`. */
function assertNoSecret(message: string, secret: string): void {
  for (let i = 0; i + 12 <= secret.length; i++) {
    const piece = secret.slice(i, i + 12);
    if (piece.trim().length === 12) assert.ok(!message.includes(piece), `leaks "${piece}"`);
  }
}

Deno.test("parseConfig: every error case names file, line and key and never leaks a key", () => {
  for (const c of CASES) {
    let caught: unknown;
    try {
      parseConfig(c.text, FILE);
    } catch (error) {
      caught = error;
    }
    assert.ok(caught instanceof ConfigError, `${c.name}: expected a ConfigError, got ${caught}`);
    const where = c.line > 0 ? `${FILE}:${c.line}: ` : `${FILE}: `;
    const prefix = c.key ? `${where}${c.key}: ` : where;
    const message = caught.message;
    assert.equal(caught.file, FILE, c.name);
    assert.equal(caught.line, c.line, `${c.name}: ${message}`);
    assert.equal(caught.key, c.key, `${c.name}: ${message}`);
    assert.ok(message.startsWith(prefix), `${c.name}: "${message}" should start "${prefix}"`);
    assert.ok(message.includes(c.has), `${c.name}: "${message}" should contain "${c.has}"`);
    if (c.hasNot) assert.ok(!message.includes(c.hasNot), `${c.name}: ${message}`);
    assertNoSecret(message, PRIVATE);
    if (c.secret) assertNoSecret(message, c.secret);
  }
});

Deno.test("parseConfig: a complete config", () => {
  const text = [
    "# a site with two uplinks",
    "[Interface]",
    `PrivateKey = ${PRIVATE}`,
    "Address = 10.77.0.1/24, fd77::1/64",
    "ListenPort = 51820",
    "MTU = 1380",
    "Bind = 192.0.2.10, 2001:DB8::10 priority=1",
    "Bind = 198.51.100.7 backup priority=2",
    "PreUp = echo pre %i",
    "PostUp = iptables -A FORWARD -i %i -j ACCEPT # keep this comment",
    "PreDown = echo a=b",
    "PostDown = echo down",
    "PostDown = echo down again",
    "",
    "[Peer]",
    `PublicKey = ${PUB_A}`,
    "Endpoint = 203.0.113.1:51820, [2001:db8::1]:51820",
    "Endpoint = vpn.host.example:51821",
    "AllowedIPs = 10.77.0.2/32, fd77::2/128",
    "AllowedIPs = 192.168.5.0/24",
    "PersistentKeepalive = 25",
    "Mode = adaptive",
    "Redundancy = 2",
    "[Peer]",
    `PublicKey = ${PUB_B}`,
  ].join("\n");
  const { config, warnings } = parseConfig(text, FILE);
  assert.deepEqual(warnings, []);
  assert.deepEqual(config.privateKey, decodeKey(PRIVATE));
  assert.deepEqual(config.addresses.map((a) => a.text), ["10.77.0.1/24", "fd77::1/64"]);
  assert.equal(config.listenPort, 51820);
  assert.equal(config.mtu, 1380);
  assert.deepEqual(config.binds, [
    { address: "192.0.2.10", backup: false, priority: 0 },
    { address: "2001:db8::10", backup: false, priority: 1 },
    { address: "198.51.100.7", backup: true, priority: 2 },
  ]);
  assert.deepEqual(config.preUp, ["echo pre %i"]);
  assert.deepEqual(config.postUp, ["iptables -A FORWARD -i %i -j ACCEPT # keep this comment"]);
  assert.deepEqual(config.preDown, ["echo a=b"]);
  assert.deepEqual(config.postDown, ["echo down", "echo down again"]);
  assert.equal(config.peers.length, 2);
  const [a, b] = config.peers;
  assert.deepEqual(a.publicKey, decodeKey(PUB_A));
  assert.equal(a.publicKeyText, PUB_A);
  assert.equal(a.line, 15);
  assert.deepEqual(a.endpoints, [
    { host: "203.0.113.1", port: 51820, family: 4, text: "203.0.113.1:51820" },
    { host: "2001:db8::1", port: 51820, family: 6, text: "[2001:db8::1]:51820" },
    { host: "vpn.host.example", port: 51821, family: 0, text: "vpn.host.example:51821" },
  ]);
  assert.deepEqual(a.allowedIps.map((c) => c.text), [
    "10.77.0.2/32",
    "fd77::2/128",
    "192.168.5.0/24",
  ]);
  assert.equal(a.persistentKeepaliveSeconds, 25);
  assert.equal(a.mode, "adaptive");
  assert.equal(a.redundancy, 2);
  assert.equal(b.publicKeyText, PUB_B);
  assert.equal(b.line, 24);
  assert.deepEqual(b.endpoints, []);
  assert.deepEqual(b.allowedIps, []);
  assert.equal(b.persistentKeepaliveSeconds, 0);
  assert.equal(b.mode, "duplicate");
  assert.equal(b.redundancy, 0);
});

Deno.test("parseConfig: defaults for a minimal config", () => {
  const { config, warnings } = parseConfig(`[Interface]\nPrivateKey = ${PRIVATE}\n`, FILE);
  assert.deepEqual(warnings, []);
  assert.deepEqual(config, {
    privateKey: decodeKey(PRIVATE),
    addresses: [],
    listenPort: 0,
    mtu: DEFAULT_MTU,
    binds: [],
    preUp: [],
    postUp: [],
    preDown: [],
    postDown: [],
    peers: [],
  });
});

Deno.test("parseConfig: comments, blank lines, case, whitespace, CRLF and BOM", () => {
  const text = "\uFEFF# header comment\r\n" +
    "\r\n" +
    "  [ INTERFACE ]   # trailing comment\r\n" +
    `\tprivatekey=${PRIVATE}\r\n` +
    "ADDRESS   =   10.77.0.1/24   ,fd77::1/64 # two addresses\r\n" +
    "   # indented comment\r\n" +
    "mtu = 1280\r\n" +
    "[peer]\r\n" +
    `PUBLICKEY = ${PUB_A}\r\n` +
    "allowedips = 10.77.0.2/32\r\n" +
    "persistentkeepalive = OFF\r\n";
  const { config, warnings } = parseConfig(text, FILE);
  assert.deepEqual(warnings, []);
  assert.deepEqual(config.addresses.map((a) => a.text), ["10.77.0.1/24", "fd77::1/64"]);
  assert.equal(config.mtu, 1280);
  assert.equal(config.peers[0].line, 8);
  assert.equal(config.peers[0].persistentKeepaliveSeconds, 0);
  assert.equal(config.peers[0].allowedIps[0].text, "10.77.0.2/32");
});

Deno.test("parseConfig: hook values are kept verbatim with # and %i", () => {
  const text = cfg("PostUp =   echo '#not a comment' %i; x=1 # really kept   ");
  const { config } = parseConfig(text, FILE);
  assert.deepEqual(config.postUp, ["echo '#not a comment' %i; x=1 # really kept"]);
});

Deno.test("parseConfig: boundary values", () => {
  const base = (extra: string) => parseConfig(cfg(extra), FILE).config;
  assert.equal(base("ListenPort = 0").listenPort, 0);
  assert.equal(base("ListenPort = 65535").listenPort, 65535);
  assert.equal(base("MTU = 576").mtu, 576);
  assert.equal(base("MTU = 65455").mtu, 65455);
  const peer = (extra: string) => parseConfig(cfg(...PEER_A, extra), FILE).config.peers[0];
  assert.equal(peer("PersistentKeepalive = 0").persistentKeepaliveSeconds, 0);
  assert.equal(peer("PersistentKeepalive = off").persistentKeepaliveSeconds, 0);
  assert.equal(peer("PersistentKeepalive = 1").persistentKeepaliveSeconds, 1);
  assert.equal(peer("PersistentKeepalive = 65535").persistentKeepaliveSeconds, 65535);
  assert.deepEqual(peer("AllowedIPs =").allowedIps.map((c) => c.text), ["10.77.0.2/32"]);
  assert.equal(peer("Endpoint = [::1]:1").endpoints[0].family, 6);
});

Deno.test("parseConfig: host bits and repeats are warnings", () => {
  const text = cfg(
    "Address = 10.77.0.1/24",
    "Bind = 192.0.2.10, 192.0.2.10",
    "[Peer]",
    `PublicKey = ${PUB_A}`,
    "AllowedIPs = 10.77.1.1/24, 10.77.1.0/24",
    "Endpoint = 203.0.113.1:51820, 203.0.113.1:51820",
  );
  const { config, warnings } = parseConfig(text, FILE);
  assert.deepEqual(warnings, [
    "wg0.conf:4: Address: 10.77.0.1/24 is listed twice; ignoring the repeat",
    "wg0.conf:5: Bind: 192.0.2.10 is listed twice; ignoring the repeat",
    "wg0.conf:8: AllowedIPs: 10.77.1.1/24 has host bits set; using 10.77.1.0/24",
    "wg0.conf:8: AllowedIPs: 10.77.1.0/24 is listed twice; ignoring the repeat",
    "wg0.conf:9: Endpoint: 203.0.113.1:51820 is listed twice; ignoring the repeat",
  ]);
  assert.equal(config.addresses.length, 1);
  assert.deepEqual(config.binds, [{ address: "192.0.2.10", backup: false, priority: 0 }]);
  assert.deepEqual(config.peers[0].allowedIps.map((c) => c.text), ["10.77.1.0/24"]);
  assert.equal(config.peers[0].endpoints.length, 1);
});

Deno.test("parseConfig: Bind flags", () => {
  const binds = (...lines: string[]) => {
    const { config, warnings } = parseConfig(cfg(...lines), FILE);
    assert.deepEqual(warnings, [], lines.join(" / "));
    return config.binds;
  };
  const bind = (address: string, backup = false, priority = 0): BindSpec => ({
    address,
    backup,
    priority,
  });
  assert.deepEqual(binds("Bind = 192.0.2.10"), [bind("192.0.2.10")]);
  assert.deepEqual(
    binds("Bind = 192.0.2.10, 198.51.100.7 backup, 203.0.113.5 priority=2"),
    [bind("192.0.2.10"), bind("198.51.100.7", true), bind("203.0.113.5", false, 2)],
  );
  assert.deepEqual(
    binds("Bind = 192.0.2.10 priority=0, 198.51.100.7\tPriority = 255   BACKUP # comment"),
    [bind("192.0.2.10"), bind("198.51.100.7", true, 255)],
  );
  assert.deepEqual(
    binds("Bind = 2001:DB8::10 backup", "Bind = ::ffff:192.0.2.1 priority=7"),
    [bind("2001:db8::10", true), bind("::ffff:192.0.2.1", false, 7)],
  );
  // The all-backup check is on the whole section, so a regular Bind may come last.
  assert.deepEqual(
    binds("Bind = 192.0.2.10 backup", "MTU = 1400", "Bind = 198.51.100.7"),
    [bind("192.0.2.10", true), bind("198.51.100.7")],
  );
  assert.deepEqual(binds("MTU = 1400"), []);
});

Deno.test("parseConfig: an exact repeat of a Bind with flags is a warning", () => {
  const text = cfg(
    "Bind = 192.0.2.10 backup priority=3, 198.51.100.7",
    "Bind = 192.0.2.10 priority=3 backup",
  );
  const { config, warnings } = parseConfig(text, FILE);
  assert.deepEqual(warnings, ["wg0.conf:5: Bind: 192.0.2.10 is listed twice; ignoring the repeat"]);
  assert.deepEqual(config.binds.map((b) => b.address), ["192.0.2.10", "198.51.100.7"]);
  const again = parseConfig(cfg("Bind = 192.0.2.10 priority=0, 192.0.2.10"), FILE);
  assert.equal(again.warnings.length, 1);
});

Deno.test("parseConfig: Mode and Redundancy", () => {
  const peer = (...lines: string[]) => {
    const { config, warnings } = parseConfig(cfg(...PEER_A, ...lines), FILE);
    assert.deepEqual(warnings, [], lines.join(" / "));
    return config.peers[0];
  };
  assert.equal(peer().mode, "duplicate");
  assert.equal(peer().redundancy, 0);
  for (const mode of MODES) {
    assert.equal(peer(`Mode = ${mode}`).mode, mode);
    assert.equal(peer(`mode = ${mode.toUpperCase()}`).mode, mode);
  }
  assert.equal(peer("Mode = Failover").mode, "failover");
  assert.equal(peer("Redundancy = 0").redundancy, 0);
  assert.equal(peer("Redundancy = 16").redundancy, 16);
  assert.equal(peer("Redundancy = 2", "Mode = duplicate").redundancy, 2);
  const adaptive = peer("Redundancy = 3", "Mode = adaptive");
  assert.deepEqual([adaptive.mode, adaptive.redundancy], ["adaptive", 3]);
  const failover = peer("Mode = failover");
  assert.deepEqual([failover.mode, failover.redundancy], ["failover", 0]);
});

Deno.test("parseConfig: Mode and Redundancy are per peer", () => {
  const text = cfg(
    ...PEER_A,
    "Mode = aggregate",
    "[Peer]",
    `PublicKey = ${PUB_B}`,
    "Redundancy = 1",
  );
  const [a, b] = parseConfig(text, FILE).config.peers;
  assert.deepEqual([a.mode, a.redundancy], ["aggregate", 0]);
  assert.deepEqual([b.mode, b.redundancy], ["duplicate", 1]);
});

Deno.test("parseConfig: an Address is a host address and never warns about host bits", () => {
  const { config, warnings } = parseConfig(cfg("Address = fd77::1/64"), FILE);
  assert.deepEqual(warnings, []);
  assert.equal(config.addresses[0].address, "10.77.0.1");
  assert.equal(config.addresses[1].address, "fd77::1");
});

Deno.test("parseConfig: different prefixes in different peers may overlap", () => {
  const text = cfg(...PEER_A, "[Peer]", `PublicKey = ${PUB_B}`, "AllowedIPs = 10.77.0.0/24");
  const { config } = parseConfig(text, FILE);
  assert.equal(config.peers[1].allowedIps[0].text, "10.77.0.0/24");
});

Deno.test("parseConfig: the [Interface] may come after the peers", () => {
  const text = [...PEER_A, "[Interface]", `PrivateKey = ${PRIVATE}`].join("\n");
  const { config } = parseConfig(text, FILE);
  assert.equal(config.peers.length, 1);
});

Deno.test("parseConfig: the first error in file order wins", () => {
  assert.throws(
    () => parseConfig(cfg("MTU = 1", "Foo = 2", "[Peer"), FILE),
    (error: ConfigError) => error.line === 4 && error.key === "MTU",
  );
});
