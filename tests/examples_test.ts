/**
 * The examples fail like command-line tools (examples/_cli.ts): a bad command line prints one
 * line and the usage and exits 2; a failure at run time prints one line and exits 1; never a stack
 * trace. Each case runs the example in a subprocess.
 */
import assert from "node:assert/strict";
import { TcpListener } from "../mod.ts";

const FLAGS = ["--allow-ffi", "--allow-net", "--allow-read"];

async function run(example: string, args: string[]): Promise<{ code: number; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", ...FLAGS, new URL(`../examples/${example}`, import.meta.url).pathname, ...args],
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: out.code, stderr: new TextDecoder().decode(out.stderr) };
}

function assertToolError(
  result: { code: number; stderr: string },
  code: 1 | 2,
  pattern: RegExp,
  what: string,
): void {
  assert.equal(result.code, code, `${what}: exit code ${result.code}\n${result.stderr}`);
  const first = result.stderr.split("\n")[0]!;
  assert.match(first, pattern, `${what}: first line`);
  assert.ok(!/^\s+at /m.test(result.stderr), `${what}: a stack trace\n${result.stderr}`);
  if (code === 1) assert.equal(result.stderr.trim().split("\n").length, 1, `${what}: one line`);
  else assert.match(result.stderr, /usage:/, `${what}: the usage`);
}

Deno.test("examples: usage errors exit 2 with one line and the usage", async () => {
  assertToolError(
    await run("send_file.ts", ["--bogus"]),
    2,
    /^error: .*bogus/,
    "send_file --bogus",
  );
  assertToolError(
    await run("tcp_proxy.ts", ["--upstream", "foo"]),
    2,
    /^error: expected HOST:PORT, got foo$/,
    "tcp_proxy --upstream foo",
  );
  for (const example of ["demo.ts", "pooled_client.ts", "http_server.ts", "file_server.ts"]) {
    assertToolError(await run(example, ["--bogus"]), 2, /^error: .*bogus/, `${example} --bogus`);
  }
  assertToolError(
    await run("tcp_tuning.ts", ["--bytes", "1XB"]),
    2,
    /^error: --bytes: expected a size/,
    "tcp_tuning --bytes 1XB",
  );
});

Deno.test("examples: send_file checks --offset before it connects", async () => {
  using listener = TcpListener.bind({ hostname: "127.0.0.1", port: 0 });
  const file = await Deno.makeTempFile();
  try {
    assertToolError(
      await run("send_file.ts", [
        file,
        "--to",
        `127.0.0.1:${listener.addr.port}`,
        "--offset",
        "abc",
      ]),
      2,
      /^error: --offset must be an integer/,
      "send_file --offset abc",
    );
    assert.equal(listener.tryAccept(), null, "it connected before checking its flags");
  } finally {
    await Deno.remove(file);
  }
});

Deno.test("examples: run-time failures exit 1 with one line", async () => {
  using held = TcpListener.bind({ hostname: "127.0.0.1", port: 0 });
  const port = held.addr.port;
  assertToolError(
    await run("file_server.ts", ["--port", String(port)]),
    1,
    new RegExp(`^error: bind 127\\.0\\.0\\.1:${port} failed: EADDRINUSE`),
    "file_server on a port in use",
  );
  assertToolError(
    await run("http_server.ts", ["--port", String(port)]),
    1,
    new RegExp(`^error: bind 127\\.0\\.0\\.1:${port} failed: EADDRINUSE`),
    "http_server on a port in use",
  );
  assertToolError(
    await run("file_server.ts", ["--root", "/nonexistent-netio-root", "--port", "0"]),
    1,
    /^error: .*nonexistent-netio-root/,
    "file_server with a missing --root",
  );
  // A port nobody listens on: bind one, note it, close it.
  const closed = TcpListener.bind({ hostname: "127.0.0.1", port: 0 });
  const refused = closed.addr.port;
  closed.close();
  const file = await Deno.makeTempFile();
  try {
    assertToolError(
      await run("send_file.ts", [file, "--to", `127.0.0.1:${refused}`]),
      1,
      new RegExp(`^error: connect 127\\.0\\.0\\.1:${refused} failed: ECONNREFUSED`),
      "send_file to a closed port",
    );
    assertToolError(
      await run("send_file.ts", ["/nonexistent-netio-file", "--to", `127.0.0.1:${refused}`]),
      1,
      /^error: open \/nonexistent-netio-file failed: ENOENT/,
      "send_file of a missing file",
    );
  } finally {
    await Deno.remove(file);
  }
});

Deno.test("examples/pooled_client.ts: its Deno.Conn-typed request code runs over the pool's leases", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-ffi",
      "--allow-net",
      new URL("../examples/pooled_client.ts", import.meta.url).pathname,
      "--serve",
      "-n",
      "300",
      "--json",
    ],
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  const result = JSON.parse(new TextDecoder().decode(out.stdout).trim().split("\n").pop()!);
  assert.equal(result.requests, 300);
  assert.equal(result.failed, 0);
  assert.ok(result.pool.reused > 0, "no lease was reused: the pool did not serve the requests");
});
