/** Exit codes of `qb` (CONTRACT.md): scripts branch on these. */
export const EXIT = {
  /** done */
  ok: 0,
  /** the broker said no: denied, rejected, expired, failed, verify failed */
  refused: 1,
  /** the command line is wrong */
  usage: 2,
  /** the broker cannot be reached */
  unreachable: 3,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** Ends a command with an exit code and a message for stderr (already printed when `message` is empty). */
export class CliError extends Error {
  constructor(
    readonly exitCode: ExitCode,
    message: string,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

export const usageError = (message: string): CliError => new CliError(EXIT.usage, message);
