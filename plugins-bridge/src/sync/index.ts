/** The bridge's sync core: pure functions from what was read to what to write. */
export * from "./categorize";
export * from "./transitions";
export * from "./snapshot";
export * from "./merge";
export * from "./create";
export * from "./validate";
export * from "./bookkeeping";
export * from "./microsoft";
export * from "./apply";
