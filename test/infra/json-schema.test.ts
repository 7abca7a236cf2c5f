import { JsonSchemaType, JsonSchemaVersion } from 'aws-cdk-lib/aws-apigateway';
import { JsonSchemaConversionError, toCdkJsonSchema } from '../../infra/lib/json-schema';
import { orderJsonSchema } from '../../shared/src/order';

describe('toCdkJsonSchema', () => {
  it('converts the order schema without losing a keyword', () => {
    const source = orderJsonSchema();
    const converted = toCdkJsonSchema(source) as Record<string, unknown>;
    expect(converted.schema).toBe(JsonSchemaVersion.DRAFT4);
    expect(converted.type).toBe(JsonSchemaType.OBJECT);
    // CDK renders `schema` back as `$schema`; everything else must come through unchanged.
    const { schema, ...rest } = converted;
    expect({ $schema: schema, ...rest }).toEqual(source);
  });

  it('throws on a keyword it does not know instead of dropping the constraint', () => {
    expect(() =>
      toCdkJsonSchema({ type: 'object', properties: { a: { type: 'string', const: 'x' } } }),
    ).toThrow(
      new JsonSchemaConversionError('$.properties.a.const: keyword not supported by the converter'),
    );
  });

  it('throws on a schema version API Gateway does not take', () => {
    expect(() =>
      toCdkJsonSchema({ $schema: 'https://json-schema.org/draft/2020-12/schema', type: 'object' }),
    ).toThrow(JsonSchemaConversionError);
  });

  it('throws on an unknown type name', () => {
    expect(() => toCdkJsonSchema({ type: 'decimal' })).toThrow(/unknown type decimal/);
  });
});
