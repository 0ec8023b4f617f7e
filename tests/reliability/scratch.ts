import { OpportunityColumn } from "@cosell/contract";
import { World, coSellReferral } from "./support/world";
import { waitFor } from "./support/wait";
import { expectNoSecrets } from "./support/secrets";
(async () => {
  const t0 = Date.now();
  const w = await World.start({ name: "scratch", store: (process.argv[2] as "sqlite") ?? "sqlite" });
  try {
    console.log("world", Date.now() - t0);
    await w.connect();
    console.log("connected", Date.now() - t0);
    const b = w.instance("a");
    await w.up(b);
    console.log("up", Date.now() - t0, b.url);
    const id = await w.inboundReferral(coSellReferral("abc123"));
    const opp = await waitFor(() => w.rows("opportunity").find((r) => r[OpportunityColumn.referralId] === id), "opp");
    console.log("opp", Date.now() - t0, opp.name);
    const { opportunityId } = await w.createReadyOpportunity("xyz789");
    await waitFor(() => w.row("opportunity", opportunityId)?.[OpportunityColumn.referralId], "ref");
    console.log("ref", Date.now() - t0);
    await w.settle();
    console.log("settled", Date.now() - t0, await w.queue(), w.witness.size, w.witness.tokensIssued);
    expectNoSecrets(w.logText(), w.witness);
    await w.crash(b);
    await w.up(b);
    console.log("restarted", Date.now() - t0);
    const st = await w.admin("GET", "/admin/status");
    console.log(st.status, JSON.stringify(st.body).slice(0, 200));
  } finally {
    await w.close();
  }
})().catch((e) => { console.error(e); process.exit(1); });
