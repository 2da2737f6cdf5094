// The typed refusal of a forwarded client certificate. Parsing refusals (the header itself is wrong) are
// 400s; verification refusals (a well-formed certificate we do not accept) are 403s. The reason is stable
// and bounded (it becomes a metric label); the message says what was wrong without quoting the header.

/** Why a forwarded certificate header could not be read. */
export type ForwardedCertSyntax =
  | 'header_too_long'
  | 'too_many_elements'
  | 'duplicate_header'
  | 'syntax'
  | 'bad_percent_encoding'
  | 'bad_base64'
  | 'not_a_certificate'
  | 'cert_too_large'
  | 'chain_too_long'
  | 'no_certificate';

export class ForwardedCertError extends Error {
  override readonly name = 'ForwardedCertError';
  /** 400: the header is malformed; 403: the certificate was read and refused. */
  readonly statusCode: 400 | 403;
  /** The `error` code of the JSON answer. */
  readonly code: 'forwarded_cert_invalid' | 'forwarded_cert_rejected';
  constructor(
    /** The counted reason: `forwarded_cert_malformed`, or a verification reason (`cert_untrusted`, …). */
    readonly reason: string,
    message: string,
    /** For a malformed header: what exactly was wrong. */
    readonly syntax?: ForwardedCertSyntax,
  ) {
    super(message);
    this.statusCode = syntax ? 400 : 403;
    this.code = syntax ? 'forwarded_cert_invalid' : 'forwarded_cert_rejected';
  }
}

/** A malformed header: reason `forwarded_cert_malformed`, status 400. */
export function malformed(syntax: ForwardedCertSyntax, message: string): ForwardedCertError {
  return new ForwardedCertError('forwarded_cert_malformed', message, syntax);
}
