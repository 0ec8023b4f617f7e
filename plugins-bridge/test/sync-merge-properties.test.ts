/**
 * Merge invariants over generated sides (fast-check). Values come from small domains so that
 * equal, changed and conflicting fields all occur often; raw shapes vary the way the two APIs vary
 * (deal value as text, ✔/✖ suffixes, solution ids in any case and order, legacy Category tags).
 * Patches are applied with fast-json-patch, an implementation independent of the bridge's own.
 */
import fc from "fast-check";
import { applyPatch, deepClone, type Operation } from "fast-json-patch";
import { HelpNeeded, OpportunityColumn, ReferralAction } from "@cosell/contract";
import type { CrmRecordSet } from "../src/dataverse/model";
import { fieldsForLink, type Mapping } from "../src/mapping";
import type { Referral } from "../src/partner-center/model";
import {
  applyToRecordSet,
  holdKey,
  merge,
  snapshotFromRecord,
  snapshotFromReferral,
  type Snapshot,
} from "../src/sync";
import { defaultMapping, NOW, OPPORTUNITY_ID, recordSet, referral } from "./sync-fixtures";

const RUNS = { numRuns: 400 };

// ---------------------------------------------------------------------------------------------
// One "world": the normalized value of every synced field, rendered into either side.
// ---------------------------------------------------------------------------------------------

const NAMES = ["Contoso migration", "Contoso AI", "Fabrikam ERP"] as const;
const AMOUNTS = [1000, 2500.5, 70000] as const;
const CURRENCIES = ["USD", "EUR"] as const;
const DATES = ["2026-12-31", "2027-01-15"] as const;
const NOTES = [null, "Move 200 VMs", "PoC first"] as const;
const SOLUTION_IDS = ["SOL-1-AAA", "SOL-2-BBB", "SOL-3-CCC"] as const;
const HELP = [null, "GeneralOrOther", "QuotesOrLicensing"] as const;
const HELP_VALUE: Record<string, number> = {
  GeneralOrOther: HelpNeeded.GeneralOrOther,
  QuotesOrLicensing: HelpNeeded.QuotesOrLicensing,
};
/** Referral state ↔ the opportunity's statecode it corresponds to. */
const STATES = [
  { status: "New", substatus: "Pending", statecode: 0, statuscode: 1 },
  { status: "Active", substatus: "Accepted", statecode: 0, statuscode: 1 },
  { status: "Closed", substatus: "Won", statecode: 1, statuscode: 3 },
  { status: "Closed", substatus: "Lost", statecode: 2, statuscode: 5 },
] as const;
const TIMES = ["2026-11-20T08:00:00Z", "2026-11-21T08:00:00Z", "2026-11-22T08:00:00Z"] as const;

interface World {
  name: string;
  amount: number;
  currency: string;
  date: string;
  notes: string | null;
  solutions: string[];
  help: string | null;
  share: boolean;
  state: (typeof STATES)[number];
  crmId: string | null;
}

const worldArb: fc.Arbitrary<World> = fc.record({
  name: fc.constantFrom(...NAMES),
  amount: fc.constantFrom(...AMOUNTS),
  currency: fc.constantFrom(...CURRENCIES),
  date: fc.constantFrom(...DATES),
  notes: fc.constantFrom(...NOTES),
  solutions: fc.subarray([...SOLUTION_IDS], { minLength: 1 }),
  help: fc.constantFrom(...HELP),
  share: fc.boolean(),
  state: fc.constantFrom(...STATES),
  crmId: fc.constantFrom(null, "MSX-1"),
});

/** How a side may spell the same values. */
interface Spelling {
  amountAsText: boolean;
  suffix: "" | " ✔" | " ✖";
  lowerIds: boolean;
  reversed: boolean;
  category: boolean;
  at: string;
}
const spellingArb: fc.Arbitrary<Spelling> = fc.record({
  amountAsText: fc.boolean(),
  suffix: fc.constantFrom("" as const, " ✔" as const, " ✖" as const),
  lowerIds: fc.boolean(),
  reversed: fc.boolean(),
  category: fc.boolean(),
  at: fc.constantFrom(...TIMES),
});

