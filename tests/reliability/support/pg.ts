/** PostgreSQL for the reliability suites: database `test` on 127.0.0.1:5432, one schema per test file. */
import { Client } from "pg";
import { dropPostgresSchema } from "@cosell/bridge/src/store";

export const PG_URL = process.env["COSELL_TEST_PG_URL"] ?? "postgres://postgres@127.0.0.1:5432/test";

export interface PgSchema {
  readonly schema: string;
  drop(): Promise<void>;
}

/** A fresh schema name (created by the bridge's migrations); fails loudly when PostgreSQL is down. */
export async function pgSchema(prefix: string): Promise<PgSchema> {
  const schema = `${prefix}_${Math.random().toString(36).slice(2, 10)}`;
  const probe = new Client({ connectionString: PG_URL });
  try {
    await probe.connect();
  } catch (err) {
    throw new Error(`PostgreSQL is required by the reliability suites and is not reachable at ${PG_URL}: ${(err as Error).message}`, { cause: err });
  } finally {
    await probe.end().catch(() => undefined);
  }
  return {
    schema,
    drop: () => dropPostgresSchema(PG_URL, schema),
  };
}
