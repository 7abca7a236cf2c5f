import {
  ConditionalCheckFailedException,
  DynamoDBClient,
  PutItemCommand,
} from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, NumberValue } from '@aws-sdk/lib-dynamodb';
import { RefusedItemError, refusedItem } from '../../../shared/src/refused-item';

/**
 * The shared reader of a refused conditional write's item (ReturnValuesOnConditionCheckFailure
 * ALL_OLD). Through the real SDK where the item's shape matters: a DynamoDB client whose HTTP
 * handler answers as DynamoDB does on the wire (a refused PutItem: 400
 * ConditionalCheckFailedException with `Item`; a GetItem: the item).
 */

/** Every attribute type, nested, and a number beyond 2^53. */
const ITEM = {
  pk: { S: 'ORDER#o-1' },
  sequence: { N: '3' },
  at: { N: '1764050000012.5' },
  big: { N: '9007199254740993' },
  tags: { SS: ['a', 'b'] },
  counts: { NS: ['1', '-2.5', '1E+2'] },
  blobs: { BS: ['AAE='] },
  blob: { B: '/wA=' },
  flag: { BOOL: false },
  nothing: { NULL: true },
  nested: { M: { list: { L: [{ M: { deep: { BOOL: true } } }, { NULL: true }, { L: [] }] } } },
  empty: { M: {} },
};

/** A document client whose DynamoDB answers PutItem with a refusal carrying `item`, GetItem with it. */
function scripted(item: unknown, translate?: Parameters<typeof DynamoDBDocumentClient.from>[1]) {
  const answer = (target: string) =>
    target === 'PutItem'
      ? {
          statusCode: 400,
          body: {
            __type: 'com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException',
            message: 'The conditional request failed',
            ...(item === undefined ? {} : { Item: item }),
          },
        }
      : { statusCode: 200, body: { Item: item } };
  const client = new DynamoDBClient({
    region: 'eu-west-1',
    credentials: { accessKeyId: 'k', secretAccessKey: 's' },
    maxAttempts: 1,
    requestHandler: {
      handle: async (request: { headers: Record<string, string> }) => {
        const { statusCode, body } = answer(String(request.headers['x-amz-target']).split('.')[1]!);
        return {
          response: {
            statusCode,
            headers: { 'content-type': 'application/x-amz-json-1.0' },
            body: new TextEncoder().encode(JSON.stringify(body)),
          },
        };
      },
    },
  });
  return DynamoDBDocumentClient.from(client, translate);
}

/** The refusal the SDK makes of DynamoDB's answer to a conditional PutItem. */
async function refusalOf(
  documents: DynamoDBDocumentClient,
): Promise<ConditionalCheckFailedException> {
  const err = await documents
    .send(new PutItemCommand({ TableName: 't', Item: { pk: { S: 'x' } } }))
    .then(
      () => undefined,
      (e: unknown) => e,
    );
  if (!(err instanceof ConditionalCheckFailedException)) throw new Error(`not refused: ${err}`);
  return err;
}

const WHAT = 'the test write';

