// How a failed command reports: `tessera: <message>` on stderr, or with --json one JSON object
// `{"error": <code>, "detail": <message>}` on stderr (the HTTP API's error shape), so scripts match on the
// code instead of parsing text. Never a stack trace.
const CODE_PREFIX = /^([A-Z][A-Z0-9_]+|[a-z][a-z0-9_]+): /;

export interface CliErrorBody {
  error: string;
  detail: string;
}

export function cliErrorBody(error: unknown): CliErrorBody {
  const message = error instanceof Error ? error.message : String(error);
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && /^[A-Za-z][A-Za-z0-9_.]*$/.test(code))
    return {
      error: code,
      detail: message.startsWith(`${code}: `) ? message.slice(code.length + 2) : message,
    };
  const prefixed = CODE_PREFIX.exec(message);
  if (prefixed?.[1]) return { error: prefixed[1], detail: message.slice(prefixed[0].length) };
  return { error: 'error', detail: message };
}

export function formatCliError(error: unknown, json: boolean): string {
  if (json) return `${JSON.stringify(cliErrorBody(error))}\n`;
  return `tessera: ${error instanceof Error ? error.message : String(error)}\n`;
}
