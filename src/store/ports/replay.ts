// The replay cache of peer tokens: each token id (jti) is accepted once until the token expires.
export interface ReplayStore {
  /** Records a token id until `expiresAt` (unix s); false when it was already recorded (a replay). */
  rememberJti(jti: string, expiresAt: number): Promise<boolean>;
  /** Drops token ids whose expiry is before `now` (unix s). */
  pruneJtis(now: number): Promise<void>;
}
