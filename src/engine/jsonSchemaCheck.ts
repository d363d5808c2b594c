// Validation of a parsed JSON value against the subset of JSON schema that node-llama-cpp turns
// into a grammar (type / type arrays, const, enum, oneOf, $ref + $defs, objects with properties
// and additionalProperties, arrays with items / prefixItems / minItems / maxItems, strings with
// minLength / maxLength / format). Unlike node-llama-cpp 3.21's own check (LlamaJsonSchemaGrammar
// .parse), string lengths are counted in code points, as its grammar counts them: a string at its
// length limit holding an emoji is what the grammar produced, and valid.
// Pure: no node-llama-cpp, no vscode.

export type SchemaNode = Record<string, unknown>;

/** Why `value` does not match `schema` (the first problem found), or null when it matches. */
export function schemaMismatch(value: unknown, schema: unknown): string | null {
  try {
    check(value, schema as SchemaNode, {}, '$');
    return null;
  } catch (err) {
    if (err instanceof Mismatch) return err.message;
    throw err;
  }
}

class Mismatch extends Error {}

/** Characters as the grammar counts them: Unicode code points, not UTF-16 units. */
export function codePointLength(text: string): number {
  let n = 0;
  for (const _ of text) n++;
  return n;
}

const dateRe = /^\d{4}-(0[1-9]|1[012])-(0[1-9]|[12]\d|3[01])$/;
const timeRe = /^([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d{3})?(Z|[+-]([01][0-9]|2[0-3])?:[0-5][0-9])$/;
const dateTimeRe =
  /^\d{4}-(0[1-9]|1[012])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d{3})?(Z|[+-]([01][0-9]|2[0-3])?:[0-5][0-9])$/;

function fail(at: string, message: string): never {
  throw new Mismatch(`${at}: ${message}`);
}

function typeName(value: unknown): string {
  return value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value;
}

function check(value: unknown, schema: SchemaNode, outer: Record<string, SchemaNode>, at: string): void {
  if (schema === null || typeof schema !== 'object') return; // `true` / unknown: anything goes
  const defs = schema.$defs && typeof schema.$defs === 'object' ? { ...outer, ...(schema.$defs as Record<string, SchemaNode>) } : outer;

  if (typeof schema.$ref === 'string') {
    const prefix = '#/$defs/';
    const def = schema.$ref.startsWith(prefix) ? defs[schema.$ref.slice(prefix.length)] : undefined;
    // node-llama-cpp treats an unresolvable $ref as "any".
    if (def) check(value, def, defs, at);
    return;
  }
  if (schema.const !== undefined) {
    if (!sameJson(value, schema.const)) fail(at, `expected ${JSON.stringify(schema.const)}`);
    return;
  }
  if (Array.isArray(schema.enum)) {
    if (!schema.enum.some((v) => sameJson(value, v))) fail(at, `expected one of ${JSON.stringify(schema.enum)}`);
    return;
  }
  if (Array.isArray(schema.oneOf)) {
    const reasons: string[] = [];
    for (const option of schema.oneOf as SchemaNode[]) {
      try {
        check(value, option, defs, at);
        return;
      } catch (err) {
        if (!(err instanceof Mismatch)) throw err;
        reasons.push(err.message);
      }
    }
    fail(at, `matches none of ${schema.oneOf.length} options (${reasons.join('; ')})`);
  }

  const types = Array.isArray(schema.type) ? (schema.type as string[]) : typeof schema.type === 'string' ? [schema.type] : [];
  if (types.length === 0) return;
  if (types.length > 1) {
    if (!types.some((t) => isType(value, t))) fail(at, `expected one of the types ${types.join(', ')}, got ${typeName(value)}`);
    return;
  }
  const [type] = types;
  if (!isType(value, type)) fail(at, `expected ${type}, got ${typeName(value)}`);

  if (type === 'string') checkString(value as string, schema, at);
  else if (type === 'array') checkArray(value as unknown[], schema, defs, at);
  else if (type === 'object') checkObject(value as Record<string, unknown>, schema, defs, at);
}