function ids(world: World, spelling: Spelling): string[] {
  const list = spelling.lowerIds ? world.solutions.map((s) => s.toLowerCase()) : [...world.solutions];
  return spelling.reversed ? list.reverse() : list;
}

function referralOf(world: World, spelling: Spelling): Referral {
  const base = referral();
  return {
    ...base,
    name: world.name,
    status: world.state.status,
    substatus: world.state.substatus,
    updatedDateTime: spelling.at,
    details: {
      dealValue: spelling.amountAsText ? String(world.amount) : world.amount,
      currency: world.currency,
      closingDateTime: `${world.date}T00:00:00Z`,
      notes: world.notes,
      requirements: {
        solutions: [
          ...(spelling.category ? [{ type: "Category", id: "Dynamics365forSales" }] : []),
          ...ids(world, spelling).map((id) => ({ type: "Name", id })),
        ],
      },
    },
    inviteContext: world.help ? { assistanceRequestCode: world.help } : null,
    consent: { consentToShareReferralWithMicrosoftSellers: world.share },
    trackingInfo: world.crmId ? { microsoftMsxId: world.crmId } : null,
  };
}

function recordOf(world: World, spelling: Spelling, action: number | null = null): CrmRecordSet {
  return recordSet({
    currency: { transactioncurrencyid: `cur-${world.currency}`, isocurrencycode: world.currency },
    recordColumns: {
      opportunityid: OPPORTUNITY_ID,
      name: `${world.name}${spelling.suffix}`,
      estimatedvalue: world.amount,
      estimatedclosedate: world.date,
      description: world.notes,
      statecode: world.state.statecode,
      statuscode: world.state.statuscode,
      modifiedon: spelling.at,
      [OpportunityColumn.products]: ids(world, spelling).join(spelling.reversed ? "; " : ", "),
      [OpportunityColumn.microsoftHelp]: world.help ? HELP_VALUE[world.help] : HelpNeeded.NoHelpNeeded,
      [OpportunityColumn.shareWithMicrosoft]: world.share,
      [OpportunityColumn.referralStatus]: world.state.status,
      [OpportunityColumn.referralSubstatus]: world.state.substatus,
      [OpportunityColumn.microsoftCrmId]: world.crmId,
      [OpportunityColumn.referralAction]: action,
      [OpportunityColumn.declineReason]: action === ReferralAction.Decline ? "No budget" : null,
    },
  });
}

const POLICIES = ["pc-wins", "crm-wins", "latest-wins", "manual"] as const;
const mappings: Record<(typeof POLICIES)[number], Mapping> = Object.fromEntries(
  POLICIES.map((policy) => {
    const fields = Object.fromEntries(
      ["name", "dealValue", "currency", "closeDate", "notes", "solutions"].map((k) => [k, { conflict: { policy } }]),
    );
    return [policy, defaultMapping({}, { opportunity: { fields } })];
  }),
) as Record<(typeof POLICIES)[number], Mapping>;
const policyArb = fc.constantFrom(...POLICIES);

/** A base: none, or what one side or a third state looked like. */
function baseArb(): fc.Arbitrary<(m: Mapping, pc: Referral, crm: CrmRecordSet) => Snapshot | undefined> {
  return fc.oneof(
    fc.constant(() => undefined),
    fc.constant((m: Mapping, pc: Referral) => snapshotFromReferral({ referral: pc }, m, "opportunity")),
    fc.constant((m: Mapping, _pc: Referral, crm: CrmRecordSet) => snapshotFromRecord(crm, m)),
    fc.tuple(worldArb, spellingArb).map(([w, s]) => (m: Mapping) => snapshotFromReferral({ referral: referralOf(w, s) }, m, "opportunity")),
  );
}

function applyWithLibrary(pc: Referral, ops: readonly Operation[]): Referral {
  // validateOperation = true: an op that does not fit the document (replace of a missing member…) throws.
  return applyPatch(deepClone(pc) as Referral, deepClone(ops) as Operation[], true, false).newDocument;
}

function bothWayFields(m: Mapping) {
  return fieldsForLink(m, "opportunity").filter((f) => f.onUpdate && f.direction === "both");
}

