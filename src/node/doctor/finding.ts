// A doctor finding and the report they make up. Severity and fix come from the catalog, so one code always
// means the same thing; the message says what was found, about which subject (a file, a setting, a peer).
import { CATALOG, type DoctorCode, type Severity } from './catalog.ts';

export interface Finding {
  code: DoctorCode;
  severity: Severity;
  /** What the finding is about: a file, a setting's name, a certificate, a peer's file or URL. */
  subject: string;
  /** What was found, one sentence. */
  message: string;
  fix: string;
}

export function finding(code: DoctorCode, subject: string, message: string): Finding {
  const { severity, fix } = CATALOG[code];
  return { code, severity, subject, message, fix };
}

/** One group of checks, for the text output: its findings, or a note saying why it was skipped. */
export interface DoctorSection {
  title: string;
  findings: Finding[];
  /** Why the checks did not run, or what they could not cover. */
  note?: string;
}

export interface DoctorReport {
  sections: DoctorSection[];
}

export interface DoctorSummary {
  errors: number;
  warnings: number;
}

/** The stable `--json` shape. */
export interface DoctorJson {
  findings: Finding[];
  summary: DoctorSummary;
}

export function summarize(report: DoctorReport): DoctorSummary {
  const all = report.sections.flatMap((s) => s.findings);
  return {
    errors: all.filter((f) => f.severity === 'error').length,
    warnings: all.filter((f) => f.severity === 'warning').length,
  };
}

export function toJson(report: DoctorReport): DoctorJson {
  const findings = report.sections.flatMap((s) =>
    s.findings.map(({ code, severity, subject, message, fix }) => ({
      code,
      severity,
      subject,
      message,
      fix,
    })),
  );
  return { findings, summary: summarize(report) };
}

/** 0 clean, 1 errors, 2 warnings only. */
export function exitCodeOf(summary: DoctorSummary): 0 | 1 | 2 {
  if (summary.errors > 0) return 1;
  return summary.warnings > 0 ? 2 : 0;
}

/** A TlsError's message without its `CODE: ` prefix (the code is the finding's own field). */
export function withoutCode(message: string, code: string): string {
  return message.startsWith(`${code}: `) ? message.slice(code.length + 2) : message;
}
