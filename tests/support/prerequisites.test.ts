/** The skip-or-fail rule for suites that need something from the machine (issue 13). */
import * as path from "node:path";
import { MissingPrerequisiteError, buildOutput, describeWith, prerequisitesMet, sharedFile, underCi, type Prerequisite } from "./prerequisites";

const there: Prerequisite = { name: "a thing that is there", present: () => true, provided: "always" };
const missing: Prerequisite = { name: "Chromium (/nowhere/chromium)", present: () => false, provided: ".ci/run installs it with `apt-get install chromium`" };

let warn: jest.SpyInstance;
beforeEach(() => {
  warn = jest.spyOn(console, "warn").mockImplementation(() => undefined);
});
afterEach(() => warn.mockRestore());

describe("underCi", () => {
  test.each([
    [{ CI: "true" }, true],
    [{ CI: "1" }, true],
    [{}, false],
    [{ CI: "" }, false],
    [{ CI: "false" }, false],
    [{ CI: "0" }, false],
  ])("%j → %s", (env, expected) => {
    expect(underCi(env)).toBe(expected);
  });
});

describe("prerequisitesMet", () => {
  test("everything present: runs, with or without CI, and warns of nothing", () => {
    expect(prerequisitesMet("suite", [there], {})).toBe(true);
    expect(prerequisitesMet("suite", [there], { CI: "true" })).toBe(true);
    expect(warn).not.toHaveBeenCalled();
  });

  test("something missing outside CI: skipped, with a warning that names it", () => {
    expect(prerequisitesMet("tests/browser/form-host", [there, missing], {})).toBe(false);
    expect(warn).toHaveBeenCalledWith(expect.stringContaining("tests/browser/form-host: Chromium (/nowhere/chromium) missing; skipped"));
  });

  test.each(["true", "1"])("something missing with CI=%s: fails, naming it and how .ci/run provides it", (ci) => {
    let thrown: unknown;
    try {
      prerequisitesMet("tests/browser/form-host", [there, missing], { CI: ci });
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(MissingPrerequisiteError);
    expect((thrown as Error).message).toBe(
      "tests/browser/form-host needs Chromium (/nowhere/chromium), which is missing. Under CI this is a failure, not a skip: .ci/run installs it with `apt-get install chromium`.",
    );
    expect(warn).not.toHaveBeenCalled();
  });
});

describe("describeWith", () => {
  test("present: the real describe", () => {
    expect(describeWith("suite", [there], { CI: "true" })).toBe(describe);
  });

  test("missing outside CI: describe.skip", () => {
    expect(describeWith("suite", [missing], {})).toBe(describe.skip);
  });

  test("missing under CI: neither describe nor describe.skip (a block whose one test fails)", () => {
    const block = describeWith("suite", [missing], { CI: "true" });
    expect(block).not.toBe(describe);
    expect(block).not.toBe(describe.skip);
  });
});

describe("the prerequisites the suites use", () => {
  test("a file under ../shared names the full path and that .ci/run does not fetch it", () => {
    const p = sharedFile("fixtures/no-such-file.json");
    expect(p.present()).toBe(false);
    expect(p.name).toBe(`${path.resolve(__dirname, "../../../shared/fixtures/no-such-file.json")} (../shared beside the checkout)`);
    expect(p.provided).toMatch(/CI job checks it out beside the repository/);
  });

  test("a build output names the files relative to the checkout and that npm test builds them", () => {
    const p = buildOutput("the control", path.resolve(__dirname, "../../pcf/out/nothing.js"));
    expect(p.present()).toBe(false);
    expect(p.name).toBe("the control (pcf/out/nothing.js)");
    expect(p.provided).toMatch(/npm run build/);
  });
});
