/**
 * The JSON schema of the mapping file, generated from the zod schema so the two cannot drift.
 * `npx tsx plugins-bridge/src/mapping/json-schema.ts` rewrites plugins-bridge/mapping/mapping.schema.json;
 * a test fails when the committed file is stale.
 */
import { writeFileSync } from "node:fs";
import * as path from "node:path";
import { z } from "zod";
import { MappingFileSchema } from "./schema";

export const MAPPING_SCHEMA_PATH = path.resolve(__dirname, "../../mapping/mapping.schema.json");

export function mappingJsonSchemaText(): string {
  const schema = z.toJSONSchema(MappingFileSchema, { target: "draft-2020-12", io: "input" });
  return `${JSON.stringify(schema, null, 2)}\n`;
}

if (require.main === module) {
  writeFileSync(MAPPING_SCHEMA_PATH, mappingJsonSchemaText());
  console.log(`wrote ${MAPPING_SCHEMA_PATH}`);
}
