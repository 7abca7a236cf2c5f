/**
 * The subset of JSON Schema draft-04 that API Gateway request models use and that
 * `orderJsonSchema()` produces: type, properties, required, additionalProperties, items,
 * min/max length, items and values, exclusiveMinimum/Maximum (draft-04 booleans), pattern, enum.
 * API Gateway answers any violation with one fixed message, so this returns the first problem
 * only for the local log, never to the client.
 */

export type JsonSchema = Record<string, unknown>;

function typeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

function matchesType(value: unknown, type: string): boolean {
  const actual = typeOf(value);
  if (type === 'number') return actual === 'number' || actual === 'integer';
  return actual === type;
}

/** The code points of `text`, counted up to `enough` at most. */
function codePoints(text: string, enough: number): number {
  // Every code point is one or two UTF-16 units.
  if (text.length >= 2 * enough) return enough;
  let n = 0;
  for (const _ of text) if (++n >= enough) break;
  return n;
}

/** Returns undefined when the value conforms, else the first violation found. */
export function validateJsonSchema(
  schema: JsonSchema,
  value: unknown,
  path = '$',
): string | undefined {
  const type = schema.type;
  if (typeof type === 'string' && !matchesType(value, type)) return `${path}: expected ${type}`;
  if (Array.isArray(type) && !type.some((t) => matchesType(value, String(t)))) {
    return `${path}: expected one of ${type.join(', ')}`;
  }
  if (
    Array.isArray(schema.enum) &&
    !schema.enum.some((e) => JSON.stringify(e) === JSON.stringify(value))
  ) {
    return `${path}: not one of the allowed values`;
  }
  if (typeof value === 'string') {
    const { minLength, maxLength } = schema;
    if (typeof minLength === 'number' || typeof maxLength === 'number') {
      // Code points, counted only as far as the limits need: spreading a 10 MB string into an
      // array of code points held the main thread most of a second per request.
      const enough = Math.max(Number(minLength ?? 0), Number(maxLength ?? 0)) + 1;
      const length = codePoints(value, enough);
      if (typeof minLength === 'number' && length < minLength) return `${path}: too short`;
      if (typeof maxLength === 'number' && length > maxLength) return `${path}: too long`;
    }
    if (typeof schema.pattern === 'string' && !new RegExp(schema.pattern, 'u').test(value)) {
      return `${path}: does not match ${schema.pattern}`;
    }
  }
  if (typeof value === 'number') {
    if (typeof schema.minimum === 'number') {
      const below =
        schema.exclusiveMinimum === true ? value <= schema.minimum : value < schema.minimum;
      if (below) return `${path}: below the minimum`;
    }
    if (typeof schema.maximum === 'number') {
      const above =
        schema.exclusiveMaximum === true ? value >= schema.maximum : value > schema.maximum;
      if (above) return `${path}: above the maximum`;
    }
  }
  if (Array.isArray(value)) {
    if (typeof schema.minItems === 'number' && value.length < schema.minItems)
      return `${path}: too few items`;
    if (typeof schema.maxItems === 'number' && value.length > schema.maxItems)
      return `${path}: too many items`;
    const items = schema.items;
    if (items && typeof items === 'object' && !Array.isArray(items)) {
      for (let i = 0; i < value.length; i++) {
        const problem = validateJsonSchema(items as JsonSchema, value[i], `${path}[${i}]`);
        if (problem) return problem;
      }
    }
  }
  if (typeOf(value) === 'object') {
    const object = value as Record<string, unknown>;
    const properties = (schema.properties ?? {}) as Record<string, JsonSchema>;
    for (const name of (schema.required ?? []) as string[]) {
      if (!Object.hasOwn(object, name)) return `${path}.${name}: required`;
    }
    // for...in rather than Object.entries: no array of [key, value] pairs for a body that may
    // hold hundreds of thousands of keys (half the time).
    for (const name in object) {
      if (!Object.hasOwn(object, name)) continue;
      // Own properties only: a body key such as `constructor` must not find Object's.
      const sub = Object.hasOwn(properties, name) ? properties[name] : undefined;
      if (sub) {
        const problem = validateJsonSchema(sub, object[name], `${path}.${name}`);
        if (problem) return problem;
      } else if (schema.additionalProperties === false) {
        return `${path}.${name}: not allowed`;
      }
    }
  }
  return undefined;
}
