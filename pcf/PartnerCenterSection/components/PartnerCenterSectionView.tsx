import * as React from "react";
import {
  FluentProvider,
  MessageBar,
  MessageBarBody,
  mergeClasses,
  useId,
  webLightTheme,
} from "@fluentui/react-components";
import { withPending, type PendingChanges } from "../model/inputs";
import { deriveSection } from "../model/section";
import { StringKey } from "../Strings";
import { AuditTimeline } from "./AuditTimeline";
import type { PartnerCenterSectionProps, SectionServices } from "./Component.types";
import { IncomingReferralActions } from "./IncomingReferralActions";
import { ProductsPicker } from "./ProductsPicker";
import { ReferralDetails } from "./ReferralDetails";
import { SharingFields } from "./SharingFields";
import { SyncStatus } from "./SyncStatus";
import { useSectionStyles } from "./styles";

/** ✔/✖ on or off: the input overrides, else the environment variable (default on while loading). */
function useCheckmarks(setting: "environment" | "show" | "hide", services: SectionServices): boolean {
  const [fromEnvironment, setFromEnvironment] = React.useState(true);
  React.useEffect(() => {
    if (setting !== "environment") return undefined;
    let live = true;
    services.loadCheckmarksEnabled().then((enabled) => live && setFromEnvironment(enabled));
    return () => {
      live = false;
    };
  }, [setting, services]);
  return setting === "environment" ? fromEnvironment : setting === "show";
}

/** The Partner Center section of the opportunity or lead form. */
export const PartnerCenterSectionView: React.FC<PartnerCenterSectionProps> = (props) => {
  const { inputs, strings: t, services, formatDateTime } = props;
  const styles = useSectionStyles();
  const ids = { referral: useId("cosell-referral"), status: useId("cosell-status"), audit: useId("cosell-audit") };

  // The seller's change shows at once; the next inputs from the platform (which carry it) replace it.
  const [overlay, setOverlay] = React.useState<PendingChanges>({});
  React.useEffect(() => setOverlay({}), [inputs]);
  const onChange = props.onChange;
  const change = React.useCallback(
    (changes: PendingChanges) => {
      setOverlay((o) => ({ ...o, ...changes }));
      onChange(changes);
    },
    [onChange],
  );

  const checkmarks = useCheckmarks(inputs.checkmarkSetting, services);
  const model = React.useMemo(
    () => deriveSection({ ...inputs, record: withPending(inputs.record, overlay) }, checkmarks),
    [inputs, overlay, checkmarks],
  );
  const wide = model.layout === "wide";
  const showSharing = model.sync.visible || model.help.visible || model.share.visible;

  const choices = (showSharing || model.products.visible) && (
    <div className={styles.column}>
      {showSharing && (
        <SharingFields sync={model.sync} help={model.help} share={model.share} strings={t} onChange={change} />
      )}
      {model.products.visible && (
        <ProductsPicker
          products={model.products}
          loadCatalogue={services.loadCatalogue}
          strings={t}
          onChange={change}
        />
      )}
    </div>
  );
  const facts = (
    <div className={styles.column}>
      <ReferralDetails referral={model.referral} layout={model.layout} strings={t} headingId={ids.referral} />
      {model.status.visible && (
        <SyncStatus status={model.status} strings={t} formatDateTime={formatDateTime} headingId={ids.status} />
      )}
    </div>
  );

  return (
    <FluentProvider theme={props.theme ?? webLightTheme}>
      <section
        className={styles.root}
        aria-label={t(StringKey.Section_Label)}
        data-layout={model.layout}
        data-form-kind={model.formKind}
      >
        {model.readOnlyReason && (
          <MessageBar intent={model.readOnlyReason === "terminal" ? "warning" : "info"}>
            <MessageBarBody>
              {model.readOnlyReason === "terminal"
                ? t(StringKey.ReadOnly_terminal, model.referral.substatus ?? model.referral.status ?? "")
                : t(StringKey.ReadOnly_controlDisabled)}
            </MessageBarBody>
          </MessageBar>
        )}
        {model.incoming.visible && (
          <IncomingReferralActions incoming={model.incoming} strings={t} onChange={change} />
        )}
        {wide && choices ? (
          <div className={mergeClasses(styles.columns)}>
            {choices}
            {facts}
          </div>
        ) : (
          <>
            {choices}
            {facts}
          </>
        )}
        {model.audit.visible && (
          <AuditTimeline
            audit={model.audit}
            layout={model.layout}
            strings={t}
            formatDateTime={formatDateTime}
            headingId={ids.audit}
          />
        )}
      </section>
    </FluentProvider>
  );
};
