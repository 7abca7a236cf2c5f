import { numberOption, type OptionSpec, type ParsedValues } from '../../shared/src/cli/args';
import { UNREACHABLE_WINDOW_MS } from './run-load';

/**
 * `--unreachable-after <s>`, the load client's cut-off (runLoad's unreachableWindowMs), as every
 * command that runs the load client takes it: `npm run load`, the demo, the soak and the
 * experiments, one spec and one parser, so its range, its messages and its --help text are the
 * same in each.
 */

/** --unreachable-after's range: a tenth of a second (tests) to a day. */
export const MIN_UNREACHABLE_S = 0.1;
export const MAX_UNREACHABLE_S = 86_400;

export const UNREACHABLE_AFTER_OPTION: OptionSpec = {
  type: 'string',
  value: '<s>',
  description: `seconds of every connection refused or with no route to it (nothing listening, an unreachable host or network; across all requests, with no answer of any kind, reset or timeout between) after which the load client takes the API as gone: nothing more is sent, every order not yet accepted or given up is given up as 'API unreachable', a client retry being tried is not answered and planned client retries not yet made are not made, and no given-up order is looked up (GET /orders/{key}); a DNS failure, a timeout or a server that resets every connection does not count (each order is retried to its retry deadline); ${MIN_UNREACHABLE_S} to ${MAX_UNREACHABLE_S}`,
  default: String(UNREACHABLE_WINDOW_MS / 1000),
};

/** The window --unreachable-after gives, in ms (its default when absent); a UsageError when bad. */
export function unreachableAfterMs(values: ParsedValues): number {
  return (
    numberOption(values, 'unreachable-after', {
      min: MIN_UNREACHABLE_S,
      max: MAX_UNREACHABLE_S,
    })! * 1000
  );
}
