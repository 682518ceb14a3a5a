/**
 * Whole-number options, parsed by commander as it reads the command line (its `argParser` hook), so a
 * bad value is a usage error naming the option (exit 2) before anything runs. Commander ships the hook
 * but no number parser (its docs show `parseInt`, which takes "12abc" as 12): this is the one parser
 * every sealtrail command shares.
 */
import { InvalidArgumentError } from "commander";

/** A parser of decimal digits only, `min` to `max` inclusive. */
export function wholeNumber(min: number, max = Number.MAX_SAFE_INTEGER): (text: string) => number {
  const range = max === Number.MAX_SAFE_INTEGER ? `of at least ${min}` : `from ${min} to ${max}`;
  return (text) => {
    const value = Number(text);
    if (!/^\d+$/.test(text) || !Number.isSafeInteger(value) || value < min || value > max) {
      throw new InvalidArgumentError(`must be a whole number ${range}`);
    }
    return value;
  };
}
