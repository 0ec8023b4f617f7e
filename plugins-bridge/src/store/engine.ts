/**
 * How the store's operations reach a database. An operation is a generator that yields SQL
 * statements and receives their rows, so the same code runs
 *   - on SQLite synchronously inside one better-sqlite3 transaction (never across an `await`: a
 *     write lock held over an await would stall every other connection to the file, and a second
 *     store in the same process would block the event loop in busy_timeout while waiting for it);
 *   - on PostgreSQL asynchronously on one pooled client between BEGIN and COMMIT.
 * SQL is written once with `?` placeholders; PostgreSQL gets `$1…$n`.
 */
import type BetterSqlite3 from "better-sqlite3";
import type { Pool, PoolClient, QueryResult } from "pg";
import type { Dialect } from "./migrations";

export type Row = Record<string, unknown>;
export type Param = string | number | null;

export interface Stmt {
  readonly text: string;
  readonly params: readonly Param[];
}

export interface StmtResult {
  readonly rows: Row[];
  /** Rows inserted, updated or deleted. */
  readonly changes: number;
}

export type Op<T> = Generator<Stmt, T, StmtResult>;

/**
 * "tx": all statements in one transaction (SQLite: BEGIN IMMEDIATE, so the write lock is taken up
 * front and a stale read snapshot can never fail the upgrade). "auto": each statement commits on its
 * own; right for reads and for operations that are a single statement.
 */
export type RunMode = "tx" | "auto";

export interface Engine {
  readonly dialect: Dialect;
  run<T>(op: () => Op<T>, mode: RunMode): Promise<T>;
  close(): Promise<void>;
}

export function stmt(text: string, ...params: Param[]): Stmt {
  return { text, params };
}

function driveSync<T>(op: Op<T>, exec: (s: Stmt) => StmtResult): T {
  let step = op.next();
  while (!step.done) {
    let result: StmtResult;
    try {
      result = exec(step.value);
    } catch (err) {
      step = op.throw(err);
      continue;
    }
    step = op.next(result);
  }
  return step.value;
}

async function driveAsync<T>(op: Op<T>, exec: (s: Stmt) => Promise<StmtResult>): Promise<T> {
  let step = op.next();
  while (!step.done) {
    let result: StmtResult;
    try {
      result = await exec(step.value);
    } catch (err) {
      step = op.throw(err);
      continue;
    }
    step = op.next(result);
  }
  return step.value;
}

export class SqliteEngine implements Engine {
  readonly dialect = "sqlite" as const;
  private readonly statements = new Map<string, BetterSqlite3.Statement>();

  constructor(private readonly db: BetterSqlite3.Database) {}

  private exec = (s: Stmt): StmtResult => {
    let prepared = this.statements.get(s.text);
    if (!prepared) {
      prepared = this.db.prepare(s.text);
      this.statements.set(s.text, prepared);
    }
    if (prepared.reader) {
      const rows = prepared.all(...s.params) as Row[];
      return { rows, changes: rows.length };
    }
    return { rows: [], changes: prepared.run(...s.params).changes };
  };

  run<T>(op: () => Op<T>, mode: RunMode): Promise<T> {
    try {
      if (mode === "auto") return Promise.resolve(driveSync(op(), this.exec));
      return Promise.resolve(this.db.transaction(() => driveSync(op(), this.exec)).immediate());
    } catch (err) {
      return Promise.reject(err);
    }
  }

  close(): Promise<void> {
    this.statements.clear();
    if (this.db.open) this.db.close();
    return Promise.resolve();
  }
}

const pgStatements = new Map<string, { name: string; text: string }>();

/**
 * `?` → `$n` (our SQL never has a `?` inside a literal or a jsonb `?` operator), and a name, so
 * each connection parses and plans a statement once (pg prepares named statements per connection).
 */
function toPostgres(text: string): { name: string; text: string } {
  let prepared = pgStatements.get(text);
  if (prepared === undefined) {
    let n = 0;
    prepared = { name: `cosell_store_${pgStatements.size + 1}`, text: text.replace(/\?/g, () => `$${++n}`) };
    pgStatements.set(text, prepared);
  }
  return prepared;
}

/** Deadlock and serialization failures: the whole transaction may simply run again. */
const TRANSIENT_PG_CODES = new Set(["40P01", "40001"]);

function pgCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

export class PostgresEngine implements Engine {
  readonly dialect = "postgres" as const;

  constructor(private readonly pool: Pool) {}

  private static async query(client: Pool | PoolClient, s: Stmt): Promise<StmtResult> {
    const { name, text } = toPostgres(s.text);
    const result: QueryResult<Row> = await client.query<Row>({ name, text, values: s.params as Param[] });
    return { rows: result.rows, changes: result.rowCount ?? 0 };
  }

  async run<T>(op: () => Op<T>, mode: RunMode): Promise<T> {
    if (mode === "auto") return driveAsync(op(), (s) => PostgresEngine.query(this.pool, s));
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.transaction(op);
      } catch (err) {
        if (attempt >= 3 || !TRANSIENT_PG_CODES.has(pgCode(err) ?? "")) throw err;
      }
    }
  }

  private async transaction<T>(op: () => Op<T>): Promise<T> {
    const client = await this.pool.connect();
    let broken: Error | undefined;
    try {
      await client.query("BEGIN");
      const value = await driveAsync(op(), (s) => PostgresEngine.query(client, s));
      await client.query("COMMIT");
      return value;
    } catch (err) {
      await client.query("ROLLBACK").catch((rollbackError: unknown) => {
        // A connection that cannot roll back is not given back to the pool.
        broken = rollbackError instanceof Error ? rollbackError : new Error(String(rollbackError));
      });
      throw err;
    } finally {
      client.release(broken);
    }
  }

  close(): Promise<void> {
    return this.pool.end();
  }
}

export function isUniqueViolation(err: unknown): boolean {
  const code = pgCode(err);
  return code === "23505" || code === "SQLITE_CONSTRAINT_UNIQUE" || code === "SQLITE_CONSTRAINT_PRIMARYKEY";
}
