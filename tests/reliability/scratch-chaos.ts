import { runChaos, formatChaosReport } from "./support/chaos";
(async () => {
  const r = await runChaos({ store: (process.argv[2] as "sqlite") ?? "sqlite", seed: Number(process.argv[4] ?? 42), operations: Number(process.argv[3] ?? 300), kills: 3, actors: 6, log: (l) => console.log(l) });
  console.log(formatChaosReport(r));
})().catch((e) => { console.error(e); process.exit(1); });
