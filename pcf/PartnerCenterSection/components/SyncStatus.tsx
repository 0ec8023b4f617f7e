import * as React from "react";
import { MessageBar, MessageBarBody, MessageBarTitle, Spinner, Subtitle2, Text } from "@fluentui/react-components";
import type { SyncStatusKind, SyncStatusModel } from "../model/section";
import { StringKey, type Strings } from "../Strings";
import { useSectionStyles } from "./styles";

export interface SyncStatusProps {
  readonly status: SyncStatusModel;
  readonly strings: Strings;
  readonly formatDateTime: (value: Date) => string;
  readonly headingId: string;
}

const STATE_LABEL: Record<SyncStatusKind, StringKey> = {
  notSynced: StringKey.SyncState_notSynced,
  pending: StringKey.SyncState_pending,
  synced: StringKey.SyncState_synced,
  error: StringKey.SyncState_error,
  unknown: StringKey.SyncState_unknown,
};

/** Where the sync stands, announced politely when it changes, and the last error if current. */
export const SyncStatus: React.FC<SyncStatusProps> = ({ status, strings: t, formatDateTime, headingId }) => {
  const styles = useSectionStyles();
  const label = t(STATE_LABEL[status.kind]);
  return (
    <section className={styles.part} aria-labelledby={headingId}>
      <Subtitle2 as="h3" id={headingId} className={styles.heading}>
        {t(StringKey.Status_Heading)}
      </Subtitle2>
      <div role="status" className={styles.row} data-sync-state={status.kind}>
        {status.kind === "pending" && <Spinner size="extra-tiny" aria-hidden="true" />}
        {status.checkmark && <span aria-hidden="true">{status.checkmark}</span>}
        <Text weight="semibold">{label}</Text>
        <Text className={styles.hint}>
          {status.lastSyncedOn
            ? t(StringKey.Status_LastSynced, formatDateTime(status.lastSyncedOn))
            : t(StringKey.Status_NeverSynced)}
        </Text>
      </div>
      {status.error && (
        <MessageBar intent="error" layout="multiline">
          <MessageBarBody>
            <MessageBarTitle>{t(StringKey.Status_ErrorTitle)}</MessageBarTitle>
            {status.error}
          </MessageBarBody>
        </MessageBar>
      )}
    </section>
  );
};
