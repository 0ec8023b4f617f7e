/**
 * A fresh, empty bridge store for one run: a SQLite file in the run's work directory, or a
 * PostgreSQL schema of its own in database `test` on 127.0.0.1:5432 (dropped afterwards).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { Client } from "pg";
import { dropPostgresSchema } from "@cosell/bridge/src/store";

export type StoreKind = "sqlite" | "postgres";

export const PG_URL = process.env["COSELL_BENCH_PG_URL"] ?? "postgres://postgres@127.0.0.1:5432/test";

export type BenchStore =
  | { readonly kind: "sqlite"; readonly config: { kind: "sqlite"; path: string }; drop(): Promise<void> }
  | { readonly kind: "postgres"; readonly config: { kind: "postgres"; connectionString: string; schema: string; poolSize: number }; drop(): Promise<void> };

let counter = 0;

export async function freshStore(kind: StoreKind, workDir: string, label: string): Promise<BenchStore> {
  const name = `${label}_${process.pid}_${++counter}`.replace(/[^a-z0-9_]/gi, "_").toLowerCase();
  if (kind === "sqlite") {
    const file = path.join(workDir, `${name}.sqlite`);
    return {
      kind,
      config: { kind: "sqlite", path: file },
      drop: async () => {
        for (const f of [file, `${file}-wal`, `${file}-shm`]) fs.rmSync(f, { force: true });
      },
    };
  }
  const schema = `cosell_bench_${name}`;
  const client = new Client({ connectionString: PG_URL });
  try {
    await client.connect();
  } catch (err) {
    throw new Error(`PostgreSQL is not reachable at ${PG_URL} (set COSELL_BENCH_PG_URL, or --stores=sqlite): ${(err as Error).message}`, { cause: err });
  } finally {
    await client.end().catch(() => undefined);
  }
  return {
    kind,
    config: { kind: "postgres", connectionString: PG_URL, schema, poolSize: 10 },
    drop: () => dropPostgresSchema(PG_URL, schema),
  };
}

/** The environment the bridge reads, pointed at this store. */
export function withStore(env: Record<string, string>, store: BenchStore): Record<string, string> {
  const out = { ...env };
  if (store.kind === "postgres") {
    out.DATABASE_URL = store.config.connectionString;
    out.DATABASE_SCHEMA = store.config.schema;
    delete out.BRIDGE_SQLITE_PATH;
  } else {
    out.BRIDGE_SQLITE_PATH = store.config.path;
    delete out.DATABASE_URL;
  }
  return out;
}