describe('refusedItem: a refused write’s item', () => {
  it('reads it as the document client reads the same item from GetItem', async () => {
    // Prepare
    const documents = scripted(ITEM);

    // Act
    const read = refusedItem(await refusalOf(documents), documents, WHAT);

    // Assess: the same document, and what it holds, so the comparison compares something.
    const got = await documents.send(new GetCommand({ TableName: 't', Key: { pk: 'x' } }));
    expect(read).toStrictEqual(got.Item);
    expect(read).toMatchObject({
      sequence: 3,
      at: 1764050000012.5,
      big: 9007199254740993n,
      tags: new Set(['a', 'b']),
      counts: new Set([1, -2.5, 100]),
      blob: new Uint8Array([0xff, 0]),
      flag: false,
      nothing: null,
      nested: { list: [{ deep: true }, null, []] },
      empty: {},
    });
  });

  it("reads it under the client's own unmarshall options", async () => {
    const documents = scripted(ITEM, { unmarshallOptions: { wrapNumbers: true } });

    const read = refusedItem(await refusalOf(documents), documents, WHAT);

    expect(read?.sequence).toBeInstanceOf(NumberValue);
    expect(String(read?.big)).toBe('9007199254740993');
  });

  it('answers undefined when the refusal carries no item (dynalite ignores ALL_OLD)', async () => {
    const documents = scripted(undefined);
    expect(refusedItem(await refusalOf(documents), documents, WHAT)).toBeUndefined();
    expect(refusedItem({}, documents, WHAT)).toBeUndefined();
  });

  /** `levels` maps, one in another, around a string: the outermost a top-level attribute. */
  const nestedMaps = (levels: number): Record<string, unknown> => {
    let value: unknown = { S: 'leaf' };
    for (let i = 0; i < levels; i++) value = { M: { n: value } };
    return { deep: value };
  };

  it("takes DynamoDB's deepest nesting: 31 maps around a value, the value at level 32", async () => {
    const documents = scripted(nestedMaps(31));
    const read = refusedItem(await refusalOf(documents), documents, WHAT);
    expect(JSON.stringify(read)).toContain('"leaf"');
  });

  it.each([
    ['an empty map', { M: {} }],
    ['an empty list', { L: [] }],
  ])(
    "takes %s at DynamoDB's deepest level, 32: a value there, with nothing at 33",
    async (_name, empty) => {
      let value: unknown = empty;
      for (let i = 0; i < 31; i++) value = { M: { n: value } };
      const documents = scripted({ deep: value });
      const read = refusedItem(await refusalOf(documents), documents, WHAT);
      expect(JSON.stringify(read)).toContain(JSON.stringify('M' in empty ? {} : []));
      expect(JSON.stringify(read).split('{"n":').length - 1).toBe(31);
    },
  );

  it.each([
    ['no item but a string', 'str', /^the item refusing the test write is "str", not an item$/],
    ['no item but null', null, /is null, not an item$/],
    ['no item but a list', [{ S: 'x' }], /is \[\{"S":"x"\}\], not an item$/],
    [
      'a bare number',
      { a: 5 },
      /^the item refusing the test write holds a 5: not an attribute value$/,
    ],
    ['a null attribute', { a: null }, /holds a null: not an attribute value$/],
    [
      'an empty attribute',
      { a: {} },
      /holds a \{\}: not an attribute value \(one type and its value\)$/,
    ],
    [
      'two types at once',
      { a: { S: 'x', N: '1' } },
      /holds a \{"S":"x","N":"1"\}: not an attribute value \(one/,
    ],
    ['an N of letters', { a: { N: 'x' } }, /holds a \{"N":"x"\}: not a DynamoDB number$/],
    ['an empty N (0 to Number)', { a: { N: '' } }, /holds a \{"N":""\}: not a DynamoDB number$/],
    ['a blank N', { a: { N: ' ' } }, /not a DynamoDB number$/],
    ['a hexadecimal N (16 to Number)', { a: { N: '0x10' } }, /not a DynamoDB number$/],
    ['an N of Infinity', { a: { N: 'Infinity' } }, /not a DynamoDB number$/],
    ['an N that is a JSON number', { a: { N: 5 } }, /not a DynamoDB number$/],
    ['an S that is a number', { a: { S: 5 } }, /holds a \{"S":5\}: an S that is no string$/],
    ['a BOOL of "false" (true to Boolean)', { a: { BOOL: 'false' } }, /a BOOL that is no boolean$/],
    ['a NULL of false', { a: { NULL: false } }, /a NULL that is not true$/],
    [
      'a B that is text',
      { a: { M: { b: { B: 5 } } } },
      /holds a\.b \{"B":5\}: a B that is no binary$/,
    ],
    ['an empty set', { a: { SS: [] } }, /not a set of strings$/],
    ['a set that is no list', { a: { SS: 'ab' } }, /not a set of strings$/],
    ['a number set with a word', { a: { NS: ['1', 'x'] } }, /not a set of DynamoDB numbers$/],
    ['an L that is no list', { a: { L: 'x' } }, /an L that is no list$/],
    ['an M that is a list', { a: { M: [1] } }, /an M that is no map$/],
    [
      'a bad value deep in lists and maps',
      { a: { L: [{ S: 'ok' }, { M: { inner: { L: [{ N: '1' }, { N: '1,5' }] } } }] } },
      /holds a\[1\]\.inner\[1\] \{"N":"1,5"\}: not a DynamoDB number$/,
    ],
    [
      'a type DynamoDB has not',
      { a: { Q: 'x' } },
      /holds a \{"Q":"x"\}: no attribute type of DynamoDB's \("Q"\)$/,
    ],
    ['nesting deeper than 32 levels', nestedMaps(32), /nested deeper than DynamoDB's 32 levels$/],
    [
      'a number the conversion cannot read (beyond 2^53 and no integer)',
      { a: { N: '1e300' } },
      /^the item refusing the test write is refused by the conversion: 1e300 can't be converted to BigInt/,
    ],
  ])('refuses an item with %s, naming the attribute', async (_name, item, message) => {
    // Prepare: the item as the SDK hands over a refusal's (it checks nothing).
    const documents = scripted(item);
    const refusal = await refusalOf(documents);

    // Act / Assess
    expect(() => refusedItem(refusal, documents, WHAT)).toThrow(RefusedItemError);
    expect(() => refusedItem(refusal, documents, WHAT)).toThrow(message);
  });

  it('refuses an attribute named __proto__, which would set the document’s prototype', async () => {
    const documents = scripted(
      JSON.parse('{"turnBy":{"S":"a"},"__proto__":{"M":{"x":{"S":"y"}}}}'),
    );
    const refusal = await refusalOf(documents);
    expect(() => refusedItem(refusal, documents, WHAT)).toThrow(
      /^the item refusing the test write holds __proto__: a name a document cannot hold/,
    );
  });

  it('cuts a value it shows before a character its 77th character would split', () => {
    const documents = scripted(undefined);
    // The JSON shown starts {"N":" (6 characters); 70 x's more put U+1F600's first half 77th.
    const long = { a: { N: `${'x'.repeat(70)}\u{1F600}${'y'.repeat(20)}` } };
    let message = '';
    try {
      refusedItem({ Item: long as never }, documents, WHAT);
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/holds a \{"N":"x{70}\.\.\.: not a DynamoDB number$/);
    expect(message).not.toMatch(/\p{Surrogate}/u);
  });

  it('shows at most 80 characters of a value it refuses', () => {
    const documents = scripted(undefined);
    const long = { a: { N: 'x'.repeat(500) } };
    expect(() => refusedItem({ Item: long as never }, documents, WHAT)).toThrow(
      /holds a \{"N":"x{71}\.\.\.: not a DynamoDB number$/,
    );
  });
});
