/** Layout by the width the form gives the control, and by device: phones always get one column. */
export type Layout = "narrow" | "medium" | "wide";

const FORM_FACTOR_TABLET = 2;
const FORM_FACTOR_PHONE = 3;
export const NARROW_BELOW_PX = 480;
export const MEDIUM_BELOW_PX = 800;

export function layoutFor(allocatedWidth: number, formFactor: number): Layout {
  // allocatedWidth is -1 (or 0) until the platform has measured the container.
  const known = allocatedWidth > 0;
  if (formFactor === FORM_FACTOR_PHONE || (known && allocatedWidth < NARROW_BELOW_PX)) return "narrow";
  if (formFactor === FORM_FACTOR_TABLET || (known && allocatedWidth < MEDIUM_BELOW_PX)) return "medium";
  return "wide";
}
