import * as React from "react";
import { Combobox, Field, Option, Spinner, Tag, TagGroup, Text } from "@fluentui/react-components";
import {
  addProduct,
  removeProduct,
  searchCatalogue,
  selectedProducts,
  typedSolutionId,
  type CatalogueEntry,
} from "../model/products";
import type { ProductsModel } from "../model/section";
import { StringKey } from "../Strings";
import type { PartProps } from "./Component.types";
import { lockHint } from "./lockHint";
import { useSectionStyles } from "./styles";
import { useCatalogue } from "./useCatalogue";

export interface ProductsPickerProps extends PartProps {
  readonly products: ProductsModel;
  readonly loadCatalogue: () => Promise<CatalogueEntry[]>;
}

const NO_MATCH = "__none__";

/** Search the catalogue, add solutions, remove them; writes the ids to `cosell_products`. */
export const ProductsPicker: React.FC<ProductsPickerProps> = ({ products, loadCatalogue, strings: t, onChange }) => {
  const styles = useSectionStyles();
  const catalogue = useCatalogue(loadCatalogue, products.visible);
  const [query, setQuery] = React.useState("");
  const disabled = products.lockReason !== null;

  const chosen = selectedProducts(products.value, catalogue.status === "ready" ? catalogue.entries : null);
  const chosenIds = chosen.map((p) => p.id);
  const matches = searchCatalogue(catalogue.entries, query, chosenIds);
  const typed = typedSolutionId(query, catalogue.entries, chosenIds);
  const invalid = chosen.filter((p) => !p.valid);

  const validation: { state: "error" | "warning" | "none"; message?: string } = invalid.length
    ? { state: "error", message: invalid.map((p) => t(StringKey.Products_Invalid, p.id)).join(" ") }
    : products.missing
      ? { state: "warning", message: t(StringKey.Products_Missing) }
      : { state: "none" };

  const add = (id: string): void => {
    setQuery("");
    onChange({ products: addProduct(products.value, id) });
  };

  return (
    <div className={styles.part}>
      <Field
        label={t(StringKey.Products_Label)}
        hint={
          lockHint(t, products.lockReason) ??
          (catalogue.status === "failed" ? t(StringKey.Products_LoadFailed) : undefined)
        }
        validationState={validation.state}
        validationMessage={validation.message}
      >
        <Combobox
          freeform
          disabled={disabled}
          placeholder={t(StringKey.Products_Search)}
          value={query}
          selectedOptions={[]}
          onChange={(e) => setQuery(e.target.value)}
          onOptionSelect={(_, data) => {
            if (data.optionValue && data.optionValue !== NO_MATCH) add(data.optionValue);
          }}
        >
          {matches.map((e) => (
            <Option key={e.solutionId} value={e.solutionId} text={e.name}>
              {e.publisher ? `${e.name} · ${e.solutionId} · ${e.publisher}` : `${e.name} · ${e.solutionId}`}
            </Option>
          ))}
          {typed && (
            <Option key={`typed-${typed}`} value={typed} text={typed}>
              {t(StringKey.Products_AddTyped, typed)}
            </Option>
          )}
          {!matches.length && !typed && (
            <Option key={NO_MATCH} value={NO_MATCH} text="" disabled>
              {catalogue.status === "loading" ? t(StringKey.Products_Loading) : t(StringKey.Products_NoMatches)}
            </Option>
          )}
        </Combobox>
      </Field>
      {catalogue.status === "loading" && products.visible && (
        <Spinner size="extra-tiny" label={t(StringKey.Products_Loading)} />
      )}
      {chosen.length ? (
        <TagGroup
          aria-label={t(StringKey.Products_Chosen)}
          onDismiss={(_, data) => onChange({ products: removeProduct(products.value, String(data.value)) })}
          className={styles.row}
        >
          {chosen.map((p) => (
            <Tag
              key={p.id}
              value={p.id}
              appearance={p.valid ? "filled" : "outline"}
              dismissible={!disabled}
              disabled={disabled}
              dismissIcon={{ "aria-label": t(StringKey.Products_Remove, p.name ?? p.id) }}
              secondaryText={
                p.name ? p.id : catalogue.status === "ready" && p.valid ? t(StringKey.Products_NotInCatalogue) : undefined
              }
            >
              {p.name ?? p.id}
            </Tag>
          ))}
        </TagGroup>
      ) : (
        <Text className={styles.hint}>{t(StringKey.Products_None)}</Text>
      )}
    </div>
  );
};
