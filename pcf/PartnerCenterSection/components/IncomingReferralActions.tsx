import * as React from "react";
import {
  Button,
  Dialog,
  DialogActions,
  DialogBody,
  DialogContent,
  DialogSurface,
  DialogTitle,
  Field,
  MessageBar,
  MessageBarBody,
  MessageBarTitle,
  Textarea,
} from "@fluentui/react-components";
import { ReferralAction, TextLimit } from "@cosell/contract";
import type { IncomingModel } from "../model/section";
import { StringKey } from "../Strings";
import type { PartProps } from "./Component.types";
import { useSectionStyles } from "./styles";

export interface IncomingReferralActionsProps extends PartProps {
  readonly incoming: IncomingModel;
}

export const DECLINE_REASON_MAX_LENGTH: number = TextLimit.declineReason;

/** Accept or decline an incoming referral; the bridge carries the request out after the save. */
export const IncomingReferralActions: React.FC<IncomingReferralActionsProps> = ({ incoming, strings: t, onChange }) => {
  const styles = useSectionStyles();
  const [declining, setDeclining] = React.useState(false);
  const [reason, setReason] = React.useState("");
  const [reasonMissing, setReasonMissing] = React.useState(false);
  const locked = incoming.lockReason !== null;

  const openDecline = (): void => {
    setReason(incoming.declineReason ?? "");
    setReasonMissing(false);
    setDeclining(true);
  };
  const confirmDecline = (): void => {
    const trimmed = reason.trim();
    if (!trimmed) {
      setReasonMissing(true);
      return;
    }
    setDeclining(false);
    onChange({ referralAction: ReferralAction.Decline, declineReason: trimmed });
  };
  const undo = (): void =>
    onChange(incoming.canDecline ? { referralAction: null, declineReason: null } : { referralAction: null });

  return (
    <MessageBar intent={incoming.requested ? "success" : "info"} layout="multiline">
      <MessageBarBody>
        <MessageBarTitle>{t(StringKey.Incoming_Title)}</MessageBarTitle>
        <div className={styles.stack}>
          {incoming.requested === null ? (
            <>
              <span>{t(StringKey.Incoming_Body)}</span>
              <div className={styles.row}>
                <Button
                  appearance="primary"
                  disabled={locked}
                  onClick={() =>
                    onChange(
                      incoming.canDecline
                        ? { referralAction: ReferralAction.Accept, declineReason: null }
                        : { referralAction: ReferralAction.Accept },
                    )
                  }
                >
                  {t(StringKey.Incoming_Accept)}
                </Button>
                <Button disabled={locked || !incoming.canDecline} onClick={openDecline}>
                  {t(StringKey.Incoming_Decline)}
                </Button>
              </div>
            </>
          ) : (
            <div className={styles.row}>
              <span role="status">
                {incoming.requested === "accept"
                  ? t(StringKey.Incoming_Requested_accept)
                  : t(StringKey.Incoming_Requested_decline, incoming.declineReason ?? "")}
              </span>
              <Button size="small" disabled={locked} onClick={undo}>
                {t(StringKey.Incoming_Undo)}
              </Button>
            </div>
          )}
        </div>
      </MessageBarBody>
      <Dialog open={declining} onOpenChange={(_, data) => setDeclining(data.open)}>
        <DialogSurface>
          {/* noValidate: our own message explains a missing reason, in the seller's language. */}
          <form
            noValidate
            onSubmit={(e) => {
              e.preventDefault();
              confirmDecline();
            }}
          >
            <DialogBody>
              <DialogTitle>{t(StringKey.DeclineDialog_Title)}</DialogTitle>
              <DialogContent>
                <Field
                  label={t(StringKey.DeclineDialog_Reason)}
                  required
                  hint={t(StringKey.DeclineDialog_ReasonHint)}
                  validationState={reasonMissing ? "error" : "none"}
                  validationMessage={reasonMissing ? t(StringKey.DeclineDialog_ReasonRequired) : undefined}
                >
                  <Textarea
                    value={reason}
                    maxLength={DECLINE_REASON_MAX_LENGTH}
                    onChange={(_, data) => {
                      setReason(data.value);
                      if (data.value.trim()) setReasonMissing(false);
                    }}
                  />
                </Field>
              </DialogContent>
              <DialogActions>
                <Button type="submit" appearance="primary">
                  {t(StringKey.DeclineDialog_Confirm)}
                </Button>
                <Button onClick={() => setDeclining(false)}>{t(StringKey.Common_Cancel)}</Button>
              </DialogActions>
            </DialogBody>
          </form>
        </DialogSurface>
      </Dialog>
    </MessageBar>
  );
};
