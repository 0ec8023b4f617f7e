/** Shapes every part of customizations.xml shares: labels, flags, the language, the introduced version. */
import { el, leaf, type XmlElement } from "../xml";

export const LANGUAGE_CODE = 1033;

/**
 * Dataverse records the solution version in which a component first appeared; it must not move when
 * the product version is bumped, or an upgrade would re-stamp every component. Everything in the
 * package so far arrived in 1.0.
 */
export const INTRODUCED_VERSION = "1.0.0.0";

export const flag = (name: string, value: boolean): XmlElement => leaf(name, value ? "1" : "0");

export const displaynames = (label: string): XmlElement =>
  el("displaynames", undefined, el("displayname", { description: label, languagecode: LANGUAGE_CODE }));

export const descriptions = (description: string): XmlElement =>
  el("Descriptions", undefined, el("Description", { description, languagecode: LANGUAGE_CODE }));

export const labels = (label: string): XmlElement =>
  el("labels", undefined, el("label", { description: label, languagecode: LANGUAGE_CODE }));

export const localizedNames = (label: string): XmlElement =>
  el("LocalizedNames", undefined, el("LocalizedName", { description: label, languagecode: LANGUAGE_CODE }));
