import type { LocalCloud } from '../../local/cloud';
import { type PausedCloud, startPausedCloud } from './support/paused-cloud';
import { rawRequest } from './support/raw-http';
import { stopsAfterAll } from './support/stop-after-all';

/**
 * What the local API's request validator does with what it and the producer read differently: a
 * charset other than UTF-8 and a key repeated in one object. API Gateway picks the request model
 * by the content type's media type and hands the body on as a UTF-8 string whatever the charset
 * says; it documents nothing on repeated keys, and keeps the last as JSON readers commonly do
 * (docs/fidelity.md, "request validator"). So the validator judges the body as UTF-8 with the last
 * value of a repeated key, and only a body it passes reaches the producer, which refuses both
 * (415 for the charset, 400 naming the key). Through raw HTTP against a started local cloud, the
 * real producer behind the gateway; its consumers paused, so every accepted order stays queued.
 */
describe('the request validator in front of the producer, for charsets and repeated keys', () => {
  const keep = stopsAfterAll();
  let cloud: LocalCloud;
  let paused: PausedCloud;
  beforeAll(async () => {
    paused = await keep(startPausedCloud());
    cloud = paused.cloud;
  }, 60_000);

  const queued = () => paused.queued();

  /** A POST /orders with the body's bytes exactly as given. */
  const post = async (contentType: string, body: string | Buffer) => {
    const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
    const head =
      `POST /orders HTTP/1.1\r\nHost: 127.0.0.1\r\ncontent-type: ${contentType}\r\n` +
      `content-length: ${bytes.length}\r\nconnection: close\r\n\r\n`;
    const res = await rawRequest(cloud.apiUrl, Buffer.concat([Buffer.from(head), bytes]));
    return { status: res?.status, body: JSON.parse(res?.body ?? 'null') as unknown };
  };

  const items = '[{"sku":"sku-1","quantity":2,"unitPrice":5}]';
  const order = (customerId: string) =>
    `{"customerId":"${customerId}","items":${items},"amount":10,"currency":"EUR"}`;
  const VALIDATOR = { message: 'Invalid request body' };

  it('judges a body declared in another charset as UTF-8 against the model, and leaves the charset to the producer', async () => {
    // Act
    const answers = [
      // Fails the model: the validator answers, the charset plays no part.
      await post('application/json; charset=iso-8859-1', order('c-latin').replace('10', '"10"')),
      // Passes the model: the producer refuses the charset.
      await post('application/json; charset=iso-8859-1', order('c-latin')),
      // The same with the media type and parameter spelt otherwise: still the JSON model.
      await post('Application/JSON;Charset="ISO-8859-1"', order('c-latin').replace('10', '"10"')),
      // A valid order in UTF-16: read as UTF-8 it is no JSON, so the validator refuses it (read
      // as the charset says, it would have passed).
      await post('application/json; charset=utf-16le', Buffer.from(order('c-16'), 'utf16le')),
    ];

    // Assess: a 4xx each, from the validator or the producer, and nothing on either queue.
    expect(answers.map((a) => a.status)).toEqual([400, 415, 400, 400]);
    expect(answers[0]!.body).toEqual(VALIDATOR);
    expect(answers[1]!.body).toMatchObject({
      message: expect.stringMatching(/^Content-Type charset must be utf-8 .*"iso-8859-1"/),
    });
    expect(answers[2]!.body).toEqual(VALIDATOR);
    expect(answers[3]!.body).toEqual(VALIDATOR);
    expect(await queued()).toEqual([0, 0]);
  }, 30_000);

  it('judges a repeated key by its last value, and leaves the repetition to the producer', async () => {
    // Act
    const lastValid = await post(
      'application/json',
      order('c-dup-1').replace('"amount":10', '"amount":"ten","amount":10'),
    );
    const lastInvalid = await post(
      'application/json',
      order('c-dup-2').replace('"amount":10', '"amount":10,"amount":"ten"'),
    );
    const nested = await post(
      'application/json',
      order('c-dup-3').replace('"quantity":2', '"quantity":-1,"quantity":2'),
    );

    // Assess: the validator passes the first and third (their last values conform), and the
    // producer names the repeated key; the second fails the model at the validator.
    expect(lastValid).toEqual({
      status: 400,
      body: expect.objectContaining({
        message: expect.stringContaining('same key twice in one object (amount)'),
      }),
    });
    expect(lastInvalid).toEqual({ status: 400, body: VALIDATOR });
    expect(nested).toEqual({
      status: 400,
      body: expect.objectContaining({
        message: expect.stringContaining('same key twice in one object (items[0].quantity)'),
      }),
    });
    expect(await queued()).toEqual([0, 0]);
  }, 30_000);

  it('accepts the same order sent once with each key and a UTF-8 charset (the check sees an accepted order)', async () => {
    const res = await post('application/json; charset=UTF-8', order('c-ok'));
    expect(res.status).toBe(202);
    expect(await queued()).toEqual([1, 1]);
  }, 30_000);

  /** A POST /orders with these header lines (Host, length and close added) and body. */
  const postWith = async (lines: string[], body: string) => {
    const head =
      `POST /orders HTTP/1.1\r\nHost: 127.0.0.1\r\n${lines.map((l) => `${l}\r\n`).join('')}` +
      `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n`;
    const res = await rawRequest(cloud.apiUrl, head + body);
    return { status: res?.status, body: JSON.parse(res?.body ?? 'null') as unknown };
  };

  it('takes a request with an empty or no Content-Type as JSON, as API Gateway picks the model, validator and producer alike (found in review: the producer answered 415)', async () => {
    // Prepare
    const [fifo = 0, standard = 0] = await queued();

    // Act
    const empty = await postWith(['Content-Type:'], order('c-empty-type'));
    const none = await postWith([], order('c-no-type'));
    const emptyInvalid = await postWith(['Content-Type:'], order('c-x').replace('10', '"10"'));
    const noneNotJson = await postWith([], '{not json');

    // Assess: both orders accepted and queued; a body failing the model, or no JSON, is the
    // validator's 400 with or without the header.
    expect([empty.status, none.status]).toEqual([202, 202]);
    expect(emptyInvalid).toEqual({ status: 400, body: VALIDATOR });
    expect(noneNotJson).toEqual({ status: 400, body: VALIDATOR });
    expect(await queued()).toEqual([fifo + 2, standard + 2]);
  }, 30_000);

  it('refuses a repeated Content-Type with a 400 saying so, whichever value comes first (found in review: the validator read the first, the producer the last)', async () => {
    // Prepare
    const before = await queued();
    const twice = (first: string, second: string) => [
      `Content-Type: ${first}`,
      `Content-Type: ${second}`,
    ];
    const REPEATED = {
      message: 'Content-Type is given 2 times; send it once',
    };

    // Act
    const same = await postWith(twice('application/json', 'application/json'), order('c-rep-1'));
    const jsonFirst = await postWith(twice('application/json', 'text/plain'), order('c-rep-2'));
    const jsonLast = await postWith(twice('text/plain', 'application/json'), order('c-rep-3'));
    const otherCase = await postWith(
      ['Content-Type: text/plain', 'content-type: application/json'],
      order('c-rep-4'),
    );
    // Failing the model under the JSON value the validator reads (the last, as the event's
    // `headers` carries it): the validator's own 400 first.
    const invalidLast = await postWith(
      twice('text/plain', 'application/json'),
      order('c-rep-5').replace('10', '"10"'),
    );

    // Assess: a 400 each, nothing queued.
    expect([same, jsonFirst, jsonLast, otherCase]).toEqual(
      Array(4).fill({ status: 400, body: REPEATED }),
    );
    expect(invalidLast).toEqual({ status: 400, body: VALIDATOR });
    expect(await queued()).toEqual(before);
  }, 30_000);

  it('judges keys written with escapes as written, after a body that poisons them (nodejs/node#63785)', async () => {
    // Prepare: a body whose third key is \u0061 as text (the first 6 characters of
    // "\u0061mount", whose decoded length is 6): the validator refuses it. On Node 24 its
    // JSON.parse had then read the next body's "\u0061mount" as that key, and refused a valid
    // order for a missing amount.
    const before = await queued();
    const poison = await post(
      'application/json',
      order('c-esc-1').replace('"amount":10', String.raw`"\\u0061":10`),
    );
    expect(poison).toEqual({ status: 400, body: VALIDATOR });

    // Act
    const res = await post(
      'application/json',
      order('c-esc-2').replace('"amount":10', String.raw`"\u0061mount":10`),
    );

    // Assess: it passes the model, and the producer, reading it as written too, queues it.
    expect(res.status).toBe(202);
    expect(await queued()).toEqual([before[0]! + 1, before[1]! + 1]);
  }, 30_000);
});
