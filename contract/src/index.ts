export * from "./schema";
export * from "./audit";
export * from "./values";
export { PRODUCT_VERSION, solutionVersion } from "./version";
export * from "./system";
export { parseRetryAfter, RETRY_AFTER_CAP_MS } from "./retry-after";
export * from "./roles";
