export * from "./schema";
export * from "./audit";
export * from "./values";
export { PRODUCT_VERSION, solutionVersion } from "./version";
export * from "./system";
