/**
 * The TCP sink and source of the lab now live in lib/lab/tcp_transfer.ts; this module re-exports
 * them for the tests, and run as a script it is that tool:
 *
 * ```sh
 * deno run -A tests/netns/_tcp_transfer.ts sink --listen 10.77.0.2:5201
 * ```
 * @module
 */
import { transferMain } from "../../lib/lab/tcp_transfer.ts";

export {
  expectedSha256,
  parseProgress,
  parseTransfer,
  PatternStream,
  transferArgv,
  transferMain,
  type TransferProgress,
  type TransferResult,
} from "../../lib/lab/tcp_transfer.ts";

if (import.meta.main) await transferMain(Deno.args);
