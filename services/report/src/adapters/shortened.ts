import { codePointPrefix } from '../../../../shared/src/text';

/**
 * What an error shows of a text an endpoint answered (SQS's code and message, an attribute's
 * value, a message id, a DynamoDB key): its first 200 characters, one fewer where the 200th is
 * the first half of a surrogate pair. An answer is the service's to word, or a proxy's, and may
 * be any size; an SQS message id is 36 characters.
 */
export const shortened = (text: string): string => codePointPrefix(text, 200);
