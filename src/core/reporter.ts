/**
 * How core code talks to the user. Core never prints: it reports through this interface, which the
 * CLI implements (spinners on a TTY, plain lines otherwise) and tests implement by recording.
 */
export interface Reporter {
  /**
   * Run `task` as a named step: a spinner on a TTY, a line on stderr otherwise. The task may call
   * `progress` with a short detail ("12.0 MB of 80.0 MB", "resolved 7 packages") as it goes.
   */
  step<T>(title: string, task: (progress: (detail: string) => void) => Promise<T>): Promise<T>;
  info(message: string): void;
  warn(message: string): void;
  debug(message: string): void;
  /** Ask a yes/no question; never called in non-interactive mode (callers check `interactive`). */
  confirm(question: string, defaultValue: boolean): Promise<boolean>;
  readonly interactive: boolean;
}

type Level = 'step' | 'progress' | 'info' | 'warn' | 'debug';

/** A reporter that records everything; the default for library use and tests. */
export class RecordingReporter implements Reporter {
  readonly lines: { level: Level; message: string }[] = [];
  readonly interactive = false;
  constructor(private readonly answer: boolean = false) {}

  async step<T>(title: string, task: (progress: (detail: string) => void) => Promise<T>): Promise<T> {
    this.lines.push({ level: 'step', message: title });
    return task((detail) => this.lines.push({ level: 'progress', message: `${title}: ${detail}` }));
  }
  info(message: string): void {
    this.lines.push({ level: 'info', message });
  }
  warn(message: string): void {
    this.lines.push({ level: 'warn', message });
  }
  debug(message: string): void {
    this.lines.push({ level: 'debug', message });
  }
  async confirm(): Promise<boolean> {
    return this.answer;
  }
  messages(level?: Level): string[] {
    return this.lines.filter((l) => !level || l.level === level).map((l) => l.message);
  }
}
