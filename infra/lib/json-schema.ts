import { type JsonSchema, JsonSchemaType, JsonSchemaVersion } from 'aws-cdk-lib/aws-apigateway';

export class JsonSchemaConversionError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'JsonSchemaConversionError';
  }
}

const TYPES: Record<string, JsonSchemaType> = {
  null: JsonSchemaType.NULL,
  boolean: JsonSchemaType.BOOLEAN,
  object: JsonSchemaType.OBJECT,
  array: JsonSchemaType.ARRAY,
  number: JsonSchemaType.NUMBER,
  integer: JsonSchemaType.INTEGER,
  string: JsonSchemaType.STRING,
};

const PASS_THROUGH = new Set([
  'title',
  'description',
  'enum',
  'format',
  'multipleOf',
  'maximum',
  'exclusiveMaximum',
  'minimum',
  'exclusiveMinimum',
  'maxLength',
  'minLength',
  'pattern',
  'maxItems',
  'minItems',
  'uniqueItems',
  'maxProperties',
  'minProperties',
  'required',
]);

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function convertType(value: unknown, path: string): JsonSchemaType | JsonSchemaType[] {
  const one = (t: unknown): JsonSchemaType => {
    const mapped = typeof t === 'string' ? TYPES[t] : undefined;
    if (!mapped) throw new JsonSchemaConversionError(`${path}.type: unknown type ${String(t)}`);
    return mapped;
  };
  return Array.isArray(value) ? value.map(one) : one(value);
}

/**
 * Turns a plain draft-04 JSON Schema object (what `orderJsonSchema()` returns) into CDK's typed
 * `JsonSchema`. A keyword it does not know throws instead of being dropped: a silently dropped
 * constraint would make the API accept what the producer rejects.
 */
export function toCdkJsonSchema(schema: Record<string, unknown>, path = '$'): JsonSchema {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(schema)) {
    if (key === '$schema') {
      if (value !== JsonSchemaVersion.DRAFT4) {
        throw new JsonSchemaConversionError(
          `${path}.$schema: API Gateway models use draft-04, got ${String(value)}`,
        );
      }
      out.schema = JsonSchemaVersion.DRAFT4;
    } else if (key === 'type') {
      out.type = convertType(value, path);
    } else if (key === 'properties') {
      if (!isRecord(value))
        throw new JsonSchemaConversionError(`${path}.properties: not an object`);
      out.properties = Object.fromEntries(
        Object.entries(value).map(([name, sub]) => {
          if (!isRecord(sub)) {
            throw new JsonSchemaConversionError(`${path}.properties.${name}: not a schema`);
          }
          return [name, toCdkJsonSchema(sub, `${path}.properties.${name}`)];
        }),
      );
    } else if (key === 'items') {
      if (Array.isArray(value)) {
        out.items = value.map((sub, i) => {
          if (!isRecord(sub))
            throw new JsonSchemaConversionError(`${path}.items[${i}]: not a schema`);
          return toCdkJsonSchema(sub, `${path}.items[${i}]`);
        });
      } else if (isRecord(value)) {
        out.items = toCdkJsonSchema(value, `${path}.items`);
      } else {
        throw new JsonSchemaConversionError(`${path}.items: not a schema`);
      }
    } else if (key === 'additionalProperties') {
      if (typeof value === 'boolean') out.additionalProperties = value;
      else if (isRecord(value)) {
        out.additionalProperties = toCdkJsonSchema(value, `${path}.additionalProperties`);
      } else throw new JsonSchemaConversionError(`${path}.additionalProperties: not a schema`);
    } else if (PASS_THROUGH.has(key)) {
      out[key] = value;
    } else {
      throw new JsonSchemaConversionError(`${path}.${key}: keyword not supported by the converter`);
    }
  }
  return out as JsonSchema;
}
