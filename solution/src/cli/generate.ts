/** `npm run generate -w solution`: rewrites solution/src/unpacked/ from the contract. */
import path from "node:path";
import { REPO_ROOT } from "../inputs";
import { UNPACKED_DIR, writeUnpacked } from "../unpacked";

writeUnpacked();
console.log(`wrote ${path.relative(REPO_ROOT, UNPACKED_DIR)}/ (commit it with your change)`);
