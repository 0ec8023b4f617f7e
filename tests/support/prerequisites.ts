/**
 * What a suite needs from the machine (Chromium, ../shared beside the checkout, the build outputs)
 * and the one rule for when it is missing: on a developer's machine the suite is skipped with a
 * warning; under CI (`CI=true` or `CI=1`) it fails, naming what is missing and how `.ci/run`
 * provides it, so that a green CI means every suite ran (issue 13). PostgreSQL and xmllint are not
 * here: their absence is already a failure everywhere (store tests, solution/src/validate/xsd.ts).
 */
import { existsSync } from "node:fs";
import * as path from "node:path";

export const REPO_ROOT = path.resolve(__dirname, "../..");
/** The shared folder beside the checkout: Microsoft's XSDs, real solution exports, API fixtures. */
export const SHARED = path.resolve(REPO_ROOT, "../shared");

export interface Prerequisite {
  /** What is missing, for a person: "Chromium (/usr/bin/chromium)". */
  readonly name: string;
  /** Whether it is there, checked when the suite loads. */
  readonly present: () => boolean;
  /** How `.ci/run` provides it, shown when CI fails for want of it. */
  readonly provided: string;
}

export class MissingPrerequisiteError extends Error {
  constructor(
    readonly prerequisite: string,
    suite: string,
    provided: string,
  ) {
    super(`${suite} needs ${prerequisite}, which is missing. Under CI this is a failure, not a skip: ${provided}.`);
    this.name = "MissingPrerequisiteError";
  }
}

/** `CI=true` or `CI=1`, as CI services set it. */
export function underCi(env: NodeJS.ProcessEnv = process.env): boolean {
  return env["CI"] === "true" || env["CI"] === "1";
}

/** Chromium at Debian's path, driven by playwright-core (tests/browser). */
export const CHROMIUM_PATH = "/usr/bin/chromium";
export const chromium: Prerequisite = {
  name: `Chromium (${CHROMIUM_PATH})`,
  present: () => existsSync(CHROMIUM_PATH),
  provided: ".ci/run installs it with `apt-get install chromium`",
};

/** A file or folder under ../shared beside the checkout. */
export function sharedFile(relative: string): Prerequisite {
  const full = path.join(SHARED, relative);
  return {
    name: `${full} (../shared beside the checkout)`,
    present: () => existsSync(full),
    provided: ".ci/run does not fetch ../shared: the CI job checks it out beside the repository, and .ci/run stops before `npm test` when it is absent",
  };
}

/** Files the build writes (`npm run build`), which `npm test` runs before jest. */
export function buildOutput(what: string, ...files: string[]): Prerequisite {
  return {
    name: `${what} (${files.map((f) => path.relative(REPO_ROOT, f)).join(", ")})`,
    present: () => files.every((f) => existsSync(f)),
    provided: "`npm test` builds them (`npm run build`) before it runs jest; .ci/run runs `npm test`",
  };
}

/**
 * Whether the suite can run: true when every prerequisite is present; otherwise false with a
 * warning, or, under CI, a MissingPrerequisiteError for the first one missing.
 */
export function prerequisitesMet(suite: string, prerequisites: readonly Prerequisite[], env: NodeJS.ProcessEnv = process.env): boolean {
  const missing = prerequisites.filter((p) => !p.present());
  if (missing.length === 0) return true;
  const first = missing[0] as Prerequisite;
  if (underCi(env)) throw new MissingPrerequisiteError(first.name, suite, first.provided);
  console.warn(`${suite}: ${missing.map((p) => p.name).join(" and ")} missing; skipped (under CI this fails).`);
  return false;
}

type DescribeBlock = (name: string, fn: () => void) => void;

/**
 * `describe` when the prerequisites are there; `describe.skip` with a warning when they are not;
 * under CI, a describe holding one failing test that names what is missing (the rest of the file
 * still runs).
 */
export function describeWith(suite: string, prerequisites: readonly Prerequisite[], env: NodeJS.ProcessEnv = process.env): DescribeBlock {
  let met: boolean;
  try {
    met = prerequisitesMet(suite, prerequisites, env);
  } catch (err) {
    return (name) =>
      describe(name, () => {
        test("has what it needs", () => {
          throw err;
        });
      });
  }
  return met ? describe : describe.skip;
}
