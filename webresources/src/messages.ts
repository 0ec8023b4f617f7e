/**
 * Every sentence the seller reads, in one place. Each says what is wrong and what to do about it,
 * in the seller's words (no column logical names unless an administrator has to act).
 */
import { EnvironmentVariable } from "@cosell/contract";
import { DEFAULT_FORM_SETTINGS } from "./settings";

const quote = (s: string): string => `"${s}"`;

export const Messages = {
  customerMissing: (): string =>
    "Partner Center needs the customer's account. Choose the customer account here.",
  customerNotAccount: (name: string | null): string =>
    `Partner Center needs a customer account, but ${name ? quote(name) : "the customer"} is a contact. ` +
    "Choose the contact's company (an account) here, and add the person as the customer contact.",
  accountCountryInvalid: (accountName: string | null, found: string | null, column: string): string => {
    const account = accountName ? `The customer account ${quote(accountName)}` : "The customer account";
    const field = column === DEFAULT_FORM_SETTINGS.countryCodeColumn ? "Country/Region" : `country code (${column})`;
    const holds = found === null ? `has no ${field}` : `has ${quote(found)} as its ${field}`;
    return (
      `${account} ${holds}; Partner Center needs a two-letter ISO country code such as US or DE. ` +
      "Open the account, correct it and save the account, then choose the account here again so it is checked again."
    );
  },
  accountCountryChecking: (): string =>
    "Still checking the customer account's country code. Wait a moment, then save again.",
  accountCountryFailed: (reason: string): string =>
    `Couldn't check the customer account's country code (${reason}). It is being checked again: ` +
    "wait a moment, then save again. If this keeps happening, ask your administrator.",
  dealValueMissing: (): string => "Partner Center needs a deal value above 0. Enter the estimated value of this deal.",
  dealValueColumnMissing: (column: string): string =>
    `Partner Center needs a deal value, read from the column ${quote(column)}, which is not on this form. ` +
    `Ask your administrator to add it to the form or to correct the setting ${EnvironmentVariable.dealValueField}.`,
  dealValueColumnNotNumeric: (column: string): string =>
    `Partner Center needs a deal value, but the column ${quote(column)} does not hold a number. ` +
    `Ask your administrator to correct the setting ${EnvironmentVariable.dealValueField}.`,
  closeDateMissing: (): string =>
    "Partner Center needs an estimated close date. Pick the date you expect to close this deal.",
  productsMissing: (): string =>
    "Partner Center needs at least one solution ID (such as SOL-15974-MQF) so Microsoft knows what you are selling. Add the solutions of this deal.",
  productsInvalid: (invalid: readonly string[]): string =>
    `${invalid.map(quote).join(", ")} ${invalid.length === 1 ? "is not a solution ID" : "are not solution IDs"}. ` +
    "Solution IDs look like SOL-15974-MQF: correct or remove them.",
  customerContactMissing: (): string =>
    "You asked Microsoft for help, so Partner Center needs a customer contact Microsoft can talk to. " +
    'Choose the contact here, or set "How can Microsoft help?" to No help needed.',
  settingsLoading: (): string => "Still loading the co-sell settings. Wait a moment, then save again.",
  settingsFailed: (reason: string): string =>
    `Couldn't read the co-sell settings (${reason}). They are being read again: wait a moment, then save again. ` +
    "If this keeps happening, ask your administrator.",
  saveBlocked: (count: number): string =>
    `This opportunity can't be shared with Partner Center yet: ${count === 1 ? "1 detail needs" : `${count} details need`} ` +
    "your attention (see the messages on the highlighted fields). To save without sharing, switch Sync with Partner Center off.",
  syncLocked: (referralId: string): string =>
    `Sync with Partner Center stays on: this opportunity is Partner Center referral ${referralId}, and switching sync off ` +
    "would leave that referral out of date without telling Microsoft. To end the co-sell, close the opportunity as won or lost.",
  shareLocked: (): string =>
    "Sharing with Microsoft sellers can't be turned off: this opportunity has already been shared, " +
    "and Partner Center does not allow that consent to be withdrawn.",
  syncPending: (): string =>
    "Partner Center sync in progress: your latest changes are on their way. Refresh the form in a minute to see the result.",
  syncFailed: (error: string | null): string =>
    `Partner Center sync failed: ${error ?? "no details were recorded"}. Fix what it says, then save to try again.`,
  synced: (referralId: string | null): string =>
    referralId ? `Synced with Partner Center (referral ${referralId}).` : "Synced with Partner Center.",
} as const;
