/** A request's members, as JSON has them. */
type Json = Record<string, unknown>;

/** The Query protocol's name of each batch action's entries. */
const ENTRY_NAMES: Record<string, string> = {
  SendMessageBatch: 'SendMessageBatchRequestEntry',
  DeleteMessageBatch: 'DeleteMessageBatchRequestEntry',
  ChangeMessageVisibilityBatch: 'ChangeMessageVisibilityBatchRequestEntry',
};

/**
 * A JSON-shaped SQS request flattened into Query parameters, as the AWS CLI sends it: maps as
 * `<Name>.<i>.Name`/`.Value` (tags `.Key`/`.Value`), a message attribute's members as
 * `.Value.<member>` (one that is not an object: its name only), a batch's entries under the
 * action's own entry name, lists as `<singular>.<i>`, anything else as JSON text. Built around
 * hostile input (a fuzz case's): no member's type is trusted.
 */
export function toQuery(action: string, input: Json): [string, string][] {
  const out: [string, string][] = [['Action', action]];
  const text = (v: unknown) => (typeof v === 'string' ? v : (JSON.stringify(v) ?? ''));
  const attrs = (prefix: string, map: unknown) => {
    Object.entries((map ?? {}) as Record<string, unknown>).forEach(([name, v], i) => {
      out.push([`${prefix}.${i + 1}.Name`, name]);
      if (v && typeof v === 'object')
        for (const [k, x] of Object.entries(v))
          out.push([`${prefix}.${i + 1}.Value.${k}`, text(x)]);
    });
  };
  for (const [key, value] of Object.entries(input)) {
    if (key === 'MessageAttributes') attrs('MessageAttribute', value);
    else if (key === 'Attributes' || key === 'Tags' || key === 'tags') {
      const base = key === 'Attributes' ? 'Attribute' : 'Tag';
      Object.entries((value ?? {}) as Json).forEach(([k, v], i) => {
        out.push([`${base}.${i + 1}.${base === 'Attribute' ? 'Name' : 'Key'}`, k]);
        out.push([`${base}.${i + 1}.Value`, text(v)]);
      });
    } else if (key === 'Entries' && Array.isArray(value)) {
      const base = ENTRY_NAMES[action] ?? 'Entry';
      value.forEach((e: Json, i) => {
        for (const [k, v] of Object.entries(e ?? {})) {
          if (k === 'MessageAttributes') attrs(`${base}.${i + 1}.MessageAttribute`, v);
          else out.push([`${base}.${i + 1}.${k}`, text(v)]);
        }
      });
    } else if (Array.isArray(value)) {
      const singular = key.replace(/s$/, '');
      for (const [i, v] of value.entries()) out.push([`${singular}.${i + 1}`, text(v)]);
    } else out.push([key, text(value)]);
  }
  return out;
}
