/**
 * The comparison core: deep equality, field-by-field diffs, paths and summaries.
 */
export { deepEqual } from "./equal";
export { diff, equalWithPaths, multisetEqual } from "./diff";
export type { CompareOptions } from "./options";
export {
  SET_MEMBER,
  appendIndex,
  appendKey,
  appendMapKey,
  appendSetMember,
  displayPath,
  formatPath,
  isIdentifierKey,
  mapKey,
  renderMapKey,
} from "./path";
export type { MapKeySegment, PathSegment, SetMemberSegment } from "./path";
export { ERROR_PATH, STATUS_PATH, describeOutcome, errorLabel, formatValue, summarize, truncate } from "./format";
export type { SummaryOptions } from "./format";
