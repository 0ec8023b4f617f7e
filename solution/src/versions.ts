/**
 * One version for the product: contract PRODUCT_VERSION. Every workspace package.json (and the root)
 * must carry it, as must the control manifest; solution.xml carries its four-part form.
 */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { PRODUCT_VERSION } from "@cosell/contract";
import { z } from "zod";
import type { ValidationIssue } from "./validate/errors";

const PackageJson = z.object({ version: z.string().optional(), workspaces: z.array(z.string()).optional() });

export function checkRepositoryVersions(repoRoot: string, version: string = PRODUCT_VERSION): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  const rootFile = path.join(repoRoot, "package.json");
  const root = PackageJson.parse(JSON.parse(readFileSync(rootFile, "utf8")));
  const files = ["package.json", ...(root.workspaces ?? []).map((w) => path.join(w, "package.json"))];
  for (const rel of files) {
    const file = path.join(repoRoot, rel);
    if (!existsSync(file)) continue;
    const pkg = PackageJson.parse(JSON.parse(readFileSync(file, "utf8")));
    if (pkg.version !== version)
      issues.push({ rule: "version", element: `${rel}: version`, message: `is ${pkg.version ?? "absent"}, expected ${version} (contract PRODUCT_VERSION)` });
  }
  return issues;
}