describe("merge invariants", () => {
  it("merging identical sides writes nothing, whatever the base and however each side spells its values", () => {
    fc.assert(
      fc.property(worldArb, spellingArb, spellingArb, policyArb, baseArb(), (world, pcSpelling, crmSpelling, policy, baseOf) => {
        const m = mappings[policy];
        const pc = referralOf(world, pcSpelling);
        const crm = recordOf(world, crmSpelling);
        const result = merge(baseOf(m, pc, crm), { referral: pc }, crm, m, NOW);
        expect(result.toPartnerCenter).toEqual([]);
        expect(result.toDataverse).toEqual({ record: {}, account: {}, contact: {} });
        expect(result.conflicts).toEqual([]);
        expect(result.nothingToDo).toBe(true);
      }),
      RUNS,
    );
  });

  it("after applying a merge, both sides agree on every two-way field that was not held back", () => {
    fc.assert(
      fc.property(
        worldArb, spellingArb, worldArb, spellingArb, policyArb, baseArb(),
        fc.constantFrom(null, ReferralAction.Accept, ReferralAction.Decline),
        (pcWorld, pcSpelling, crmWorld, crmSpelling, policy, baseOf, action) => {
          const m = mappings[policy];
          const pc = referralOf(pcWorld, pcSpelling);
          const crm = recordOf(crmWorld, crmSpelling, action);
          const result = merge(baseOf(m, pc, crm), { referral: pc }, crm, m, NOW);
          const pcAfter = applyWithLibrary(pc, result.toPartnerCenter);
          const crmAfter = applyToRecordSet(crm, result.toDataverse);
          const pcSnap = snapshotFromReferral({ referral: pcAfter }, m, "opportunity");
          const crmSnap = snapshotFromRecord(crmAfter, m);
          for (const f of bothWayFields(m)) {
            if (result.newBase[holdKey(f.id)] !== undefined) continue;
            expect([f.id, pcSnap[f.id]]).toEqual([f.id, crmSnap[f.id]]);
            expect([f.id, result.newBase[f.id]]).toEqual([f.id, pcSnap[f.id]]);
          }
          // The seller's request is always cleared.
          if (action !== null) expect(crmAfter.record[OpportunityColumn.referralAction]).toBeNull();
          // Terminal referrals are never written to, except by the transition the merge itself made.
          if (pc.status === "Closed") expect(result.toPartnerCenter).toEqual([]);
        },
      ),
      RUNS,
    );
  });

  it("is idempotent: merging again after applying the result has nothing to do", () => {
    fc.assert(
      fc.property(
        worldArb, spellingArb, worldArb, spellingArb, policyArb, baseArb(),
        fc.constantFrom(null, ReferralAction.Accept, ReferralAction.Decline),
        (pcWorld, pcSpelling, crmWorld, crmSpelling, policy, baseOf, action) => {
          const m = mappings[policy];
          const pc = referralOf(pcWorld, pcSpelling);
          const crm = recordOf(crmWorld, crmSpelling, action);
          const first = merge(baseOf(m, pc, crm), { referral: pc }, crm, m, NOW);
          const pcAfter = applyWithLibrary(pc, first.toPartnerCenter);
          const crmAfter = applyToRecordSet(crm, first.toDataverse);
          const second = merge(first.newBase, { referral: pcAfter }, crmAfter, m, NOW);
          expect(second.toPartnerCenter).toEqual([]);
          expect(second.toDataverse).toEqual({ record: {}, account: {}, contact: {} });
          expect(second.audit).toEqual([]);
          expect(second.conflicts).toEqual([]);
          expect(second.nothingToDo).toBe(true);
          expect(second.newBase).toEqual(first.newBase);
        },
      ),
      RUNS,
    );
  });

  it("never reports a conflict for a field only one side changed", () => {
    fc.assert(
      fc.property(worldArb, spellingArb, worldArb, spellingArb, policyArb, (world, spelling, changed, crmSpelling, policy) => {
        const m = mappings[policy];
        const pc = referralOf(world, spelling);
        const base = snapshotFromReferral({ referral: pc }, m, "opportunity");
        // Partner Center unchanged since the base; Dynamics changed anything.
        const result = merge(base, { referral: pc }, recordOf(changed, crmSpelling), m, NOW);
        expect(result.conflicts).toEqual([]);
      }),
      RUNS,
    );
  });
});
