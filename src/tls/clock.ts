// Everything time-based (validity, expiry windows) reads time through a Clock so tests can move it.
export type Clock = () => Date;

export const systemClock: Clock = () => new Date();
