import * as React from "react";
import {
  Button,
  Dialog,
  DialogActions,
  DialogBody,
  DialogContent,
  DialogSurface,
  DialogTitle,
  Dropdown,
  Field,
  Option,
  Switch,
} from "@fluentui/react-components";
import type { ChoiceModel, ToggleModel } from "../model/section";
import { StringKey } from "../Strings";
import type { PartProps } from "./Component.types";
import { lockHint } from "./lockHint";
import { useSectionStyles } from "./styles";

export interface SharingFieldsProps extends PartProps {
  readonly sync: ToggleModel;
  readonly help: ChoiceModel;
  readonly share: ToggleModel;
}

/** The seller's choices: sync, the help asked of Microsoft, sharing with Microsoft sellers. */
export const SharingFields: React.FC<SharingFieldsProps> = ({ sync, help, share, strings: t, onChange }) => {
  const styles = useSectionStyles();
  const [confirmingShare, setConfirmingShare] = React.useState(false);
  const selectedHelp = help.options.find((o) => o.value === help.value);

  return (
    <div className={styles.part}>
      {sync.visible && (
        <Field hint={lockHint(t, sync.lockReason) ?? t(StringKey.Sync_Hint)}>
          <Switch
            label={t(StringKey.Sync_Label)}
            checked={sync.checked}
            disabled={sync.lockReason !== null}
            onChange={(_, data) => onChange({ syncWithPartnerCenter: data.checked })}
          />
        </Field>
      )}
      {help.visible && (
        <Field label={t(StringKey.Help_Label)} hint={lockHint(t, help.lockReason)}>
          <Dropdown
            placeholder={t(StringKey.Help_Placeholder)}
            value={selectedHelp?.label ?? ""}
            selectedOptions={selectedHelp ? [String(selectedHelp.value)] : []}
            disabled={help.lockReason !== null}
            onOptionSelect={(_, data) => {
              if (data.optionValue !== undefined) onChange({ microsoftHelp: Number(data.optionValue) });
            }}
          >
            {help.options.map((o) => (
              <Option key={o.value} value={String(o.value)}>
                {o.label}
              </Option>
            ))}
          </Dropdown>
        </Field>
      )}
      {share.visible && (
        <Field hint={lockHint(t, share.lockReason) ?? t(StringKey.Share_Hint)}>
          <Switch
            label={t(StringKey.Share_Label)}
            checked={share.checked}
            disabled={share.lockReason !== null}
            // Turning it on is irreversible: ask first; the switch only moves once confirmed.
            onChange={(_, data) => {
              if (data.checked) setConfirmingShare(true);
            }}
          />
        </Field>
      )}
      <Dialog open={confirmingShare} onOpenChange={(_, data) => setConfirmingShare(data.open)}>
        <DialogSurface>
          <DialogBody>
            <DialogTitle>{t(StringKey.ShareDialog_Title)}</DialogTitle>
            <DialogContent>{t(StringKey.ShareDialog_Body)}</DialogContent>
            <DialogActions>
              <Button
                appearance="primary"
                onClick={() => {
                  setConfirmingShare(false);
                  onChange({ shareWithMicrosoft: true });
                }}
              >
                {t(StringKey.ShareDialog_Confirm)}
              </Button>
              <Button onClick={() => setConfirmingShare(false)}>{t(StringKey.Common_Cancel)}</Button>
            </DialogActions>
          </DialogBody>
        </DialogSurface>
      </Dialog>
    </div>
  );
};