function isType(value: unknown, type: string): boolean {
  switch (type) {
    case 'string':
      return typeof value === 'string';
    case 'number':
      return typeof value === 'number' && Number.isFinite(value);
    case 'integer':
      return typeof value === 'number' && Number.isInteger(value);
    case 'boolean':
      return typeof value === 'boolean';
    case 'null':
      return value === null;
    case 'array':
      return Array.isArray(value);
    case 'object':
      return typeof value === 'object' && value !== null && !Array.isArray(value);
    default:
      return true;
  }
}

function checkString(text: string, schema: SchemaNode, at: string): void {
  if (typeof schema.format === 'string') {
    const re =
      schema.format === 'date' ? dateRe : schema.format === 'time' ? timeRe : schema.format === 'date-time' ? dateTimeRe : undefined;
    if (!re) fail(at, `unknown string format ${schema.format}`);
    if (!re.test(text)) fail(at, `not a valid ${schema.format}`);
    return;
  }
  const min = Math.max(0, Number(schema.minLength ?? 0));
  const max = schema.maxLength == null ? Infinity : Math.max(Number(schema.maxLength), min);
  const length = codePointLength(text);
  if (length < min) fail(at, `expected at least ${min} characters, got ${length}`);
  if (length > max) fail(at, `expected at most ${max} characters, got ${length}`);
}

function checkArray(items: unknown[], schema: SchemaNode, defs: Record<string, SchemaNode>, at: string): void {
  const prefix = Array.isArray(schema.prefixItems) ? (schema.prefixItems as SchemaNode[]) : [];
  const min = Math.max(Number(schema.minItems ?? 0), prefix.length);
  const max = schema.maxItems == null ? Infinity : Math.max(Number(schema.maxItems), min);
  if (items.length < min) fail(at, `expected at least ${min} items, got ${items.length}`);
  if (items.length > max) fail(at, `expected at most ${max} items, got ${items.length}`);
  prefix.forEach((item, i) => check(items[i], item, defs, `${at}[${i}]`));
  if (schema.items != null && typeof schema.items === 'object') {
    for (let i = prefix.length; i < items.length; i++) check(items[i], schema.items as SchemaNode, defs, `${at}[${i}]`);
  }
}

function checkObject(object: Record<string, unknown>, schema: SchemaNode, defs: Record<string, SchemaNode>, at: string): void {
  const properties = (schema.properties ?? {}) as Record<string, SchemaNode>;
  const declared = Object.keys(properties);
  const keys = Object.keys(object);
  const extra = keys.filter((k) => !Object.hasOwn(properties, k));
  const additional = schema.additionalProperties;
  if (extra.length > 0) {
    if (additional == null || additional === false) fail(at, `unexpected keys ${extra.map((k) => JSON.stringify(k)).join(', ')}`);
    if (additional !== true) for (const k of extra) check(object[k], additional as SchemaNode, defs, `${at}.${k}`);
  }
  // The grammar writes every declared property.
  const missing = declared.filter((k) => !Object.hasOwn(object, k));
  if (missing.length > 0) fail(at, `missing keys ${missing.map((k) => JSON.stringify(k)).join(', ')}`);
  for (const k of declared) check(object[k], properties[k], defs, `${at}.${k}`);
  if (additional != null && additional !== false) {
    const min = Math.max(Number(schema.minProperties ?? 0), declared.length);
    const max = schema.maxProperties == null ? Infinity : Math.max(Number(schema.maxProperties), min);
    if (keys.length < min) fail(at, `expected at least ${min} properties, got ${keys.length}`);
    if (keys.length > max) fail(at, `expected at most ${max} properties, got ${keys.length}`);
  }
}

function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  return JSON.stringify(a) === JSON.stringify(b);
}
