// The JSON schema a review answer must match, and a validator for answers. The local engine
// turns the schema into a grammar, so its output always matches; a remote server may not, so
// every answer goes through `validateReviewOutput` whatever produced it.

export const SEVERITIES = ['error', 'warning', 'info'] as const;
export const CATEGORIES = ['bug', 'security', 'performance', 'style', 'test'] as const;
export type Severity = (typeof SEVERITIES)[number];
export type Category = (typeof CATEGORIES)[number];

/** One finding as the model writes it; lines are in the new file, 1-based, inclusive. */
export interface RawFinding {
  file: string;
  startLine: number;
  endLine: number;
  severity: Severity;
  category: Category;
  message: string;
  /** Text replacing lines startLine..endLine, or null when there is no concrete fix. */
  replacement: string | null;
}

export interface ReviewOutput {
  findings: RawFinding[];
}

export interface SchemaOptions {
  /** The files the request shows: the only values `file` may take. */
  files?: readonly string[];
  /** The new-file lines the request shows: the only values the line fields may take. */
  lines?: readonly number[];
  maxFindings?: number;
  /** At least this many findings (default 0; tests and benchmarks use 1 to get findings from a random model). */
  minFindings?: number;
  maxMessageChars?: number;
  maxReplacementChars?: number;
}

export interface SchemaLimits {
  maxFindings: number;
  minFindings: number;
  maxMessageChars: number;
  maxReplacementChars: number;
}

export const DEFAULT_LIMITS: Readonly<SchemaLimits> = { maxFindings: 4, minFindings: 0, maxMessageChars: 200, maxReplacementChars: 400 };

/**
 * The schema for one request. Narrowing `file` and the line numbers to what the request shows
 * lets the grammar rule out citations of code the model never saw; the length limits keep an
 * answer inside the token limit.
 */
export function findingsSchema(options: SchemaOptions = {}): object {
  const limits = { ...DEFAULT_LIMITS, ...definedOnly(options) };
  const line = options.lines?.length ? { enum: [...options.lines] } : { type: 'integer' };
  return {
    type: 'object',
    properties: {
      findings: {
        type: 'array',
        ...(limits.minFindings > 0 ? { minItems: Math.min(limits.minFindings, limits.maxFindings) } : {}),
        maxItems: limits.maxFindings,
        items: {
          type: 'object',
          properties: {
            file: options.files?.length ? { enum: [...options.files] } : { type: 'string', minLength: 1, maxLength: 260 },
            startLine: line,
            endLine: line,
            severity: { enum: [...SEVERITIES] },
            category: { enum: [...CATEGORIES] },
            message: { type: 'string', minLength: 1, maxLength: limits.maxMessageChars },
            replacement:
              limits.maxReplacementChars > 0
                ? { oneOf: [{ type: 'null' }, { type: 'string', maxLength: limits.maxReplacementChars }] }
                : { type: 'null' },
          },
          required: ['file', 'startLine', 'endLine', 'severity', 'category', 'message', 'replacement'],
          additionalProperties: false,
        },
      },
    },
    required: ['findings'],
    additionalProperties: false,
  };
}

function definedOnly(options: SchemaOptions): Partial<SchemaLimits> {
  const out: Record<string, number> = {};
  for (const key of ['maxFindings', 'minFindings', 'maxMessageChars', 'maxReplacementChars'] as const) {
    if (options[key] !== undefined) out[key] = options[key]!;
  }
  return out;
}

export interface ValidationResult {
  /** The findings that match the schema (invalid ones are left out). */
  findings: RawFinding[];
  /** What did not match, one line each; empty when the whole answer is valid. */
  errors: string[];
}

/**
 * Checks an answer against `findingsSchema(options)`. Findings that do not match are reported and
 * left out rather than failing the whole answer; a missing `findings` array is one error.
 */
export function validateReviewOutput(value: unknown, options: SchemaOptions = {}): ValidationResult {
  const limits = { ...DEFAULT_LIMITS, ...definedOnly(options) };
  if (!isRecord(value) || !Array.isArray(value.findings))
    return { findings: [], errors: ['the answer is not an object with a "findings" array'] };
  const errors: string[] = [];
  const extra = Object.keys(value).filter((k) => k !== 'findings');
  if (extra.length) errors.push(`unexpected properties: ${extra.join(', ')}`);
  if (value.findings.length > limits.maxFindings) errors.push(`more than ${limits.maxFindings} findings`);
  if (value.findings.length < Math.min(limits.minFindings, limits.maxFindings)) errors.push(`fewer than ${limits.minFindings} findings`);
  const findings: RawFinding[] = [];
  value.findings.forEach((item, i) => {
    const problems = findingProblems(item, options, limits);
    if (problems.length) errors.push(...problems.map((p) => `findings[${i}]: ${p}`));
    else findings.push(item as RawFinding);
  });
  return { findings, errors };
}

function findingProblems(item: unknown, options: SchemaOptions, limits: SchemaLimits): string[] {
  if (!isRecord(item)) return ['not an object'];
  const problems: string[] = [];
  const allowed = new Set(['file', 'startLine', 'endLine', 'severity', 'category', 'message', 'replacement']);
  for (const key of Object.keys(item)) if (!allowed.has(key)) problems.push(`unexpected property "${key}"`);
  if (typeof item.file !== 'string' || item.file.length === 0) problems.push('file must be a non-empty string');
  else if (options.files?.length && !options.files.includes(item.file)) problems.push(`file "${item.file}" is not one of the files shown`);
  for (const key of ['startLine', 'endLine'] as const) {
    const n = item[key];
    if (typeof n !== 'number' || !Number.isInteger(n)) problems.push(`${key} must be an integer`);
    else if (options.lines?.length && !options.lines.includes(n)) problems.push(`${key} ${n} is not a line shown`);
    else if (!options.lines?.length && n < 1) problems.push(`${key} must be at least 1`);
  }
  if (!SEVERITIES.includes(item.severity as Severity)) problems.push(`severity must be one of ${SEVERITIES.join(', ')}`);
  if (!CATEGORIES.includes(item.category as Category)) problems.push(`category must be one of ${CATEGORIES.join(', ')}`);
  if (typeof item.message !== 'string' || item.message.length === 0) problems.push('message must be a non-empty string');
  else if (charCount(item.message) > limits.maxMessageChars) problems.push(`message longer than ${limits.maxMessageChars} characters`);
  if (item.replacement !== null && (typeof item.replacement !== 'string' || limits.maxReplacementChars === 0))
    problems.push(limits.maxReplacementChars === 0 ? 'replacement must be null' : 'replacement must be a string or null');
  else if (typeof item.replacement === 'string' && charCount(item.replacement) > limits.maxReplacementChars)
    problems.push(`replacement longer than ${limits.maxReplacementChars} characters`);
  return problems;
}

/** JSON schema lengths count characters (code points), not UTF-16 units. */
function charCount(text: string): number {
  return [...text].length;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
