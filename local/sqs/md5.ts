import { createHash } from 'node:crypto';

export interface MessageAttributeValue {
  DataType: string;
  StringValue?: string;
  BinaryValue?: Buffer;
}

export const md5Hex = (data: string | Buffer): string =>
  createHash('md5').update(data).digest('hex');

function lengthPrefixed(hash: ReturnType<typeof createHash>, bytes: Buffer): void {
  const len = Buffer.allocUnsafe(4);
  len.writeUInt32BE(bytes.length, 0);
  hash.update(len);
  hash.update(bytes);
}

/**
 * AWS's MD5OfMessageAttributes: attributes sorted by name; for each, length-prefixed name,
 * length-prefixed data type, a transport byte (1 string/number, 2 binary), length-prefixed value.
 */
export function md5OfMessageAttributes(attrs: Record<string, MessageAttributeValue>): string {
  const hash = createHash('md5');
  for (const name of Object.keys(attrs).sort()) {
    const a = attrs[name]!;
    lengthPrefixed(hash, Buffer.from(name, 'utf8'));
    lengthPrefixed(hash, Buffer.from(a.DataType, 'utf8'));
    if (a.BinaryValue !== undefined) {
      hash.update(Buffer.from([2]));
      lengthPrefixed(hash, a.BinaryValue);
    } else {
      hash.update(Buffer.from([1]));
      lengthPrefixed(hash, Buffer.from(a.StringValue ?? '', 'utf8'));
    }
  }
  return hash.digest('hex');
}
