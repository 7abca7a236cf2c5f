import type { LocalCloud } from '../../local/cloud';
import { type PausedCloud, startPausedCloud } from './support/paused-cloud';
import { rawRequest } from './support/raw-http';

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
  let cloud: LocalCloud;
  let paused: PausedCloud;
  beforeAll(async () => {
    paused = await startPausedCloud();
    cloud = paused.cloud;
  }, 60_000);
  afterAll(async () => {
    await paused?.stop();
  }, 30_000);

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
});
