import { makeStyles, shorthands, tokens } from "@fluentui/react-components";

export const useSectionStyles = makeStyles({
  root: {
    display: "flex",
    flexDirection: "column",
    ...shorthands.gap(tokens.spacingVerticalL),
    width: "100%",
    boxSizing: "border-box",
  },
  columns: {
    display: "grid",
    gridTemplateColumns: "minmax(0, 1fr) minmax(0, 1fr)",
    columnGap: tokens.spacingHorizontalXXL,
    rowGap: tokens.spacingVerticalL,
    alignItems: "start",
  },
  column: {
    display: "flex",
    flexDirection: "column",
    ...shorthands.gap(tokens.spacingVerticalM),
    minWidth: 0,
  },
  part: {
    display: "flex",
    flexDirection: "column",
    ...shorthands.gap(tokens.spacingVerticalS),
    minWidth: 0,
  },
  heading: {
    ...shorthands.margin(0),
  },
  row: {
    display: "flex",
    flexWrap: "wrap",
    alignItems: "center",
    ...shorthands.gap(tokens.spacingHorizontalS),
  },
  stack: {
    display: "flex",
    flexDirection: "column",
    alignItems: "stretch",
    ...shorthands.gap(tokens.spacingVerticalS),
  },
  hint: {
    color: tokens.colorNeutralForeground3,
  },
  details: {
    display: "grid",
    gridTemplateColumns: "max-content minmax(0, 1fr)",
    columnGap: tokens.spacingHorizontalM,
    rowGap: tokens.spacingVerticalXS,
    ...shorthands.margin(0),
  },
  detailsNarrow: {
    gridTemplateColumns: "minmax(0, 1fr)",
  },
  term: {
    color: tokens.colorNeutralForeground3,
  },
  value: {
    ...shorthands.margin(0),
    overflowWrap: "anywhere",
  },
  timeline: {
    listStyleType: "none",
    ...shorthands.padding(0),
    ...shorthands.margin(0),
    display: "flex",
    flexDirection: "column",
    ...shorthands.gap(tokens.spacingVerticalS),
  },
  entry: {
    display: "grid",
    gridTemplateColumns: "max-content max-content minmax(0, 1fr)",
    columnGap: tokens.spacingHorizontalM,
    alignItems: "baseline",
  },
  entryNarrow: {
    gridTemplateColumns: "minmax(0, 1fr)",
  },
  visuallyHidden: {
    position: "absolute",
    width: "1px",
    height: "1px",
    ...shorthands.overflow("hidden"),
    clipPath: "inset(50%)",
    whiteSpace: "nowrap",
  },
});
