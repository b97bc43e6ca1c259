/**
 * How the `runnel bench` and `runnel load` commands (and peers-cli.js) read their arguments: a
 * usage error is printed with a pointer to `--help` and exits USAGE_EXIT_CODE, `--help` prints
 * the help and exits 0.
 */

/** The exit code of a usage error. */
export const USAGE_EXIT_CODE = 2;

/**
 * The parsed settings, or the exit code when the command ends here. `invocation` is how the
 * command is typed, which the error and its pointer to --help name.
 */
export function parseCommand<T>(
  command: string,
  argv: string[],
  parse: (argv: string[]) => T | 'help',
  help: string,
  invocation = `runnel ${command}`,
): { settings: T } | { exitCode: number } {
  let parsed: T | 'help';
  try {
    parsed = parse(argv);
  } catch (error) {
    process.stderr.write(
      `${invocation}: ${(error as Error).message}\nRun '${invocation} --help' for usage.\n`,
    );
    return { exitCode: USAGE_EXIT_CODE };
  }
  if (parsed === 'help') {
    process.stdout.write(help);
    return { exitCode: 0 };
  }
  return { settings: parsed };
}
