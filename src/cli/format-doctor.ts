// Human-readable rendering of a doctor report: one block per family of checks, each finding with its code,
// subject, what was found and the fix; the totals last.
import type { DoctorReport, DoctorSection } from '../node/doctor/finding.ts';
import { summarize } from '../node/doctor/finding.ts';

export function formatDoctor(report: DoctorReport): string {
  const lines: string[] = [];
  for (const section of report.sections) {
    lines.push(`${section.title}: ${verdict(section)}`);
    for (const f of section.findings) {
      lines.push(
        `  ${f.severity.toUpperCase()} ${f.code} (${f.subject})`,
        `    ${f.message}`,
        `    fix: ${f.fix}`,
      );
    }
    if (section.note) lines.push(`  note: ${section.note}`);
  }
  const { errors, warnings } = summarize(report);
  lines.push(
    '',
    errors + warnings === 0
      ? 'clean: no errors, no warnings'
      : `${count(errors, 'error')}, ${count(warnings, 'warning')}`,
  );
  return `${lines.join('\n')}\n`;
}

function verdict(section: DoctorSection): string {
  const errors = section.findings.filter((f) => f.severity === 'error').length;
  const warnings = section.findings.length - errors;
  if (section.findings.length === 0) return section.note?.startsWith('skipped') ? 'skipped' : 'ok';
  return [errors ? count(errors, 'error') : '', warnings ? count(warnings, 'warning') : '']
    .filter(Boolean)
    .join(', ');
}

function count(n: number, what: string): string {
  return `${n} ${what}${n === 1 ? '' : 's'}`;
}
