// Typed failures of key rotation and the transparency log: a stable code for scripts and tests, and a
// message naming the file or the rule. Never key material.

import { type ErrorCode, NodeError } from '../../errors.ts';

export type RotationErrorCode = Extract<
  ErrorCode,
  | 'invalid_kind'
  | 'dual_trust_too_short'
  | 'dual_trust_invalid'
  | 'key_missing'
  | 'key_unreadable'
  | 'rotation_in_progress'
  | 'rotation_event_invalid'
  | 'rotation_unproven'
  | 'tlog_locked'
  | 'tlog_corrupt'
  | 'write_failed'
  | 'rotation_pending'
  | 'key_retired'
  | 'key_unlogged'
  | 'key_fixed'
>;

export class RotationError extends NodeError {
  override readonly name = 'RotationError';
  constructor(
    override readonly code: RotationErrorCode,
    detail: string,
  ) {
    super(code, detail);
  }
}
