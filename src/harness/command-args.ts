/**
 * How the `runnel bench` and `runnel load` commands read their arguments: a usage error is
 * printed with a pointer to `--help` and exits 2, `--help` prints the help and exits 0.
 */

/** The parsed settings, or the exit code when the command ends here. */
export function parseCommand<T>(
  command: string,
  argv: string[],
  parse: (argv: string[]) => T | 'help',
  help: string,
): { settings: T } | { exitCode: number } {
  let parsed: T | 'help';
  try {
    parsed = parse(argv);
  } catch (error) {
    process.stderr.write(`runnel ${command}: ${(error as Error).message}\nRun 'runnel ${command} --help' for usage.\n`);
    return { exitCode: 2 };
  }
  if (parsed === 'help') {
    process.stdout.write(help);
    return { exitCode: 0 };
  }
  return { settings: parsed };
}
