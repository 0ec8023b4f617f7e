/**
 * Tokenizer for the `$filter` subset. Every regular expression is sticky, anchored at the current
 * offset and free of nested quantifiers, so tokenizing is linear in the input length.
 */
import { ODataSyntaxError } from "./errors";
import { parseInstant } from "./instant";

export type Token =
  | { readonly kind: "identifier"; readonly text: string; readonly position: number }
  | { readonly kind: "string"; readonly value: string; readonly position: number }
  | { readonly kind: "number"; readonly value: number; readonly position: number }
  | { readonly kind: "guid"; readonly text: string; readonly position: number }
  | { readonly kind: "datetime"; readonly text: string; readonly epochMs: number; readonly position: number }
  | { readonly kind: "date"; readonly text: string; readonly epochMs: number; readonly position: number }
  | { readonly kind: "punctuation"; readonly text: "(" | ")" | "," | ":" | "/" | "[" | "]" | "="; readonly position: number }
  | { readonly kind: "end"; readonly position: number };

const GUID = /[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}/y;
const DATETIME = /(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(\.\d{1,12})?)?(Z|[+-]\d{2}:\d{2})/y;
const DATE = /(\d{4})-(\d{2})-(\d{2})/y;
const NUMBER = /-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const IDENTIFIER = /[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*/y;
const WORD_CHAR = /[A-Za-z0-9_.]/;
const PUNCTUATION = new Set(["(", ")", ",", ":", "/", "[", "]", "="]);

function matchAt(re: RegExp, text: string, position: number): RegExpExecArray | null {
  re.lastIndex = position;
  return re.exec(text);
}

/** Checks a calendar date and time for real values (no 2026-02-30, no 25:00). */
function instantOf(m: RegExpExecArray, text: string, position: number): number {
  const [, y, mo, d, h = "00", mi = "00", s = "00"] = m;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth || Number(h) > 23 || Number(mi) > 59 || Number(s) > 59)
    throw new ODataSyntaxError(`invalid date or time '${m[0]}'`, position, text);
  const ms = parseInstant(m[0]);
  if (ms === undefined) throw new ODataSyntaxError(`invalid date or time '${m[0]}'`, position, text);
  return ms;
}

export function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  const n = text.length;
  const endsWord = (end: number): void => {
    if (end < n && WORD_CHAR.test(text[end] as string))
      throw new ODataSyntaxError(`unexpected character '${text[end]}'`, end, text);
  };
  while (i < n) {
    const c = text[i] as string;
    if (c === " " || c === "\t" || c === "\r" || c === "\n") {
      i++;
      continue;
    }
    if (PUNCTUATION.has(c)) {
      tokens.push({ kind: "punctuation", text: c as "(", position: i });
      i++;
      continue;
    }
    if (c === "'") {
      const start = i;
      let value = "";
      i++;
      for (;;) {
        if (i >= n) throw new ODataSyntaxError("unterminated string literal", start, text);
        const ch = text[i] as string;
        if (ch === "'") {
          if (text[i + 1] === "'") {
            value += "'";
            i += 2;
            continue;
          }
          i++;
          break;
        }
        value += ch;
        i++;
      }
      tokens.push({ kind: "string", value, position: start });
      continue;
    }
    const isDigit = c >= "0" && c <= "9";
    const isHex = isDigit || (c >= "a" && c <= "f") || (c >= "A" && c <= "F");
    if (isHex) {
      const g = matchAt(GUID, text, i);
      if (g) {
        endsWord(i + g[0].length);
        tokens.push({ kind: "guid", text: g[0], position: i });
        i += g[0].length;
        continue;
      }
    }
    if (isDigit) {
      const dt = matchAt(DATETIME, text, i);
      if (dt) {
        endsWord(i + dt[0].length);
        tokens.push({ kind: "datetime", text: dt[0], epochMs: instantOf(dt, text, i), position: i });
        i += dt[0].length;
        continue;
      }
      const d = matchAt(DATE, text, i);
      if (d) {
        endsWord(i + d[0].length);
        tokens.push({ kind: "date", text: d[0], epochMs: instantOf(d, text, i), position: i });
        i += d[0].length;
        continue;
      }
    }
    if (isDigit || (c === "-" && i + 1 < n && (text[i + 1] as string) >= "0" && (text[i + 1] as string) <= "9")) {
      const m = matchAt(NUMBER, text, i) as RegExpExecArray;
      endsWord(i + m[0].length);
      const value = Number(m[0]);
      if (!Number.isFinite(value)) throw new ODataSyntaxError(`number out of range '${m[0]}'`, i, text);
      tokens.push({ kind: "number", value, position: i });
      i += m[0].length;
      continue;
    }
    const id = matchAt(IDENTIFIER, text, i);
    if (id) {
      tokens.push({ kind: "identifier", text: id[0], position: i });
      i += id[0].length;
      continue;
    }
    throw new ODataSyntaxError(`unexpected character '${c}'`, i, text);
  }
  tokens.push({ kind: "end", position: n });
  return tokens;
}
