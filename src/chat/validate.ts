// A tiny structural validator for data that crosses a trust boundary (webview messages, history
// files on disk). Pure: imported by the extension host and bundled into the webview script.

/** Returns a description of what is wrong with `value`, or undefined when it is acceptable. */
export type Check = (value: unknown) => string | undefined;

export const str =
  (maxLength = 100_000): Check =>
  (v) =>
    typeof v !== 'string' ? 'not a string' : v.length > maxLength ? `longer than ${maxLength}` : undefined;

export const pattern =
  (re: RegExp): Check =>
  (v) =>
    typeof v === 'string' && re.test(v) ? undefined : `does not match ${re}`;

export const num: Check = (v) => (typeof v === 'number' && Number.isFinite(v) ? undefined : 'not a finite number');

export const bool: Check = (v) => (typeof v === 'boolean' ? undefined : 'not a boolean');

export const oneOf =
  (...values: readonly (string | number | boolean)[]): Check =>
  (v) =>
    values.includes(v as string) ? undefined : `not one of ${values.join(', ')}`;

export const optional =
  (check: Check): Check =>
  (v) =>
    v === undefined ? undefined : check(v);

export const arrayOf =
  (check: Check, maxItems = 10_000): Check =>
  (v) => {
    if (!Array.isArray(v)) return 'not an array';
    if (v.length > maxItems) return `more than ${maxItems} items`;
    for (let i = 0; i < v.length; i++) {
      const problem = check(v[i]);
      if (problem) return `[${i}] ${problem}`;
    }
    return undefined;
  };

/** An object with exactly these fields (extra fields are refused: nothing unexpected gets through). */
export const shape =
  (fields: Record<string, Check>): Check =>
  (v) => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return 'not an object';
    for (const key of Object.keys(v)) if (!Object.hasOwn(fields, key)) return `unexpected field "${key}"`;
    for (const [key, check] of Object.entries(fields)) {
      const problem = check((v as Record<string, unknown>)[key]);
      if (problem) return `${key}: ${problem}`;
    }
    return undefined;
  };

/** A discriminated union on `type`: each variant lists its other fields. */
export function union(variants: Record<string, Record<string, Check>>): Check {
  const checks = Object.fromEntries(Object.entries(variants).map(([type, fields]) => [type, shape({ type: str(64), ...fields })]));
  return (v) => {
    if (typeof v !== 'object' || v === null) return 'not an object';
    const type = (v as { type?: unknown }).type;
    if (typeof type !== 'string' || !Object.hasOwn(checks, type)) return `unknown type ${JSON.stringify(type)?.slice(0, 64)}`;
    const problem = checks[type](v);
    return problem ? `${type}: ${problem}` : undefined;
  };
}
