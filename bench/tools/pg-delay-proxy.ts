/**
 * Diagnostics: a TCP proxy in front of PostgreSQL that delays every chunk by half the given round
 * trip each way — what a loaded machine or a database on another host costs per round trip (3–6 ms
 * under the full run's load, 0.5 ms on this machine idle). A/B runs of the PostgreSQL figures then
 * measure round trips rather than the neighbours' load:
 *
 *   npx tsx bench/tools/pg-delay-proxy.ts 15432 4 &        # listen on 15432, 4 ms per round trip
 *   COSELL_BENCH_PG_URL=postgres://postgres@127.0.0.1:15432/test npm run bench -- --stores=postgres …
 */
import * as net from "node:net";

const [portArg, rttArg, upstreamArg] = process.argv.slice(2);
const port = Number(portArg ?? 15432);
const oneWayMs = Number(rttArg ?? 4) / 2;
const [upHost, upPort] = (upstreamArg ?? "127.0.0.1:5432").split(":");

const pipe = (from: net.Socket, to: net.Socket) => {
  // Equal delays keep the chunks in order (timers of equal duration fire in the order set).
  from.on("data", (chunk) => setTimeout(() => to.write(chunk), oneWayMs));
  from.on("end", () => setTimeout(() => to.end(), oneWayMs));
  from.on("error", () => to.destroy());
};

net
  .createServer((client) => {
    client.setNoDelay(true);
    const server = net.connect(Number(upPort ?? 5432), upHost ?? "127.0.0.1");
    server.setNoDelay(true);
    pipe(client, server);
    pipe(server, client);
  })
  .listen(port, "127.0.0.1", () => process.stdout.write(`pg-delay-proxy: 127.0.0.1:${port} → ${upHost}:${upPort}, +${oneWayMs * 2} ms per round trip\n`));
