import * as React from "react";
import { Badge, Button, Dropdown, Field, Option, Subtitle2, Text, mergeClasses } from "@fluentui/react-components";
import { AUDIT_DIRECTIONS, AUDIT_OUTCOMES, type AuditDirection, type AuditOutcome } from "@cosell/contract";
import {
  NO_AUDIT_FILTER,
  countOutcomes,
  filterTimeline,
  type AuditFilter,
  type DirectionFilter,
  type OutcomeFilter,
} from "../model/audit";
import type { Layout } from "../model/layout";
import type { AuditModel } from "../model/section";
import { StringKey, type Strings } from "../Strings";
import { useSectionStyles } from "./styles";

export interface AuditTimelineProps {
  readonly audit: AuditModel;
  readonly layout: Layout;
  readonly strings: Strings;
  readonly formatDateTime: (value: Date) => string;
  readonly headingId: string;
}

/** Entries shown at first and added by each "Show more": the column can hold a thousand lines. */
export const AUDIT_PAGE = 20;

const DIRECTION_LABEL: Record<AuditDirection, StringKey> = {
  "PC→CRM": StringKey.Direction_FromPartnerCenter,
  "CRM→PC": StringKey.Direction_ToPartnerCenter,
};
const OUTCOME_LABEL: Record<AuditOutcome, StringKey> = {
  ok: StringKey.Outcome_ok,
  skipped: StringKey.Outcome_skipped,
  conflict: StringKey.Outcome_conflict,
  error: StringKey.Outcome_error,
};
const OUTCOME_COLOR = {
  ok: "success",
  skipped: "informative",
  conflict: "warning",
  error: "danger",
} as const satisfies Record<AuditOutcome, string>;

/** The audit trail, newest first, filterable by direction and outcome. */
export const AuditTimeline: React.FC<AuditTimelineProps> = ({ audit, layout, strings: t, formatDateTime, headingId }) => {
  const styles = useSectionStyles();
  const [filter, setFilter] = React.useState<AuditFilter>(NO_AUDIT_FILTER);
  const [shown, setShown] = React.useState(AUDIT_PAGE);
  const entries = filterTimeline(audit.entries, filter);
  const counts = countOutcomes(audit.entries);
  const all = t(StringKey.Audit_All);

  const directionLabel = (d: DirectionFilter): string => (d === "all" ? all : t(DIRECTION_LABEL[d]));
  const outcomeLabel = (o: OutcomeFilter): string => (o === "all" ? all : `${t(OUTCOME_LABEL[o])} (${counts[o]})`);
  const update = (next: Partial<AuditFilter>): void => {
    setFilter((f) => ({ ...f, ...next }));
    setShown(AUDIT_PAGE);
  };

  return (
    <section className={styles.part} aria-labelledby={headingId}>
      <Subtitle2 as="h3" id={headingId} className={styles.heading}>
        {t(StringKey.Audit_Heading)}
      </Subtitle2>
      {audit.entries.length === 0 ? (
        <Text className={styles.hint}>{t(StringKey.Audit_Empty)}</Text>
      ) : (
        <>
          <div className={layout === "narrow" ? styles.stack : styles.row}>
            <Field label={t(StringKey.Audit_FilterDirection)}>
              <Dropdown
                value={directionLabel(filter.direction)}
                selectedOptions={[filter.direction]}
                onOptionSelect={(_, data) => update({ direction: (data.optionValue ?? "all") as DirectionFilter })}
              >
                {(["all", ...AUDIT_DIRECTIONS] as const).map((d) => (
                  <Option key={d} value={d}>
                    {directionLabel(d)}
                  </Option>
                ))}
              </Dropdown>
            </Field>
            <Field label={t(StringKey.Audit_FilterOutcome)}>
              <Dropdown
                value={outcomeLabel(filter.outcome)}
                selectedOptions={[filter.outcome]}
                onOptionSelect={(_, data) => update({ outcome: (data.optionValue ?? "all") as OutcomeFilter })}
              >
                {(["all", ...AUDIT_OUTCOMES] as const).map((o) => (
                  <Option key={o} value={o}>
                    {outcomeLabel(o)}
                  </Option>
                ))}
              </Dropdown>
            </Field>
          </div>
          <Text role="status" className={styles.hint}>
            {t(StringKey.Audit_Count, String(Math.min(shown, entries.length)), String(entries.length))}
          </Text>
          {entries.length === 0 ? (
            <Text>{t(StringKey.Audit_NoMatches)}</Text>
          ) : (
            <ol className={styles.timeline} aria-labelledby={headingId}>
              {entries.slice(0, shown).map((e) => (
                <li key={e.key} className={mergeClasses(styles.entry, layout === "narrow" && styles.entryNarrow)}>
                  <Text size={200}>
                    <time dateTime={e.at}>{formatDateTime(new Date(e.at))}</time>
                  </Text>
                  <span className={styles.row}>
                    <Text size={200}>{t(DIRECTION_LABEL[e.direction])}</Text>
                    <Badge appearance="tint" color={OUTCOME_COLOR[e.outcome]}>
                      {t(OUTCOME_LABEL[e.outcome])}
                    </Badge>
                  </span>
                  <Text className={styles.value}>{e.message}</Text>
                </li>
              ))}
            </ol>
          )}
          {entries.length > shown && (
            <Button appearance="secondary" onClick={() => setShown((n) => n + AUDIT_PAGE)}>
              {t(StringKey.Audit_ShowMore)}
            </Button>
          )}
        </>
      )}
    </section>
  );
};
