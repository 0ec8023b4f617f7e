/** Errors of the OData subset. Both emulators turn them into HTTP 400 answers. */

/** The text of a `$filter` / `$orderby` / `$select` is not valid in the supported subset. */
export class ODataSyntaxError extends Error {
  override readonly name = "ODataSyntaxError";
  constructor(
    /** What is wrong, without the position prefix (e.g. "expected ')'"). */
    readonly reason: string,
    /** 0-based character offset in `text` where the problem was found. */
    readonly position: number,
    /** The whole text that was being parsed. */
    readonly text: string,
    options?: { cause?: unknown },
  ) {
    super(`Syntax error at position ${position} in '${text.length > 200 ? `${text.slice(0, 200)}…` : text}': ${reason}`, options);
  }
}

/**
 * A well-formed filter that this evaluator cannot evaluate, e.g. a Dataverse query function
 * (`Microsoft.Dynamics.CRM.LastXDays`) for which the caller registered no implementation.
 */
export class ODataEvaluationError extends Error {
  override readonly name = "ODataEvaluationError";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}
