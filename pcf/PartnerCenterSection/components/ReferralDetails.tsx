import * as React from "react";
import { Link, Subtitle2, Text, mergeClasses } from "@fluentui/react-components";
import type { Layout } from "../model/layout";
import type { ReferralModel } from "../model/section";
import { StringKey, type Strings } from "../Strings";
import { useSectionStyles } from "./styles";

export interface ReferralDetailsProps {
  readonly referral: ReferralModel;
  readonly layout: Layout;
  readonly strings: Strings;
  readonly headingId: string;
}

/** Read-only facts about the linked referral; the link opens Partner Center in a new tab. */
export const ReferralDetails: React.FC<ReferralDetailsProps> = ({ referral, layout, strings: t, headingId }) => {
  const styles = useSectionStyles();
  const status = [referral.status, referral.substatus].filter(Boolean).join(" · ");
  const rows: [StringKey, string | null][] = [
    [StringKey.Referral_Id, referral.id],
    [StringKey.Referral_Status, status || null],
    [StringKey.Referral_Engagement, referral.engagementId],
    [StringKey.Referral_MicrosoftCrmId, referral.microsoftCrmId],
  ];
  return (
    <section className={styles.part} aria-labelledby={headingId}>
      <Subtitle2 as="h3" id={headingId} className={styles.heading}>
        {t(StringKey.Referral_Heading)}
      </Subtitle2>
      {referral.linked ? (
        <>
          <dl className={mergeClasses(styles.details, layout === "narrow" && styles.detailsNarrow)}>
            {rows
              .filter(([, value]) => value !== null)
              .map(([label, value]) => (
                <React.Fragment key={label}>
                  <dt className={styles.term}>{t(label)}</dt>
                  <dd className={styles.value}>{value}</dd>
                </React.Fragment>
              ))}
          </dl>
          {referral.link && (
            <Link href={referral.link} target="_blank" rel="noopener noreferrer">
              {t(StringKey.Referral_Open)}
              <span className={styles.visuallyHidden}> ({t(StringKey.Referral_OpensNewTab)})</span>
            </Link>
          )}
        </>
      ) : (
        <Text className={styles.hint}>{t(StringKey.Referral_NotLinked)}</Text>
      )}
    </section>
  );
};
