// The zod schemas of the settings table: each parses the trimmed text of an env variable or flag into its
// value. Messages are written for operators and start where the setting's name ends ("must be …", or
// ": …" for a sentence of its own); the reader puts the name in front. A secret's schema never quotes it.
import { delimiter, resolve } from 'node:path';
import { z } from 'zod';
import { parseCidrs } from '../../transport/proxy/cidr.ts';

const got = (value: unknown) => `(got "${String(value)}")`;

/** A text that is always there (a required setting, or one with a default). */
export const text = z.string();

/** A text that may be unset. */
export const optionalText = z.string().optional();

/** A path, made absolute against the working directory. */
export const directory = z.string().transform((value) => resolve(value));

/** 1/true or 0/false (any case); the empty string is false. */
export const boolean = z
  .string()
  .refine((value) => ['', '0', 'false', '1', 'true'].includes(value.toLowerCase()), {
    error: (issue) => `must be true/1 or false/0 ${got(issue.input)}`,
  })
  .transform((value) => ['1', 'true'].includes(value.toLowerCase()));

/** A boolean that may be unset (undefined: follow another setting). */
export const optionalBoolean = boolean.optional();

/** A file path that may be unset, made absolute against the working directory. */
export const optionalPath = z
  .string()
  .transform((value) => resolve(value))
  .optional();

/** Paths separated by `:` (like PATH), each made absolute; unset or blank → none. */
export const pathList = z
  .string()
  .optional()
  .transform((value) =>
    (value ?? '')
      .split(delimiter)
      .map((part) => part.trim())
      .filter((part) => part !== '')
      .map((part) => resolve(part)),
  );

/** A duration in hours or days (`12h`, `30d`, `1.5d`), as milliseconds, within [0, maxDays]. */
export function hoursOrDays(maxDays: number) {
  return z.string().transform((value, ctx) => {
    const match = /^(\d+(?:\.\d+)?)(h|d)$/.exec(value);
    const ms = match ? Number(match[1]) * (match[2] === 'h' ? 3_600_000 : 86_400_000) : Number.NaN;
    if (ms <= maxDays * 86_400_000) return Math.round(ms);
    ctx.addIssue({
      code: 'custom',
      message: `must be hours or days such as 12h or 30d, at most ${maxDays}d ${got(value)}`,
    });
    return z.NEVER;
  });
}

/** A whole number within [min, max]; `describe` says what it counts in the refusal. */
export function wholeNumber(min: number, max: number, describe = 'a whole number') {
  return z
    .string()
    .refine((value) => /^\d+$/.test(value) && Number(value) >= min && Number(value) <= max, {
      error: (issue) => `must be ${describe} from ${min} to ${max} ${got(issue.input)}`,
    })
    .transform(Number);
}

export const port = wholeNumber(0, 65535, 'a port number');

/** A port that may be unset (the listener is off). */
export const optionalPort = port.optional();

/** `host:port` (a name, an IPv4 address or a bracketed IPv6 address) that may be unset. */
export const optionalHostPort = z
  .string()
  .refine(
    (value) =>
      /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/.test(value) && Number(value.split(':').pop()) <= 65535,
    {
      error: (issue) => `must be host:port ${got(issue.input)}`,
    },
  )
  .optional();

/** Decimal seconds within [min, max], as whole milliseconds. */
export function seconds(min: number, max: number) {
  return z
    .string()
    .refine((value) => /^\d+(\.\d+)?$/.test(value) && Number(value) >= min && Number(value) <= max, {
      error: (issue) => `must be a number of seconds from ${min} to ${max} ${got(issue.input)}`,
    })
    .transform((value) => Math.round(Number(value) * 1000));
}

export const milliseconds = (max: number) =>
  z
    .string()
    .refine((value) => /^\d+$/.test(value) && Number(value) <= max, {
      error: (issue) => `must be whole milliseconds from 0 to ${max} ${got(issue.input)}`,
    })
    .transform(Number);

/** One of a fixed list; `list` is how the refusal names the choices. */
export function oneOf<const T extends readonly [string, ...string[]]>(values: T, list: string) {
  return z.enum(values, { error: (issue) => `must be ${list} ${got(issue.input)}` });
}

/** An identity URI (spiffe://…, urn:…), not a URL to reach the node; required. */
export const identityUri = z
  .string({
    error: (issue) => (issue.input === undefined ? "is required: this node's identity URI" : undefined),
  })
  .superRefine((value, ctx) => {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      ctx.addIssue({
        code: 'custom',
        message: `must be an absolute URI such as spiffe://example.org/node/a ${got(value)}`,
      });
      return;
    }
    if (/\s/.test(value) || !url.protocol || url.protocol === 'http:' || url.protocol === 'https:')
      ctx.addIssue({
        code: 'custom',
        message: `must be an identity URI (e.g. spiffe://example.org/node/a), not a URL to reach the node ${got(value)}`,
      });
  });

/** An advertised URL: its scheme and shape are checked against the transport later; credentials never. */
export const advertisedUrl = z
  .string()
  .refine((value) => !/^[a-z][a-z0-9+.-]*:\/\/[^/]*@/i.test(value), {
    // Refused before anything logs or echoes it.
    error: 'must not contain credentials (user:password@)',
  })
  .optional();

/** An http(s) URL a client talks to. */
export const httpUrl = z.string().refine((value) => /^https?:\/\/[^/]/i.test(value) && URL.canParse(value), {
  error: (issue) => `must be an http:// or https:// URL ${got(issue.input)}`,
});

/** A bearer secret: at least 24 characters without whitespace. Never quoted in a refusal. */
export const apiKey = z
  .string()
  .refine((value) => value.length >= 24 && !/\s/.test(value), {
    error: ': an API key must be at least 24 characters without whitespace',
  })
  .optional();

/** An Ed25519 private key as a base64url 32-byte seed (43 characters). Never quoted in a refusal. */
export const ed25519Seed = z
  .string()
  .refine((value) => /^[A-Za-z0-9_-]{43}=?$/.test(value), {
    error: ': must be a base64url-encoded 32-byte Ed25519 seed (43 characters)',
  })
  .optional();

/** The non-empty, trimmed entries of a comma-separated setting. */
function commaEntries(value: string): string[] {
  return value
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean);
}

/** Comma-separated CIDR networks or addresses (empty: none), each checked. */
export const cidrList = z
  .string()
  .transform((value, ctx) => {
    const entries = commaEntries(value);
    try {
      return parseCidrs(entries).networks as string[];
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: `: ${(error as Error).message}` });
      return z.NEVER;
    }
  })
  .optional();

/** Comma-separated identity URIs (empty: none). */
export const uriList = z
  .string()
  .transform((value, ctx) => {
    const entries = commaEntries(value);
    for (const entry of entries)
      if (!URL.canParse(entry) || /\s/.test(entry)) {
        ctx.addIssue({
          code: 'custom',
          message: `must be URIs such as spiffe://example.org/proxy ${got(entry)}`,
        });
        return z.NEVER;
      }
    return entries;
  })
  .optional();
