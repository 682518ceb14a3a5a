/**
 * Usage errors that help: an unknown option people commonly try (`--user` for `--actor`) is answered
 * with the option that does what they meant, not with commander's nearest spelling (`--cursor`),
 * and every usage error lists the options the command takes.
 */
import type { Command } from "commander";

/** Unknown option as typed → the option (with its argument) to use instead. */
export type OptionHints = Readonly<Record<string, string>>;

/** Every command that reaches the API takes --api and --token. */
const API_HINTS: OptionHints = {
  "--url": "--api <url>",
  "--api-url": "--api <url>",
  "--endpoint": "--api <url>",
  "--jwt": "--token <token>",
  "--bearer": "--token <token>",
  "--auth": "--token <token>",
};

function optionsOf(command: Command): string {
  const flags = command.options.map((option) => option.long).filter((flag) => flag !== undefined);
  return [...flags, "--help"].join(" ");
}

/** The text commander is about to print, with sealtrail's hint in place of commander's guess. */
export function hintedUsageError(command: Command, text: string, hints: OptionHints): string {
  const full = `${command.parent ? `${command.parent.name()} ` : ""}${command.name()}`;
  const footer = `(${full} takes ${optionsOf(command)}; see \`${full} --help\`)\n`;
  const unknown = /^error: unknown option '([^']+)'/.exec(text);
  if (unknown) {
    const flag = (unknown[1] as string).split("=")[0] as string;
    const instead = hints[flag] ?? API_HINTS[flag];
    if (instead) return `error: ${full} has no option ${flag}: use ${instead}\n${footer}`;
    // Not a known mistake: commander's "Did you mean …?" is a spelling guess, worth keeping.
    return `${text.trimEnd()}\n${footer}`;
  }
  if (/^error: too many arguments/.test(text)) return `${text.trimEnd()}\n${footer}`;
  return text;
}

/** Applies hintedUsageError to the command's usage errors. */
export function withUsageHints(command: Command, hints: OptionHints): Command {
  return command.configureOutput({
    outputError: (text, write) => write(hintedUsageError(command, text, hints)),
  });
}
