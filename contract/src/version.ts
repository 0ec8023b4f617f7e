/**
 * The one version number of the product: the solution, the PCF control and the bridge all carry it.
 * Change it here only; a test checks that every package.json and manifest agrees.
 */
export const PRODUCT_VERSION = "1.0.0";

/** Dataverse solutions carry four parts. */
export function solutionVersion(version: string = PRODUCT_VERSION): string {
  const parts = version.split(".");
  while (parts.length < 4) parts.push("0");
  return parts.slice(0, 4).join(".");
}
