import type { Figure } from "./lib/figures";
import type { StoreKind } from "./lib/stores";
import type { RunContext } from "./lib/world";
export interface BackfillOptions { readonly referrals: number; readonly latencyMs: number; readonly runs: number }
export async function backfillFigures(_ctx: RunContext, _kind: StoreKind, _o: BackfillOptions): Promise<Figure[]> { return []; }
